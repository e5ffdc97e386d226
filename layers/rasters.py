"""Raster files: read block by block for :mod:`geo.raster`, write Cloud-Optimised GeoTIFFs,
and the rasters registered beside a store.

Reading: zones (any CRS; reprojected to the raster's, never the raster to theirs) are grouped
into blocks by :func:`geo.raster.plan_windows`, and only the window of each block that lies in
the raster is read — at most ``max_pixels`` pixels at a time, whatever the raster's size.

The registry: rasters that belong to a store (the demo's NDVI and DEM) live in a folder beside
it, ``<store>.rasters/`` (``data/gazar.rasters/`` for ``data/gazar.gpkg``), or in the folder
the ``GAZAR_RASTERS`` environment variable names (the only way for a PostGIS store, which has
no folder beside it), listed in its ``manifest.json``: ``{"version": 1, "rasters": [{"kind",
"area", "file", "date", "crs", "description"}]}`` with ``kind`` one of :data:`RASTER_KINDS`
and ``area`` a soum code. A JSON file, not a table in the GeoPackage, so that a person (or
QGIS) sees the rasters as files and the store's schema stays the layers'.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
import rasterio
import rasterio.errors
import rasterio.shutil
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window as RioWindow

from geo import raster as gr
from layers.errors import InputFileError

RasterKind = Literal["ndvi_before", "ndvi_after", "dem"]
RASTER_KINDS: Final = ("ndvi_before", "ndvi_after", "dem")

#: The largest block read at once (pixels): 4096 x 4096, 64 MiB of float32.
MAX_PIXELS: Final = 4096 * 4096
#: The largest availability raster written (pixels): above it, choose a smaller area.
MAX_EXPORT_PIXELS: Final = 2_000_000_000
MANIFEST: Final = "manifest.json"

ReadHook = Callable[[RioWindow], None]


@dataclass(frozen=True)
class RasterInfo:
    """What a raster file is: its grid, CRS and nodata (band 1 unless said)."""

    path: str
    crs: CRS
    transform: Affine
    height: int
    width: int
    nodata: float | None
    dtype: str


def raster_info(path: str | os.PathLike[str]) -> RasterInfo:
    """Open a raster's header; ``InputFileError`` naming the file for anything unusable."""
    name = str(path)
    try:
        with rasterio.open(name) as src:
            info = RasterInfo(
                name, src.crs, src.transform, src.height, src.width, src.nodata, src.dtypes[0]
            )
    except (rasterio.errors.RasterioIOError, OSError) as exc:
        raise InputFileError(name, f"not a readable raster ({exc})") from None
    if info.crs is None:
        raise InputFileError(name, "the raster declares no CRS; assign one (gdal_edit -a_srs)")
    t = info.transform
    if t.b != 0 or t.d != 0:
        raise InputFileError(name, "the raster is rotated; warp it to a north-up grid first")
    return info


def zones_in_pixels(zones: gpd.GeoDataFrame | gpd.GeoSeries, info: RasterInfo) -> gr.ObjArray:
    """Zones reprojected to the raster's CRS and mapped to its pixel space."""
    geoms = zones.geometry if isinstance(zones, gpd.GeoDataFrame) else zones
    if geoms.crs is None:
        raise InputFileError(info.path, "the zones have no CRS to reproject them with")
    local = geoms.to_crs(info.crs.to_wkt()) if len(geoms) else geoms
    return gr.pixel_space(np.asarray(local.array, dtype=object), info.transform)


def read_blocks(
    path: str | os.PathLike[str],
    windows: Iterable[gr.Window],
    *,
    band: int = 1,
    on_read: ReadHook | None = None,
) -> Iterator[tuple[gr.Window, rasterio.io.DatasetReader, RioWindow | None, Any]]:
    """Each planned window with the raster's values over the part of it inside the raster.

    Yields ``(window, dataset, read_window, values)``; ``read_window`` is None (and values
    an empty array) for a window wholly outside. ``on_read`` is called with every window
    read (tests check the reads stay within the zones' bounds).
    """
    with rasterio.open(str(path)) as src:
        for w in windows:
            r0, c0 = max(w.row_off, 0), max(w.col_off, 0)
            r1 = min(w.row_off + w.height, src.height)
            c1 = min(w.col_off + w.width, src.width)
            if r1 <= r0 or c1 <= c0:
                yield w, src, None, np.zeros((0, 0), dtype=src.dtypes[band - 1])
                continue
            read = RioWindow(c0, r0, c1 - c0, r1 - r0)  # type: ignore[call-arg]
            if on_read is not None:
                on_read(read)
            yield w, src, read, src.read(band, window=read)


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
    mode: gr.PixelMode = "weighted",
    max_pixels: int = MAX_PIXELS,
) -> pd.DataFrame:
    """:func:`rehab_recovery` with the NDVI rasters registered beside a store: each zone is
    measured with the first ``ndvi_before``/``ndvi_after`` pair (same ``area``) whose extent
    holds it; zones no pair covers are ``no_data``. Adds ``before_file`` and ``after_file``.
    """
    entries = registered(store_location)
    if not any(e["kind"] == "ndvi_before" for e in entries):
        raise InputFileError(
            str(raster_dir(store_location)),
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
    from geo.area import official_ha

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
    max_pixels: int = MAX_PIXELS,
) -> pd.DataFrame:
    """:func:`terrain` with the DEMs registered beside a store: each zone is measured on the
    first DEM whose extent holds it (NaN shares where none does). Adds ``dem_file``."""
    entries = registered(store_location)
    if not any(e["kind"] == "dem" for e in entries):
        raise InputFileError(
            str(raster_dir(store_location)), "no DEM is registered beside the store; give --dem"
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


# ------------------------------------------------------------------------------- writing


def write_cog(
    path: str | os.PathLike[str],
    blocks: Iterable[tuple[int, int, npt.NDArray[Any]]],
    *,
    height: int,
    width: int,
    transform: Affine,
    crs: Any,
    dtype: str,
    nodata: float | None,
    resampling: str = "NEAREST",
    predictor: int = 1,
) -> None:
    """Write a Cloud-Optimised GeoTIFF from blocks ``(row_off, col_off, array)``.

    The blocks go to a tiled, sparse GeoTIFF beside the target (pixels never written are
    nodata and take no space), which GDAL's COG driver copies with overviews and DEFLATE
    compression (``predictor`` 2 for integers, 3 for floats helps smooth data); the target
    is replaced only once the copy is complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".gazar-cog-") as tmp:
        draft = Path(tmp) / "draft.tif"
        profile = {
            "driver": "GTiff",
            "height": height,
            "width": width,
            "count": 1,
            "dtype": dtype,
            "crs": CRS.from_user_input(crs),
            "transform": transform,
            "nodata": nodata,
            "tiled": True,
            "blockxsize": 512,
            "blockysize": 512,
            "compress": "deflate",
            "sparse_ok": True,
        }
        with rasterio.open(draft, "w", **profile) as dst:
            for row, col, values in blocks:
                h, w = values.shape
                dst.write(values, 1, window=RioWindow(col, row, w, h))  # type: ignore[call-arg]
        done = Path(tmp) / "cog.tif"
        rasterio.shutil.copy(
            draft,
            done,
            driver="COG",
            compress="DEFLATE",
            blocksize=512,
            resampling=resampling,
            sparse_ok=True,
            **_PREDICTORS[predictor],
        )
        os.replace(done, target)


#: ``predictor`` of :func:`write_cog` as the COG driver's option.
_PREDICTORS: Final[dict[int, dict[str, str]]] = {
    1: {},
    2: {"predictor": "STANDARD"},
    3: {"predictor": "FLOATING_POINT"},
}


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


# ------------------------------------------------------------------------------- the registry


#: The environment variable naming the folder of the store's rasters, for any store.
RASTERS_ENV: Final = "GAZAR_RASTERS"


def _is_database(store_location: str | os.PathLike[str]) -> bool:
    return "://" in str(store_location)


def configured_dir() -> Path | None:
    """The folder ``GAZAR_RASTERS`` names, if it is set (and not blank)."""
    explicit = os.environ.get(RASTERS_ENV, "").strip()
    return Path(explicit) if explicit else None


def raster_dir(store_location: str | os.PathLike[str]) -> Path:
    """The folder of a store's rasters: ``$GAZAR_RASTERS`` when set, else beside a GeoPackage
    (``data/gazar.rasters`` for ``data/gazar.gpkg``).

    Raises
    ------
    InputFileError
        For a database (PostGIS) store without ``GAZAR_RASTERS``: it has no folder beside it.
    """
    explicit = configured_dir()
    if explicit is not None:
        return explicit
    if _is_database(store_location):
        raise InputFileError(
            RASTERS_ENV,
            "a PostGIS store has no folder beside it for rasters; set GAZAR_RASTERS to the "
            "folder that holds them (and their manifest.json)",
        )
    p = Path(store_location)
    return p.with_name(p.stem + ".rasters")


def registered(store_location: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rasters registered for a store (``file`` made an absolute ``path``); none if it
    has no manifest, or is a database without ``GAZAR_RASTERS``."""
    if _is_database(store_location) and configured_dir() is None:
        return []
    folder = raster_dir(store_location)
    manifest = folder / MANIFEST
    if not manifest.exists():
        return []
    try:
        data = orjson.loads(manifest.read_bytes())
        entries = list(data["rasters"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputFileError(str(manifest), f"not a raster manifest ({exc})") from None
    return [{**e, "path": str(folder / str(e["file"]))} for e in entries]


def register(folder: str | os.PathLike[str], entries: list[dict[str, Any]]) -> Path:
    """Write the manifest of a raster folder (replacing it whole)."""
    for e in entries:
        if e.get("kind") not in RASTER_KINDS:
            raise ValueError(f"raster kind must be one of {', '.join(RASTER_KINDS)}: {e}")
    path = Path(folder) / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(orjson.dumps({"version": 1, "rasters": entries}, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)
    return path


def covering(
    entries: list[dict[str, Any]], kind: str, zones: gpd.GeoDataFrame | gpd.GeoSeries
) -> list[tuple[dict[str, Any], npt.NDArray[np.bool_]]]:
    """The registered rasters of a kind, each with the mask of the zones inside its extent."""
    geoms = zones.geometry if isinstance(zones, gpd.GeoDataFrame) else zones
    if geoms.crs is not None and geoms.crs.to_epsg() != 4326:
        geoms = geoms.to_crs("EPSG:4326")
    arr = np.asarray(geoms.array, dtype=object)
    found = []
    for e in entries:
        if e["kind"] != kind:
            continue
        mask = np.asarray(shapely.within(arr, lonlat_extent(e["path"])), dtype=bool)
        if mask.any():
            found.append((e, mask))
    return found


def lonlat_extent(path: str | os.PathLike[str]) -> shapely.Geometry:
    """A raster's extent in lon/lat (its edges densified before reprojecting), remembered
    while the file's size and modification time stay the same."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise InputFileError(str(path), f"not a readable raster ({exc})") from None
    return _lonlat_extent(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _lonlat_extent(path: str, mtime_ns: int, size: int) -> shapely.Geometry:
    info = raster_info(path)
    t = info.transform
    x = sorted((t.c, t.c + t.a * info.width))
    y = sorted((t.f, t.f + t.e * info.height))
    box = shapely.box(x[0], y[0], x[1], y[1])
    edge = max(x[1] - x[0], y[1] - y[0]) / 64
    extent = gpd.GeoSeries([shapely.segmentize(box, edge)], crs=info.crs.to_wkt())
    return extent.to_crs("EPSG:4326").iloc[0]


def file_stamps(entries: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, int, int], ...]:
    """``(file, size, mtime_ns)`` of registered rasters (``-1`` for a missing file): a
    cache key that changes whenever one of the files is rewritten."""
    out = []
    for e in entries:
        try:
            stat = os.stat(e["path"])
            out.append((str(e["file"]), stat.st_size, stat.st_mtime_ns))
        except OSError:
            out.append((str(e["file"]), -1, -1))
    return tuple(out)


def named(entries: list[dict[str, Any]], name: str, *, kinds: tuple[str, ...]) -> dict[str, Any]:
    """The registered raster called ``name`` (its manifest ``file``, with or without
    ``.tif``) among ``kinds``. Only names listed in the manifest are accepted — never a
    path — so a caller (e.g. an HTTP client) cannot make Gazar open any other file.

    Raises ``KeyError`` naming the rasters that may be chosen.
    """
    for e in entries:
        if e["kind"] in kinds and name in (e["file"], Path(str(e["file"])).stem):
            return e
    choices = [str(e["file"]) for e in entries if e["kind"] in kinds]
    raise KeyError(
        f"{name!r} is not a registered raster; choose one of {', '.join(choices) or '(none)'}"
    )


def proposal_dem(
    store_location: str | os.PathLike[str],
    zones: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_pixels: int = MAX_PIXELS,
) -> tuple[dict[str, Any], gr.Dem] | None:
    """The registered DEM holding the most of ``zones`` (the first listed of equals), read
    over them only (:func:`read_dem`); None if no registered DEM holds any of them.

    Zones without a usable lon/lat polygon (missing, empty, NaN) are left out, as a review
    reports them itself.
    """
    entries = [e for e in registered(store_location) if e["kind"] == "dem"]
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


def usable_lonlat(zones: gpd.GeoDataFrame | gpd.GeoSeries) -> npt.NDArray[np.bool_]:
    """Which zones have a geometry with finite lon/lat coordinates (the mask of ``zones``)."""
    series = zones.geometry if isinstance(zones, gpd.GeoDataFrame) else zones
    if series.crs is not None and series.crs.to_epsg() != 4326:
        series = series.to_crs("EPSG:4326")
    geoms = np.asarray(series.array, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    with np.errstate(invalid="ignore"):
        bounds = shapely.bounds(geoms)
        ok &= np.isfinite(bounds).all(axis=1)
        ok &= (bounds[:, 0] >= -180) & (bounds[:, 2] <= 180)
        ok &= (bounds[:, 1] >= -90) & (bounds[:, 3] <= 90)
    return np.asarray(ok, dtype=bool)


# ------------------------------------------------------------------------------- demo rasters

#: NDVI change of a demo zone, by rehabilitation stage (before → after).
_DEMO_RECOVERY: Final = {
    "required": -0.02,
    "technical_done": 0.05,
    "biological_done": 0.16,
    "accepted": 0.3,
}
#: Demo terrain relief per soum (metres): Altai in Khovd is mountainous.
_DEMO_RELIEF: Final = {"MN8404": 900.0, "MN8201": 300.0, "MN4310": 60.0, "MN4322": 120.0}
_NDVI_RES, _DEM_RES_DEG = 20.0, 1 / 3600


def write_demo_rasters(
    layers: Mapping[str, gpd.GeoDataFrame],
    folder: str | os.PathLike[str],
    *,
    seed: int,
    today: dt.date,
) -> list[dict[str, Any]]:
    """Synthetic NDVI (before, after) and DEM rasters over each demo soum's Land Conclusions,
    registered in ``folder`` (see the module's description).

    NDVI is ``float32`` at 20 m in the soum's UTM zone, nodata -9999: smooth steppe values,
    rehabilitation zones bare before and recovered after by their stage (accepted most,
    required not at all, with noise), and a cloud (nodata) over one zone of each soum
    after. The DEM is ``float32`` at 1 arc-second in EPSG:4326 (as SRTM is), rolling hills
    whose relief differs by soum. Deterministic for a seed.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.tif"):
        old.unlink()
    rng = np.random.default_rng(seed + 8)
    lcs, zones = layers["land_conclusions"], layers["rehab_zones"]
    before_day = today.replace(year=today.year - 2).isoformat()
    entries: list[dict[str, Any]] = []
    for soum, group in lcs.groupby("soum_code", sort=True):
        code = str(soum)
        area = group.geometry
        lon = float(shapely.union_all(np.asarray(area.array)).centroid.x)
        utm = f"EPSG:{gr.utm_epsg(lon)}"
        bounds = tuple(float(v) for v in area.to_crs(utm).total_bounds)
        grown = (bounds[0] - 200, bounds[1] - 200, bounds[2] + 200, bounds[3] + 200)
        transform, height, width = gr.aligned_grid(grown, _NDVI_RES)
        extent = gpd.GeoSeries([shapely.box(*grown)], crs=utm).to_crs(zones.crs).iloc[0]
        mine = zones[np.asarray(zones.intersects(extent), dtype=bool)]
        before, after = _demo_ndvi(mine, utm, transform, height, width, rng)
        for kind, values, day in (
            ("ndvi_before", before, before_day),
            ("ndvi_after", after, today.isoformat()),
        ):
            name = f"{kind}_{code}.tif"
            write_cog(
                out / name,
                [(0, 0, values)],
                height=height,
                width=width,
                transform=transform,
                crs=utm,
                dtype="float32",
                nodata=-9999.0,
                resampling="AVERAGE",
                predictor=3,
            )
            entries.append(
                {
                    "kind": kind,
                    "area": code,
                    "file": name,
                    "date": day,
                    "crs": utm,
                    "description": f"synthetic NDVI, {_NDVI_RES:g} m",
                }
            )
        lonlat = tuple(float(v) for v in area.total_bounds)
        pad = 0.01
        dem_t, dh, dw = gr.aligned_grid(
            (lonlat[0] - pad, lonlat[1] - pad, lonlat[2] + pad, lonlat[3] + pad), _DEM_RES_DEG
        )
        dem = _demo_dem(dem_t, dh, dw, _DEMO_RELIEF.get(code, 100.0), rng)
        name = f"dem_{code}.tif"
        write_cog(
            out / name,
            [(0, 0, dem)],
            height=dh,
            width=dw,
            transform=dem_t,
            crs="EPSG:4326",
            dtype="float32",
            nodata=-9999.0,
            resampling="AVERAGE",
            predictor=3,
        )
        entries.append(
            {
                "kind": "dem",
                "area": code,
                "file": name,
                "date": None,
                "crs": "EPSG:4326",
                "description": "synthetic DEM, 1 arc-second",
            }
        )
    register(out, entries)
    return entries


def _smooth(
    height: int,
    width: int,
    rng: np.random.Generator,
    waves: int = 4,
    k: tuple[float, float] = (0.004, 0.02),
) -> Any:
    """A smooth field in [-1, 1]: a few random plane waves (``k`` radians per pixel)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    field = np.zeros((height, width), dtype=np.float32)
    for _ in range(waves):
        kk = rng.uniform(*k)
        a = rng.uniform(0, 2 * np.pi)
        field += np.sin(kk * (np.cos(a) * xx + np.sin(a) * yy) + rng.uniform(0, 2 * np.pi))
    return field / waves


def _demo_ndvi(
    zones: gpd.GeoDataFrame,
    crs: str,
    transform: Affine,
    height: int,
    width: int,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    base = (0.32 + 0.08 * _smooth(height, width, rng)).astype(np.float32)
    before, after = base.copy(), base.copy()
    if len(zones):
        px = gr.pixel_space(np.asarray(zones.geometry.to_crs(crs).array), transform)
        cov = gr.pixel_coverage(px)
        inside = (cov.row >= 0) & (cov.row < height) & (cov.col >= 0) & (cov.col < width)
        zone, row, col, f = cov.zone[inside], cov.row[inside], cov.col[inside], cov.weight[inside]
        bare = rng.uniform(0.05, 0.1, len(zones)).astype(np.float32)
        gain = zones["stage"].map(_DEMO_RECOVERY).fillna(0.0).to_numpy(np.float32)
        gain = gain + rng.normal(0, 0.02, len(zones)).astype(np.float32)
        now = base[row, col]
        before[row, col] = now * (1 - f) + bare[zone] * f
        after[row, col] = now * (1 - f) + (bare[zone] + gain[zone]) * f
        # a cloud over the first zone's north-west corner: part of it has no value after
        if (zone == 0).any():
            r0, c0 = int(row[zone == 0].min()), int(col[zone == 0].min())
            after[max(r0 - 3, 0) : r0 + 2, max(c0 - 3, 0) : c0 + 2] = -9999.0
    # two decimals, as NDVI products are read: the files compress far better
    return np.round(before, 2), np.round(after, 2)


def _demo_dem(
    transform: Affine, height: int, width: int, relief: float, rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    hills = _smooth(height, width, rng, waves=5, k=(0.02, 0.05))
    return np.round(1300.0 + relief * hills).astype(np.float32)
