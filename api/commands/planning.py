"""Planning commands: how much land is still free, and where new parcels could go."""

from __future__ import annotations

import datetime as dt
import io
import math
from typing import Annotated, Any, Literal

import geopandas as gpd
import orjson
import pandas as pd
import shapely
import typer
from rich.table import Table

from api.cli import DbOption, app, err, guarded, out, parse_today, store_at
from api.views import (
    AVAILABILITY_LAYERS,
    availability_geojson,
    availability_json,
    availability_view,
)
from geo.availability import AREA_COLUMNS, availability_totals, require_in_force
from geo.repair import Repaired
from geo.settings import AnalysisSettings
from geo.suggest import SuggestResult, candidates_table, suggest_parcels
from layers.errors import FeatureNotFound
from layers.geojson import collection
from layers.store import Store

AvailabilityFormat = Literal["table", "json", "csv", "geojson"]
SuggestFormat = Literal["table", "json", "geojson"]

_BLOCKING_LAYERS = AVAILABILITY_LAYERS

_HEADERS = {
    "id": "ID",
    "name": "Нэр / Name",
    "soum_code": "Сум / Soum",
    "aimag_code": "Аймаг / Aimag",
    "land_conclusions": "Газрын дүгнэлт / LCs",
    "area_ha": "Нийт га / Area ha",
    "allocated_ha": "Олгосон га / Allocated ha",
    "rehab_blocked_ha": "Нөхөн сэргээлт га / Rehab-blocked ha",
    "excluded_ha": "Хориглосон га / Excluded ha",
    "available_ha": "Чөлөөт га / Available ha",
}

TodayOption = Annotated[
    str | None,
    typer.Option("--today", help="Date of the analysis, YYYY-MM-DD (default: today)."),
]
JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise typer.BadParameter(
            f"{value!r}: choose one of {', '.join(allowed)}", param_hint=option
        )
    return value


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
    table = Table(_HEADERS[by], "", _HEADERS["land_conclusions"], title=title)
    for column in AREA_COLUMNS:
        table.add_column(_HEADERS[column], justify="right")
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
        "Нийт / Total",
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
        out.print(
            "Хүчинтэй газрын дүгнэлт алга. / No Land Conclusion is issued and valid "
            f"on {day.isoformat()}."
        )
        return
    table = Table(
        *(_HEADERS[c] for c in ("id", "name", "soum_code")),
        title=f"Чөлөөт газар / Available land — {day.isoformat()}",
    )
    for column in AREA_COLUMNS:
        table.add_column(_HEADERS[column], justify="right")
    for row in frame.itertuples(index=False):
        table.add_row(
            str(row.id),
            str(row.name),
            str(row.soum_code),
            *(_ha(getattr(row, c)) for c in AREA_COLUMNS),
        )
    out.print(table)
    out.print(
        _totals_table(
            totals["soum_code"],
            by="soum_code",
            names=_names(store, "soums"),
            title="Сумаар / By soum",
        )
    )
    out.print(
        _totals_table(
            totals["aimag_code"],
            by="aimag_code",
            names=_names(store, "aimags"),
            title="Аймгаар / By aimag",
        )
    )


@app.command("availability")
def availability_cmd(
    soum: Annotated[
        str | None,
        typer.Option("--soum", help="Only this soum's Land Conclusions (code, e.g. MN4322)."),
    ] = None,
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
    fmt_ = _choice(fmt, ("table", "json", "csv", "geojson"), "--format")
    day = parse_today(today)
    with store_at(db, create=False) as store:
        where = {"soum_code": soum} if soum else None
        lcs = store.read("land_conclusions", where=where)
        if soum and lcs.empty and soum not in store.ids("soums"):
            err.print(
                f"[bold red]Алдаа / Error:[/] '{soum}' кодтой сум алга / "
                f"no soum has the code '{soum}'"
            )
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
        buffer = io.StringIO()
        pd.DataFrame(frame.drop(columns="geometry")).to_csv(buffer, index=False)
        typer.echo(buffer.getvalue(), nl=False)
    else:
        typer.echo(orjson.dumps(availability_geojson(frame), option=JSON_OPTS).decode())


def _messages(result: SuggestResult, *, lc_id: str, available_ha: float) -> dict[str, str]:
    ha = f"{result.requested_ha:g}"
    if result.fits:
        found, wanted = len(result), result.requested_count
        mn = f"{lc_id}: {ha} га-гийн {found} талбай санал болгож байна"
        en = f"{lc_id}: {found} parcel(s) of {ha} ha suggested"
        if found < wanted:
            mn += f" (хүссэн {wanted}-аас зөвхөн {found} нь багтав)"
            en += f" (only {found} of the {wanted} asked for fit)"
        return {"mn": mn + ".", "en": en + "."}
    if result.largest_block is None or result.largest_block_size_m is None:
        return {
            "mn": f"{lc_id}: {ha} га талбай багтахгүй: чөлөөт газар үлдээгүй "
            f"({available_ha:.2f} га).",
            "en": f"{lc_id}: no {ha} ha parcel fits: no free land is left ({available_ha:.2f} ha).",
        }
    w, h = result.largest_block_size_m
    block = f"{result.largest_block_ha:.2f}"
    return {
        "mn": f"{lc_id}: {ha} га талбай багтахгүй байна. Хамгийн том чөлөөт тэгш өнцөгт: "
        f"{block} га ({w:.0f} × {h:.0f} м).",
        "en": f"{lc_id}: no {ha} ha parcel fits. The largest free block is {block} ha "
        f"({w:.0f} × {h:.0f} m).",
    }


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
    table = Table(
        "#",
        "Талбай га / Area ha",
        "Өргөн × өндөр м / Width × height m",
        "Булангууд (урт, өрг) / Corners (lon, lat)",
        title=f"Санал болгох талбай / Suggested parcels (UTM EPSG:{result.utm_epsg})",
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
    fmt_ = _choice(fmt, ("table", "json", "geojson"), "--format")
    if not (math.isfinite(ha) and ha > 0):
        raise typer.BadParameter(
            "the size must be a positive number of hectares", param_hint="--ha"
        )
    day = parse_today(today)
    cap = AnalysisSettings().parcel_cap_ha
    if ha > cap:
        err.print(
            f"[yellow]Анхааруулга:[/] {ha:g} га нь нэг гэрээний дээд хэмжээ {cap:g} га-аас их. / "
            f"[yellow]Warning:[/] {ha:g} ha exceeds the {cap:g} ha one contract may hold."
        )
    with store_at(db, create=False) as store:
        try:
            lc = store.get("land_conclusions", land_conclusion_id)
        except FeatureNotFound:
            err.print(
                f"[bold red]Алдаа / Error:[/] газрын дүгнэлт '{land_conclusion_id}' олдсонгүй / "
                f"no Land Conclusion has the id '{land_conclusion_id}'"
            )
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
