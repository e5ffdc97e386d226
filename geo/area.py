"""Areas of polygons stored in EPSG:4326: the cadastre's official hectares and the true area.

Two measures, both vectorised (features are grouped by UTM zone, never looped over):

``official_ha``
    What the Mongolian mining cadastre reports: the planar area in the WGS84 UTM zone
    (EPSG:326xx) of the polygon's centroid, zone = floor((lon + 180) / 6) + 1.
``geodesic_ha``
    The true area on the WGS84 ellipsoid, through an Albers equal-area projection centred on
    Mongolia (agrees with ``pyproj.Geod(ellps="WGS84").geometry_area_perimeter`` to 1e-5).

Edges
-----
Geometry lives in lon/lat, and Gazar's geometry operations (``shapely`` intersections,
differences) treat an edge as a straight line in lon/lat: an east-west edge follows its
parallel. Projecting only the corners replaces each edge by the chord between the projected
corners, which bows differently: on the EITI licences the two readings differ by 1.3e-4 or
more for 10% of licences (up to 3e-3). By default (``edges="lonlat"``) both measures split
edges longer than ``LONLAT_STEP_DEG`` in lon/lat before projecting, so that an edge keeps its
lon/lat course; ``edges="projected"`` projects the vertices only.

The cadastre reads edges the lon/lat way: on the 3,420 EITI 2019 mining (MV) and exploration
(XV) licences, ``official_ha`` reproduces the reported hectares to 0.01% for 99.77% of
licences and to 0.1% for 99.91% (median difference 8.5e-8), against 87.5% to 0.01% when only
the corners are projected (see ``tests/test_area.py``). The 27 petroleum blocks in the same
file (numbers beginning with the Cyrillic letters GTBKhG) follow another rule: 26 of them are
reported as their planar area in UTM 48N with straight edges, whatever their zone (the 27th
is a round 24,000 ha).

The zone is taken from the centroid of the polygon computed in lon/lat (``shapely.centroid``
on the EPSG:4326 coordinates). A UTM zone is 6 degrees wide, so the lon/lat centroid and the
centroid of the projected polygon fall in the same zone except for polygons within metres of a
zone boundary; on the EITI licences the lon/lat centroid and the bounding-box centre pick the
same zone for every licence, while the first vertex or the western edge pick a different zone
for 17 licences and match the reported areas less well.
"""

from __future__ import annotations

import threading
from typing import Literal, TypeAlias, overload

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo.repair import first_lonlat_problem, map_chunks, worker_count
from layers.errors import InvalidGeometry

EdgeModel = Literal["lonlat", "projected"]

#: Longest edge (degrees of lon/lat) kept as a straight chord when projecting with lon/lat
#: edges. 0.001 deg is about 110 m north-south and 75 m east-west in Mongolia; it keeps areas
#: within 1e-6 of the exact lon/lat-edge area on licences up to hundreds of km across.
LONLAT_STEP_DEG = 0.001

#: Geometries whose lon/lat bounding box is at most this many degrees wide and tall are
#: measured with lon/lat edges through the projection's Jacobian at their centroid: the area
#: in lon/lat (where their edges are straight) times the projection's local area scale. The
#: scale's change across 0.02 deg alters the area by less than 1e-7 relative, and no edge has
#: to be split, which is several times faster on parcels.
LOCAL_MAX_DEG = 0.02
_JACOBIAN_STEP_DEG = 1e-5

#: Albers equal-area on WGS84 centred on Mongolia (standard parallels 43 and 50 N).
ALBERS_MONGOLIA = "+proj=aea +lat_0=47 +lon_0=104 +lat_1=43 +lat_2=50 +ellps=WGS84 +units=m"

M2_PER_HA = 10_000.0

GeometryInput: TypeAlias = gpd.GeoSeries | npt.NDArray[np.object_] | list[shapely.Geometry]


@overload
def utm_zone(lon: float) -> int: ...


@overload
def utm_zone(lon: npt.ArrayLike) -> npt.NDArray[np.int64]: ...


def utm_zone(lon: float | npt.ArrayLike) -> int | npt.NDArray[np.int64]:
    """The UTM zone number of a longitude: ``floor((lon + 180) / 6) + 1``.

    Longitude 180 belongs to zone 60 (not 61).

    Parameters
    ----------
    lon : float or array-like
        Longitude(s) in degrees east, in [-180, 180].

    Returns
    -------
    int or numpy.ndarray of int64
        A zone in 1..60 for a scalar, an array of zones for an array.

    Raises
    ------
    ValueError
        If a longitude is not finite or outside [-180, 180].

    Examples
    --------
    >>> utm_zone(106.9)
    48
    >>> utm_zone([87.76, 119.94]).tolist()
    [45, 50]
    """
    arr = np.asarray(lon, dtype="float64")
    bad = ~np.isfinite(arr) | (arr < -180.0) | (arr > 180.0)
    if bad.any():
        raise ValueError(f"longitude {arr[bad].flat[0]!r} is not in [-180, 180]")
    zones = np.minimum(np.floor((arr + 180.0) / 6.0).astype("int64") + 1, 60)
    if zones.ndim == 0:
        return int(zones)
    return zones


def utm_epsg(zone: int) -> int:
    """The EPSG code of a northern-hemisphere WGS84 UTM zone (``326xx``).

    Examples
    --------
    >>> utm_epsg(48)
    32648
    """
    if isinstance(zone, bool) or not isinstance(zone, int | np.integer) or not 1 <= zone <= 60:
        raise ValueError(f"UTM zone {zone!r} is not an integer in 1..60")
    return 32600 + int(zone)


_local = threading.local()


def _transformer(target: str) -> Transformer:
    """A lon/lat -> ``target`` transformer for the calling thread (pyproj's are not shared)."""
    cache: dict[str, Transformer] | None = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    if target not in cache:
        cache[target] = Transformer.from_crs(
            CRS.from_epsg(4326), CRS.from_user_input(target), always_xy=True
        )
    return cache[target]


def _as_array(geoms: GeometryInput) -> npt.NDArray[np.object_]:
    if isinstance(geoms, gpd.GeoSeries):
        if geoms.crs is None:
            raise ValueError("the geometries have no CRS; Gazar stores geometry in EPSG:4326")
        if geoms.crs.to_epsg() != 4326:
            raise ValueError(
                f"the geometries are in {geoms.crs.to_string()}, not EPSG:4326; "
                "reproject them with .to_crs(4326) first"
            )
        return np.asarray(geoms.array, dtype=object)
    arr = np.asarray(geoms, dtype=object)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    return arr


def _check_lonlat(geoms: npt.NDArray[np.object_]) -> None:
    """Refuse missing geometry and coordinates that are not finite lon/lat."""
    missing = np.flatnonzero(shapely.is_missing(geoms))
    if missing.size:
        raise InvalidGeometry(f"feature #{missing[0]} has no geometry; its area is undefined")
    problem = first_lonlat_problem(geoms)
    if problem is not None:
        raise InvalidGeometry(f"feature #{problem[0]} {problem[1]}")


def _lonlat_array(geoms: GeometryInput) -> npt.NDArray[np.object_]:
    """``geoms`` as a flat array, once refused if any is missing or not finite lon/lat."""
    arr = _as_array(geoms)
    _check_lonlat(arr)
    return arr


def segmentize_rings(geoms: npt.ArrayLike, max_segment_length: float) -> npt.NDArray[np.object_]:
    """``shapely.segmentize`` applied ring by ring, so a polygon is never "repaired" away.

    GEOS densifies a polygon as a whole and, when the densified polygon is no longer valid,
    replaces it by ``buffer(0)`` of itself, which can return an empty polygon: a valid ring
    that passes within floating-point noise of one of its own vertices (an overlay result
    where a cut meets an edge at a point) gains a crossing of 1e-15 degrees when its edges
    are split, and the whole polygon is dropped. Splitting each ring and rebuilding the
    polygons keeps every ring; the area of a ring crossing itself by 1e-15 is unaffected.

    Parameters
    ----------
    geoms : array-like of shapely geometries
        Polygons and MultiPolygons (other geometries go through ``shapely.segmentize``).
    max_segment_length : float
        As in ``shapely.segmentize``.

    Returns
    -------
    numpy.ndarray of geometries
        Aligned with ``geoms``.

    Examples
    --------
    >>> from shapely import Polygon, box
    >>> [g.wkt for g in segmentize_rings([box(0, 0, 2, 1)], 1.0)]
    ['POLYGON ((2 0, 2 1, 1 1, 0 1, 0 0, 1 0, 2 0))']
    """
    arr = np.asarray(geoms, dtype=object).reshape(-1)
    out = arr.copy()
    types = shapely.get_type_id(arr)
    polygonal = np.isin(types, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    present = ~shapely.is_missing(arr)
    todo = np.flatnonzero(polygonal & present & ~shapely.is_empty(arr))
    rest = np.flatnonzero(present & ~polygonal)
    if rest.size:
        out[rest] = shapely.segmentize(arr[rest], max_segment_length)
    if todo.size:
        parts, owner = polygon_parts(arr[todo])
        single = types[todo] == shapely.GeometryType.POLYGON
        out[todo] = segmentize_parts(parts, owner, single, max_segment_length)
    return out


def polygon_parts(
    geoms: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.intp]]:
    """The non-empty polygons of each geometry, with the index of the geometry they belong to."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = ~shapely.is_empty(parts)
    return parts[keep], owner[keep].astype(np.intp)


def segmentize_parts(
    parts: npt.NDArray[np.object_],
    owner: npt.NDArray[np.intp],
    single: npt.NDArray[np.bool_],
    max_segment_length: float,
) -> npt.NDArray[np.object_]:
    """Rebuild each geometry (a Polygon where ``single``, else a MultiPolygon) from its
    ``parts`` with every ring's edges split (see :func:`segmentize_rings`).

    Every geometry must own at least one part.
    """
    rings, part_of = shapely.get_rings(parts, return_index=True)
    dense = shapely.segmentize(rings, max_segment_length)
    polygons = np.asarray(shapely.polygons(dense, indices=part_of), dtype=object)
    rebuilt = polygons[np.searchsorted(owner, np.arange(len(single)))]
    if not single.all():
        multi = ~single
        mine = multi[owner]
        local = np.cumsum(multi) - 1
        rebuilt[multi] = shapely.multipolygons(polygons[mine], indices=local[owner[mine]])
    return rebuilt


def _densify(
    geoms: npt.NDArray[np.object_], edges: EdgeModel, workers: int
) -> npt.NDArray[np.object_]:
    if edges == "lonlat":
        split = map_chunks(lambda g: segmentize_rings(g, LONLAT_STEP_DEG), geoms, workers=workers)
        return np.asarray(split, dtype=object)
    if edges == "projected":
        return geoms
    raise ValueError(f"edges must be 'lonlat' or 'projected', not {edges!r}")


def _is_small(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    """Which geometries are small enough for the Jacobian measure (see ``LOCAL_MAX_DEG``)."""
    b = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        return (b[:, 2] - b[:, 0] <= LOCAL_MAX_DEG) & (b[:, 3] - b[:, 1] <= LOCAL_MAX_DEG)


def _jacobian_det(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], target: str
) -> npt.NDArray[np.float64]:
    """The projection's local area scale (m² per square degree) at each lon/lat point, by
    central differences."""
    h = _JACOBIAN_STEP_DEG
    t = _transformer(target)
    xe, ye = t.transform(lon + h, lat)
    xw, yw = t.transform(lon - h, lat)
    xn, yn = t.transform(lon, lat + h)
    xs, ys = t.transform(lon, lat - h)
    return np.asarray(np.abs((xe - xw) * (yn - ys) - (xn - xs) * (ye - yw)) / (4 * h * h))


def _jacobian_area(
    geoms: npt.NDArray[np.object_],
    target: str,
    centre: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
) -> npt.NDArray[np.float64]:
    """Area (m²) in ``target`` of small lon/lat geometries with straight lon/lat edges.

    The lon/lat area times the determinant of the projection's Jacobian at the centroid
    (``centre``, if already known). Exact for an area scale varying linearly over the
    geometry (the first-order change integrates to zero about the centroid); the rest is
    second order.
    """
    if centre is None:
        point = shapely.centroid(geoms)
        centre = shapely.get_x(point), shapely.get_y(point)
    det = _jacobian_det(centre[0], centre[1], target)
    return np.asarray(shapely.area(geoms), dtype="float64") * det


def _lonlat_area(
    geoms: npt.NDArray[np.object_],
    target: str,
    workers: int,
    centre: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
) -> npt.NDArray[np.float64]:
    """Area (m²) in ``target`` with straight lon/lat edges, part by part: small parts through
    the Jacobian, the others with their edges split every ``LONLAT_STEP_DEG``.

    ``centre``: the geometries' centroids, if known; used when every geometry is a single
    Polygon (then its one part's centroid)."""
    if centre is not None and (shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON).all():
        parts, owner = geoms, np.arange(len(geoms))
    else:
        parts, owner = shapely.get_parts(geoms, return_index=True)
        centre = None
    m2 = np.zeros(len(parts), dtype="float64")
    present = ~shapely.is_empty(parts)
    small = present & _is_small(parts)
    if small.any():
        part_centre = None if centre is None else (centre[0][small], centre[1][small])
        m2[small] = _jacobian_area(parts[small], target, part_centre)
    large = present & ~small
    if large.any():
        m2[large] = _planar_area(_densify(parts[large], "lonlat", workers), target, workers)
    return np.asarray(np.bincount(owner, weights=m2, minlength=len(geoms)), dtype="float64")


def _planar_area(
    geoms: npt.NDArray[np.object_], target: str, workers: int
) -> npt.NDArray[np.float64]:
    """Planar area (m²) of lon/lat geometries projected to ``target`` (in chunks, threaded)."""

    def measure(chunk: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
        transformer = _transformer(target)

        def project(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            x, y = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack((x, y))

        return np.asarray(shapely.area(shapely.transform(chunk, project)), dtype="float64")

    return np.asarray(map_chunks(measure, geoms, workers=workers), dtype="float64")


def centroid_zones(geoms: GeometryInput) -> npt.NDArray[np.int64]:
    """The UTM zone of each geometry's lon/lat centroid; 0 for an empty geometry.

    Examples
    --------
    >>> from shapely import box
    >>> centroid_zones([box(101.0, 43.0, 101.1, 43.1), box(119.0, 47.0, 119.2, 47.1)]).tolist()
    [47, 50]
    """
    arr = _lonlat_array(geoms)
    return _zones(arr)


def _zones(arr: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    return _centres_and_zones(arr)[1]


def _centres_and_zones(
    arr: npt.NDArray[np.object_],
) -> tuple[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]], npt.NDArray[np.int64]]:
    """The lon/lat centroid of each geometry (NaN when empty) and its UTM zone (0 when empty)."""
    zones = np.zeros(len(arr), dtype="int64")
    lon = np.full(len(arr), np.nan)
    lat = np.full(len(arr), np.nan)
    present = ~shapely.is_empty(arr)
    if present.any():
        point = shapely.centroid(arr[present])
        lon[present], lat[present] = shapely.get_x(point), shapely.get_y(point)
        zones[present] = utm_zone(lon[present])
    return (lon, lat), zones


def _measure(
    arr: npt.NDArray[np.object_],
    target: str,
    edges: EdgeModel,
    workers: int,
    centre: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
) -> npt.NDArray[np.float64]:
    if edges == "lonlat":
        return _lonlat_area(arr, target, workers, centre)
    return _planar_area(_densify(arr, edges, workers), target, workers)


def _official_m2(
    arr: npt.NDArray[np.object_], edges: EdgeModel, workers: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Official m² and zones of ``arr``."""
    (lon, lat), zones = _centres_and_zones(arr)
    m2 = np.zeros(len(arr), dtype="float64")
    for zone in np.unique(zones[zones > 0]):  # at most a handful of zones, not features
        in_zone = zones == zone
        target = f"EPSG:{utm_epsg(int(zone))}"
        m2[in_zone] = _measure(arr[in_zone], target, edges, workers, (lon[in_zone], lat[in_zone]))
    return m2, zones


def official_ha_checked(
    geoms: npt.NDArray[np.object_], *, edges: EdgeModel = "lonlat", threads: int | None = None
) -> npt.NDArray[np.float64]:
    """:func:`official_ha` of geometries already known to be present, finite lon/lat.

    For the analyses, which check their input layers once (``geo.repair``) and then measure
    geometry derived from them (intersections, differences): the coordinate scan of
    :func:`official_ha` would only repeat that check.
    """
    m2, _ = _official_m2(np.asarray(geoms, dtype=object), edges, worker_count(threads))
    return m2 / M2_PER_HA


def small_official_ha(
    lonlat_area: npt.ArrayLike, lon: npt.ArrayLike, lat: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Official hectares of small geometries from their lon/lat area and lon/lat centroid.

    The measure :func:`official_ha` applies to geometries at most ``LOCAL_MAX_DEG`` wide and
    tall (edges straight in lon/lat): the area in square degrees times the UTM projection's
    area scale at the centroid, in the zone of the centroid. For analyses that already know
    both (a polygon clipped in numpy), without building a geometry.

    Examples
    --------
    >>> small_official_ha([0.0001], [106.905], [47.905]).round(4).tolist()
    [83.1019]
    """
    area = np.asarray(lonlat_area, dtype="float64").reshape(-1)
    x = np.asarray(lon, dtype="float64").reshape(-1)
    y = np.asarray(lat, dtype="float64").reshape(-1)
    ha = np.zeros(len(area), dtype="float64")
    measured = area > 0
    zones = np.zeros(len(area), dtype="int64")
    zones[measured] = utm_zone(x[measured])
    for zone in np.unique(zones[measured]):
        in_zone = zones == zone
        det = _jacobian_det(x[in_zone], y[in_zone], f"EPSG:{utm_epsg(int(zone))}")
        ha[in_zone] = area[in_zone] * det / M2_PER_HA
    return ha


def official_ha(
    geoms: GeometryInput, *, edges: EdgeModel = "lonlat", threads: int | None = None
) -> npt.NDArray[np.float64]:
    """Area in hectares as the Mongolian mining cadastre computes it.

    Each geometry is projected to the WGS84 UTM zone of its lon/lat centroid
    (EPSG:32645-32650 in Mongolia) and measured there. Geometries are grouped by zone and
    each group is projected in one call.

    Parameters
    ----------
    geoms : GeoSeries or array of shapely geometries
        Polygons or MultiPolygons in EPSG:4326 (a GeoSeries in another CRS is refused).
        Other geometry types measure 0 (lines, points), collections their polygonal parts.
    edges : {"lonlat", "projected"}
        ``"lonlat"`` (default): edges are straight in lon/lat (they follow parallels and
        meridians), as in the cadastre; long edges are split every ``LONLAT_STEP_DEG``
        before projecting. ``"projected"``: only the vertices are projected.
    threads : int, optional
        Threads to split large inputs across (default ``min(2, os.cpu_count())``).

    Returns
    -------
    numpy.ndarray of float64
        Hectares, aligned with ``geoms``; 0.0 for an empty geometry.

    Raises
    ------
    InvalidGeometry
        For a missing geometry, a NaN/infinite coordinate, a coordinate outside lon/lat
        bounds or a geometry spanning more than 180 degrees of longitude.

    Examples
    --------
    >>> from shapely import box
    >>> official_ha([box(106.90, 47.90, 106.91, 47.91)]).round(4).tolist()
    [83.1019]
    """
    arr = _lonlat_array(geoms)
    workers = worker_count(threads)
    m2, _ = _official_m2(arr, edges, workers)
    return m2 / M2_PER_HA


def geodesic_ha(
    geoms: GeometryInput, *, edges: EdgeModel = "lonlat", threads: int | None = None
) -> npt.NDArray[np.float64]:
    """True (ellipsoidal) area in hectares on WGS84.

    Measured in an Albers equal-area projection of the WGS84 ellipsoid centred on Mongolia
    (``ALBERS_MONGOLIA``); being equal-area, it agrees with the geodesic area of
    ``pyproj.Geod(ellps="WGS84")`` to better than 1e-5 (see the tests).

    Parameters
    ----------
    geoms : GeoSeries or array of shapely geometries
        Polygons or MultiPolygons in EPSG:4326.
    edges : {"lonlat", "projected"}
        As in :func:`official_ha`; ``"lonlat"`` (default) makes an edge along a parallel
        enclose exactly the area up to that parallel.
    threads : int, optional
        As in :func:`official_ha`.

    Returns
    -------
    numpy.ndarray of float64
        Hectares, aligned with ``geoms``; 0.0 for an empty geometry.

    Examples
    --------
    >>> from shapely import box
    >>> geodesic_ha([box(106.90, 47.90, 106.91, 47.91)]).round(4).tolist()
    [83.127]
    """
    arr = _lonlat_array(geoms)
    workers = worker_count(threads)
    return _measure(arr, ALBERS_MONGOLIA, edges, workers) / M2_PER_HA


def areas(
    gdf: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    edges: EdgeModel = "lonlat",
    threads: int | None = None,
) -> pd.DataFrame:
    """Official and true hectares and the official UTM zone of every feature.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        Features in EPSG:4326.
    edges, threads
        See :func:`official_ha`.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``gdf``, with columns ``official_ha`` (float), ``geodesic_ha`` (float)
        and ``utm_zone`` (nullable Int64; missing for an empty geometry).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> g = gpd.GeoSeries([box(106.90, 47.90, 106.91, 47.91)], crs=4326)
    >>> areas(g).round(2).to_dict("records")
    [{'official_ha': 83.1, 'geodesic_ha': 83.13, 'utm_zone': 48}]
    """
    series = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf
    arr = _lonlat_array(series)
    workers = worker_count(threads)
    m2, zones = _official_m2(arr, edges, workers)
    true_m2 = _measure(arr, ALBERS_MONGOLIA, edges, workers)
    return pd.DataFrame(
        {
            "official_ha": m2 / M2_PER_HA,
            "geodesic_ha": true_m2 / M2_PER_HA,
            "utm_zone": pd.arrays.IntegerArray(zones, mask=zones == 0),
        },
        index=series.index,
    )
