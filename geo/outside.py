"""The parts of polygons lying outside their container (a parcel outside its Land
Conclusion, a Land Conclusion outside its soum), measured as :mod:`geo.overlaps` measures
overlaps: official hectares, the same tolerance, invalid input repaired and reported first.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from geo.area import M2_PER_HA, EdgeModel, official_ha
from geo.frames import geo_frame
from geo.overlaps import check_tolerance
from geo.repair import (
    Repaired,
    RepairedResult,
    check_lonlat,
    layer_arrays,
    map_chunks,
    polygonal_parts,
    repair_polygons,
    worker_count,
)

#: Columns of an outside-area record, in order (``geometry`` is the part outside).
OUTSIDE_COLUMNS = ("id", "container_id", "part_ha", "outside_ha", "geometry")


@dataclass(frozen=True)
class OutsideResult(RepairedResult):
    """Per-feature outside areas and the features repaired to compute them.

    ``records``: GeoDataFrame (EPSG:4326) with ``OUTSIDE_COLUMNS``, indexed like the parts.
    """


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
    part_ha: npt.NDArray[np.float64] | None = None,
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
        As in :func:`geo.overlaps.overlaps_within`.
    part_ha : numpy.ndarray of float, optional
        The parts' official hectares, in order, when the caller has measured them already
        (``geo.area.areas``) and no part needs repair; else they are measured here.

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
    tol = check_tolerance(tolerance_m2)
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
    if part_ha is not None and len(part_ha) != len(p_geoms):
        raise ValueError(f"{len(part_ha)} areas for {len(p_geoms)} parts ('{part_layer}')")
    if part_ha is None or p_fixed:  # a repaired part is measured as repaired
        part_ha = official_ha(p_geoms, edges=edges, threads=workers)
    else:  # an empty part measures 0 (as official_ha would give it)
        part_ha = np.where(present, np.asarray(part_ha, dtype="float64"), 0.0)
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
