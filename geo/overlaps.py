"""Overlaps between polygons (the parts lying outside their container: :mod:`geo.outside`).

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
    layer_arrays,
    polygonal_parts,
    repair_polygons,
    run_chunks,
    worker_count,
)
from geo.shared_area import overlay_pairs, shared_ha

#: Columns of an overlap record, in order (``geometry`` is the shared area).
OVERLAP_COLUMNS = ("a_layer", "a_id", "b_layer", "b_id", "overlap_ha", "geometry")


@dataclass(frozen=True)
class OverlapResult(RepairedResult):
    """Overlap records and the features repaired to compute them.

    ``records``: GeoDataFrame (EPSG:4326) with ``OVERLAP_COLUMNS``; one row per overlapping pair.
    """


def check_tolerance(tolerance_m2: float) -> float:
    """``tolerance_m2`` as a float; ValueError unless it is a finite number >= 0."""
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
    return _layer_of(geoms, ids, layer=layer, workers=workers)


def _layer_of(
    geoms: npt.NDArray[np.object_], ids: npt.NDArray[np.object_], *, layer: str, workers: int
) -> _Layer:
    sizes = shapely.get_num_coordinates(geoms).astype(np.intp)
    # quadrilaterals are valid by construction: GEOS need not check them
    quads, quad_corners = find_quads(geoms, sizes=sizes)
    geoms, repaired = repair_polygons(
        geoms, layer=layer, ids=ids, threads=workers, known_valid=quads
    )
    if repaired:  # a repair changes the geometry, and with it its size
        changed = np.flatnonzero(~quads)
        sizes[changed] = shapely.get_num_coordinates(geoms[changed])
    corners = np.full((len(geoms), 4, 2), np.nan)
    corners[quads] = quad_corners
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


def overlap_records(
    *,
    a_layer: str,
    a_ids: npt.NDArray[np.object_],
    b_layer: str | npt.NDArray[np.object_],
    b_ids: npt.NDArray[np.object_],
    overlap_ha: np.ndarray,
    geoms: npt.NDArray[np.object_],
) -> gpd.GeoDataFrame:
    """Overlap records (``OVERLAP_COLUMNS``) of pairs given by their ids, sorted by ``a_id``,
    ``b_layer`` and ``b_id``; ``b_layer`` is one name, or one per pair (the review's features
    of every layer at once)."""
    n = len(a_ids)
    if isinstance(b_layer, str):  # one layer: nothing to sort by there
        order = np.lexsort((b_ids.astype(str), a_ids.astype(str)))
        b_layers = pd.array([b_layer] * n, dtype="str")
    else:
        order = np.lexsort((b_ids.astype(str), b_layer.astype(str), a_ids.astype(str)))
        b_layers = pd.array(b_layer[order], dtype="str")
    return geo_frame(
        {
            # dtype "str": the same column types whether there are records or not
            "a_layer": pd.array([a_layer] * n, dtype="str"),
            "a_id": pd.array(a_ids[order], dtype="str"),
            "b_layer": b_layers,
            "b_id": pd.array(b_ids[order], dtype="str"),
            "overlap_ha": np.asarray(overlap_ha, dtype="float64")[order],
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
    tol = check_tolerance(tolerance_m2)
    workers = worker_count(threads)
    one = _layer(gdf, layer=layer, id_column=id_column, workers=workers)
    i, j, quad = _candidates(one, one, workers=workers)
    # each unordered pair once (the smaller id first: the shared part is the same geometry
    # whatever order the rows come in, as an incremental update computes it), no feature with
    # itself (every feature is its own candidate: dropped by position before any id is read)
    other = np.flatnonzero(i != j)
    i, j, quad = i[other], j[other], quad[other]
    a_text, b_text = one.ids[i].astype(str), one.ids[j].astype(str)
    first = (a_text < b_text) | ((a_text == b_text) & (i < j))
    i, j, inter, ha = _measure_overlaps(
        one, one, i[first], j[first], quad[first], tolerance_m2=tol, edges=edges, workers=workers
    )
    ids = one.ids
    a_ids, b_ids = ids[i], ids[j]
    swap = a_ids.astype(str) > b_ids.astype(str)
    a_ids, b_ids = np.where(swap, b_ids, a_ids), np.where(swap, a_ids, b_ids)
    records = overlap_records(
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
    check_tolerance(tolerance_m2)  # before the layers, as the other analyses do
    a_geoms, a_ids = layer_arrays(a, layer=a_layer, id_column=id_column)
    b_geoms, b_ids = layer_arrays(b, layer=b_layer, id_column=id_column)
    found = overlapping_pairs(
        a_geoms, a_ids, b_geoms, b_ids, a_layer=a_layer, b_layer=b_layer,
        tolerance_m2=tolerance_m2, edges=edges, threads=threads,
    )  # fmt: skip
    records = overlap_records(
        a_layer=a_layer,
        a_ids=a_ids[found.i],
        b_layer=b_layer,
        b_ids=b_ids[found.j],
        overlap_ha=found.overlap_ha,
        geoms=found.geoms,
    )
    return OverlapResult(records=records, repaired=found.repaired)


@dataclass(frozen=True)
class OverlapPairs:
    """Overlapping pairs by position (:func:`overlapping_pairs`): ``i`` in the first
    layer's arrays, ``j`` in the second's, the shared area (EPSG:4326) and its official
    hectares, in no particular order; the features of either layer repaired first."""

    i: npt.NDArray[np.intp]
    j: npt.NDArray[np.intp]
    geoms: npt.NDArray[np.object_]
    overlap_ha: npt.NDArray[np.float64]
    repaired: tuple[Repaired, ...]


def overlapping_pairs(
    a_geoms: npt.NDArray[np.object_],
    a_ids: npt.NDArray[np.object_],
    b_geoms: npt.NDArray[np.object_],
    b_ids: npt.NDArray[np.object_],
    *,
    a_layer: str,
    b_layer: str,
    tolerance_m2: float = 1.0,
    edges: EdgeModel = "lonlat",
    threads: int | None = None,
) -> OverlapPairs:
    """:func:`overlaps_between` on arrays: geometries in EPSG:4326 (as ``layer_arrays``
    gives them) and their ids (for the repair reports), answered by position, with no frame
    built on the way in or out. For a caller holding arrays already that builds its own
    records, as the review of one proposal against the features near it does.

    Examples
    --------
    >>> from shapely import box
    >>> found = overlapping_pairs(
    ...     np.array([box(106.0, 47.0, 106.01, 47.01)]), np.array(["lc1"], dtype=object),
    ...     np.array([box(107.0, 47.0, 107.1, 47.1), box(106.005, 47.005, 106.02, 47.02)]),
    ...     np.array(["MV-9", "MV-1"], dtype=object), a_layer="land_conclusions",
    ...     b_layer="licences")
    >>> found.i.tolist(), found.j.tolist(), found.overlap_ha.round(3).tolist()
    ([0], [1], [21.121])
    """
    tol = check_tolerance(tolerance_m2)
    workers = worker_count(threads)
    if workers > 1 and min(len(a_geoms), len(b_geoms)) >= MIN_PER_THREAD:  # a layer a thread
        with ThreadPoolExecutor(max_workers=2) as pool:
            one, other = pool.map(
                lambda geoms, ids, name: _layer_of(geoms, ids, layer=name, workers=1),
                (a_geoms, b_geoms),
                (a_ids, b_ids),
                (a_layer, b_layer),
            )
    else:
        one = _layer_of(a_geoms, a_ids, layer=a_layer, workers=workers)
        other = _layer_of(b_geoms, b_ids, layer=b_layer, workers=workers)
    i, j, quad = _candidates(one, other, workers=workers)
    i, j, inter, ha = _measure_overlaps(
        one, other, i, j, quad, tolerance_m2=tol, edges=edges, workers=workers
    )
    return OverlapPairs(i, j, inter, ha, (*one.repaired, *other.repaired))
