"""Rasters on arrays: zonal statistics with exact partial pixels, slope, recovery, rasterising.

Pure computation on numpy arrays, affine transforms and polygons; reading and writing raster
files is :mod:`layers.rasters`, which feeds these functions one window at a time.

Zones are worked on in *pixel space*: a polygon is mapped by the inverse of the raster's
affine transform so that pixel ``(row, col)`` is the unit square ``[col, col+1] x [row,
row+1]`` (an affine map keeps ratios of areas, so a fraction of a pixel in pixel space is the
fraction of its area in the raster's CRS). Pixel indices are those of the whole raster, so
the windows of one raster line up; they may fall outside it (a zone larger than the raster).

Two ways of weighting pixels (:data:`PixelMode`):

``"weighted"``
    every pixel the zone covers, weighted by the covered fraction of its area (interior
    pixels weigh 1). Computed exactly, without clipping a polygon per pixel: by Green's
    theorem the area of a polygon inside pixel ``(r, c)`` is the sum, over the boundary's
    pieces inside row ``r``, of ``∫ clamp(x - c, 0, 1) dy``. Each edge is cut at the grid
    lines it crosses; a piece inside pixel ``(r, c)`` gives ``dy * (x_mid - c)`` to that
    pixel and ``dy`` to every pixel left of it in the row (one cumulative sum per row).
``"centre"``
    every pixel whose centre is inside the zone, weighing 1 — GDAL's rasterisation without
    ``all_touched`` (and so ``rasterstats``): each edge crossing a row's centre line toggles
    "inside" from the first pixel whose centre is at or right of the crossing.

Both are vectorised over all edges of all zones (``numpy.repeat`` to expand crossings, one
``bincount`` and one ``cumsum`` over a buffer holding each zone's bounding box of pixels).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from affine import Affine

from geo.repair import polygonal_parts
from geo.rules import Rule

PixelMode = Literal["weighted", "centre"]
PIXEL_MODES: Final = ("weighted", "centre")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]

#: Columns of :func:`zonal_stats` (pixels are counted in pixels, weighted in ``weighted`` mode).
STAT_COLUMNS: Final = ("pixels", "valid_pixels", "valid_share", "mean", "median", "min", "max")

#: Availability raster values (``uint8``).
AVAILABLE, NOT_AVAILABLE, OUTSIDE = 1, 0, 255

#: Weights below this are float noise at a pixel the boundary only touches.
_EPS: Final = 1e-12


# ------------------------------------------------------------------------------- pixel space


def pixel_space(geoms: Any, transform: Affine) -> ObjArray:
    """Map polygons from a raster's CRS to its pixel space (``x`` = column, ``y`` = row).

    Parameters
    ----------
    geoms : array-like of shapely geometries
        Polygons or MultiPolygons in the raster's CRS.
    transform : affine.Affine
        The raster's transform; it must be north-up or south-up (no rotation or shear).

    Returns
    -------
    numpy.ndarray of shapely geometries
        The polygons in pixel coordinates.

    Raises
    ------
    ValueError
        For a rotated or degenerate transform.

    Examples
    --------
    >>> from shapely import box
    >>> t = Affine(10, 0, 500_000, 0, -10, 5_000_000)
    >>> pixel_space([box(500_005, 4_999_980, 500_020, 4_999_995)], t)[0].bounds
    (0.5, 0.5, 2.0, 2.0)
    """
    _check_transform(transform)
    t = transform
    arr = np.asarray(geoms, dtype=object)

    def to_pixels(c: FloatArray) -> FloatArray:
        return np.column_stack(((c[:, 0] - t.c) / t.a, (c[:, 1] - t.f) / t.e))

    return np.asarray(shapely.transform(arr, to_pixels), dtype=object)


def _check_transform(transform: Affine) -> None:
    if transform.b != 0 or transform.d != 0:
        raise ValueError(
            f"the raster is rotated or sheared (transform {tuple(transform)[:6]}); "
            "warp it to a north-up grid first"
        )
    if transform.a == 0 or transform.e == 0:
        raise ValueError(f"the raster's transform has a zero pixel size: {tuple(transform)[:6]}")


@dataclass(frozen=True)
class Coverage:
    """Pixels covered by zones: one entry per (zone, pixel), indices of the whole raster."""

    zone: IntArray
    row: IntArray
    col: IntArray
    #: the covered fraction of the pixel (``weighted``) or 1 (``centre``)
    weight: FloatArray

    def __len__(self) -> int:
        return len(self.zone)


def pixel_coverage(geoms: Any, *, mode: PixelMode = "weighted", zones: Any = None) -> Coverage:
    """The pixels each polygon covers, in pixel space (see the module's description).

    Parameters
    ----------
    geoms : array-like of shapely geometries
        Polygons or MultiPolygons in pixel space (:func:`pixel_space`); missing and empty
        geometries cover nothing. Valid polygons are expected (the store's are).
    mode : {"weighted", "centre"}
        Exact covered fractions, or whole pixels whose centre is inside.
    zones : array-like of int, optional
        The zone each geometry belongs to (several pieces of one zone may be given, e.g. a
        zone cut into tiles); default: its position.

    Returns
    -------
    Coverage
        A zone's pixels are listed once per piece; pieces that do not overlap give disjoint
        pixels in ``centre`` mode and fractions adding up in ``weighted`` mode.

    Examples
    --------
    A rectangle covering three quarters of pixel (0, 0) and all of pixel (0, 1); a
    narrower one misses the centre of pixel (0, 0):

    >>> from shapely import box
    >>> cov = pixel_coverage([box(0.25, 0, 2, 1)])
    >>> cov.col.tolist(), cov.weight.tolist()
    ([0, 1], [0.75, 1.0])
    >>> pixel_coverage([box(0.75, 0, 2, 1)], mode="centre").col.tolist()
    [1]
    """
    if mode not in PIXEL_MODES:
        raise ValueError(f"mode must be one of {', '.join(PIXEL_MODES)}, not {mode!r}")
    arr = np.asarray(geoms, dtype=object).ravel()
    owner = np.arange(len(arr)) if zones is None else np.asarray(zones, dtype=np.int64).ravel()
    if len(owner) != len(arr):
        raise ValueError(f"{len(owner)} zone numbers for {len(arr)} geometries")
    empty = Coverage(*(np.zeros(0, dtype=np.int64),) * 3, np.zeros(0))
    usable = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    if not usable.any():
        return empty
    arr, owner = arr[usable], owner[usable]
    grid = _Boxes(shapely.bounds(arr))
    edges = _edges(arr)
    if mode == "weighted":
        pos, weight = _weighted(edges, grid)
    else:
        pos, weight = _centred(edges, grid)
    g, row, col = grid.unravel(pos)
    return Coverage(owner[g], row, col, weight)


class _Boxes:
    """Each geometry's pixel bounding box, laid one after the other in a flat buffer.

    Each box has a guard column on either side, so that every row of the buffer receives
    as many toggles (``centre``) or as much ``dy`` (``weighted``) as it gives back: the
    buffer's cumulative sums then need no reset at row starts.
    """

    def __init__(self, bounds: FloatArray) -> None:
        self.r0 = np.floor(bounds[:, 1]).astype(np.int64)
        self.c0 = np.floor(bounds[:, 0]).astype(np.int64)
        rows = np.maximum(np.ceil(bounds[:, 3]).astype(np.int64) - self.r0, 1)
        cols = np.maximum(np.ceil(bounds[:, 2]).astype(np.int64) - self.c0, 1)
        self.rows = rows
        self.cols = cols
        self.width = cols + 2  # with the two guard columns
        sizes = rows * self.width
        self.end = np.cumsum(sizes)
        self.start = self.end - sizes
        self.size = int(self.end[-1]) if len(sizes) else 0

    def flat(self, g: IntArray, row: IntArray, col: IntArray) -> IntArray:
        """Buffer positions of pixels (``col`` may be one beyond the box on either side)."""
        return self.start[g] + (row - self.r0[g]) * self.width[g] + (col - self.c0[g] + 1)

    def unravel(self, pos: IntArray) -> tuple[IntArray, IntArray, IntArray]:
        g = np.searchsorted(self.end, pos, side="right")
        local = pos - self.start[g]
        row = self.r0[g] + local // self.width[g]
        col = self.c0[g] + local % self.width[g] - 1
        return g, row, col

    def inner(self, pos: IntArray) -> BoolArray:
        """Positions that are pixels of a box (not guard columns)."""
        g = np.searchsorted(self.end, pos, side="right")
        c = (pos - self.start[g]) % self.width[g]
        return (c >= 1) & (c <= self.cols[g])


@dataclass(frozen=True)
class _Edges:
    geom: IntArray
    x0: FloatArray
    y0: FloatArray
    x1: FloatArray
    y1: FloatArray


def _edges(geoms: ObjArray) -> _Edges:
    """Every non-horizontal edge of every ring; exterior rings anticlockwise, holes clockwise
    (in pixel space, so that ``∮ x dy`` is each polygon's area)."""
    parts, part_geom = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(shapely.orient_polygons(parts), return_index=True)
    ring_geom = part_geom[ring_part]
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[:-1] == ring_of[1:]
    a, b = coords[:-1][same], coords[1:][same]
    sloped = a[:, 1] != b[:, 1]
    geom = ring_geom[ring_of[:-1][same]][sloped]
    a, b = a[sloped], b[sloped]
    return _Edges(geom.astype(np.int64), a[:, 0], a[:, 1], b[:, 0], b[:, 1])


def _runs(counts: IntArray) -> tuple[IntArray, IntArray]:
    """For ``counts[i]`` items of each ``i``: the owner ``i`` and the rank of every item."""
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(len(owner)) - first[owner]


def _between(lo: FloatArray, hi: FloatArray) -> tuple[IntArray, IntArray]:
    """Integers strictly between ``lo`` and ``hi`` for each pair: owner and value."""
    first = np.floor(lo).astype(np.int64) + 1
    count = np.maximum(np.ceil(hi).astype(np.int64) - first, 0)
    owner, rank = _runs(count)
    return owner, first[owner] + rank


def _weighted(e: _Edges, grid: _Boxes) -> tuple[IntArray, FloatArray]:
    """Covered fractions: edges cut at grid lines, Green's theorem per pixel row."""
    n = len(e.geom)
    dx, dy = e.x1 - e.x0, e.y1 - e.y0
    vx_edge, vx = _between(np.minimum(e.x0, e.x1), np.maximum(e.x0, e.x1))
    hy_edge, hy = _between(np.minimum(e.y0, e.y1), np.maximum(e.y0, e.y1))
    edge = np.concatenate([np.arange(n), np.arange(n), vx_edge, hy_edge])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.concatenate(
            [
                np.zeros(n),
                np.ones(n),
                (vx - e.x0[vx_edge]) / dx[vx_edge],
                (hy - e.y0[hy_edge]) / dy[hy_edge],
            ]
        )
    order = np.lexsort((t, edge))
    edge, t = edge[order], t[order]
    same = edge[:-1] == edge[1:]
    k, ta, tb = edge[:-1][same], t[:-1][same], t[1:][same]
    xa, xb = e.x0[k] + ta * dx[k], e.x0[k] + tb * dx[k]
    ya, yb = e.y0[k] + ta * dy[k], e.y0[k] + tb * dy[k]
    piece_dy = yb - ya
    keep = piece_dy != 0
    k, xa, xb, ya, yb, piece_dy = k[keep], xa[keep], xb[keep], ya[keep], yb[keep], piece_dy[keep]
    xm = 0.5 * (xa + xb)
    col = np.floor(xm).astype(np.int64)
    row = np.floor(0.5 * (ya + yb)).astype(np.int64)
    g = e.geom[k]
    pos = grid.flat(g, row, col)
    here = np.bincount(pos, weights=piece_dy * (xm - col), minlength=grid.size)
    # ``dy`` to every pixel left of the piece: put it one column left, sum from the right
    left = np.bincount(pos - 1, weights=piece_dy, minlength=grid.size)
    cover = here + np.cumsum(left[::-1])[::-1]
    pos = np.flatnonzero(cover > _EPS)
    pos = pos[grid.inner(pos)]
    return pos, np.minimum(cover[pos], 1.0)


def _centred(e: _Edges, grid: _Boxes) -> tuple[IntArray, FloatArray]:
    """Pixels whose centre is inside: each row's centre line, as GDAL rasterises."""
    # (x0, y0) the lower end, as GDAL computes the crossing
    swap = e.y0 > e.y1
    x0, x1 = np.where(swap, e.x1, e.x0), np.where(swap, e.x0, e.x1)
    y0, y1 = np.where(swap, e.y1, e.y0), np.where(swap, e.y0, e.y1)
    # rows whose centre line y = r + 0.5 satisfies y0 <= y < y1
    first = np.ceil(y0 - 0.5).astype(np.int64)
    count = np.maximum(np.ceil(y1 - 0.5).astype(np.int64) - first, 0)
    k, rank = _runs(count)
    row = first[k] + rank
    x = (row + 0.5 - y0[k]) * (x1[k] - x0[k]) / (y1[k] - y0[k]) + x0[k]
    g = e.geom[k]
    col = np.minimum(np.floor(x + 0.5).astype(np.int64), grid.c0[g] + grid.cols[g])
    toggles = np.bincount(grid.flat(g, row, col), minlength=grid.size)
    inside = (np.cumsum(toggles) & 1).astype(bool)
    pos = np.flatnonzero(inside)
    pos = pos[grid.inner(pos)]
    return pos, np.ones(len(pos))


# ------------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Window:
    """A block of pixels of the whole raster (may reach beyond it) and the zones inside.

    ``geoms`` are pieces of zones in pixel space, ``zones`` the zone of each piece; every
    piece lies inside the block, which is at most ``pad`` pixels larger than their bounds.
    """

    row_off: int
    col_off: int
    height: int
    width: int
    geoms: ObjArray
    zones: IntArray

    @property
    def pixels(self) -> int:
        return self.height * self.width


def plan_windows(geoms: Any, *, max_pixels: int = 4096 * 4096, pad: int = 0) -> list[Window]:
    """Group zones (in pixel space) into blocks of at most ``max_pixels`` pixels.

    Zones are grouped by the tile of side ``S = (√max_pixels - 2·pad) / 2`` holding their
    bounding box's top-left corner; a group's block is the bounding box of its zones, grown by
    ``pad`` (neighbours a slope needs), so at most ``(2S + 2·pad)²`` pixels. A zone larger
    than ``S`` gets a block of its own, and one larger than ``max_pixels`` is cut into tiles
    of ``S`` x ``S`` pixels (each a piece of the zone). Reading the raster block by block
    keeps memory bounded whatever the raster's size.

    Parameters
    ----------
    geoms : array-like of shapely geometries
        Zones in pixel space; missing and empty ones are left out.
    max_pixels : int
        The largest block.
    pad : int
        Pixels added around each block.

    Returns
    -------
    list of Window
        In row-major order of their tiles.

    Examples
    --------
    >>> from shapely import box
    >>> windows = plan_windows([box(0, 0, 10, 10), box(5, 5, 20, 30), box(900, 0, 905, 5)],
    ...                        max_pixels=256 * 256)
    >>> [(w.row_off, w.col_off, w.height, w.width, w.zones.tolist()) for w in windows]
    [(0, 0, 30, 20, [0, 1]), (0, 900, 5, 5, [2])]
    """
    if max_pixels < 1 or pad < 0:
        raise ValueError(f"max_pixels must be >= 1 and pad >= 0, not {max_pixels}, {pad}")
    side = (math.isqrt(max_pixels) - 2 * pad) // 2
    if side < 1:
        raise ValueError(f"max_pixels={max_pixels} leaves no room inside a pad of {pad}")
    arr = np.asarray(geoms, dtype=object).ravel()
    index = np.flatnonzero(~(shapely.is_missing(arr) | shapely.is_empty(arr)))
    bounds = shapely.bounds(arr[index])
    r0 = np.floor(bounds[:, 1]).astype(np.int64)
    c0 = np.floor(bounds[:, 0]).astype(np.int64)
    r1 = np.maximum(np.ceil(bounds[:, 3]).astype(np.int64), r0 + 1)
    c1 = np.maximum(np.ceil(bounds[:, 2]).astype(np.int64), c0 + 1)
    small = ((r1 - r0) <= side) & ((c1 - c0) <= side)
    windows: list[Window] = []
    if small.any():
        s = np.flatnonzero(small)
        keys = np.column_stack((r0[s] // side, c0[s] // side))
        _, group = np.unique(keys, axis=0, return_inverse=True)
        group = group.ravel()
        order = np.argsort(group, kind="stable")
        splits = np.flatnonzero(np.diff(group[order])) + 1
        for members in np.split(s[order], splits):
            windows.append(
                _window(
                    arr[index[members]],
                    index[members],
                    r0[members],
                    c0[members],
                    r1[members],
                    c1[members],
                    pad,
                )
            )
        windows.sort(key=lambda w: (w.row_off, w.col_off))
    for i in np.flatnonzero(~small):
        zone = index[i]
        if (r1[i] - r0[i] + 2 * pad) * (c1[i] - c0[i] + 2 * pad) <= max_pixels:
            windows.append(
                _window(arr[[zone]], np.array([zone]), r0[[i]], c0[[i]], r1[[i]], c1[[i]], pad)
            )
            continue
        rows = np.arange(r0[i], r1[i], side)
        cols = np.arange(c0[i], c1[i], side)
        tr, tc = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
        tiles_ = shapely.box(tc, tr, tc + side, tr + side)
        pieces = shapely.intersection(arr[zone], tiles_)
        # polygonal parts only: a tile edge along the zone's edge leaves lines
        pieces = polygonal_parts(np.asarray(pieces, dtype=object))
        keep = ~shapely.is_empty(pieces)
        for piece, rr, cc in zip(pieces[keep], tr[keep], tc[keep], strict=True):
            pb = shapely.bounds(piece)
            windows.append(
                _window(
                    np.array([piece], dtype=object),
                    np.array([zone]),
                    np.array([max(math.floor(pb[1]), rr)]),
                    np.array([max(math.floor(pb[0]), cc)]),
                    np.array([min(math.ceil(pb[3]), rr + side)]),
                    np.array([min(math.ceil(pb[2]), cc + side)]),
                    pad,
                )
            )
    return windows


def _window(
    geoms: ObjArray,
    zones: IntArray,
    r0: IntArray,
    c0: IntArray,
    r1: IntArray,
    c1: IntArray,
    pad: int,
) -> Window:
    top, left = int(r0.min()) - pad, int(c0.min()) - pad
    return Window(
        row_off=top,
        col_off=left,
        height=int(r1.max()) + pad - top,
        width=int(c1.max()) + pad - left,
        geoms=np.asarray(geoms, dtype=object),
        zones=np.asarray(zones, dtype=np.int64),
    )


@dataclass(frozen=True)
class Grid:
    """Raster values in memory: a block whose top-left pixel is ``(row_off, col_off)`` of the
    whole raster. Pixels equal to ``nodata`` and NaN are not valid, nor any outside the block.
    """

    values: npt.NDArray[Any]
    row_off: int = 0
    col_off: int = 0
    nodata: float | None = None

    def sample(self, cov: Coverage) -> tuple[FloatArray, BoolArray]:
        """The value of every covered pixel (float64) and whether it is valid."""
        h, w = self.values.shape
        r, c = cov.row - self.row_off, cov.col - self.col_off
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        values = np.full(len(cov), np.nan)
        values[inside] = self.values[r[inside], c[inside]]
        valid = inside & np.isfinite(values)
        if self.nodata is not None and not np.isnan(self.nodata):
            valid &= values != self.nodata
        return values, valid


# ------------------------------------------------------------------------------- statistics


@dataclass
class Samples:
    """Covered pixels gathered from the windows of one raster: the valid ones with their
    values, and each zone's total weight (valid or not)."""

    n_zones: int
    zone: list[IntArray]
    value: list[FloatArray]
    weight: list[FloatArray]
    total: FloatArray

    @classmethod
    def empty(cls, n_zones: int) -> Samples:
        return cls(n_zones, [], [], [], np.zeros(n_zones))

    def add(self, cov: Coverage, values: FloatArray, valid: BoolArray) -> None:
        self.total += np.bincount(cov.zone, weights=cov.weight, minlength=self.n_zones)
        self.zone.append(cov.zone[valid])
        self.value.append(values[valid])
        self.weight.append(cov.weight[valid])


def collect(
    blocks: Iterable[tuple[Window, Grid]], n_zones: int, *, mode: PixelMode = "weighted"
) -> Samples:
    """Gather every zone's covered pixels from raster blocks (:func:`plan_windows` windows
    with their values), one block at a time."""
    samples = Samples.empty(n_zones)
    for window, grid in blocks:
        cov = pixel_coverage(window.geoms, mode=mode, zones=window.zones)
        values, valid = grid.sample(cov)
        samples.add(cov, values, valid)
    return samples


def zonal_stats(
    blocks: Iterable[tuple[Window, Grid]] | Samples,
    n_zones: int,
    *,
    mode: PixelMode = "weighted",
) -> pd.DataFrame:
    """Per-zone statistics of a raster read block by block.

    Parameters
    ----------
    blocks : iterable of (Window, Grid), or Samples
        Each window of :func:`plan_windows` with the raster's values over it (the windows of
        one raster: a zone cut into tiles has pieces in several), or samples already
        gathered with :func:`collect`.
    n_zones : int
        The number of zones (rows of the result, in zone order).
    mode : {"weighted", "centre"}
        How pixels are weighted (see the module's description).

    Returns
    -------
    DataFrame
        One row per zone with ``STAT_COLUMNS``: ``pixels`` (the covered pixels, partial ones
        by their fraction), ``valid_pixels`` (those neither nodata nor NaN nor outside the
        raster), ``valid_share``, and over the valid pixels the weighted ``mean``,
        ``median`` (the value where the cumulative weight reaches half; the mean of two
        values when it reaches half exactly — to 1e-9 of the zone's weight — as
        ``numpy.median`` does), ``min`` and ``max``.
        NaN where a zone has no valid pixel.

    Examples
    --------
    A 2 x 2 raster with one nodata pixel; a zone covering the left column and half of the
    right one:

    >>> from shapely import box
    >>> grid = Grid(np.array([[1.0, 3.0], [-9.0, 5.0]]), nodata=-9.0)
    >>> window = plan_windows([box(0, 0, 1.5, 2)])[0]
    >>> zonal_stats([(window, grid)], 1).round(4).to_dict("records")[0]
    {'pixels': 3.0, 'valid_pixels': 2.0, 'valid_share': 0.6667, 'mean': 2.5, 'median': 2.0, \
'min': 1.0, 'max': 5.0}
    """
    samples = blocks if isinstance(blocks, Samples) else collect(blocks, n_zones, mode=mode)
    return summarise(samples)


def summarise(samples: Samples) -> pd.DataFrame:
    """The statistics of :func:`zonal_stats` from gathered samples."""
    n = samples.n_zones
    zone = np.concatenate(samples.zone) if samples.zone else np.zeros(0, dtype=np.int64)
    value = np.concatenate(samples.value) if samples.value else np.zeros(0)
    weight = np.concatenate(samples.weight) if samples.weight else np.zeros(0)
    valid_w = np.bincount(zone, weights=weight, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(zone, weights=weight * value, minlength=n) / valid_w
        share = np.where(samples.total > 0, valid_w / samples.total, np.nan)
    median = np.full(n, np.nan)
    low = np.full(n, np.nan)
    high = np.full(n, np.nan)
    has = np.flatnonzero(valid_w > 0)
    if len(zone):
        order = np.lexsort((value, zone))
        zs, vs, ws = zone[order], value[order], weight[order]
        start = np.searchsorted(zs, has, side="left")
        stop = np.searchsorted(zs, has, side="right")
        low[has], high[has] = vs[start], vs[stop - 1]
        cum = np.cumsum(ws)
        before = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
        half = 0.5 * valid_w[has]
        target = before + half
        # "exactly half" to 1e-9 of the zone's weight: reprojected zones cover pixels to
        # within float noise, which must not move the median by a whole value
        tol = 1e-9 * valid_w[has] + 4e-16 * cum[stop - 1]
        at = np.clip(np.searchsorted(cum, target - tol, side="left"), start, stop - 1)
        exact = (np.abs(cum[at] - target) <= tol) & (at + 1 < stop)
        nxt = np.minimum(at + 1, len(vs) - 1)
        median[has] = np.where(exact, 0.5 * (vs[at] + vs[nxt]), vs[at])
    mean[valid_w <= 0] = np.nan
    return pd.DataFrame(
        {
            "pixels": samples.total,
            "valid_pixels": valid_w,
            "valid_share": share,
            "mean": mean,
            "median": median,
            "min": low,
            "max": high,
        }
    )


def share_above(samples: Samples, limit: float) -> FloatArray:
    """Each zone's weighted share of valid pixels whose value is above ``limit`` (NaN where
    a zone has no valid pixel)."""
    n = samples.n_zones
    zone = np.concatenate(samples.zone) if samples.zone else np.zeros(0, dtype=np.int64)
    value = np.concatenate(samples.value) if samples.value else np.zeros(0)
    weight = np.concatenate(samples.weight) if samples.weight else np.zeros(0)
    valid_w = np.bincount(zone, weights=weight, minlength=n)
    above = np.bincount(zone, weights=weight * (value > limit), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid_w > 0, above / valid_w, np.nan)


# ------------------------------------------------------------------------------- terrain

#: WGS84 ellipsoid: semi-major axis (m) and first eccentricity squared.
_WGS84_A: Final = 6_378_137.0
_WGS84_E2: Final = 6.69437999014e-3


def lonlat_pixel_metres(
    transform: Affine, *, row_off: int, height: int
) -> tuple[FloatArray, FloatArray]:
    """The size in metres of the pixels of each row of a lon/lat raster (WGS84).

    East-west: the degree width times the parallel's radius (``N cos φ``); north-south: the
    degree height times the meridian's radius of curvature ``M`` — the local scale of a
    conformal projection at the row's latitude, so a slope computed with them is the slope
    in a projected CRS without resampling the DEM.

    Examples
    --------
    >>> t = Affine(1 / 3600, 0, 106, 0, -1 / 3600, 48)  # 1 arc-second
    >>> x, y = lonlat_pixel_metres(t, row_off=0, height=1)
    >>> round(float(x[0]), 2), round(float(y[0]), 2)
    (20.73, 30.89)
    """
    _check_transform(transform)
    rows = np.arange(row_off, row_off + height) + 0.5
    lat = np.radians(transform.f + transform.e * rows)
    s2 = np.sin(lat) ** 2
    n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * s2)
    m = _WGS84_A * (1 - _WGS84_E2) / (1 - _WGS84_E2 * s2) ** 1.5
    deg = math.pi / 180
    return abs(transform.a) * deg * n * np.cos(lat), np.full(height, abs(transform.e) * deg) * m


def slope_degrees(
    dem: npt.ArrayLike,
    *,
    xres: float | npt.ArrayLike,
    yres: float | npt.ArrayLike,
    nodata: float | None = None,
) -> FloatArray:
    """Slope in degrees by Horn's method (as ``gdaldem slope``), elevations in metres.

    Parameters
    ----------
    dem : 2-D array
        Elevations (metres).
    xres, yres : float or array of one value per row
        Pixel width and height in metres (:func:`lonlat_pixel_metres` for a lon/lat DEM).
    nodata : float, optional
        Elevation that marks no data (NaN always does).

    Returns
    -------
    numpy.ndarray
        Same shape; NaN on the outer rows and columns, at missing elevations and next to
        them (where the 3 x 3 neighbourhood is incomplete).

    Examples
    --------
    A plane rising 1 m per 1 m pixel eastwards is 45°:

    >>> dem = np.tile(np.arange(4.0), (3, 1))
    >>> slope_degrees(dem, xres=1.0, yres=1.0)[1, 1:3].tolist()
    [45.0, 45.0]
    """
    z = np.array(dem, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"a DEM is a 2-D array, not {z.ndim}-D")
    if nodata is not None and not np.isnan(nodata):
        z[z == nodata] = np.nan
    out = np.full(z.shape, np.nan)
    if z.shape[0] < 3 or z.shape[1] < 3:
        return out
    xr = np.broadcast_to(np.asarray(xres, dtype=np.float64), (z.shape[0],))[1:-1, None]
    yr = np.broadcast_to(np.asarray(yres, dtype=np.float64), (z.shape[0],))[1:-1, None]
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * xr)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * yr)
    out[1:-1, 1:-1] = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    out[np.isnan(z)] = np.nan  # Horn's window skips its centre, which may be missing itself
    return out


#: The terrain finding of a review (``warn``: steep land is for the reviewer to weigh).
SLOPE_RULE: Final = Rule(
    "SLOPE_OVER_LIMIT",
    "warn",
    "Эгц налуу",
    "Steep slopes",
    "{a_id}-ийн {ha} га нь эгц налуутай ({why_mn})",
    "{ha} ha of {a_id} is steep ({why_en})",
)

#: Columns of :func:`terrain_table`.
TERRAIN_COLUMNS: Final = ("mean_slope_deg", "steep_share", "steep_ha", "valid_share", "over")


def terrain_table(
    samples: Samples,
    area_ha: npt.ArrayLike,
    *,
    slope_limit_deg: float,
    share_limit: float,
) -> pd.DataFrame:
    """Each zone's slope: mean, share steeper than the limit, and whether that is too much.

    Parameters
    ----------
    samples : Samples
        Slope values (degrees) gathered over the zones (:func:`collect`).
    area_ha : array-like
        Each zone's official hectares (the steep hectares are this times the share).
    slope_limit_deg : float
        Land steeper than this is steep.
    share_limit : float
        A zone is ``over`` when its steep share is above this.

    Returns
    -------
    DataFrame
        One row per zone with ``TERRAIN_COLUMNS``; NaN shares (``over`` False) where the
        DEM has no valid pixel over the zone.

    Examples
    --------
    >>> from shapely import box
    >>> grid = Grid(np.array([[5.0, 25.0, 30.0, 2.0]]))
    >>> window = plan_windows([box(0, 0, 4, 1)])[0]
    >>> t = terrain_table(collect([(window, grid)], 1), [8.0], slope_limit_deg=15,
    ...                   share_limit=0.25)
    >>> t.loc[0, ["steep_share", "steep_ha"]].tolist(), bool(t.loc[0, "over"])
    ([0.5, 4.0], True)
    """
    stats = summarise(samples)
    share = share_above(samples, slope_limit_deg)
    ha = np.asarray(area_ha, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        over = np.nan_to_num(share, nan=0.0) > share_limit
    return pd.DataFrame(
        {
            "mean_slope_deg": stats["mean"].to_numpy(),
            "steep_share": share,
            "steep_ha": share * ha,
            "valid_share": stats["valid_share"].to_numpy(),
            "over": over,
        }
    )


def terrain_findings(
    ids: npt.ArrayLike,
    table: pd.DataFrame,
    *,
    layer: str,
    slope_limit_deg: float,
    share_limit: float,
) -> pd.DataFrame:
    """``SLOPE_OVER_LIMIT`` findings (``geo.rules`` layout) for the zones ``over`` the limit."""
    sel = np.flatnonzero(table["over"].to_numpy(dtype=bool))
    ident = np.asarray(ids, dtype=object)[sel]
    share = table["steep_share"].to_numpy()[sel]
    ha = table["steep_ha"].to_numpy()[sel]
    pct = np.array([f"{100 * s:.1f}" for s in share], dtype=object)
    limit, most = f"{slope_limit_deg:g}", f"{100 * share_limit:g}"
    values = {
        "a_id": ident,
        "ha": np.array([f"{h:.2f}" for h in ha], dtype=object),
        "why_mn": pct + f" % нь {limit}°-аас эгц; дээд хэмжээ {most} %",
        "why_en": pct + f" % of it steeper than {limit}°; at most {most} % allowed",
    }
    n = len(sel)
    mn, en = SLOPE_RULE.render(values, n) if n else (np.zeros(0, object), np.zeros(0, object))
    return pd.DataFrame(
        {
            "rule": np.full(n, SLOPE_RULE.code, dtype=object),
            "severity": np.full(n, SLOPE_RULE.severity, dtype=object),
            "a_layer": np.full(n, layer, dtype=object),
            "a_id": ident,
            "b_layer": np.full(n, None, dtype=object),
            "b_id": np.full(n, None, dtype=object),
            "overlap_ha": ha.astype(np.float64),
            "message_mn": mn,
            "message_en": en,
            "geometry": np.full(n, None, dtype=object),
        }
    )


# ------------------------------------------------------------------------------- recovery

RecoveryStatus = Literal["recovering", "below_min", "no_data"]

#: Recovery statuses as a person reads them (Mongolian, English).
RECOVERY_LABELS: Final[dict[str, tuple[str, str]]] = {
    "recovering": ("Сэргэж байна", "Recovering"),
    "below_min": ("Сэргэлт хангалтгүй", "Recovery below the minimum"),
    "no_data": ("Мэдээлэлгүй", "No data"),
}

#: Columns of :func:`recovery_table`.
RECOVERY_COLUMNS: Final = (
    "before_mean",
    "after_mean",
    "before_median",
    "after_median",
    "before_valid_share",
    "after_valid_share",
    "change",
    "status",
)


def recovery_table(
    before: pd.DataFrame, after: pd.DataFrame, *, min_recovery: float
) -> pd.DataFrame:
    """Vegetation recovery per zone from the zonal statistics of two index rasters.

    Parameters
    ----------
    before, after : DataFrame
        :func:`zonal_stats` of the same zones (same order) on the earlier and later raster
        (e.g. NDVI).
    min_recovery : float
        The smallest acceptable ``change`` (after minus before, of the weighted means).

    Returns
    -------
    DataFrame
        ``RECOVERY_COLUMNS``: the means, medians and valid shares of both, ``change`` and a
        ``status`` — ``no_data`` when either raster has no valid pixel over the zone,
        ``below_min`` when ``change < min_recovery``, else ``recovering``.

    Examples
    --------
    >>> b = pd.DataFrame({"mean": [0.1, 0.2, np.nan], "median": [0.1, 0.2, np.nan],
    ...                   "valid_share": [1.0, 1.0, 0.0]})
    >>> a = b.assign(mean=[0.35, 0.22, 0.3])
    >>> recovery_table(b, a, min_recovery=0.1)["status"].tolist()
    ['recovering', 'below_min', 'no_data']
    """
    if len(before) != len(after):
        raise ValueError(f"{len(before)} zones before but {len(after)} after")
    change = after["mean"].to_numpy(dtype=np.float64) - before["mean"].to_numpy(np.float64)
    status = np.where(
        np.isnan(change), "no_data", np.where(change < min_recovery, "below_min", "recovering")
    ).astype(object)
    return pd.DataFrame(
        {
            "before_mean": before["mean"].to_numpy(np.float64),
            "after_mean": after["mean"].to_numpy(np.float64),
            "before_median": before["median"].to_numpy(np.float64),
            "after_median": after["median"].to_numpy(np.float64),
            "before_valid_share": before["valid_share"].to_numpy(np.float64),
            "after_valid_share": after["valid_share"].to_numpy(np.float64),
            "change": change,
            "status": status,
        },
        index=before.index,
    )


# ------------------------------------------------------------------------------- rasterising


def utm_epsg(lon: float) -> int:
    """The EPSG code of the northern WGS84 UTM zone of a longitude (Mongolia: 32645-32650).

    Examples
    --------
    >>> utm_epsg(106.5)
    32648
    """
    return 32600 + math.floor((lon + 180) / 6) % 60 + 1


def aligned_grid(bounds: tuple[float, float, float, float], res: float) -> tuple[Affine, int, int]:
    """A north-up grid of ``res`` pixels covering ``bounds``, its edges on multiples of
    ``res`` (so grids of neighbouring areas line up): transform, height, width. Bounds within
    a millionth of a pixel of a grid line count as on it.

    Examples
    --------
    >>> t, h, w = aligned_grid((105.0, 17.0, 131.0, 29.0), 10)
    >>> (t.c, t.f, h, w)
    (100.0, 30.0, 2, 4)
    """
    if not res > 0:
        raise ValueError(f"the resolution must be positive, not {res!r}")
    # bounds within a millionth of a pixel of a grid line are on it (reprojection noise)
    x0, y0 = (math.floor(v / res + 1e-6) * res for v in bounds[:2])
    x1, y1 = (math.ceil(v / res - 1e-6) * res for v in bounds[2:])
    width, height = max(round((x1 - x0) / res), 1), max(round((y1 - y0) / res), 1)
    return Affine(res, 0, x0, 0, -res, y1), height, width


def availability_block(
    land: Any,
    available: Any,
    *,
    row_off: int,
    col_off: int,
    height: int,
    width: int,
) -> npt.NDArray[np.uint8]:
    """One block of the availability raster: ``AVAILABLE`` (1) where the pixel's centre is in
    available land, ``NOT_AVAILABLE`` (0) elsewhere in a Land Conclusion, ``OUTSIDE`` (255).

    ``land`` (the Land Conclusions) and ``available`` (their free land) are in pixel space
    (:func:`pixel_space`); the block is rows ``row_off ...`` and columns ``col_off ...``.

    Examples
    --------
    >>> from shapely import box
    >>> availability_block([box(0, 0, 4, 1)], [box(0, 0, 2, 1)], row_off=0, col_off=0,
    ...                    height=1, width=5).tolist()
    [[1, 1, 0, 0, 255]]
    """
    out = np.full((height, width), OUTSIDE, dtype=np.uint8)
    rect = shapely.box(col_off, row_off, col_off + width, row_off + height)
    for geoms, value in ((land, NOT_AVAILABLE), (available, AVAILABLE)):
        arr = np.asarray(geoms, dtype=object).ravel()
        if not len(arr):
            continue
        near = arr[shapely.intersects(arr, rect)]
        pieces = polygonal_parts(np.asarray(shapely.intersection(near, rect), dtype=object))
        cov = pixel_coverage(pieces, mode="centre")
        out[cov.row - row_off, cov.col - col_off] = value
    return out


def as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NaN becomes None, numpy scalars plain Python values."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]


def label_of(labels: Mapping[str, tuple[str, str]], value: str, lang: Literal["mn", "en"]) -> str:
    """A value's label in a language (the value itself if it has none)."""
    pair = labels.get(value)
    return value if pair is None else pair[0 if lang == "mn" else 1]


# ------------------------------------------------------------------------------- DEM blocks


@dataclass(frozen=True)
class Dem:
    """Elevations (metres) over a block of a DEM whose whole grid has ``transform``.

    ``crs`` is anything :class:`pyproj.CRS` accepts. In a projected CRS the pixel size is
    converted to metres with the CRS's unit; in lon/lat with :func:`lonlat_pixel_metres`.
    """

    values: npt.NDArray[Any]
    transform: Affine
    crs: Any
    row_off: int = 0
    col_off: int = 0
    nodata: float | None = None

    def slope(self) -> Grid:
        """The slope (degrees) of the block, NaN on its edges (see :func:`slope_degrees`)."""
        from pyproj import CRS

        crs = CRS.from_user_input(self.crs)
        height = self.values.shape[0]
        if crs.is_geographic:
            xres, yres = lonlat_pixel_metres(self.transform, row_off=self.row_off, height=height)
            slope = slope_degrees(self.values, xres=xres, yres=yres, nodata=self.nodata)
        else:
            unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
            slope = slope_degrees(
                self.values,
                xres=abs(self.transform.a) * unit,
                yres=abs(self.transform.e) * unit,
                nodata=self.nodata,
            )
        return Grid(slope, self.row_off, self.col_off)


def terrain(
    zones: Any,
    dem: Dem,
    *,
    slope_limit_deg: float,
    share_limit: float,
    mode: PixelMode = "weighted",
) -> pd.DataFrame:
    """The slope over each zone from a DEM block that covers them (e.g. a proposal).

    Parameters
    ----------
    zones : GeoDataFrame or GeoSeries
        Polygons with a CRS (reprojected to the DEM's, never the DEM to theirs).
    dem : Dem
        Elevations covering the zones and one pixel around them.
    slope_limit_deg, share_limit : float
        As in :func:`terrain_table`.

    Returns
    -------
    DataFrame
        :func:`terrain_table`, one row per zone in order.

    Examples
    --------
    A 45° ramp (1 m up per 1 m pixel) under a zone in metres:

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> dem = Dem(np.tile(np.arange(10.0), (10, 1)), Affine(1, 0, 500_000, 0, -1, 5_300_000),
    ...           "EPSG:32648")
    >>> zone = gpd.GeoSeries([box(500_002, 5_299_992, 500_008, 5_299_998)], crs=32648)
    >>> terrain(zone, dem, slope_limit_deg=30, share_limit=0.5)[["mean_slope_deg", "over"]]\
.to_dict("records")
    [{'mean_slope_deg': 45.0, 'over': True}]
    """
    from geo.area import official_ha

    geoms = zones.geometry if hasattr(zones, "geometry") else zones
    if geoms.crs is None:
        raise ValueError("the zones have no CRS; say which (EPSG:4326 for lon/lat)")
    local = np.asarray(geoms.to_crs(dem.crs).array, dtype=object)
    px = pixel_space(local, dem.transform)
    windows = plan_windows(px, max_pixels=max(int(dem.values.size), 1) * 4 + 16, pad=1)
    slope = dem.slope()
    samples = collect(((w, slope) for w in windows), len(px), mode=mode)
    area = official_ha(geoms.to_crs("EPSG:4326")) if len(geoms) else np.zeros(0)
    return terrain_table(samples, area, slope_limit_deg=slope_limit_deg, share_limit=share_limit)
