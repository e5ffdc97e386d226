"""Candidate parcels of a requested size inside one Land Conclusion's available land.

A candidate is a rectangle with north-south and east-west edges in the local WGS84 UTM zone
(the zone of the available land's centroid, where official hectares are measured), of exactly
the requested official area, lying wholly inside the available land, clear of every other
candidate.

How candidates are found (all vectorised, no loop over positions):

1. the available land is projected to its UTM zone (edges split every
   ``geo.area.LONLAT_STEP_DEG`` first, so they keep their lon/lat course) and shrunk by
   ``EDGE_CLEARANCE_M`` so that rounding in the way back to lon/lat cannot push a corner
   over an edge;
2. for each aspect ratio (width:height 1:1, 2:1, 1:2) boxes of the requested area are laid on
   a grid over the land's bounds, the grid step a ``GRID_DIVISIONS``-th of the shorter side,
   and tested at once with ``shapely.contains`` against the prepared land;
3. boxes are ranked by aspect (squares first: compact parcels), then by the distance of their
   south-west corner from the south-west corner of the land's bounding box, so suggestions
   pack together from the south-west instead of scattering and leave the rest of the land in
   one piece (existing parcels are not looked at: they are simply not available land);
4. the best box is taken and every box overlapping it is dropped (the same as removing the
   chosen box from the available land, since every remaining box already lay inside it),
   until ``count`` are chosen.

When no box fits on the grid, the land is rasterised into square cells that lie wholly inside
it (at most ``MAX_CELLS``, no finer than ``FINEST_CELL_M``) and every window of cells is
tested at once through a summed-area table: first for a box of the requested size the grid
stepped over, then, by bisection on the window size for each aspect ratio, for the largest
free block.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Transformer

from geo.area import LONLAT_STEP_DEG, M2_PER_HA, official_ha, segmentize_rings, utm_epsg, utm_zone
from geo.repair import first_lonlat_problem, polygonal_parts
from layers.errors import InvalidGeometry
from layers.schema import STORE_CRS

FloatArray = npt.NDArray[np.float64]

#: Width:height ratios tried, in order of preference.
ASPECTS: tuple[float, ...] = (1.0, 2.0, 0.5)
#: Grid positions per side length: boxes are tried every ``side / GRID_DIVISIONS`` metres.
GRID_DIVISIONS = 4
#: Most grid positions tried per box shape (the step grows on very large land).
MAX_POSITIONS = 400_000
#: Metres kept between a candidate and the edge of the available land (absorbs rounding).
EDGE_CLEARANCE_M = 0.05
#: Most raster cells used to look for a fit the grid missed and for the largest free block.
MAX_CELLS = 1_000_000
#: The finest raster cell (m): the largest free block is found to about this resolution.
FINEST_CELL_M = 1.0

#: Columns of the candidates frame, in order (``geometry`` last).
CANDIDATE_COLUMNS = ("rank", "official_ha", "width_m", "height_m", "geometry")


@dataclass(frozen=True)
class SuggestResult:
    """Candidate parcels, or why there are none."""

    #: True when at least one candidate of the requested size fits
    fits: bool
    requested_ha: float
    requested_count: int
    #: EPSG:4326 candidates with ``CANDIDATE_COLUMNS``, best first (empty when none fits)
    candidates: gpd.GeoDataFrame
    #: EPSG code of the UTM zone the rectangles are axis-aligned in
    utm_epsg: int | None
    #: when nothing fits: the largest axis-aligned free block found (EPSG:4326), else None
    largest_block: shapely.Polygon | None = None
    largest_block_ha: float = 0.0
    largest_block_size_m: tuple[float, float] | None = None

    def __len__(self) -> int:
        return len(self.candidates)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary; geometries as GeoJSON geometry objects."""
        block: dict[str, Any] | None = None
        if self.largest_block is not None and self.largest_block_size_m is not None:
            block = {
                "official_ha": self.largest_block_ha,
                "width_m": self.largest_block_size_m[0],
                "height_m": self.largest_block_size_m[1],
                "geometry": shapely.geometry.mapping(self.largest_block),
            }
        return {
            "fits": self.fits,
            "requested_ha": self.requested_ha,
            "requested_count": self.requested_count,
            "found": len(self.candidates),
            "utm_epsg": self.utm_epsg,
            "candidates": [
                {
                    "rank": int(row.rank),
                    "official_ha": float(row.official_ha),
                    "width_m": float(row.width_m),
                    "height_m": float(row.height_m),
                    "geometry": shapely.geometry.mapping(row.geometry),
                }
                for row in self.candidates.itertuples(index=False)
            ],
            "largest_block": block,
        }


@lru_cache(maxsize=16)
def _transformers(epsg: int) -> tuple[Transformer, Transformer]:
    fwd = Transformer.from_crs(4326, epsg, always_xy=True)
    inv = Transformer.from_crs(epsg, 4326, always_xy=True)
    return fwd, inv


def _project(geom: Any, transformer: Transformer) -> Any:
    def f(c: FloatArray) -> FloatArray:
        x, y = transformer.transform(c[:, 0], c[:, 1])
        return np.column_stack((x, y))

    return shapely.transform(geom, f)


def _candidate_frame(
    boxes: npt.NDArray[np.object_], widths: FloatArray, heights: FloatArray, epsg: int | None
) -> gpd.GeoDataFrame:
    lonlat = boxes
    if len(boxes) and epsg is not None:
        lonlat = np.asarray(_project(boxes, _transformers(epsg)[1]), dtype=object)
    return gpd.GeoDataFrame(
        {
            "rank": np.arange(1, len(boxes) + 1, dtype="int64"),
            "official_ha": official_ha(lonlat) if len(boxes) else np.empty(0),
            "width_m": widths,
            "height_m": heights,
        },
        geometry=gpd.GeoSeries(lonlat, crs=STORE_CRS),
        crs=STORE_CRS,
    )


def _grid(bounds: Sequence[float], w: float, h: float) -> tuple[FloatArray, FloatArray]:
    """South-west corners of ``w`` x ``h`` boxes on a grid over ``bounds`` (metres)."""
    minx, miny, maxx, maxy = bounds
    span_x, span_y = maxx - minx - w, maxy - miny - h
    if span_x < 0 or span_y < 0:
        return np.empty(0), np.empty(0)
    step = min(w, h) / GRID_DIVISIONS
    # coarser steps on land far larger than the box, to bound the work
    step = max(step, math.sqrt((span_x + w) * (span_y + h) / MAX_POSITIONS))
    xs = minx + np.arange(math.floor(span_x / step) + 1) * step
    ys = miny + np.arange(math.floor(span_y / step) + 1) * step
    # a last column/row flush with the far edges, where land often ends
    if xs[-1] < minx + span_x:
        xs = np.append(xs, minx + span_x)
    if ys[-1] < miny + span_y:
        ys = np.append(ys, miny + span_y)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def _fitting(
    region: Any, bounds: Sequence[float], w: float, h: float
) -> tuple[FloatArray, FloatArray]:
    """South-west corners of the grid boxes of ``w`` x ``h`` lying inside ``region``."""
    x, y = _grid(bounds, w, h)
    if len(x) == 0:
        return x, y
    # cheap filter first: the box's centre must be inside
    inside = shapely.contains_xy(region, x + w / 2, y + h / 2)
    x, y = x[inside], y[inside]
    ok = shapely.contains(region, shapely.box(x, y, x + w, y + h))
    return x[ok], y[ok]


def _sides(area_m2: float, aspect: float) -> tuple[float, float]:
    w = math.sqrt(area_m2 * aspect)
    return w, area_m2 / w


def _choose(
    x: FloatArray, y: FloatArray, w: FloatArray, h: FloatArray, count: int
) -> npt.NDArray[np.intp]:
    """Indices of up to ``count`` mutually non-overlapping boxes, taken in the given order."""
    alive = np.ones(len(x), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < count:
        left = np.flatnonzero(alive)
        if left.size == 0:
            break
        k = int(left[0])
        chosen.append(k)
        # boxes sharing interior with box k (touching edges is fine)
        alive &= ~((x < x[k] + w[k]) & (x[k] < x + w) & (y < y[k] + h[k]) & (y[k] < y + h))
    return np.asarray(chosen, dtype=np.intp)


class _Raster:
    """The free land as square cells, each wholly inside the region, with a summed-area table.

    A cell counts as free when its centre lies in the region shrunk by half the cell's
    diagonal, so every free cell lies wholly inside the region; any window of free cells is
    then a box inside the region. Which ``kw`` x ``kh`` windows are all free is one
    vectorised look-up in the summed-area table.
    """

    def __init__(self, region: Any, bounds: Sequence[float], *, finest: float) -> None:
        minx, miny, maxx, maxy = bounds
        width, height = maxx - minx, maxy - miny
        self.cell = max(math.sqrt(width * height / MAX_CELLS), finest)
        self.origin = (minx, miny)
        nx = max(1, math.ceil(width / self.cell))
        ny = max(1, math.ceil(height / self.cell))
        inner = shapely.buffer(region, -self.cell * math.sqrt(0.5), join_style="mitre")
        if inner.is_empty:
            free = np.zeros((ny, nx), dtype=bool)
        else:
            shapely.prepare(inner)
            cx = minx + (np.arange(nx) + 0.5) * self.cell
            cy = miny + (np.arange(ny) + 0.5) * self.cell
            gx, gy = np.meshgrid(cx, cy)
            free = shapely.contains_xy(inner, gx, gy)
        self.table = np.zeros((ny + 1, nx + 1), dtype=np.int64)
        self.table[1:, 1:] = free.cumsum(axis=0).cumsum(axis=1)

    def windows(self, kw: int, kh: int) -> tuple[FloatArray, FloatArray]:
        """South-west corners (metres) of every all-free window of ``kw`` x ``kh`` cells."""
        ny, nx = self.table.shape[0] - 1, self.table.shape[1] - 1
        if kw < 1 or kh < 1 or kw > nx or kh > ny:
            return np.empty(0), np.empty(0)
        t = self.table
        total = t[kh:, kw:] - t[:-kh, kw:] - t[kh:, :-kw] + t[:-kh, :-kw]
        row, col = np.nonzero(total == kw * kh)
        x = np.asarray(self.origin[0] + col * self.cell, dtype=np.float64)
        return x, np.asarray(self.origin[1] + row * self.cell, dtype=np.float64)

    def largest(self, aspect: float) -> tuple[float, float, float, float] | None:
        """(x, y, w, h) of the largest all-free window of about ``aspect`` (w:h)."""

        def cells(k: int) -> tuple[int, int]:
            return (max(1, round(k * aspect)), k) if aspect >= 1 else (k, max(1, round(k / aspect)))

        lo, hi = 0, max(self.table.shape)
        best: tuple[float, float, float, float] | None = None
        while lo < hi:  # the largest k whose window fits (fitting is monotone in k)
            k = (lo + hi + 1) // 2
            kw, kh = cells(k)
            x, y = self.windows(kw, kh)
            if len(x):
                lo = k
                best = (float(x[0]), float(y[0]), kw * self.cell, kh * self.cell)
            else:
                hi = k - 1
        return best


def _check(available: Any, ha: float, count: int) -> Any:
    if not isinstance(available, shapely.Geometry):
        raise TypeError(f"available must be a shapely geometry, not {type(available).__name__}")
    if isinstance(ha, bool) or not isinstance(ha, int | float) or not math.isfinite(ha) or ha <= 0:
        raise ValueError(f"ha must be a positive number of hectares, not {ha!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a whole number >= 1, not {count!r}")
    if available.is_empty:
        return available
    if available.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        raise InvalidGeometry(
            f"the available land is a {available.geom_type}, not a polygon; "
            "parcels can only be placed in Polygon or MultiPolygon land"
        )
    problem = first_lonlat_problem(np.array([available], dtype=object))
    if problem is not None:
        raise InvalidGeometry(f"the available land {problem[1]}")
    if not available.is_valid or available.geom_type == "GeometryCollection":
        available = polygonal_parts(np.array([shapely.make_valid(available)], dtype=object))[0]
    return available


def suggest_parcels(
    available: shapely.Geometry,
    *,
    ha: float,
    count: int = 3,
    aspects: Sequence[float] = ASPECTS,
) -> SuggestResult:
    """Up to ``count`` rectangular parcels of ``ha`` official hectares in the available land.

    Parameters
    ----------
    available : shapely geometry
        One Land Conclusion's available land (e.g. a row of
        :func:`geo.availability.availability`), Polygon or MultiPolygon in EPSG:4326.
        Invalid geometry is repaired first.
    ha : float
        The parcel size in official hectares (measured as :func:`geo.area.official_ha`).
    count : int
        How many candidates to return at most.
    aspects : sequence of float
        Width:height ratios tried, most preferred first (default 1:1, 2:1, 1:2).

    Returns
    -------
    SuggestResult
        ``fits`` is True when at least one candidate was found; ``candidates`` (EPSG:4326,
        best first) are axis-aligned in the UTM zone ``utm_epsg``, each of ``ha`` official
        hectares within 0.5% (in practice 1e-6), wholly inside ``available`` and not
        overlapping one another. When nothing fits, ``largest_block`` is the largest
        axis-aligned free rectangle found, with ``largest_block_ha`` and its size in metres.

    Raises
    ------
    InvalidGeometry
        For land that is not polygonal or not in lon/lat.
    ValueError
        For a size that is not a positive number or a count below 1.

    Examples
    --------
    >>> from shapely import box
    >>> land = box(106.50, 48.80, 106.52, 48.81)  # about 1.5 km x 1.1 km
    >>> result = suggest_parcels(land, ha=5, count=2)
    >>> result.fits, result.candidates["official_ha"].round(3).tolist()
    (True, [5.0, 5.0])
    >>> suggest_parcels(land, ha=500).fits
    False
    """
    available = _check(available, ha, count)
    target_m2 = float(ha) * M2_PER_HA
    if available.is_empty or available.area == 0:
        return SuggestResult(
            fits=False,
            requested_ha=float(ha),
            requested_count=count,
            candidates=_candidate_frame(np.empty(0, dtype=object), np.empty(0), np.empty(0), None),
            utm_epsg=None,
        )
    epsg = utm_epsg(utm_zone(shapely.get_x(shapely.centroid(available))))
    land = _project(segmentize_rings([available], LONLAT_STEP_DEG)[0], _transformers(epsg)[0])
    region = shapely.buffer(land, -EDGE_CLEARANCE_M, join_style="mitre")
    shapely.prepare(region)
    bounds = region.bounds
    minx, miny = bounds[0], bounds[1]

    xs, ys, ws, hs, prefs = [], [], [], [], []
    for rank, aspect in enumerate(aspects):
        if not (math.isfinite(aspect) and aspect > 0):
            raise ValueError(f"aspect ratios must be positive numbers, not {aspect!r}")
        side_w, side_h = _sides(target_m2, aspect)
        fx, fy = _fitting(region, bounds, side_w, side_h)
        xs.append(fx)
        ys.append(fy)
        ws.append(np.full(len(fx), side_w))
        hs.append(np.full(len(fx), side_h))
        prefs.append(np.full(len(fx), rank))
    x, y, w, h, pref = (np.concatenate(a) for a in (xs, ys, ws, hs, prefs))
    # the preferred aspect first (squares before rectangles), then nearest the south-west
    # corner (rounded to a micrometre so float noise does not decide), then south, then west
    order = np.lexsort((x, y, np.round(np.hypot(x - minx, y - miny), 6), pref))
    x, y, w, h = x[order], y[order], w[order], h[order]
    pick = _choose(x, y, w, h, count)
    if pick.size:
        boxes = shapely.box(x[pick], y[pick], x[pick] + w[pick], y[pick] + h[pick])
        return SuggestResult(
            fits=True,
            requested_ha=float(ha),
            requested_count=count,
            candidates=_candidate_frame(boxes, w[pick], h[pick], epsg),
            utm_epsg=epsg,
        )

    # the grid may step over a narrow fit: look again on a raster, then for the largest block
    raster = _Raster(region, bounds, finest=FINEST_CELL_M)
    for side_w, side_h in (_sides(target_m2, a) for a in aspects):
        fx, fy = raster.windows(math.ceil(side_w / raster.cell), math.ceil(side_h / raster.cell))
        if len(fx):
            order = np.lexsort((fx, fy, np.round(np.hypot(fx - minx, fy - miny), 6)))
            fw, fh = np.full(len(fx), side_w), np.full(len(fx), side_h)
            pick = order[_choose(fx[order], fy[order], fw, fh, count)]
            boxes = shapely.box(fx[pick], fy[pick], fx[pick] + side_w, fy[pick] + side_h)
            return SuggestResult(
                fits=True,
                requested_ha=float(ha),
                requested_count=count,
                candidates=_candidate_frame(boxes, fw[: len(pick)], fh[: len(pick)], epsg),
                utm_epsg=epsg,
            )

    blocks = [b for b in (raster.largest(a) for a in aspects) if b is not None]
    empty = _candidate_frame(np.empty(0, dtype=object), np.empty(0), np.empty(0), epsg)
    if not blocks:
        return SuggestResult(
            fits=False, requested_ha=float(ha), requested_count=count, candidates=empty,
            utm_epsg=epsg,
        )  # fmt: skip
    bx, by, bw, bh = max(blocks, key=lambda b: b[2] * b[3])
    lonlat = _project(shapely.box(bx, by, bx + bw, by + bh), _transformers(epsg)[1])
    return SuggestResult(
        fits=False,
        requested_ha=float(ha),
        requested_count=count,
        candidates=empty,
        utm_epsg=epsg,
        largest_block=lonlat,
        largest_block_ha=float(official_ha([lonlat])[0]),
        largest_block_size_m=(bw, bh),
    )


def candidates_table(result: SuggestResult) -> pd.DataFrame:
    """The candidates as a plain table: rank, hectares, size and corners (lon, lat).

    Examples
    --------
    >>> from shapely import box
    >>> table = candidates_table(suggest_parcels(box(106.50, 48.80, 106.52, 48.81), ha=5))
    >>> list(table.columns)
    ['rank', 'official_ha', 'width_m', 'height_m', 'corners']
    """
    frame = result.candidates
    corners = [
        [(round(float(px), 7), round(float(py), 7)) for px, py in list(g.exterior.coords)[:-1]]
        for g in frame.geometry
    ]
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table["corners"] = pd.Series(corners, index=table.index, dtype=object)
    return table
