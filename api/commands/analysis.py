"""Analysis commands: area, overlaps, analyze and check (the desk review of a proposal).

Exit codes: 0 when the command ran, whatever it found (conflicts and an ``invalid`` verdict are
results, printed in the output); 1 when the input cannot be read (a missing or unreadable file,
an unknown layer, a geometry no area can be measured for); 3 when the store cannot be opened.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Final

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
from api.cli import settings as cli_settings
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
from api.services import rasters
from api.services.views import (
    check_view,
    layers_of,
    overlap_pairs,
    overlaps_json,
    overlaps_view,
    plain_records,
)
from geo.area import areas
from geo.raster import Dem
from geo.repair import check_polygons, repair_polygons
from geo.review import KIND_LAYER, REVIEW_LAYERS, Review, ReviewContext
from geo.review_types import verdict_label
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
from layers.labels import pair as label_pair
from layers.readers import read_features
from layers.schema import REGISTRY, STORE_CRS
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
        if value is not None and value not in REGISTRY:
            raise typer.BadParameter(f"choose one of {', '.join(REGISTRY)}", param_hint=hint)
    settings = (
        analysis_settings()
        if tolerance_m2 is None
        else analysis_settings(overlap_tolerance_m2=tolerance_m2)
    )
    day = parse_today(today)
    wanted = overlap_pairs(layer, against)
    with store_at(db, create=False) as store:
        layers = guarded(lambda: _read_layers(store, layers_of(wanted)))
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
        layers = guarded(lambda: _read_layers(store, REGISTRY))
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


# ----------------------------------------------------------------------------------- check


@app.command("check")
def check_cmd(
    file: Annotated[Path, typer.Argument(help="The proposed area(s): any polygon file.")],
    kind: Annotated[
        str, typer.Option("--kind", help="land_conclusion (MRPAM's review) or parcel.")
    ] = "land_conclusion",
    soum: Annotated[
        str | None, typer.Option("--soum", help="The proposing soum's code, e.g. MN4322.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="json or html.")] = "json",
    crs: CrsOption = None,
    source_layer: SourceLayerOption = None,
    today: TodayOption = None,
    db: DbOption = None,
    out_file: OutOption = None,
    dem: Annotated[
        Path | None,
        typer.Option(
            "--dem",
            help="Elevation raster (metres) for the slope finding; default: the DEM "
            "registered beside the store that holds the proposal, if any.",
        ),
    ] = None,
) -> None:
    """Review a proposal against the store: verdict, areas, soums, overlaps and broken rules.

    With a DEM (--dem, or one registered beside the store, as gazar demo writes) the share of
    the proposal steeper than GAZAR_SLOPE_LIMIT_DEG is reported, with a warning above
    GAZAR_SLOPE_SHARE_LIMIT. The exit code is 0 whenever the review ran (the verdict — clear,
    conflicts or invalid — is in the output); 1 only when a file cannot be read.
    """
    kind = _choice(kind, KIND_LAYER, "--kind")
    fmt = _choice(fmt, ("json", "html"), "--format")
    out_target(out_file)
    day = parse_today(today)
    settings = analysis_settings()
    proposal, info = guarded(
        lambda: read_features(file, crs=crs, source_layer=source_layer, limits=file_limits())
    )
    for note in info.notes:
        err.print(f"  · {note}", markup=False)
    with store_at(db, create=False) as store:
        layers = guarded(lambda: _layers_near(store, proposal, soum=soum))
        location = store.location
    folder = cli_settings(db).store.rasters
    elevations = guarded(lambda: _dem_for(proposal, dem, location, folder))
    result = check_view(
        proposal,
        kind=kind,  # type: ignore[arg-type]
        context=ReviewContext(layers),
        today=day,
        settings=settings,
        soum=soum,
        dem=elevations,
    )
    result = replace(result, file=str(file))
    if fmt == "json":
        _emit(_dumps(result.as_json()), out_file)
    else:
        _emit(review_html(result), out_file)


def _dem_for(
    proposal: gpd.GeoDataFrame, dem: Path | None, location: str, folder: Path | None
) -> tuple[str, Dem] | None:
    """The DEM under the proposal: ``dem`` if given (a note when it misses the proposal),
    else the registered DEM holding it (``proposal_dem``, in ``folder`` if set), else None."""
    if dem is None:
        found = rasters.proposal_dem(location, proposal, folder=folder)
        return None if found is None else (str(found[0]["file"]), found[1])
    usable = rasters.usable_lonlat(proposal)
    block = rasters.read_dem(dem, proposal[usable]) if usable.any() else None
    if block is None:
        err.print(f"  · {dem}: the DEM does not cover the proposal; no slope", markup=False)
        return None
    return str(dem), block


def _layers_near(
    store: Store, proposal: gpd.GeoDataFrame, *, soum: str | None
) -> dict[str, gpd.GeoDataFrame]:
    """The features a review of ``proposal`` can meet: those whose bbox meets the proposal's,
    plus the soum and Land Conclusions it names (bbox reads use the store's spatial index)."""
    geoms = np.asarray(proposal.geometry.array, dtype=object)
    usable = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    with np.errstate(invalid="ignore"):
        bounds = shapely.bounds(geoms[usable])
    finite = np.isfinite(bounds).all(axis=1) if len(bounds) else np.array([], dtype=bool)
    bounds = bounds[finite]
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name in REVIEW_LAYERS:
        if len(bounds):
            box = (
                float(bounds[:, 0].min()),
                float(bounds[:, 1].min()),
                float(bounds[:, 2].max()),
                float(bounds[:, 3].max()),
            )
            layers[name] = store.read(name, bbox=box)
        else:
            layers[name] = store.read(name, ids=[])
    named: dict[str, list[str]] = {"soums": [soum] if soum else []}
    for column, layer in (("soum_code", "soums"), ("land_conclusion_id", "land_conclusions")):
        if column in proposal.columns:
            named.setdefault(layer, [])
            named[layer] += [str(v) for v in proposal[column].dropna().unique()]
    for layer, ids in named.items():
        if ids:
            extra = store.read(layer, ids=ids)
            both = pd.concat([layers[layer], extra], ignore_index=True).drop_duplicates("id")
            layers[layer] = gpd.GeoDataFrame(both, geometry="geometry", crs=STORE_CRS)
    return layers


# ------------------------------------------------------------------------------------ html

_VERDICT_COLOURS = {"clear": "#1b7f3b", "conflicts": "#b3261e", "invalid": "#6b4f00"}
_SEVERITY_COLOURS = {"block": "#b3261e", "warn": "#a05a00", "info": "#35608a"}


#: The columns of the findings table of :func:`review_html` (``review_page`` words).
_FINDING_HEADS: Final = ("severity", "rule", "proposal", "layer", "id", "holder", "ha", "message")


def review_html(result: Review) -> str:
    """A self-contained bilingual HTML page of a review (no external files or scripts)."""

    def e(value: object) -> str:
        return "—" if value is None else html.escape(str(value))

    def ha(value: object) -> str:
        return "—" if value is None else f"{float(value):,.4f}"  # type: ignore[arg-type]

    def share(value: object) -> str:
        return "—" if value is None else f"{100 * float(value):.2f} %"  # type: ignore[arg-type]

    def w(code: str, sep: str = " / ") -> str:  # a word of the page in both languages
        return sep.join(e(side) for side in label_pair("review_page", code))

    verdict = result.verdict
    mn, en = verdict_label(verdict)
    kind_layer = KIND_LAYER[result.kind]
    rows: list[str] = []
    for f in result.findings:
        sev_mn, sev_en = SEVERITY_LABELS[f.severity]
        layer = f.layer
        where = (
            f"{e(label('layer', layer, 'mn'))} / {e(label('layer', layer, 'en'))}"
            if layer and layer in REGISTRY
            else e(layer)
        )
        rows.append(
            f'<tr><td><span class="sev" style="background:{_SEVERITY_COLOURS[f.severity]}">'
            f"{e(sev_mn)} / {e(sev_en)}</span></td>"
            f"<td><code>{e(f.code)}</code><br>{e(f.title_mn)}<br>{e(f.title_en)}</td>"
            f"<td>{e(f.proposal_id)}</td><td>{where}</td><td>{e(f.id)}</td>"
            f"<td>{e(f.holder)}</td><td class='n'>{ha(f.overlap_ha)}</td>"
            f"<td>{e(f.message_mn)}<br><span class='en'>{e(f.message_en)}</span></td></tr>"
        )
    findings = (
        "<table><tr>"
        + "".join(f"<th>{w(c, '<br>')}</th>" for c in _FINDING_HEADS)
        + "</tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else f"<p>{w('no_findings')}</p>"
    )
    soums = "".join(
        f"<tr><td>{e(s.soum_code)}</td><td>{e(s.name_mn)} / {e(s.name_en)}</td>"
        f"<td>{e(s.aimag_code)}</td><td class='n'>{ha(s.overlap_ha)}</td>"
        f"<td class='n'>{share(s.share)}</td></tr>"
        for s in result.soums
    )
    aimags = ", ".join(
        f"{e(a.name_mn)} / {e(a.name_en)} ({e(a.aimag_code)})" for a in result.aimags
    )
    features = "".join(
        f"<tr><td>{e(x.id)}</td><td class='n'>{ha(x.official_ha)}</td>"
        f"<td class='n'>{ha(x.geodesic_ha)}</td><td>{e(x.utm_zone)}</td>"
        f"<td>{e(verdict_label(x.verdict)[0])} / {e(verdict_label(x.verdict)[1])}</td></tr>"
        for x in result.features
    )
    notes = "".join(
        f"<li>{e(p.id)}: {e(p.reason_mn)} / {e(p.reason_en)}</li>" for p in result.problems
    ) + "".join(f"<li>{e(r.feature_id)} ({e(r.layer)}): {e(r.reason)}</li>"
                for r in result.repairs)  # fmt: skip
    area = result.area
    soum_heads = "".join(f"<th>{w(c, '<br>')}</th>" for c in ("code", "soum", "aimag", "ha"))
    day = result.today.isoformat()
    return f"""<!DOCTYPE html>
<html lang="mn">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gazar — {w("review")}: {e(result.file or "")}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }}
h1 {{ font-size: 1.4rem; }} h2 {{ font-size: 1.1rem; margin-top: 1.6rem; }}
.verdict {{ display: inline-block; padding: .5rem 1rem; color: #fff; border-radius: .3rem;
  font-size: 1.2rem; background: {_VERDICT_COLOURS[verdict]}; }}
table {{ border-collapse: collapse; margin: .5rem 0; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .5rem; vertical-align: top; text-align: left; }}
th {{ background: #f2f2f2; }} td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
.sev {{ color: #fff; padding: .1rem .4rem; border-radius: .2rem; white-space: nowrap; }}
.en {{ color: #555; }}
</style>
</head>
<body>
<h1>{w("review")} — {e(label("layer", kind_layer, "mn"))} /
{e(label("layer", kind_layer, "en"))}</h1>
<p>{w("file")}: <code>{e(result.file or "—")}</code> · {w("date")}: {e(day)}</p>
<p class="verdict">{e(mn)} / {e(en)}</p>
<h2>{w("area")}</h2>
<table>
<tr><th>{w("official_ha_utm", "<br>")}</th><th>{w("true_ha", "<br>")}</th></tr>
<tr><td class="n">{ha(area.official_ha)}</td><td class="n">{ha(area.geodesic_ha)}</td></tr>
</table>
<table>
<tr><th>{w("id", "<br>")}</th><th>{w("official_ha", "<br>")}</th><th>{w("true_ha", "<br>")}</th>
<th>{w("utm_zone", "<br>")}</th><th>{w("verdict", "<br>")}</th></tr>
{features}
</table>
<h2>{w("soums_aimags")}</h2>
<table>
<tr>{soum_heads}
<th>{w("share", "<br>")}</th></tr>
{soums}
</table>
<p>{w("aimags")}: {aimags or "—"}</p>
<p>{w("proposing_soum")}: {e(result.proposing_soum)} ·
{w("outside")}: {ha(result.outside_soum_ha)} {w("ha", "/")}
({share(result.outside_soum_share)})</p>
<h2>{w("findings")}</h2>
{findings}
<h2>{w("notes")}</h2>
{f"<ul>{notes}</ul>" if notes else "<p>—</p>"}
</body>
</html>
"""
