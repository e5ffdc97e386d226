"""The general (GEOS) path's overlay and measure of shared parts, pair by pair, in threads
(:mod:`geo.overlaps` calls them for pairs that are not two four-corner parcels)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely

from geo.area import LOCAL_MAX_DEG, EdgeModel, official_ha_checked, small_official_ha
from geo.repair import run_chunks

__all__ = ["overlay_pairs", "shared_ha", "shared_ha_chunk"]


def overlay_pairs(
    a: npt.NDArray[np.object_], b: npt.NDArray[np.object_], *, workers: int
) -> npt.NDArray[np.object_]:
    """``shapely.intersection(a, b)`` in threads, four slices per thread: on a shared machine
    one thread may be slowed, and the other then takes more of the slices."""
    parts = run_chunks(
        len(a),
        lambda s, e: np.asarray(shapely.intersection(a[s:e], b[s:e]), dtype=object),
        workers=workers,
        pieces_per_thread=4,
    )
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def shared_ha(
    shared: npt.NDArray[np.object_], *, edges: EdgeModel, workers: int
) -> npt.NDArray[np.float64]:
    """:func:`shared_ha_chunk` over slices of ``shared`` in threads (GEOS, numpy and PROJ
    release the GIL for the coordinates, sums and projections)."""
    parts = run_chunks(
        len(shared),
        lambda s, e: shared_ha_chunk(shared[s:e], edges=edges, workers=1),
        workers=workers,
    )
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def shared_ha_chunk(
    shared: npt.NDArray[np.object_], *, edges: EdgeModel, workers: int
) -> npt.NDArray[np.float64]:
    """Official hectares of the shared parts GEOS returned (polygonal, each with some area).

    Small Polygons of one ring (``LOCAL_MAX_DEG``, lon/lat edges: nearly every overlap of
    parcels) are measured like the clipped quadrilaterals: their lon/lat area and centroid
    from one pass over their coordinates in numpy (shoelace, local to the first vertex), then
    :func:`geo.area.small_official_ha`, the measure ``official_ha`` gives them through GEOS's
    area and centroid. GEOS's centroid builds a point per polygon and was most of the time
    measuring them; every other part goes through :func:`geo.area.official_ha_checked`.
    """
    ha = np.zeros(len(shared), dtype="float64")
    one_ring = shapely.get_type_id(shared) == shapely.GeometryType.POLYGON
    one_ring[one_ring] = shapely.get_num_interior_rings(shared[one_ring]) == 0
    rows = np.flatnonzero(one_ring) if edges == "lonlat" else np.zeros(0, dtype=np.intp)
    done = np.zeros(len(shared), dtype=bool)
    if rows.size:
        coords = shapely.get_coordinates(shared[rows])
        sizes = shapely.get_num_coordinates(shared[rows])
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        owner = np.repeat(np.arange(rows.size), sizes)
        origin = coords[starts]
        local = coords - origin[owner]
        x0, y0, x1, y1 = local[:-1, 0], local[:-1, 1], local[1:, 0], local[1:, 1]
        edge = owner[:-1] == owner[1:]  # not from one ring's last vertex to the next's first
        cross = np.where(edge, x0 * y1 - x1 * y0, 0.0)
        twice = np.bincount(owner[:-1], weights=cross, minlength=rows.size)
        sum_x = np.bincount(owner[:-1], weights=(x0 + x1) * cross, minlength=rows.size)
        sum_y = np.bincount(owner[:-1], weights=(y0 + y1) * cross, minlength=rows.size)
        extent = np.maximum.reduceat(coords, starts) - np.minimum.reduceat(coords, starts)
        small = (extent <= LOCAL_MAX_DEG).all(axis=1) & (twice != 0)
        k = np.flatnonzero(small)
        cx = sum_x[k] / (3 * twice[k]) + origin[k, 0]
        cy = sum_y[k] / (3 * twice[k]) + origin[k, 1]
        ha[rows[k]] = small_official_ha(np.abs(twice[k]) / 2, cx, cy)
        done[rows[k]] = True
    rest = np.flatnonzero(~done)
    if rest.size:
        ha[rest] = official_ha_checked(shared[rest], edges=edges, threads=workers)
    return ha
