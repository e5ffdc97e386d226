"""Pixel space: zones mapped onto a raster's grid, their exact pixel coverage, and the blocks
(windows) a raster is read in.

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
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import shapely
from affine import Affine

from geo.repair import polygonal_parts

PixelMode = Literal["weighted", "centre"]
PIXEL_MODES: Final = ("weighted", "centre")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]


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
    check_transform(transform)
    t = transform
    arr = np.asarray(geoms, dtype=object)

    def to_pixels(c: FloatArray) -> FloatArray:
        return np.column_stack(((c[:, 0] - t.c) / t.a, (c[:, 1] - t.f) / t.e))

    return np.asarray(shapely.transform(arr, to_pixels), dtype=object)


def check_transform(transform: Affine) -> None:
    """Refuse (``ValueError``) a transform that is rotated, sheared or not invertible."""
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
