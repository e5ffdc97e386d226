"""Analysis commands: area, overlaps, analyze and check (the desk review of a proposal).

Exit codes: 0 when the command ran, whatever it found (conflicts and an ``invalid`` verdict are
results, printed in the output); 1 when the input cannot be read (a missing or unreadable file,
an unknown layer, a geometry no area can be measured for); 3 when the store cannot be opened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import typer
from rich.markup import escape

from api.cli import (
    DbOption,
    analysis_settings,
    app,
    err,
    file_limits,
    guarded,
    out,
    parse_today,
    store_at,
)
from api.commands.options import TodayOption
from api.commands.output import (
    both,
    choose,
    csv,
    dumps,
    emit,
    fail,
    geojson,
    jsonable,
    out_target,
    slashed,
    table,
)
from api.services.views import (
    overlap_columns,
    overlap_pairs,
    overlaps_json,
    overlaps_view,
    plain_records,
)
from geo.area import areas
from geo.repair import check_polygons, repair_polygons
from geo.rules import (
    RULES,
    SEVERITY_LABELS,
    Findings,
    analyze,
    counts_by,
)
from geo.settings import AnalysisSettings
from layers.cells import frame_csv
from layers.errors import InvalidGeometry
from layers.labels import label
from layers.schema import AREA_LAYERS, STORE_CRS
from layers.store import Store

CrsOption = Annotated[
    str | None, typer.Option("--crs", help="The file's CRS when it declares none, e.g. EPSG:32648.")
]
SourceLayerOption = Annotated[
    str | None, typer.Option("--source-layer", help="Layer to read from a multi-layer file.")
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write to this file instead of the terminal.")
]


# the check command below calls these by their old names
_choice = choose
_dumps = dumps
_jsonable = jsonable
_plain = plain_records
_geojson = geojson
_emit = emit
_fail = fail


def _read_layers(store: Store, names: Iterable[str]) -> dict[str, gpd.GeoDataFrame]:
    return {name: store.read(name) for name in names}


# ------------------------------------------------------------------------------------ area


@app.command("area")
def area_cmd(
    file: Annotated[Path, typer.Argument(help="Any polygon file Gazar reads (GeoJSON, ...).")],
    id_field: Annotated[
        str | None,
        typer.Option("--id-field", help="The column naming the features (default: id, else #)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or geojson.")] = "csv",
    crs: CrsOption = None,
    source_layer: SourceLayerOption = None,
    out_file: OutOption = None,
) -> None:
    """Official (cadastre, UTM zone of the centroid) and true hectares of every feature."""
    fmt = _choice(fmt, ("csv", "json", "geojson"), "--format")
    out_target(out_file)
    from layers.readers import read_features  # GDAL: loaded (and torn down) by file commands only

    frame, info = guarded(
        lambda: read_features(file, crs=crs, source_layer=source_layer, limits=file_limits())
    )
    for note in info.notes:
        err.print(f"  · {note}", markup=False)
    if id_field is not None and id_field not in frame.columns:
        have = ", ".join(str(c) for c in frame.columns if c != "geometry")
        raise typer.BadParameter(f"the file has no column '{id_field}'; its columns: {have}",
                                 param_hint="--id-field")  # fmt: skip
    column = id_field or ("id" if "id" in frame.columns else None)
    ids = (
        frame[column].astype(str).to_numpy(dtype=object)
        if column
        else np.array([str(i + 1) for i in range(len(frame))], dtype=object)
    )

    def measure() -> pd.DataFrame:
        geoms = np.asarray(frame.geometry.array, dtype=object)
        missing = np.flatnonzero(shapely.is_missing(geoms))
        if missing.size:
            i = int(missing[0])
            raise InvalidGeometry(f"{file}: feature #{i} (id={ids[i]}) has no geometry")
        try:
            check_polygons(geoms, layer=str(file), ids=ids)
        except InvalidGeometry as exc:
            raise InvalidGeometry(str(exc).replace("layer ", "file ", 1)) from None
        fixed, repaired = repair_polygons(geoms, layer=str(file), ids=ids)
        for r in repaired:
            err.print(f"  ~ {r.as_problem()}", markup=False)
        return areas(gpd.GeoSeries(fixed, crs=STORE_CRS))

    size = guarded(measure)
    table = pd.DataFrame(
        {
            "id": ids,
            "official_ha": size["official_ha"].to_numpy(),
            "geodesic_ha": size["geodesic_ha"].to_numpy(),
            "utm_zone": size["utm_zone"].to_numpy(),
        }
    )
    if fmt == "csv":
        _emit(frame_csv(table, index=False, lineterminator="\n", float_format="%.6f"), out_file)
    elif fmt == "json":
        _emit(_dumps(_plain(table)), out_file)
    else:
        enriched = frame.assign(
            official_ha=table["official_ha"].to_numpy(),
            geodesic_ha=table["geodesic_ha"].to_numpy(),
            utm_zone=table["utm_zone"].to_numpy(),
        )
        _emit(_geojson(enriched), out_file)


# -------------------------------------------------------------------------------- overlaps


@app.command("overlaps")
def overlaps_cmd(
    layer: Annotated[
        str | None,
        typer.Option("--layer", help="Overlaps within this layer (or against --against)."),
    ] = None,
    against: Annotated[
        str | None, typer.Option("--against", help="Overlaps of --layer with this layer.")
    ] = None,
    tolerance_m2: Annotated[
        float | None,
        typer.Option("--tolerance-m2", min=0, help="Shared m² up to this are not overlaps."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table (bilingual), json, csv or geojson.")
    ] = "table",
    today: TodayOption = None,
    db: DbOption = None,
    out_file: OutOption = None,
) -> None:
    """Overlapping features, each with the rule it breaks (none where a pair may overlap).

    Without --layer: every pair of layers the rules forbid to overlap (features that count
    only: live contracts, Land Conclusions in force, licences not expired).
    """
    fmt = _choice(fmt, ("table", "json", "csv", "geojson"), "--format")
    out_target(out_file)
    if against is not None and layer is None:
        raise typer.BadParameter("--against needs --layer", param_hint="--against")
    for value, hint in ((layer, "--layer"), (against, "--against")):
        if value is not None and value not in AREA_LAYERS:
            raise typer.BadParameter(f"choose one of {', '.join(AREA_LAYERS)}", param_hint=hint)
    settings = (
        analysis_settings()
        if tolerance_m2 is None
        else analysis_settings(overlap_tolerance_m2=tolerance_m2)
    )
    day = parse_today(today)
    wanted = overlap_pairs(layer, against)
    with store_at(db, create=False) as store:  # only the columns the rules read
        layers = guarded(
            lambda: {n: store.read(n, columns=c) for n, c in overlap_columns(wanted).items()}
        )
    found = guarded(
        lambda: overlaps_view(
            layers, pairs=wanted, today=day, tolerance_m2=settings.overlap_tolerance_m2
        )
    )
    records = found.records
    for note in dict.fromkeys(str(r.as_problem()) for r in found.repaired):
        err.print(f"  ~ {note}", markup=False)
    if fmt == "json":
        _emit(_dumps(overlaps_json(found)), out_file)
    elif fmt == "csv":
        _emit(csv(records), out_file)
    elif fmt == "geojson":
        _emit(_geojson(records), out_file)
    else:
        _overlap_table(records, settings)


def _rule_title(code: object) -> str:
    rule = RULES.get(str(code)) if isinstance(code, str) else None
    return "—" if rule is None else both(rule.title_mn, rule.title_en)


def _layer_name(name: object) -> str:
    if not isinstance(name, str):
        return "—"
    return both(label("layer", name, "mn"), label("layer", name, "en"))


def _overlap_table(records: pd.DataFrame, settings: AnalysisSettings) -> None:
    tolerance = settings.overlap_tolerance_m2
    grid = table(
        "text.field_rule",
        "cli_column.layer_a",
        "cli_column.id_a",
        "cli_column.layer_b",
        "cli_column.id_b",
        "cli_column.overlap_ha",
        title=slashed("cli_text.overlaps_tolerance", tolerance=f"{tolerance:g}"),
    )
    for r in records.itertuples(index=False):
        grid.add_row(
            escape(_rule_title(r.rule)),
            escape(_layer_name(r.a_layer)),
            escape(str(r.a_id)),
            escape(_layer_name(r.b_layer)),
            escape(str(r.b_id)),
            f"{r.overlap_ha:,.4f}",
        )
    out.print(grid)
    out.print(slashed("cli_text.total_count", count=len(records)))


# --------------------------------------------------------------------------------- analyze


@app.command("analyze")
def analyze_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    today: TodayOption = None,
    db: DbOption = None,
    out_file: OutOption = None,
) -> None:
    """Run every conflict rule over the whole store: counts by soum and rule, then the list."""
    out_target(out_file)
    day = parse_today(today)
    settings = analysis_settings()
    with store_at(db, create=False) as store:
        layers = guarded(lambda: _read_layers(store, AREA_LAYERS))
    found = guarded(lambda: analyze(layers, today=day, settings=settings))
    for r in found.repaired:
        err.print(f"  ~ {r.as_problem()}", markup=False)
    counts = counts_by(found, ["soum_code", "rule"])
    if as_json:
        payload = {
            "today": day.isoformat(),
            "counts": _plain(counts.assign(severity=counts["rule"].map(_severity))),
            "findings": _plain(found.records),
            "repaired": [r.as_dict() for r in found.repaired],
        }
        _emit(_dumps(payload), out_file)
        return
    _analysis_tables(found, counts, layers.get("soums"), day)


def _severity(code: str) -> str:
    return RULES[code].severity if code in RULES else ""


def _analysis_tables(
    found: Findings, counts: pd.DataFrame, soums: gpd.GeoDataFrame | None, day: dt.date
) -> None:
    names: dict[str, str] = {}
    if soums is not None and len(soums):
        for code, mn, en in zip(soums["id"], soums["name_mn"], soums["name_en"], strict=True):
            names[str(code)] = " / ".join(str(v) for v in (mn, en) if isinstance(v, str) and v)
    grid = table(
        "text.field_soum_code",
        "text.field_rule",
        "cli_column.severity",
        "cli_column.count",
        "cli_column.area_ha",
        title=slashed("cli_text.conflicts_title", day=day),
    )
    for r in counts.to_dict("records"):
        code = str(r["soum_code"])
        soum = f"{names.get(code, '')} {code}".strip() or "—"
        severity = _severity(str(r["rule"]))
        mn, en = SEVERITY_LABELS.get(severity, (severity, severity))
        grid.add_row(
            escape(soum),
            escape(_rule_title(r["rule"])),
            escape(both(mn, en)),
            str(r["count"]),
            f"{r['overlap_ha']:,.2f}" if r["overlap_ha"] else "—",
        )
    out.print(grid)
    listing = table(
        "text.field_rule",
        "cli_column.id_a",
        "cli_column.id_b",
        "cli_column.ha",
        "text.field_message",
        title=slashed("cli_text.findings"),
    )
    for r in found.records.itertuples(index=False):
        listing.add_row(
            escape(str(r.rule)),
            escape(str(r.a_id)),
            escape("—" if r.b_id is None else str(r.b_id)),
            "—" if pd.isna(r.overlap_ha) else f"{r.overlap_ha:,.4f}",
            escape(both(r.message_mn, r.message_en)),
        )
    out.print(listing)
    out.print(slashed("cli_text.total_findings", count=len(found)))
