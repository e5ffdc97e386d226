"""Planning commands: how much land is still free, and where new parcels could go."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

import geopandas as gpd
import orjson
import pandas as pd
import shapely
import typer
from rich.table import Table

from api.cli import DbOption, app, err, guarded, out, parse_today, store_at
from api.commands.options import SoumOption, TodayOption
from api.commands.output import choose, slashed
from api.commands.output import table as output_table
from api.services.views import (
    AVAILABILITY_LAYERS,
    availability_geojson,
    availability_json,
    availability_view,
)
from geo.availability import AREA_COLUMNS, availability_totals, require_in_force
from geo.repair import Repaired
from geo.settings import AnalysisSettings
from geo.suggest import SuggestResult, candidates_table, suggest_parcels
from layers.cells import frame_csv
from layers.errors import FeatureNotFound
from layers.geojson import collection
from layers.labels import messages as filled
from layers.store import Store

AvailabilityFormat = Literal["table", "json", "csv", "geojson"]
SuggestFormat = Literal["table", "json", "geojson"]

_BLOCKING_LAYERS = AVAILABILITY_LAYERS

#: The catalogue entry heading each column, printed "mn / en".
_HEADINGS = {
    "id": "ID",
    "name": "text.field_name",
    "soum_code": "text.field_soum_code",
    "aimag_code": "text.field_aimag_code",
    "land_conclusions": "cli_column.lcs",
    "area_ha": "cli_column.total_ha",
    "allocated_ha": "cli_column.allocated_ha",
    "rehab_blocked_ha": "cli_column.rehab_blocked_ha",
    "excluded_ha": "cli_column.excluded_ha",
    "available_ha": "cli_column.available_ha",
}


def _heading(column: str) -> str:
    """The heading of a column ("mn / en"); a column not in :data:`_HEADINGS` has none."""
    ref = _HEADINGS.get(column, "")
    return slashed(ref) if "." in ref else ref


def _area_table(*columns: str, title: str) -> Table:
    """A table of ``columns`` and then every area column, right-aligned."""
    table = Table(*(_heading(c) for c in columns), title=title)
    for column in AREA_COLUMNS:
        table.add_column(_heading(column), justify="right")
    return table


JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_ERROR = slashed("cli_text.error")


def _around(store: Store, lcs: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """The blocking layers' features near the given Land Conclusions (spatial index)."""
    if lcs.empty:
        return {name: store.read(name, ids=[]) for name in _BLOCKING_LAYERS}
    bbox = tuple(float(v) for v in lcs.total_bounds)
    return {name: store.read(name, bbox=bbox) for name in _BLOCKING_LAYERS}  # type: ignore[arg-type]


def _available(store: Store, lcs: gpd.GeoDataFrame, day: dt.date) -> gpd.GeoDataFrame:
    layers = _around(store, lcs)
    return guarded(lambda: availability_view(lcs, layers, today=day))


def _warn_repaired(frame: gpd.GeoDataFrame) -> None:
    repaired: tuple[Repaired, ...] = frame.attrs.get("repaired", ())
    for r in repaired:
        err.print(f"  ~ {r.as_problem()}", markup=False)


def _names(store: Store, layer: str) -> dict[str, str]:
    table = store.read(layer)
    mn = table["name_mn"].fillna(table["name_en"])
    return {
        str(i): f"{m} / {e}" if m != e else str(e)
        for i, m, e in zip(table["id"], mn, table["name_en"], strict=True)
    }


def _ha(value: float) -> str:
    return f"{value:,.2f}"


def _totals_table(totals: pd.DataFrame, *, by: str, names: dict[str, str], title: str) -> Table:
    table = _area_table(by, "", "land_conclusions", title=title)
    for row in totals.itertuples(index=False):
        code = str(getattr(row, by))
        table.add_row(
            code,
            names.get(code, ""),
            str(row.land_conclusions),
            *(_ha(getattr(row, c)) for c in AREA_COLUMNS),
        )
    grand = totals[["land_conclusions", *AREA_COLUMNS]].sum()
    table.add_row(
        slashed("text.total"),
        "",
        str(int(grand["land_conclusions"])),
        *(_ha(float(grand[c])) for c in AREA_COLUMNS),
        style="bold",
        end_section=True,
    )
    return table


def _print_availability_table(
    frame: gpd.GeoDataFrame,
    totals: dict[str, pd.DataFrame],
    *,
    store: Store,
    day: dt.date,
) -> None:
    if frame.empty:
        out.print(slashed("cli_text.none_in_force", day=day.isoformat()))
        return
    table = _area_table(
        "id", "name", "soum_code", title=f"{slashed('text.nav_availability')} — {day.isoformat()}"
    )
    for row in frame.itertuples(index=False):
        table.add_row(
            str(row.id),
            str(row.name),
            str(row.soum_code),
            *(_ha(getattr(row, c)) for c in AREA_COLUMNS),
        )
    out.print(table)
    for by, layer, title in (
        ("soum_code", "soums", "text.by_soum"),
        ("aimag_code", "aimags", "cli_text.by_aimag"),
    ):
        names = _names(store, layer)
        out.print(_totals_table(totals[by], by=by, names=names, title=slashed(title)))


@app.command("availability")
def availability_cmd(
    soum: SoumOption = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table (default), json, csv or geojson.")
    ] = "table",
    today: TodayOption = None,
    db: DbOption = None,
) -> None:
    """Land still free in each issued, valid Land Conclusion, with totals per soum and aimag.

    Each hectare is counted once: allocated (parcels holding land: applied, active,
    suspended), then blocked by rehabilitation not yet accepted, then excluded (protected land,
    licences); the rest is available.
    """
    fmt_ = choose(fmt, ("table", "json", "csv", "geojson"), "--format")
    day = parse_today(today)
    with store_at(db, create=False) as store:
        where = {"soum_code": soum} if soum else None
        lcs = store.read("land_conclusions", where=where)
        if soum and lcs.empty and soum not in store.ids("soums"):
            err.print(f"[bold red]{_ERROR}:[/] {slashed('cli_text.no_soum', soum=soum)}")
            raise typer.Exit(1)
        frame = _available(store, lcs, day)
        _warn_repaired(frame)
        if fmt_ == "table":
            totals = {by: availability_totals(frame, by=by) for by in ("soum_code", "aimag_code")}
            _print_availability_table(frame, totals, store=store, day=day)
            return
    if fmt_ == "json":
        typer.echo(orjson.dumps(availability_json(frame, today=day), option=JSON_OPTS).decode())
    elif fmt_ == "csv":
        typer.echo(frame_csv(frame.drop(columns="geometry"), index=False), nl=False)
    else:
        typer.echo(orjson.dumps(availability_geojson(frame), option=JSON_OPTS).decode())


def _messages(result: SuggestResult, *, lc_id: str, available_ha: float) -> dict[str, str]:
    ha = f"{result.requested_ha:g}"
    if result.fits:
        found, wanted = len(result), result.requested_count
        mn, en = filled("cli_text", "suggested", id=lc_id, count=found, ha=ha)
        if found < wanted:
            fewer = filled("cli_text", "suggested_fewer", count=found, wanted=wanted)
            mn, en = f"{mn} ({fewer[0]})", f"{en} ({fewer[1]})"
        return {"mn": mn + ".", "en": en + "."}
    if result.largest_block is None or result.largest_block_size_m is None:
        mn, en = filled("cli_text", "no_free_land", id=lc_id, ha=ha,
                          available=f"{available_ha:.2f}")  # fmt: skip
        return {"mn": mn, "en": en}
    w, h = result.largest_block_size_m
    block = f"{result.largest_block_ha:.2f}"
    mn, en = filled("cli_text", "largest_block", id=lc_id, ha=ha, block=block,
                    width=f"{w:.0f}", height=f"{h:.0f}")  # fmt: skip
    return {"mn": mn, "en": en}


def _suggest_geojson(result: SuggestResult, lc_id: str) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "properties": {
                "land_conclusion_id": lc_id,
                "kind": "candidate",
                "rank": int(row.rank),
                "official_ha": float(row.official_ha),
                "width_m": float(row.width_m),
                "height_m": float(row.height_m),
            },
            "geometry": shapely.geometry.mapping(row.geometry),
        }
        for row in result.candidates.itertuples(index=False)
    ]
    if result.largest_block is not None and result.largest_block_size_m is not None:
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "land_conclusion_id": lc_id,
                    "kind": "largest_block",
                    "official_ha": result.largest_block_ha,
                    "width_m": result.largest_block_size_m[0],
                    "height_m": result.largest_block_size_m[1],
                },
                "geometry": shapely.geometry.mapping(result.largest_block),
            }
        )
    return collection(features, {"fits": result.fits})


def _print_suggestions(result: SuggestResult, messages: dict[str, str]) -> None:
    colour = "green" if result.fits else "yellow"
    out.print(f"[{colour}]{messages['mn']}[/]", markup=True)
    out.print(f"[{colour}]{messages['en']}[/]", markup=True)
    if not result.fits:
        return
    table = output_table(
        "#",
        "cli_column.area_ha",
        "cli_column.size_m",
        "cli_column.corners",
        title=slashed("cli_text.suggested_title", epsg=result.utm_epsg),
        one_line=True,
    )
    for row in candidates_table(result).to_dict("records"):
        corners = "; ".join(f"{x:.6f}, {y:.6f}" for x, y in row["corners"])
        table.add_row(
            str(row["rank"]),
            f"{row['official_ha']:.4f}",
            f"{row['width_m']:.1f} × {row['height_m']:.1f}",
            corners,
        )
    out.print(table)


@app.command("suggest")
def suggest_cmd(
    land_conclusion_id: Annotated[str, typer.Argument(help="The Land Conclusion's id.")],
    ha: Annotated[float, typer.Option("--ha", help="Parcel size in official hectares.")],
    count: Annotated[int, typer.Option("--count", min=1, help="How many parcels to suggest.")] = 3,
    fmt: Annotated[str, typer.Option("--format", help="table (default), json or geojson.")] = (
        "table"
    ),
    today: TodayOption = None,
    db: DbOption = None,
) -> None:
    """Suggest rectangular parcels of a given size in a Land Conclusion's available land.

    Parcels have north-south and east-west edges (in the local UTM zone), lie wholly in
    available land, do not overlap, and are packed from the south-west. When none fits, the
    largest free block is reported instead (exit code 0 either way).
    """
    fmt_ = choose(fmt, ("table", "json", "geojson"), "--format")
    if not (math.isfinite(ha) and ha > 0):
        raise typer.BadParameter(
            "the size must be a positive number of hectares", param_hint="--ha"
        )
    day = parse_today(today)
    cap = AnalysisSettings().parcel_cap_ha
    if ha > cap:
        warning = filled("cli_text", "warning")
        over = filled("cli_text", "over_cap", ha=f"{ha:g}", cap=f"{cap:g}")
        err.print(f"[yellow]{warning[0]}:[/] {over[0]} / [yellow]{warning[1]}:[/] {over[1]}")
    with store_at(db, create=False) as store:
        try:
            lc = store.get("land_conclusions", land_conclusion_id)
        except FeatureNotFound:
            missing = slashed("cli_text.no_land_conclusion", id=land_conclusion_id)
            err.print(f"[bold red]{_ERROR}:[/] {missing}")
            raise typer.Exit(1) from None
        guarded(lambda: require_in_force(lc, today=day))
        frame = _available(store, lc, day)
    _warn_repaired(frame)
    row = frame.iloc[0]
    result = guarded(lambda: suggest_parcels(row.geometry, ha=ha, count=count))
    messages = _messages(result, lc_id=land_conclusion_id, available_ha=float(row.available_ha))
    if fmt_ == "table":
        _print_suggestions(result, messages)
    elif fmt_ == "json":
        doc = {
            "land_conclusion_id": land_conclusion_id,
            "as_of": day.isoformat(),
            "available_ha": float(row.available_ha),
            **result.as_dict(),
            "message": messages,
        }
        typer.echo(orjson.dumps(doc, option=JSON_OPTS).decode())
    else:
        typer.echo(
            orjson.dumps(_suggest_geojson(result, land_conclusion_id), option=JSON_OPTS).decode()
        )
