"""Raster files: headers, windows read block by block, Cloud-Optimised GeoTIFFs written, and
the rasters registered beside a store. The analysis over them (zonal statistics, rehabilitation,
terrain, the availability raster) is :mod:`api.services.rasters`, with :mod:`geo.raster`.

The registry: rasters that belong to a store (the demo's NDVI and DEM) live in a folder beside
it, ``<store>.rasters/`` (``data/gazar.rasters/`` for ``data/gazar.gpkg``), or in the folder
configured with ``GAZAR_RASTERS`` (the only way for a PostGIS store, which has no folder beside
it), listed in its ``manifest.json``: ``{"version": 1, "rasters": [{"kind",
"area", "file", "date", "crs", "description"}]}`` with ``kind`` one of :data:`RASTER_KINDS`
and ``area`` a soum code. A JSON file, not a table in the GeoPackage, so that a person (or
QGIS) sees the rasters as files and the store's schema stays the layers'.

Nothing here reads the environment: the configured folder (``api.settings``:
``Settings.store.rasters``) is given to every function that finds a store's rasters as
``folder``.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol, TypeVar

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import orjson
import rasterio
import rasterio.errors
import rasterio.shutil
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window as RioWindow

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


class PixelWindow(Protocol):
    """A block of a raster's pixel grid (``geo.raster.Window`` is one): it may reach beyond
    the raster."""

    @property
    def row_off(self) -> int: ...
    @property
    def col_off(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def width(self) -> int: ...


W = TypeVar("W", bound=PixelWindow)


def read_blocks(
    path: str | os.PathLike[str],
    windows: Iterable[W],
    *,
    band: int = 1,
    on_read: ReadHook | None = None,
) -> Iterator[tuple[W, rasterio.io.DatasetReader, RioWindow | None, Any]]:
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


# ------------------------------------------------------------------------------- the registry


#: The environment variable naming the folder of the store's rasters, for any store (read by
#: ``api.settings``, ``StoreSettings.rasters``; named here in messages only).
RASTERS_ENV: Final = "GAZAR_RASTERS"


def _is_database(store_location: str | os.PathLike[str]) -> bool:
    return "://" in str(store_location)


def raster_dir(
    store_location: str | os.PathLike[str], *, folder: str | os.PathLike[str] | None = None
) -> Path:
    """The folder of a store's rasters: ``folder`` (the one ``GAZAR_RASTERS`` configures) when
    given, else beside a GeoPackage (``data/gazar.rasters`` for ``data/gazar.gpkg``).

    Raises
    ------
    InputFileError
        For a database (PostGIS) store without ``folder``: it has no folder beside it.
    """
    if folder is not None:
        return Path(folder)
    if _is_database(store_location):
        raise InputFileError(
            RASTERS_ENV,
            "a PostGIS store has no folder beside it for rasters; set GAZAR_RASTERS to the "
            "folder that holds them (and their manifest.json)",
        )
    p = Path(store_location)
    return p.with_name(p.stem + ".rasters")


def registered(
    store_location: str | os.PathLike[str], *, folder: str | os.PathLike[str] | None = None
) -> list[dict[str, Any]]:
    """The rasters registered for a store (``file`` made an absolute ``path``), in ``folder``
    when given (see :func:`raster_dir`); none if it has no manifest, or is a database without
    ``folder``."""
    if _is_database(store_location) and folder is None:
        return []
    where = raster_dir(store_location, folder=folder)
    manifest = where / MANIFEST
    if not manifest.exists():
        return []
    try:
        data = orjson.loads(manifest.read_bytes())
        entries = list(data["rasters"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputFileError(str(manifest), f"not a raster manifest ({exc})") from None
    return [{**e, "path": str(where / str(e["file"]))} for e in entries]


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
