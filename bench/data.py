"""Deterministic layers for the benchmark, built from the demo data.

``parcels``
    The demo's contract parcels (``layers.demo.build_demo(seed=7, scale=...)``): ``scale`` x 100
    rectangles of 1-4.84 ha, one per 240 m cell of the Land Conclusions, so they almost never
    overlap each other (the demo holds one deliberate overlap).
``resurvey``
    The same parcels drawn again with a digitising error: each moved by its own random offset
    (normal, ``RESURVEY_SIGMA_M`` metres east and north). Every re-drawn parcel overlaps its
    original and a few also a neighbour (100,429 pairs at 100k), and 2.2% of them overlap
    another re-drawn parcel (1,086 pairs): the dense between-layer case (at least one overlap
    per parcel) and the within-layer case (a layer with a few percent of overlapping parcels).
``applications``
    As many independent random rectangles (90-220 m by 110-220 m) as there are parcels, spread
    uniformly over the three demo aimags: a new layer checked against the existing one. At
    100k, 5.8% of the applications overlap a parcel (9,850 pairs; 9.4% of the parcels are
    touched); at small sizes almost none do, since the parcels then cover a tiny part of the
    aimags.
``parcels_5``, ``resurvey_5``
    The same parcels and re-drawn parcels with a fifth corner in the middle of their first
    edge: the same shapes, areas and overlaps (to floating-point rounding of the midpoint), but
    no longer four-corner parcels, so every pair goes through GEOS instead of the four-corner
    clipping of ``geo.quads``.
``demo``
    Every layer of the demo (1,016 Land Conclusions for 100k parcels, rehabilitation zones,
    exclusions, licences), for the availability analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from layers.demo import build_demo
from layers.schema import STORE_CRS

#: standard deviation (m) of the east and north offsets of a re-drawn parcel
RESURVEY_SIGMA_M = 12.0
#: metres per degree of latitude, and of longitude at the equator (local conversion of offsets
#: of a few metres; the exact figure does not matter, the data only has to be deterministic)
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0
#: the day the demo's dates are relative to (fixed, so the data never changes)
DEMO_DAY = date(2025, 6, 30)


@dataclass(frozen=True)
class BenchData:
    """The layers of one benchmark run (each with ``id`` and ``geometry``, EPSG:4326)."""

    #: the demo's contract parcels, all schema columns
    parcels: gpd.GeoDataFrame
    resurvey: gpd.GeoDataFrame
    applications: gpd.GeoDataFrame
    parcels_5: gpd.GeoDataFrame
    resurvey_5: gpd.GeoDataFrame
    #: every layer of the demo, by layer name
    demo: dict[str, gpd.GeoDataFrame]


def _ids(prefix: str, n: int) -> npt.NDArray[np.object_]:
    return np.array([f"{prefix}-{k:06d}" for k in range(1, n + 1)], dtype=object)


def _layer(ids: npt.NDArray[np.object_], geoms: npt.NDArray[np.object_]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ids}, geometry=gpd.GeoSeries(geoms, crs=STORE_CRS))


def resurvey(
    parcels: gpd.GeoDataFrame, *, sigma_m: float = RESURVEY_SIGMA_M, seed: int = 11
) -> gpd.GeoDataFrame:
    """Each parcel moved by its own random offset (normal, ``sigma_m`` metres per axis).

    Ids are ``RS-000001``... in the order of ``parcels``.

    Examples
    --------
    >>> from shapely import box
    >>> p = gpd.GeoDataFrame({"id": ["a"]}, geometry=[box(106.0, 47.0, 106.002, 47.001)], crs=4326)
    >>> moved = resurvey(p, sigma_m=10.0)
    >>> moved["id"].tolist(), bool(moved.geometry.iloc[0].intersects(p.geometry.iloc[0]))
    (['RS-000001'], True)
    """
    geoms = np.asarray(parcels.geometry.array, dtype=object)
    n = len(geoms)
    rng = np.random.default_rng(seed)
    east, north = rng.normal(0.0, sigma_m, n), rng.normal(0.0, sigma_m, n)
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    moved = coords.copy()
    moved[:, 0] += east[which] / (M_PER_DEG_LON * np.cos(np.radians(coords[:, 1])))
    moved[:, 1] += north[which] / M_PER_DEG_LAT
    out = shapely.set_coordinates(geoms.copy(), moved)
    return _layer(_ids("RS", n), np.asarray(out, dtype=object))


def five_corners(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The same four-corner polygons with a fifth corner in the middle of their first edge.

    Ids are kept. The shapes do not change (but for the rounding of a slanted edge's
    midpoint); only the way they are drawn does.

    Examples
    --------
    >>> from shapely import box
    >>> p = gpd.GeoDataFrame({"id": ["a"]}, geometry=[box(0, 0, 2, 1)], crs=4326)
    >>> g = five_corners(p).geometry.iloc[0]
    >>> len(g.exterior.coords), g.equals(p.geometry.iloc[0])
    (6, True)
    """
    geoms = np.asarray(layer.geometry.array, dtype=object)
    ring = shapely.get_coordinates(geoms).reshape(len(geoms), 5, 2)
    middle = (ring[:, :1] + ring[:, 1:2]) / 2
    five = shapely.polygons(np.concatenate((ring[:, :1], middle, ring[:, 1:]), axis=1))
    return _layer(layer["id"].to_numpy(dtype=object), np.asarray(five, dtype=object))


def applications(region: shapely.Geometry, *, n: int, seed: int = 13) -> gpd.GeoDataFrame:
    """``n`` random rectangles (90-220 m by 110-220 m) centred uniformly inside ``region``.

    Ids are ``AP-000001``...; edges follow parallels and meridians.

    Examples
    --------
    >>> from shapely import box
    >>> apps = applications(box(106.0, 47.0, 106.5, 47.5), n=3)
    >>> apps["id"].tolist(), bool(apps.within(box(105.9, 46.9, 106.6, 47.6)).all())
    (['AP-000001', 'AP-000002', 'AP-000003'], True)
    """
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    xs: list[npt.NDArray[np.float64]] = []
    ys: list[npt.NDArray[np.float64]] = []
    found = 0
    while found < n:  # rejection sampling, a few rounds of vectorised draws
        x = rng.uniform(minx, maxx, 2 * n + 16)
        y = rng.uniform(miny, maxy, 2 * n + 16)
        inside = shapely.contains_xy(region, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        found += int(inside.sum())
    x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    half_w = rng.uniform(90.0, 220.0, n) / (2 * M_PER_DEG_LON * np.cos(np.radians(y)))
    half_h = rng.uniform(110.0, 220.0, n) / (2 * M_PER_DEG_LAT)
    boxes = shapely.box(x - half_w, y - half_h, x + half_w, y + half_h)
    return _layer(_ids("AP", n), np.asarray(boxes, dtype=object))


def build(*, scale: int, seed: int = 7) -> BenchData:
    """All benchmark layers for ``scale`` x 100 parcels (``scale=1000``: 100k).

    Examples
    --------
    >>> data = build(scale=2)
    >>> len(data.parcels) == len(data.resurvey) == len(data.applications) == 200
    True
    """
    demo = build_demo(seed=seed, scale=scale, today=DEMO_DAY)
    parcels = demo["contract_parcels"]
    region = shapely.union_all(np.asarray(demo["aimags"].geometry.array, dtype=object))
    redrawn = resurvey(parcels)
    return BenchData(
        parcels=parcels,
        resurvey=redrawn,
        applications=applications(region, n=len(parcels)),
        parcels_5=five_corners(parcels),
        resurvey_5=five_corners(redrawn),
        demo=demo,
    )
