"""Raster commands: rehabilitation monitoring, terrain, availability as a raster."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import typer

from api.cli import DbOption, analysis_settings, app, err, guarded, out, parse_today, store_at
from api.cli import location as cli_location
from api.cli import settings as cli_settings
from api.commands.options import SoumOption, TodayOption
from api.commands.output import choose, csv, out_target, slashed
from api.commands.output import table as output_table
from api.services import rasters
from api.services.views import plain_records, rehab_geojson, rehab_json, rehab_labelled
from geo import raster as gr
from geo.availability import availability
from layers.labels import bilingual

_JSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS

PixelsOption = Annotated[
    str,
    typer.Option(
        "--pixels",
        help="weighted: partial pixels by their covered fraction (default); centre: whole "
        "pixels whose centre is inside, as GDAL and rasterstats count them.",
    ),
]
FormatOption = Annotated[str, typer.Option("--format", help="table (default), json or csv.")]


def _num(value: Any, digits: int = 3) -> str:
    return "—" if value is None or pd.isna(value) else f"{float(value):.{digits}f}"


@app.command("rehab-monitor")
def rehab_monitor_cmd(
    before: Annotated[
        Path | None, typer.Option("--before", help="Vegetation index raster (e.g. NDVI) before.")
    ] = None,
    after: Annotated[
        Path | None, typer.Option("--after", help="The same index after (any CRS and grid).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table (default), json, csv or geojson.")
    ] = "table",
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            help="Smallest acceptable change of the mean (default GAZAR_REHAB_RECOVERY_MIN).",
        ),
    ] = None,
    pixels: PixelsOption = "weighted",
    db: DbOption = None,
) -> None:
    """Vegetation recovery of every rehabilitation zone between two index rasters.

    For each zone: the mean, median and share of valid pixels before and after, and the change
    of the mean; zones whose change is below the threshold are flagged. Without --before and
    --after, the NDVI rasters registered beside the store (gazar demo writes some) are used.
    """
    fmt = choose(fmt, ("table", "json", "csv", "geojson"), "--format")
    mode = choose(pixels, gr.PIXEL_MODES, "--pixels")
    if (before is None) != (after is None):
        raise typer.BadParameter("give both --before and --after, or neither", param_hint="--after")
    settings = analysis_settings(**({} if threshold is None else {"rehab_recovery_min": threshold}))
    minimum = float(settings.rehab_recovery_min)
    location = cli_location(db)
    folder = cli_settings(db).store.rasters
    with store_at(db, create=False) as store:
        zones = store.read("rehab_zones")
    if before is not None and after is not None:
        b, a = before, after
        table = guarded(
            lambda: rasters.rehab_recovery(b, a, zones, min_recovery=minimum, mode=mode)  # type: ignore[arg-type]
        )
    else:
        table = guarded(
            lambda: rasters.rehab_registered(
                location,
                zones,
                min_recovery=minimum,
                mode=mode,  # type: ignore[arg-type]
                folder=folder,
            )
        )
    if fmt == "json":
        payload = rehab_json(table, min_recovery=minimum, pixels=mode)
        typer.echo(orjson.dumps(payload, option=_JSON, default=_iso).decode())
    elif fmt == "csv":
        typer.echo(csv(rehab_labelled(table)), nl=False)
    elif fmt == "geojson":
        doc = rehab_geojson(table, zones)
        typer.echo(orjson.dumps(doc, option=_JSON, default=_iso).decode())
    else:
        _rehab_table(rehab_labelled(table), minimum)


def _iso(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _rehab_table(rows: pd.DataFrame, minimum: float) -> None:
    view = output_table(
        "ID",
        "text.field_holder",
        "text.field_stage",
        "cli_column.before",
        "cli_column.after",
        "text.field_change",
        "cli_column.valid",
        "text.field_status",
        title=slashed("cli_text.recovery_title", minimum=f"{minimum:g}"),
        one_line=True,
    )
    for row in rows.itertuples(index=False):
        r: Any = row
        flag = "[bold red]" if r.status == "below_min" else ""
        view.add_row(
            str(r.id),
            str(r.holder or ""),
            bilingual("rehab_stage", str(r.stage)),
            _num(r.before_mean),
            _num(r.after_mean),
            _num(r.change),
            _num(r.after_valid_share, 2),
            f"{flag}{r.status_mn} / {r.status_en}",
        )
    out.print(view)
    below = int((rows["status"] == "below_min").sum())
    out.print(slashed("cli_text.zones_below", count=below), markup=False)


@app.command("terrain")
def terrain_cmd(
    dem: Annotated[
        Path | None,
        typer.Option("--dem", help="Elevation raster in metres (default: the registered DEMs)."),
    ] = None,
    layer: Annotated[
        str, typer.Option("--layer", help="land_conclusions (default) or contract_parcels.")
    ] = "land_conclusions",
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Slope over each Land Conclusion: mean, share steeper than GAZAR_SLOPE_LIMIT_DEG, and
    those above GAZAR_SLOPE_SHARE_LIMIT."""
    fmt = choose(fmt, ("table", "json", "csv"), "--format")
    layer = choose(layer, ("land_conclusions", "contract_parcels"), "--layer")
    settings = analysis_settings()
    limit, share = float(settings.slope_limit_deg), float(settings.slope_share_limit)
    location = cli_location(db)
    folder = cli_settings(db).store.rasters
    with store_at(db, create=False) as store:
        zones = store.read(layer)
    if dem is not None:
        d = dem
        table = guarded(lambda: rasters.terrain(d, zones, slope_limit_deg=limit, share_limit=share))
    else:
        table = guarded(
            lambda: rasters.terrain_registered(
                location, zones, slope_limit_deg=limit, share_limit=share, folder=folder
            )
        )
    table.insert(0, "id", zones["id"].to_numpy())
    if fmt == "json":
        payload = {
            "slope_limit_deg": limit,
            "slope_share_limit": share,
            "features": plain_records(table),
        }
        typer.echo(orjson.dumps(payload, option=_JSON).decode())
        return
    if fmt == "csv":
        typer.echo(csv(table), nl=False)
        return
    view = output_table(
        "ID",
        "cli_column.mean_slope",
        f"> {limit:g}° %",
        "cli_column.steep_ha",
        "cli_column.over",
        title=slashed("cli_text.terrain"),
        one_line=True,
    )
    for row in table.itertuples(index=False):
        r: Any = row
        over = f"[bold red]{slashed('cli_text.yes')}[/]" if r.over else slashed("cli_text.no")
        pct = "—" if pd.isna(r.steep_share) else f"{100 * r.steep_share:.1f}"
        view.add_row(str(r.id), _num(r.mean_slope_deg, 1), pct, _num(r.steep_ha, 2), over)
    out.print(view)


@app.command("export-raster")
def export_raster_cmd(
    what: Annotated[str, typer.Argument(help="available: free land in Land Conclusions.")],
    out_file: Annotated[Path, typer.Option("--out", help="The GeoTIFF (COG) to write.")],
    res: Annotated[float, typer.Option("--res", help="Pixel size in metres.")] = 10.0,
    crs: Annotated[
        str | None,
        typer.Option("--crs", help="Target CRS (default: the UTM zone of the area)."),
    ] = None,
    soum: SoumOption = None,
    today: TodayOption = None,
    db: DbOption = None,
) -> None:
    """A Cloud-Optimised GeoTIFF of free land: 1 available, 0 elsewhere in Land Conclusions in
    force, 255 (nodata) outside — QGIS opens it as it is."""
    choose(what, ("available",), "WHAT")
    out_target(out_file)
    if not res > 0:
        raise typer.BadParameter("the resolution must be positive", param_hint="--res")
    day = parse_today(today)
    with store_at(db, create=False) as store:
        lcs = store.read("land_conclusions", where={"soum_code": soum} if soum else None)
        if lcs.empty:
            err.print("[bold red]Error:[/] no Land Conclusion to rasterise")
            raise typer.Exit(1)
        bbox = tuple(float(v) for v in lcs.total_bounds)
        near = {
            name: store.read(name, bbox=bbox)  # type: ignore[arg-type]
            for name in ("contract_parcels", "rehab_zones", "exclusions", "licences")
        }
    frame = guarded(
        lambda: availability(
            lcs,
            near["contract_parcels"],
            near["rehab_zones"],
            near["exclusions"],
            near["licences"],
            today=day,
        )
    )
    if frame.empty:
        err.print("[bold red]Error:[/] no Land Conclusion is in force on that day")
        raise typer.Exit(1)
    in_force = lcs.set_index("id").loc[frame["id"]].geometry
    land = gpd.GeoSeries(np.asarray(in_force.array, dtype=object), crs=lcs.crs)
    summary = guarded(
        lambda: rasters.write_availability(out_file, land, frame.geometry, res=res, crs=crs)
    )
    ha = summary["pixel_ha"]
    free = "" if ha is None else f" (≈{summary['available_pixels'] * ha:,.1f} ha)"
    out.print(
        f"[green]Wrote[/] {summary['path']}: {summary['width']} x {summary['height']} pixels "
        f"at {res:g} in {summary['crs']}; {summary['available_pixels']:,} available pixels"
        f"{free} of {summary['land_pixels']:,} in Land Conclusions"
    )
