"""Checking and repairing polygons before analysis, and saying which features needed it.

Analyses (overlaps, containment) must not fail or mislead on a self-intersecting ring or a
badly nested hole, so they repair such geometry with ``shapely.make_valid`` first, keep only
the polygonal parts (a repaired bow-tie is two triangles; a collapsed spike is dropped) and
report every repaired feature as a :class:`Repaired` record. Geometry that cannot be repaired
into lon/lat polygons (a line, a NaN coordinate, swapped lat/lon, a polygon across the
antimeridian) is refused with ``InvalidGeometry`` naming the layer and feature.

``map_chunks`` splits an elementwise shapely operation across threads (``run_chunks`` any
work over a range); the ``geo`` analyses share them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeAlias, TypeVar

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from shapely import GeometryType

from layers.errors import InvalidGeometry, Problem

T = TypeVar("T")

#: Feature ids aligned with a geometry array.
Ids: TypeAlias = Sequence[str] | npt.NDArray[np.object_]

_POLYGONAL = (GeometryType.POLYGON, GeometryType.MULTIPOLYGON)

#: Below this many geometries per thread, work stays in the calling thread (starting threads
#: costs more than it saves).
MIN_PER_THREAD = 5_000


def worker_count(threads: int | None) -> int:
    """The number of threads to use: ``threads``, or by default ``min(2, os.cpu_count())``."""
    if threads is None:
        return min(2, os.cpu_count() or 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, not {threads!r}")
    return threads


def run_chunks(
    n: int,
    fn: Callable[[int, int], T],
    *,
    workers: int,
    pieces_per_thread: int = 1,
    minimum: int = MIN_PER_THREAD,
) -> list[T]:
    """``fn(start, stop)`` over consecutive slices of ``range(n)``, in threads when large.

    Under ``minimum`` items per thread, one call covers everything in the calling thread.
    Otherwise the range is cut into ``pieces_per_thread`` slices per thread (more pieces even
    out uneven work) and the results come back in order.

    Examples
    --------
    >>> run_chunks(10, lambda s, e: (s, e), workers=2)
    [(0, 10)]
    """
    chunks = min(workers, max(1, n // minimum))
    if chunks <= 1:
        return [fn(0, n)]
    cuts = np.linspace(0, n, chunks * pieces_per_thread + 1).astype(int).tolist()
    with ThreadPoolExecutor(max_workers=chunks) as pool:
        return list(pool.map(fn, cuts[:-1], cuts[1:]))


def map_chunks(
    op: Callable[..., npt.NDArray[np.generic]],
    *arrays: npt.NDArray[np.generic],
    workers: int,
    minimum: int = MIN_PER_THREAD,
) -> npt.NDArray[np.generic]:
    """``op(*arrays)`` for a shapely ``op`` working row by row on the first axis, split into
    chunks run in threads.

    GEOS releases the GIL, so on a multi-core machine chunks of one large array run in
    parallel. Small inputs (under ``minimum`` rows per thread) are not split.

    Examples
    --------
    >>> from shapely import box
    >>> map_chunks(shapely.area, np.array([box(0, 0, 1, 1), box(0, 0, 2, 1)]), workers=2).tolist()
    [1.0, 2.0]
    """
    n = len(arrays[0])
    parts = run_chunks(
        n,
        lambda s, e: np.asarray(op(*(arr[s:e] for arr in arrays))),
        workers=workers,
        minimum=minimum,
    )
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


@dataclass(frozen=True)
class Repaired:
    """One feature whose geometry was invalid and was repaired before analysis."""

    layer: str
    feature_id: str
    #: 0-based position of the feature in the analysed layer
    index: int
    #: why the geometry was invalid, as GEOS says it (e.g. ``Self-intersection[106.1 47.2]``)
    reason: str

    def as_problem(self) -> Problem:
        """The repair as a warning for a land officer (``layers.errors.Problem``)."""
        return Problem(
            file=self.layer,
            index=self.index,
            feature_id=self.feature_id,
            field="geometry",
            reason=f"invalid geometry repaired before analysis ({self.reason})",
            severity="warning",
        )

    def as_dict(self) -> dict[str, object]:
        """The fields by name, in their order (``layer, feature_id, index, reason``)."""
        return asdict(self)


@dataclass(frozen=True)
class RepairedResult:
    """Records computed from layers, and the features repaired to compute them (the base of
    :class:`geo.overlaps.OverlapResult`, :class:`geo.outside.OutsideResult` and
    :class:`geo.rules.Findings`)."""

    records: gpd.GeoDataFrame
    repaired: tuple[Repaired, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.records)

    def repaired_ids(self, layer: str) -> list[str]:
        """Ids of the features of ``layer`` that were repaired."""
        return [r.feature_id for r in self.repaired if r.layer == layer]


def polygonal_parts(geoms: npt.NDArray[Any]) -> npt.NDArray[np.object_]:
    """Keep only the polygonal parts of each geometry (an empty polygon if there are none).

    Polygons and MultiPolygons are returned as they are; collections are rebuilt as a
    MultiPolygon of their polygons.

    Examples
    --------
    >>> from shapely import GeometryCollection, LineString, box
    >>> mixed = GeometryCollection([box(0, 0, 1, 1), LineString([(1, 1), (2, 2)])])
    >>> [g.wkt for g in polygonal_parts(np.array([mixed, LineString([(0, 0), (1, 1)])]))]
    ['MULTIPOLYGON (((1 0, 1 1, 0 1, 0 0, 1 0)))', 'POLYGON EMPTY']
    """
    arr = np.asarray(geoms, dtype=object)
    out = arr.copy()
    types = shapely.get_type_id(arr)
    other = np.flatnonzero(~np.isin(types, _POLYGONAL) & ~shapely.is_missing(arr))
    if other.size == 0:
        return out
    parts, owner = shapely.get_parts(arr[other], return_index=True)
    keep = np.isin(shapely.get_type_id(parts), _POLYGONAL)
    # MultiPolygons inside a collection are flattened to polygons first
    polys, sub_owner = shapely.get_parts(parts[keep], return_index=True)
    poly_owner = owner[keep][sub_owner]
    rebuilt = np.full(other.size, shapely.Polygon(), dtype=object)
    if polys.size:
        has = np.unique(poly_owner)
        multi = shapely.multipolygons(polys, indices=np.searchsorted(has, poly_owner))
        rebuilt[has] = multi
    out[other] = rebuilt
    return out


def check_polygons(
    geoms: npt.NDArray[np.object_],
    *,
    layer: str,
    ids: Ids,
    valid: npt.NDArray[np.bool_] | None = None,
) -> None:
    """Refuse geometry no analysis can use, naming the layer and feature.

    Missing and empty geometries are allowed (they take part in nothing). Refused: a type
    other than Polygon/MultiPolygon, a NaN or infinite coordinate, a coordinate outside
    lon [-180, 180] / lat [-90, 90], a polygon spanning more than 180 degrees of longitude
    (crossing the antimeridian). ``valid`` (``shapely.is_valid`` of ``geoms``, if known)
    limits the search for NaN coordinates to the invalid geometries, where GEOS puts them.

    Raises
    ------
    InvalidGeometry
        For the first such feature.
    """
    arr = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(arr) & ~shapely.is_empty(arr)
    types = shapely.get_type_id(arr)
    wrong = np.flatnonzero(present & ~np.isin(types, _POLYGONAL))
    if wrong.size:
        i = int(wrong[0])
        raise InvalidGeometry(
            f"layer '{layer}', feature #{i} (id={ids[i]}): a {arr[i].geom_type} is not a "
            "polygon; only Polygon and MultiPolygon features can be analysed"
        )
    problem = first_lonlat_problem(
        arr, nan_suspects=None if valid is None else ~valid, present=present
    )
    if problem is not None:
        i, why = problem
        raise InvalidGeometry(f"layer '{layer}', feature #{i} (id={ids[i]}): {why}")


def first_lonlat_problem(
    geoms: npt.NDArray[np.object_],
    *,
    nan_suspects: npt.NDArray[np.bool_] | None = None,
    present: npt.NDArray[np.bool_] | None = None,
) -> tuple[int, str] | None:
    """The first geometry whose coordinates are not usable lon/lat, and why (else None).

    Looks for a NaN or infinite coordinate, a coordinate outside lon [-180, 180] /
    lat [-90, 90], and a geometry spanning more than 180 degrees of longitude. Missing and
    empty geometries are not problems here. ``nan_suspects`` (a mask) limits the coordinate
    scan for NaN to those geometries: GEOS finds every geometry with a NaN coordinate
    invalid, so the invalid ones are the only suspects once validity is known. ``present``
    (the geometries neither missing nor empty), if known, saves looking again.

    Examples
    --------
    >>> from shapely import box
    >>> first_lonlat_problem(np.array([box(106, 47, 107, 48), box(47, 106, 48, 107)]))
    (1, 'has coordinates outside lon [-180, 180] / lat [-90, 90] (lat/lon swapped?)')
    """
    arr = np.asarray(geoms, dtype=object)
    if present is None:
        present = ~shapely.is_missing(arr) & ~shapely.is_empty(arr)
    # shapely.bounds skips NaN coordinates (it catches infinities), so look at the coordinates
    suspects = np.arange(len(arr)) if nan_suspects is None else np.flatnonzero(nan_suspects)
    coords, owner = shapely.get_coordinates(arr[suspects], return_index=True)
    non_finite = np.zeros(len(arr), dtype=bool)
    non_finite[suspects[owner[~np.isfinite(coords).all(axis=1)]]] = True
    bounds = shapely.bounds(arr)
    with np.errstate(invalid="ignore"):
        non_finite |= present & ~np.isfinite(bounds).all(axis=1)
        lon_out = (bounds[:, 0] < -180) | (bounds[:, 2] > 180)
        lat_out = (bounds[:, 1] < -90) | (bounds[:, 3] > 90)
        outside = present & (lon_out | lat_out)
        wide = present & ((bounds[:, 2] - bounds[:, 0]) > 180)
    for bad, why in (
        (non_finite, "has a NaN or infinite coordinate"),
        (outside, "has coordinates outside lon [-180, 180] / lat [-90, 90] (lat/lon swapped?)"),
        (wide, "spans more than 180 degrees of longitude (crosses the antimeridian?)"),
    ):
        hit = np.flatnonzero(bad)
        if hit.size:
            return int(hit[0]), why
    return None


def repair_polygons(
    geoms: npt.NDArray[np.object_],
    *,
    layer: str,
    ids: Ids,
    threads: int | None = 1,
    known_valid: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.object_], list[Repaired]]:
    """Check, then repair invalid polygons (``make_valid``, polygonal parts only).

    Parameters
    ----------
    geoms : array of shapely geometries
        Polygons or MultiPolygons in EPSG:4326 (missing or empty ones are left alone).
    layer : str
        The layer's name, for the report.
    ids : sequence of str
        The features' ids, aligned with ``geoms``.
    threads : int, optional
        Threads for the validity check (``None``: see :func:`worker_count`).
    known_valid : numpy.ndarray of bool, optional
        Geometries already known to be valid polygons with finite coordinates (for example
        the boxes of :func:`geo.boxes.axis_boxes`): GEOS does not check them again.

    Returns
    -------
    (numpy.ndarray, list of Repaired)
        The geometries with invalid ones replaced by their repair, and one record per
        repaired feature in input order.

    Raises
    ------
    InvalidGeometry
        See :func:`check_polygons`.

    Examples
    --------
    >>> from shapely import Polygon
    >>> bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    >>> fixed, repaired = repair_polygons(np.array([bowtie]), layer="parcels", ids=["p1"])
    >>> fixed[0].geom_type, fixed[0].area, repaired[0].feature_id, repaired[0].reason
    ('MultiPolygon', 2.0, 'p1', 'Self-intersection[1 1]')
    """
    arr = np.asarray(geoms, dtype=object)
    if len(ids) != len(arr):
        raise ValueError(f"{len(ids)} ids for {len(arr)} geometries in layer '{layer}'")
    present = ~shapely.is_missing(arr)
    if known_valid is None:
        valid = map_chunks(shapely.is_valid, arr, workers=worker_count(threads)).astype(bool)
    else:
        if len(known_valid) != len(arr):
            raise ValueError(f"known_valid has {len(known_valid)} flags for {len(arr)} geometries")
        valid = np.asarray(known_valid, dtype=bool).copy()
        unknown = np.flatnonzero(~valid)
        valid[unknown] = map_chunks(shapely.is_valid, arr[unknown], workers=worker_count(threads))
    check_polygons(arr, layer=layer, ids=ids, valid=valid | ~present)
    invalid = np.flatnonzero(present & ~valid)
    if invalid.size == 0:
        return arr, []
    out = arr.copy()
    reasons = shapely.is_valid_reason(arr[invalid])
    out[invalid] = polygonal_parts(shapely.make_valid(arr[invalid]))
    repaired = [
        Repaired(layer=layer, feature_id=str(ids[i]), index=i, reason=str(r))
        for i, r in zip(invalid.tolist(), reasons, strict=True)
    ]
    return out, repaired


def check_lonlat(crs: Any, *, layer: str) -> None:
    """ValueError unless ``crs`` (a layer's) is EPSG:4326, as the analyses need."""
    if crs is None or crs.to_epsg() != 4326:
        name = "no CRS" if crs is None else crs.to_string()
        raise ValueError(
            f"layer '{layer}' is in {name}; analyses need EPSG:4326 (use .to_crs(4326))"
        )


def layer_arrays(
    gdf: gpd.GeoDataFrame, *, layer: str, id_column: str = "id"
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """The geometry array and id array of a layer, after checking its CRS and ids.

    Raises
    ------
    ValueError
        If the layer has no CRS or is not in EPSG:4326, or has no ``id_column``.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TypeError(f"layer '{layer}' must be a GeoDataFrame, not {type(gdf).__name__}")
    check_lonlat(gdf.crs, layer=layer)
    if id_column not in gdf.columns:
        raise ValueError(f"layer '{layer}' has no '{id_column}' column to name its features")
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    ids = gdf[id_column].astype(str).to_numpy(dtype=object)
    return geoms, ids
