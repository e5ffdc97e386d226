"""Overlaps between polygons, and the parts of polygons lying outside their container.

An overlap is a shared area above a tolerance (default 1 m², in official square metres):
polygons that only touch along an edge or at a corner do not overlap, a polygon entirely
inside another does. Candidates come from bulk ``STRtree`` queries; the intersections of all
candidate pairs are computed at once (``shapely.intersection`` on arrays, split across threads
since GEOS releases the GIL) and measured with :func:`geo.area.official_ha`. Intersections
are exact (no ``set_precision`` snapping), so a sliver from coordinates that almost, but do
not quite, coincide is measured and dropped by the tolerance instead of being hidden.

Pairs of convex four-corner polygons (:mod:`geo.quads`; parcels are drawn that way) take a
shortcut: their candidates are the tree's bounding-box matches, their shared part is clipped in
numpy for all pairs at once and measured from its lon/lat area and centroid
(:func:`geo.area.small_official_ha`), and they need no GEOS validity check. Every other pair
goes through GEOS as above, with three savings that leave the answer as it was: a pair of small
polygons (``DIRECT_MAX_COORDS``) goes from the bounding-box match straight to the overlay,
which finds the few that do not meet; a pair where one polygon lies in the other's interior
is not overlaid (the inner polygon is the shared part); and a small one-ring shared part is
measured from its coordinates in numpy, as the clipped quadrilaterals are.

Invalid input geometry is repaired first (``shapely.make_valid``, polygonal parts only) and
each repaired feature is reported in the result's ``repaired`` list.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.area import (
    LOCAL_MAX_DEG,
    M2_PER_HA,
    EdgeModel,
    official_ha,
    official_ha_checked,
    small_official_ha,
)
from geo.frames import geo_frame
from geo.prepared import map_grouped, prepared_large
from geo.quads import clip_quads, find_quads, ring_measures, ring_polygons
from geo.repair import (
    MIN_PER_THREAD,
    Repaired,
    RepairedResult,
    check_lonlat,
    layer_arrays,
    map_chunks,
    polygonal_parts,
    repair_polygons,
    run_chunks,
    worker_count,
)
from geo.shared_area import overlay_pairs, shared_ha

#: Columns of an overlap record, in order (``geometry`` is the shared area).
OVERLAP_COLUMNS = ("a_layer", "a_id", "b_layer", "b_id", "overlap_ha", "geometry")

#: Columns of an outside-area record, in order (``geometry`` is the part outside).
OUTSIDE_COLUMNS = ("id", "container_id", "part_ha", "outside_ha", "geometry")


@dataclass(frozen=True)
class OverlapResult(RepairedResult):
    """Overlap records and the features repaired to compute them.

    ``records``: GeoDataFrame (EPSG:4326) with ``OVERLAP_COLUMNS``; one row per overlapping pair.
    """


@dataclass(frozen=True)
class OutsideResult(RepairedResult):
    """Per-feature outside areas and the features repaired to compute them.

    ``records``: GeoDataFrame (EPSG:4326) with ``OUTSIDE_COLUMNS``, indexed like the parts.
    """


def _check_tolerance(tolerance_m2: float) -> float:
    tol = float(tolerance_m2)
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tolerance_m2 must be a finite number >= 0, not {tolerance_m2!r}")
    return tol


@dataclass(frozen=True)
class _Layer:
    """A layer's geometry checked and repaired, its ids, and its convex quadrilaterals."""

    geoms: npt.NDArray[np.object_]
    ids: npt.NDArray[np.object_]
    #: which features are convex quadrilaterals (``geo.quads.convex_quads``)
    quads: npt.NDArray[np.bool_]
    #: their corners, counter-clockwise, shape (n, 4, 2) (NaN for the other features)
    corners: npt.NDArray[np.float64]
    #: each feature's number of coordinates
    sizes: npt.NDArray[np.intp]
    repaired: list[Repaired]


def _layer(gdf: gpd.GeoDataFrame, *, layer: str, id_column: str, workers: int) -> _Layer:
    geoms, ids = layer_arrays(gdf, layer=layer, id_column=id_column)
    quads, quad_corners = find_quads(geoms)  # valid by construction: GEOS need not check them
    geoms, repaired = repair_polygons(
        geoms, layer=layer, ids=ids, threads=workers, known_valid=quads
    )
    corners = np.full((len(geoms), 4, 2), np.nan)
    corners[quads] = quad_corners
    sizes = shapely.get_num_coordinates(geoms).astype(np.intp)
    return _Layer(geoms, ids, quads, corners, sizes, repaired)


def _query(
    tree: shapely.STRtree,
    geoms: npt.NDArray[np.object_],
    *,
    predicate: str | None,
    workers: int,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """``tree.query(geoms, predicate=predicate)``, the query geometries split in threads."""

    def query_chunk(start: int, stop: int) -> npt.NDArray[np.intp]:
        pairs = tree.query(geoms[start:stop], predicate=predicate)
        pairs[0] += start  # positions in the chunk -> positions in ``geoms``
        return pairs

    pairs = np.concatenate(run_chunks(len(geoms), query_chunk, workers=workers), axis=1)
    return pairs[0], pairs[1]


#: pairs of polygons of at most this many coordinates each go from the tree's bounding-box
#: match straight to GEOS's overlay, which returns an empty polygon for a pair that does not
#: meet in about a third of the time an ``intersects`` test takes on every pair (measured on
#: 100k pairs of six-coordinate parcels: 424 of 100,853 bounding-box matches do not meet);
#: pairs with a larger polygon, whose bounding box says less and whose overlay costs more,
#: must pass the (prepared) ``intersects`` test first
DIRECT_MAX_COORDS = 32


def _meeting(
    a: _Layer,
    b: _Layer,
    i: npt.NDArray[np.intp],
    j: npt.NDArray[np.intp],
    *,
    workers: int,
) -> npt.NDArray[np.bool_]:
    """Which bounding-box matches (general pairs) go on to the overlay: the small ones, and
    the larger ones that pass GEOS's ``intersects``."""
    keep = np.ones(len(i), dtype=bool)
    large = np.flatnonzero((a.sizes[i] > DIRECT_MAX_COORDS) | (b.sizes[j] > DIRECT_MAX_COORDS))
    if large.size:
        owner = i[large]
        first = prepared_large(a.geoms[owner], owner)
        keep[large] = map_grouped(
            shapely.intersects, owner, first, b.geoms[j[large]], workers=workers
        ).astype(bool)
    return keep


def _candidates(
    a: _Layer, b: _Layer, *, workers: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Pairs (position in ``a``, position in ``b``) that may share area, and which are pairs of
    quadrilaterals.

    Quadrilateral pairs are the trees' bounding-box matches (clipping decides whether they
    share area); so are the other pairs of small polygons (the overlay decides), while a pair
    with a larger polygon must pass GEOS's ``intersects`` test (see ``DIRECT_MAX_COORDS``).
    """
    a_quad, a_other = np.flatnonzero(a.quads), np.flatnonzero(~a.quads)
    b_quad, b_other = np.flatnonzero(b.quads), np.flatnonzero(~b.quads)
    found: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], bool]] = []
    if b_quad.size:
        tree = shapely.STRtree(b.geoms[b_quad])
        i, j = _query(tree, a.geoms[a_quad], predicate=None, workers=workers)
        found.append((a_quad[i], b_quad[j], True))
        i, j = _query(tree, a.geoms[a_other], predicate=None, workers=workers)
        i, j = a_other[i], b_quad[j]
        meet = _meeting(a, b, i, j, workers=workers)
        found.append((i[meet], j[meet], False))
    if b_other.size:
        tree = shapely.STRtree(b.geoms[b_other])
        i, j = _query(tree, a.geoms, predicate=None, workers=workers)
        j = b_other[j]
        meet = _meeting(a, b, i, j, workers=workers)
        found.append((i[meet], j[meet], False))
    if not found:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0, dtype=bool)
    i = np.concatenate([f[0] for f in found]).astype(np.intp)
    j = np.concatenate([f[1] for f in found]).astype(np.intp)
    quad = np.concatenate([np.full(len(f[0]), f[2]) for f in found])
    return i, j, quad


def _quad_overlaps(
    a: _Layer,
    b: _Layer,
    i: npt.NDArray[np.intp],
    j: npt.NDArray[np.intp],
    *,
    edges: EdgeModel,
    workers: int,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.object_], np.ndarray]:
    """The pairs of quadrilaterals sharing area, their shared polygons and official hectares."""

    def chunk(
        i: npt.NDArray[np.intp], j: npt.NDArray[np.intp]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.object_], np.ndarray]:
        origin = a.corners[i, :1]  # local coordinates keep the precision of small areas
        verts, count = clip_quads(a.corners[i] - origin, b.corners[j] - origin)
        lonlat_area, cx, cy = ring_measures(verts, count)
        some = np.flatnonzero(lonlat_area > 0)
        i, j, origin, verts, count = i[some], j[some], origin[some], verts[some], count[some]
        lonlat_area, cx, cy = lonlat_area[some], cx[some], cy[some]
        shared = ring_polygons(verts + origin, count)
        # small by its own extent, as official_ha decides (the padding repeats a vertex)
        padded = np.arange(verts.shape[1])[None, :] >= count[:, None]
        verts[padded] = np.broadcast_to(verts[:, :1], verts.shape)[padded]
        extent = verts.max(axis=1) - verts.min(axis=1)
        small = (extent <= LOCAL_MAX_DEG).all(axis=1) & (edges == "lonlat")
        ha = np.zeros(len(some), dtype="float64")
        ha[small] = small_official_ha(
            lonlat_area[small], cx[small] + origin[small, 0, 0], cy[small] + origin[small, 0, 1]
        )
        ha[~small] = official_ha_checked(shared[~small], edges=edges, threads=1)
        return i, j, shared, ha

    parts = run_chunks(
        len(i), lambda s, e: chunk(i[s:e], j[s:e]), workers=workers, pieces_per_thread=4
    )
    qi, qj, shared, ha = (np.concatenate([p[k] for p in parts]) for k in range(4))
    return qi, qj, shared, ha


#: skip GEOS's overlay for pairs where one polygon lies in the other's interior (its shared
#: part is then the inner polygon itself); tests switch it off to compare with the plain path
CONTAINS_SKIP = True


def _shared_parts(
    a: npt.NDArray[np.object_],
    b: npt.NDArray[np.object_],
    a_pos: npt.NDArray[np.intp],
    b_pos: npt.NDArray[np.intp],
    *,
    workers: int,
) -> npt.NDArray[np.object_]:
    """``shapely.intersection(a, b)`` pair by pair, skipping the overlay where one contains the
    other properly (prepared ``contains_properly``, as PostGIS users are advised to): the
    shared part is then the inner polygon, measured like any intersection by the caller.
    ``a_pos``, ``b_pos``: the pairs' positions in their layers (which polygon each row's
    prepared test belongs to, so that one thread has all of a polygon's rows).

    GEOS's fixed-precision overlay (``grid_size``) was measured as the alternative for the
    remaining pairs and is 6-14 times slower on parcels (and snaps the answer), so it is not
    used (again with GEOS 3.14.1 on the benchmark's 100,429 five-corner pairs: 14.9 s with
    ``grid_size=1e-9`` against 1.43 s, one thread).
    """
    if not CONTAINS_SKIP or len(a) == 0:
        return overlay_pairs(a, b, workers=workers)
    # a large polygon is tested through one prepared copy, shared by every pair it is in
    first = prepared_large(a, a_pos)
    b_inside: npt.NDArray[np.bool_] = map_grouped(
        shapely.contains_properly, a_pos, first, b, workers=workers
    ).astype(bool)
    a_inside = ~b_inside
    rows = np.flatnonzero(a_inside)
    second = prepared_large(b[rows], b_pos[rows])
    a_inside[rows] = map_grouped(
        shapely.contains_properly, b_pos[rows], second, a[rows], workers=workers
    ).astype(bool)
    out = np.where(b_inside, b, a)  # a_inside: a; the rest are overwritten below
    rest = np.flatnonzero(~(b_inside | a_inside))
    if rest.size:
        out[rest] = overlay_pairs(a[rest], b[rest], workers=workers)
    return out


def _measure_overlaps(
    a: _Layer,
    b: _Layer,
    i: npt.NDArray[np.intp],
    j: npt.NDArray[np.intp],
    quad: npt.NDArray[np.bool_],
    *,
    tolerance_m2: float,
    edges: EdgeModel,
    workers: int,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.object_], np.ndarray]:
    """Intersect candidate pairs, keep those sharing more than the tolerance."""
    # pairs of quadrilaterals: clipped in numpy, in chunks on threads (numpy releases the GIL)
    qi, qj, shared, quad_ha = _quad_overlaps(a, b, i[quad], j[quad], edges=edges, workers=workers)
    # other pairs: GEOS overlay, but for pairs where one holds the other whole
    gi, gj = i[~quad], j[~quad]
    inter = _shared_parts(a.geoms[gi], b.geoms[gj], gi, gj, workers=workers)
    # touching pairs give lines or points (area 0): drop them before projecting anything
    some = np.flatnonzero(shapely.area(inter) > 0)
    gi, gj, inter = gi[some], gj[some], polygonal_parts(inter[some])
    ha = np.concatenate((quad_ha, shared_ha(inter, edges=edges, workers=workers)))
    i = np.concatenate((qi, gi)).astype(np.intp)
    j = np.concatenate((qj, gj)).astype(np.intp)
    geoms = np.concatenate((shared, inter))
    keep = ha * M2_PER_HA > tolerance_m2
    return i[keep], j[keep], geoms[keep], ha[keep]


def _records(
    *,
    a_layer: str,
    a_ids: npt.NDArray[np.object_],
    b_layer: str,
    b_ids: npt.NDArray[np.object_],
    overlap_ha: np.ndarray,
    geoms: npt.NDArray[np.object_],
) -> gpd.GeoDataFrame:
    order = np.lexsort((b_ids.astype(str), a_ids.astype(str)))
    n = len(order)
    return geo_frame(
        {
            # dtype=str: the same column types whether there are records or not
            "a_layer": pd.Series([a_layer] * n, dtype=str),
            "a_id": pd.Series(a_ids[order], dtype=str),
            "b_layer": pd.Series([b_layer] * n, dtype=str),
            "b_id": pd.Series(b_ids[order], dtype=str),
            "overlap_ha": pd.Series(overlap_ha[order], dtype="float64"),
        },
        geoms[order],
    )


def overlaps_within(
    gdf: gpd.GeoDataFrame,
    *,
    layer: str,
    tolerance_m2: float = 1.0,
    id_column: str = "id",
    edges: EdgeModel = "lonlat",
    threads: int | None = None,
) -> OverlapResult:
    """Every pair of features of one layer sharing more than ``tolerance_m2``.

    Parameters
    ----------
    gdf : GeoDataFrame
        The layer, in EPSG:4326, with Polygon/MultiPolygon geometry and an ``id_column``.
        Missing or empty geometries overlap nothing.
    layer : str
        The layer's name, written in the records' ``a_layer`` and ``b_layer``.
    tolerance_m2 : float
        Shared areas of at most this many official square metres are not overlaps.
    id_column : str
        The column naming the features (ids are compared as strings).
    edges : {"lonlat", "projected"}
        How overlap areas are measured; see :func:`geo.area.official_ha`.
    threads : int, optional
        Threads for the validity check, tree query, intersections and areas (GEOS releases
        the GIL); default ``min(2, os.cpu_count())``.

    Returns
    -------
    OverlapResult
        ``records``: one row per overlapping pair, with ``a_id < b_id``, ``overlap_ha`` in
        official hectares (UTM zone of the shared area's centroid) and the shared area as
        geometry, sorted by ``a_id, b_id``; ``repaired``: the features repaired first.

    Raises
    ------
    InvalidGeometry
        For a non-polygonal geometry or coordinates that are not lon/lat.
    ValueError
        For a layer not in EPSG:4326, a missing id column or a negative tolerance.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> parcels = gpd.GeoDataFrame(
    ...     {"id": ["p1", "p2", "p3"]},
    ...     geometry=[box(106.0, 47.0, 106.002, 47.001), box(106.001, 47.0, 106.003, 47.001),
    ...               box(106.003, 47.0, 106.004, 47.001)],
    ...     crs=4326,
    ... )
    >>> result = overlaps_within(parcels, layer="contract_parcels")
    >>> result.records[["a_id", "b_id", "overlap_ha"]].round(4).to_dict("records")
    [{'a_id': 'p1', 'b_id': 'p2', 'overlap_ha': 0.845}]
    """
    tol = _check_tolerance(tolerance_m2)
    workers = worker_count(threads)
    one = _layer(gdf, layer=layer, id_column=id_column, workers=workers)
    i, j, quad = _candidates(one, one, workers=workers)
    # each unordered pair once (the smaller id first: the shared part is the same geometry
    # whatever order the rows come in, as an incremental update computes it), no feature with
    # itself
    text = one.ids.astype(str)
    first = (text[i] < text[j]) | ((text[i] == text[j]) & (i < j))
    i, j, inter, ha = _measure_overlaps(
        one, one, i[first], j[first], quad[first], tolerance_m2=tol, edges=edges, workers=workers
    )
    ids = one.ids
    a_ids, b_ids = ids[i], ids[j]
    swap = a_ids.astype(str) > b_ids.astype(str)
    a_ids, b_ids = np.where(swap, b_ids, a_ids), np.where(swap, a_ids, b_ids)
    records = _records(
        a_layer=layer, a_ids=a_ids, b_layer=layer, b_ids=b_ids, overlap_ha=ha, geoms=inter
    )
    return OverlapResult(records=records, repaired=tuple(one.repaired))


def overlaps_between(
    a: gpd.GeoDataFrame,
    b: gpd.GeoDataFrame,
    *,
    a_layer: str,
    b_layer: str,
    tolerance_m2: float = 1.0,
    id_column: str = "id",
    edges: EdgeModel = "lonlat",
    threads: int | None = None,
) -> OverlapResult:
    """Every pair (feature of ``a``, feature of ``b``) sharing more than ``tolerance_m2``.

    Parameters
    ----------
    a, b : GeoDataFrame
        Two layers in EPSG:4326 with Polygon/MultiPolygon geometry and an ``id_column``.
    a_layer, b_layer : str
        The layers' names, written in the records and the repair reports.
    tolerance_m2, id_column, edges, threads
        As in :func:`overlaps_within`.

    Returns
    -------
    OverlapResult
        ``records``: one row per overlapping pair (``a_id`` from ``a``, ``b_id`` from ``b``),
        sorted by ``a_id, b_id``; ``repaired``: the features of either layer repaired first.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> lc = gpd.GeoDataFrame({"id": ["lc1"]}, geometry=[box(106.0, 47.0, 106.01, 47.01)], crs=4326)
    >>> licences = gpd.GeoDataFrame(
    ...     {"id": ["MV-1"]}, geometry=[box(106.005, 47.005, 106.02, 47.02)], crs=4326
    ... )
    >>> result = overlaps_between(lc, licences, a_layer="land_conclusions", b_layer="licences")
    >>> result.records[["a_id", "b_id", "overlap_ha"]].round(3).to_dict("records")
    [{'a_id': 'lc1', 'b_id': 'MV-1', 'overlap_ha': 21.121}]
    """
    tol = _check_tolerance(tolerance_m2)
    workers = worker_count(threads)
    if workers > 1 and min(len(a), len(b)) >= MIN_PER_THREAD:  # one layer per thread
        with ThreadPoolExecutor(max_workers=2) as pool:
            one, other = pool.map(
                lambda gdf, name: _layer(gdf, layer=name, id_column=id_column, workers=1),
                (a, b),
                (a_layer, b_layer),
            )
    else:
        one = _layer(a, layer=a_layer, id_column=id_column, workers=workers)
        other = _layer(b, layer=b_layer, id_column=id_column, workers=workers)
    i, j, quad = _candidates(one, other, workers=workers)
    i, j, inter, ha = _measure_overlaps(
        one, other, i, j, quad, tolerance_m2=tol, edges=edges, workers=workers
    )
    records = _records(
        a_layer=a_layer,
        a_ids=one.ids[i],
        b_layer=b_layer,
        b_ids=other.ids[j],
        overlap_ha=ha,
        geoms=inter,
    )
    return OverlapResult(records=records, repaired=(*one.repaired, *other.repaired))


def _container_arrays(
    containers: gpd.GeoDataFrame | gpd.GeoSeries, *, layer: str, id_column: str
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    if isinstance(containers, gpd.GeoDataFrame) and id_column in containers.columns:
        return layer_arrays(containers, layer=layer, id_column=id_column)
    if not isinstance(containers, gpd.GeoSeries | gpd.GeoDataFrame):
        raise TypeError(
            f"containers must be a GeoSeries or GeoDataFrame, not {type(containers).__name__}"
        )
    series = containers.geometry if isinstance(containers, gpd.GeoDataFrame) else containers
    check_lonlat(series.crs, layer=layer)  # ids from the index: no frame is built for them
    geoms = np.asarray(series.array, dtype=object)
    return geoms, series.index.astype(str).to_numpy(dtype=object)


def outside_area(
    parts: gpd.GeoDataFrame,
    containers: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    part_layer: str,
    container_layer: str,
    tolerance_m2: float = 1.0,
    id_column: str = "id",
    edges: EdgeModel = "lonlat",
    threads: int | None = None,
) -> OutsideResult:
    """For each part, the area lying outside its own container (aligned by position).

    For example the part of each contract parcel outside its Land Conclusion:
    ``containers = lcs.set_index("id").geometry.reindex(parcels["land_conclusion_id"])``.

    Parameters
    ----------
    parts : GeoDataFrame
        The features to check, in EPSG:4326, with an ``id_column``.
    containers : GeoDataFrame or GeoSeries
        One container per part, in the same order and EPSG:4326. Its ids come from
        ``id_column`` if it is a GeoDataFrame with that column, else from its index. A
        missing or empty container means the whole part lies outside.
    part_layer, container_layer : str
        The layers' names, for the repair reports.
    tolerance_m2 : float
        An outside area of at most this many official square metres counts as none
        (``outside_ha`` 0 and an empty geometry).
    id_column, edges, threads
        As in :func:`overlaps_within`.

    Returns
    -------
    OutsideResult
        ``records``: indexed like ``parts``, with the part's ``id``, the ``container_id``,
        ``part_ha`` and ``outside_ha`` (official hectares) and the outside part as geometry;
        ``repaired``: the features repaired first (each container once).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> lc = gpd.GeoSeries([box(106.0, 47.0, 106.01, 47.01)], index=["lc1"], crs=4326)
    >>> parcels = gpd.GeoDataFrame(
    ...     {"id": ["p1"]}, geometry=[box(106.009, 47.0, 106.011, 47.001)], crs=4326
    ... )
    >>> result = outside_area(parcels, lc, part_layer="contract_parcels",
    ...                       container_layer="land_conclusions")
    >>> result.records[["id", "container_id", "part_ha", "outside_ha"]].round(4).to_dict("records")
    [{'id': 'p1', 'container_id': 'lc1', 'part_ha': 1.6899, 'outside_ha': 0.845}]
    """
    tol = _check_tolerance(tolerance_m2)
    p_geoms, p_ids = layer_arrays(parts, layer=part_layer, id_column=id_column)
    c_geoms, c_ids = _container_arrays(containers, layer=container_layer, id_column=id_column)
    if len(c_geoms) != len(p_geoms):
        raise ValueError(
            f"{len(c_geoms)} containers ('{container_layer}') for {len(p_geoms)} parts "
            f"('{part_layer}'); they must be aligned one to one"
        )
    workers = worker_count(threads)
    p_geoms, p_fixed = repair_polygons(p_geoms, layer=part_layer, ids=p_ids, threads=workers)
    c_geoms, c_fixed = repair_polygons(c_geoms, layer=container_layer, ids=c_ids, threads=workers)
    c_once: dict[str, Repaired] = {}
    for r in c_fixed:  # a container shared by several parts is reported once
        c_once.setdefault(r.feature_id, r)

    present = ~shapely.is_missing(p_geoms) & ~shapely.is_empty(p_geoms)
    p_geoms = np.where(present, p_geoms, shapely.Polygon())
    has_container = ~shapely.is_missing(c_geoms) & ~shapely.is_empty(c_geoms)
    part_ha = official_ha(p_geoms, edges=edges, threads=workers)
    outside, outside_ha = p_geoms.copy(), part_ha.copy()  # no container: all of it is outside
    both = np.flatnonzero(present & has_container)
    if both.size:
        outside[both] = shapely.Polygon()
        outside_ha[both] = 0.0
        # a covers test is several times cheaper than a difference: most parts lie inside
        covered = map_chunks(shapely.covers, c_geoms[both], p_geoms[both], workers=workers)
        out = both[~covered.astype(bool)]
        diff = map_chunks(shapely.difference, p_geoms[out], c_geoms[out], workers=workers)
        outside[out] = polygonal_parts(diff)
        some = out[shapely.area(outside[out]) > 0]  # measure only what sticks out
        outside_ha[some] = official_ha(outside[some], edges=edges, threads=workers)
    under = outside_ha * M2_PER_HA <= tol
    outside_ha[under] = 0.0
    outside[under] = shapely.Polygon()
    records = geo_frame(
        {
            "id": p_ids,
            "container_id": np.where(has_container, c_ids, np.array(None, dtype=object)),
            "part_ha": part_ha,
            "outside_ha": outside_ha,
        },
        outside,
    )
    records.index = parts.index
    return OutsideResult(records=records, repaired=(*p_fixed, *c_once.values()))
