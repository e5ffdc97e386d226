"""Raster analysis over files: zonal statistics, rehabilitation monitoring, terrain, the
availability raster and the demo's rasters.

The service that joins :mod:`layers.rasters` (the files: headers, windows read block by block,
COGs written, the rasters registered beside a store) to :mod:`geo.raster` (the analysis, one
block at a time): zones (any CRS; reprojected to the raster's, never the raster to theirs) are
grouped into blocks by :func:`geo.raster.plan_windows`, and only the window of each block that
lies in the raster is read — at most ``max_pixels`` pixels at a time, whatever the raster's size.

The file functions of :mod:`layers.rasters` are re-exported here, so a caller needs one module
for rasters.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import rasterio
import shapely
from rasterio.crs import CRS
from rasterio.windows import Window as RioWindow

from api.services.demo_rasters import write_demo_rasters
from geo import raster as gr
from geo.area import official_ha
from layers.errors import InputFileError
from layers.rasters import (
    MANIFEST,
    MAX_EXPORT_PIXELS,
    MAX_PIXELS,
    RASTER_KINDS,
    RASTERS_ENV,
    RasterInfo,
    RasterKind,
    ReadHook,
    covering,
    file_stamps,
    lonlat_extent,
    named,
    raster_dir,
    raster_info,
    read_blocks,
    register,
    registered,
    usable_lonlat,
    write_cog,
)

__all__ = [
    "MANIFEST",
    "MAX_EXPORT_PIXELS",
    "MAX_PIXELS",
    "RASTERS_ENV",
    "RASTER_KINDS",
    "RasterInfo",
    "RasterKind",
    "ReadHook",
    "covering",
    "dem_blocks",
    "file_stamps",
    "lonlat_extent",
    "named",
    "proposal_dem",
    "raster_dir",
    "raster_info",
    "read_blocks",
    "read_dem",
    "register",
    "registered",
    "rehab_recovery",
    "rehab_registered",
    "terrain",
    "terrain_registered",
    "usable_lonlat",
    "value_blocks",
    "write_availability",
    "write_cog",
    "write_demo_rasters",
    "zonal_stats",
    "zones_in_pixels",
]


def zones_in_pixels(zones: gpd.GeoDataFrame | gpd.GeoSeries, info: RasterInfo) -> gr.ObjArray:
    """Zones reprojected to the raster's CRS and mapped to its pixel space."""
    geoms = zones.geometry if isinstance(zones, gpd.GeoDataFrame) else zones
    if geoms.crs is None:
        raise InputFileError(info.path, "the zones have no CRS to reproject them with")
    local = geoms.to_crs(info.crs.to_wkt()) if len(geoms) else geoms
    return gr.pixel_space(np.asarray(local.array, dtype=object), info.transform)


def value_blocks(
    path: str | os.PathLike[str],
    windows: Iterable[gr.Window],
    *,
    band: int = 1,
    on_read: ReadHook | None = None,
) -> Iterator[tuple[gr.Window, gr.Grid]]:
    """:func:`read_blocks` as ``geo.raster`` grids (nodata from the file)."""
    for w, src, read, values in read_blocks(path, windows, band=band, on_read=on_read):
        row, col = (read.row_off, read.col_off) if read is not None else (w.row_off, w.col_off)
        yield w, gr.Grid(values, int(row), int(col), _nodata(src.nodata))


def _nodata(value: float | None) -> float | None:
    return None if value is None else float(value)


def zonal_stats(
    path: str | os.PathLike[str],
    zones: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    mode: gr.PixelMode = "weighted",
    max_pixels: int = MAX_PIXELS,
    band: int = 1,
    on_read: ReadHook | None = None,
) -> pd.DataFrame:
    """:func:`geo.raster.zonal_stats` of a raster file over zones, read block by block.

    Returns one row per zone (index of ``zones``) with ``geo.raster.STAT_COLUMNS``.
    """
    info = raster_info(path)
    px = zones_in_pixels(zones, info)
    windows = gr.plan_windows(px, max_pixels=max_pixels)
    blocks = value_blocks(path, windows, band=band, on_read=on_read)
    stats = gr.zonal_stats(blocks, len(px), mode=mode)
    return stats.set_axis(zones.index)


def rehab_recovery(
    before: str | os.PathLike[str],
    after: str | os.PathLike[str],
    zones: gpd.GeoDataFrame,
    *,
    min_recovery: float,
    mode: gr.PixelMode = "weighted",
    max_pixels: int = MAX_PIXELS,
) -> pd.DataFrame:
    """Each rehabilitation zone's vegetation change between two index rasters.

    The rasters may differ in CRS and grid: each is read over the zones on its own. Returns
    the zones' attributes (without geometry) with ``geo.raster.RECOVERY_COLUMNS``.
    """
    b = zonal_stats(before, zones, mode=mode, max_pixels=max_pixels)
    a = zonal_stats(after, zones, mode=mode, max_pixels=max_pixels)
    table = gr.recovery_table(b, a, min_recovery=min_recovery)
    return pd.concat([pd.DataFrame(zones.drop(columns="geometry")), table], axis=1)


def rehab_registered(
    store_location: str | os.PathLike[str],
    zones: gpd.GeoDataFrame,
    *,
    min_recovery: float,
    folder: str | os.PathLike[str] | None = None,
    mode: gr.PixelMode = "weighted",
    max_pixels: int = MAX_PIXELS,
) -> pd.DataFrame:
    """:func:`rehab_recovery` with the NDVI rasters registered beside a store: each zone is
    measured with the first ``ndvi_before``/``ndvi_after`` pair (same ``area``) whose extent
    holds it; zones no pair covers are ``no_data``. Adds ``before_file`` and ``after_file``.
    ``folder`` is the configured folder of the store's rasters (``GAZAR_RASTERS``), if any.
    """
    entries = registered(store_location, folder=folder)
    if not any(e["kind"] == "ndvi_before" for e in entries):
        raise InputFileError(
            str(raster_dir(store_location, folder=folder)),
            "no NDVI rasters are registered beside the store; give --before and --after",
        )
    afters = {e["area"]: e for e in entries if e["kind"] == "ndvi_after"}
    done = np.zeros(len(zones), dtype=bool)
    parts: list[pd.DataFrame] = []
    for entry, inside in covering(entries, "ndvi_before", zones):
        after = afters.get(entry["area"])
        pick = inside & ~done
        if after is None or not pick.any():
            continue
        part = rehab_recovery(
            entry["path"],
            after["path"],
            zones[pick],
            min_recovery=min_recovery,
            mode=mode,
            max_pixels=max_pixels,
        )
        parts.append(part.assign(before_file=entry["file"], after_file=after["file"]))
        done |= pick
    if not done.all():
        rest = zones[~done]
        blank = pd.DataFrame(np.nan, index=rest.index, columns=list(gr.STAT_COLUMNS))
        table = gr.recovery_table(blank, blank, min_recovery=min_recovery)
        parts.append(pd.concat([pd.DataFrame(rest.drop(columns="geometry")), table], axis=1))
    return pd.concat(parts).reindex(zones.index)


# ------------------------------------------------------------------------------- DEM


def dem_blocks(
    path: str | os.PathLike[str],
    windows: Iterable[gr.Window],
    *,
    on_read: ReadHook | None = None,
) -> Iterator[tuple[gr.Window, gr.Grid]]:
    """Each planned window (with a pad of one pixel) with the slope over it, in degrees."""
    info = raster_info(path)
    crs = info.crs.to_wkt()
    for w, _, read, values in read_blocks(path, windows, on_read=on_read):
        row, col = (read.row_off, read.col_off) if read is not None else (w.row_off, w.col_off)
        dem = gr.Dem(values, info.transform, crs, int(row), int(col), _nodata(info.nodata))
        yield w, dem.slope()


def terrain(
    dem: str | os.PathLike[str],
    zones: gpd.GeoDataFrame,
    *,
    slope_limit_deg: float,
    share_limit: float,
    max_pixels: int = MAX_PIXELS,
    on_read: ReadHook | None = None,
) -> pd.DataFrame:
    """Slope over each zone (e.g. every Land Conclusion) from a DEM file, block by block.

    Returns one row per zone (index of ``zones``) with ``geo.raster.TERRAIN_COLUMNS``.
    """
    info = raster_info(dem)
    px = zones_in_pixels(zones, info)
    windows = gr.plan_windows(px, max_pixels=max_pixels, pad=1)
    samples = gr.collect(dem_blocks(dem, windows, on_read=on_read), len(px))
    area = official_ha(zones.geometry.to_crs("EPSG:4326")) if len(zones) else np.zeros(0)
    table = gr.terrain_table(
        samples, area, slope_limit_deg=slope_limit_deg, share_limit=share_limit
    )
    return table.set_axis(zones.index)


def terrain_registered(
    store_location: str | os.PathLike[str],
    zones: gpd.GeoDataFrame,
    *,
    slope_limit_deg: float,
    share_limit: float,
    folder: str | os.PathLike[str] | None = None,
    max_pixels: int = MAX_PIXELS,
) -> pd.DataFrame:
    """:func:`terrain` with the DEMs registered beside a store: each zone is measured on the
    first DEM whose extent holds it (NaN shares where none does). Adds ``dem_file``.
    ``folder`` is the configured folder of the store's rasters (``GAZAR_RASTERS``), if any."""
    entries = registered(store_location, folder=folder)
    if not any(e["kind"] == "dem" for e in entries):
        raise InputFileError(
            str(raster_dir(store_location, folder=folder)),
            "no DEM is registered beside the store; give --dem",
        )
    table = pd.DataFrame(np.nan, index=zones.index, columns=list(gr.TERRAIN_COLUMNS))
    table["over"] = False
    table["dem_file"] = None
    done = np.zeros(len(zones), dtype=bool)
    for entry, inside in covering(entries, "dem", zones):
        pick = inside & ~done
        if not pick.any():
            continue
        part = terrain(
            entry["path"],
            zones[pick],
            slope_limit_deg=slope_limit_deg,
            share_limit=share_limit,
            max_pixels=max_pixels,
        )
        table.loc[part.index, list(gr.TERRAIN_COLUMNS)] = part
        table.loc[part.index, "dem_file"] = entry["file"]
        done |= pick
    table["over"] = table["over"].astype(bool)
    return table


def read_dem(
    path: str | os.PathLike[str],
    zones: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_pixels: int = MAX_PIXELS,
) -> gr.Dem | None:
    """The DEM block covering ``zones`` and two pixels around them (None if it misses them).

    For a review: one proposal is small. ``InputFileError`` if the block would exceed
    ``max_pixels``.
    """
    info = raster_info(path)
    px = zones_in_pixels(zones, info)
    px = px[~(shapely.is_missing(px) | shapely.is_empty(px))]
    with np.errstate(invalid="ignore"):
        px = px[np.isfinite(shapely.bounds(px)).all(axis=1)]  # NaN or unprojectable: none
    if not len(px):
        return None
    x0, y0, x1, y1 = shapely.total_bounds(px)
    r0, c0 = max(math.floor(y0) - 2, 0), max(math.floor(x0) - 2, 0)
    r1, c1 = min(math.ceil(y1) + 2, info.height), min(math.ceil(x1) + 2, info.width)
    if r1 <= r0 or c1 <= c0:
        return None
    if (r1 - r0) * (c1 - c0) > max_pixels:
        raise InputFileError(
            info.path,
            f"the area needs {(r1 - r0) * (c1 - c0):,} DEM pixels "
            f"at once, more than {max_pixels:,}",
        )
    with rasterio.open(info.path) as src:
        values = src.read(1, window=RioWindow(c0, r0, c1 - c0, r1 - r0))  # type: ignore[call-arg]
    return gr.Dem(values, info.transform, info.crs.to_wkt(), r0, c0, _nodata(info.nodata))


def write_availability(
    path: str | os.PathLike[str],
    land_conclusions: gpd.GeoDataFrame | gpd.GeoSeries,
    available: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    res: float = 10.0,
    crs: Any = None,
    rows_per_block: int = 1024,
) -> dict[str, Any]:
    """Write the availability raster: 1 available, 0 elsewhere in Land Conclusions, 255
    outside (nodata), ``uint8``, as a COG.

    Parameters
    ----------
    land_conclusions, available : GeoDataFrame or GeoSeries
        The Land Conclusions in force and their free land (``geo.availability``), any CRS.
    res : float
        Pixel size in the target CRS's unit (metres for UTM).
    crs : optional
        The target CRS; default the WGS84 UTM zone the Land Conclusions lie in (refused
        when they lie in several).

    Returns
    -------
    dict
        ``path``, ``crs``, ``res``, ``width``, ``height``, ``bounds``, the pixel counts
        ``available_pixels`` and ``land_pixels``, and ``pixel_ha`` (None in lon/lat).
    """
    lcs = (
        land_conclusions.geometry
        if isinstance(land_conclusions, gpd.GeoDataFrame)
        else (land_conclusions)
    )
    free = available.geometry if isinstance(available, gpd.GeoDataFrame) else available
    lcs = lcs[~(lcs.is_empty | lcs.isna())]
    if lcs.empty:
        raise InputFileError(str(path), "no Land Conclusion in force to rasterise")
    if crs is None:
        lonlat = np.asarray(lcs.to_crs("EPSG:4326").array)
        zones = sorted({gr.utm_epsg(x) - 32600 for x in shapely.get_x(shapely.centroid(lonlat))})
        if len(zones) > 1:
            raise InputFileError(
                str(path),
                "the Land Conclusions lie in UTM zones "
                f"{', '.join(f'{z}N' for z in zones)}; choose one soum "
                "(--soum) or give a CRS (--crs)",
            )
        crs = f"EPSG:{32600 + zones[0]}"
    target = CRS.from_user_input(crs)
    if target.is_geographic and res >= 1:
        raise InputFileError(
            str(path), f"--res {res:g} is in degrees for {crs}; give metres with a projected CRS"
        )
    land = lcs.to_crs(target.to_wkt())
    bounds = tuple(float(v) for v in land.total_bounds)
    transform, height, width = gr.aligned_grid(bounds, res)  # type: ignore[arg-type]
    if height * width > MAX_EXPORT_PIXELS:
        raise InputFileError(
            str(path),
            f"{width:,} x {height:,} pixels at {res:g} is too large; "
            "choose a smaller area (--soum) or a coarser --res",
        )
    land_px = gr.pixel_space(np.asarray(land.array, dtype=object), transform)
    free_px = gr.pixel_space(
        np.asarray(free.to_crs(target.to_wkt()).array, dtype=object), transform
    )
    counts = {"available": 0, "land": 0}

    def blocks() -> Iterator[tuple[int, int, npt.NDArray[np.uint8]]]:
        for row in range(0, height, rows_per_block):
            h = min(rows_per_block, height - row)
            block = gr.availability_block(
                land_px, free_px, row_off=row, col_off=0, height=h, width=width
            )
            counts["available"] += int((block == gr.AVAILABLE).sum())
            counts["land"] += int((block != gr.OUTSIDE).sum())
            yield row, 0, block

    write_cog(
        path,
        blocks(),
        height=height,
        width=width,
        transform=transform,
        crs=target,
        dtype="uint8",
        nodata=gr.OUTSIDE,
    )
    return {
        "path": str(path),
        "crs": target.to_string(),
        "res": res,
        "width": width,
        "height": height,
        "bounds": [
            transform.c,
            transform.f + transform.e * height,
            transform.c + transform.a * width,
            transform.f,
        ],
        "available_pixels": counts["available"],
        "land_pixels": counts["land"],
        "pixel_ha": None
        if target.is_geographic
        else (res * target.linear_units_factor[1]) ** 2 / 10_000,
    }


def proposal_dem(
    store_location: str | os.PathLike[str],
    zones: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    folder: str | os.PathLike[str] | None = None,
    max_pixels: int = MAX_PIXELS,
) -> tuple[dict[str, Any], gr.Dem] | None:
    """The registered DEM holding the most of ``zones`` (the first listed of equals), read
    over them only (:func:`read_dem`); None if no registered DEM holds any of them.

    Zones without a usable lon/lat polygon (missing, empty, NaN) are left out, as a review
    reports them itself. ``folder`` is the configured folder of the store's rasters
    (``GAZAR_RASTERS``), if any.
    """
    entries = [e for e in registered(store_location, folder=folder) if e["kind"] == "dem"]
    if not entries:
        return None
    geoms = zones.geometry if isinstance(zones, gpd.GeoDataFrame) else zones
    usable = usable_lonlat(geoms)
    if not usable.any():
        return None
    part = geoms[usable]
    best = max(covering(entries, "dem", part), key=lambda hit: int(hit[1].sum()), default=None)
    if best is None:
        return None
    entry, inside = best
    dem = read_dem(entry["path"], part[inside], max_pixels=max_pixels)
    return None if dem is None else (entry, dem)
