"""The geometry types a layer may declare (``LayerKind.geometry``) and how features are
stored as them: a single part is stored as a one-part multi-part geometry of the declared type
(a Polygon as a MultiPolygon, a LineString as a MultiLineString); Points stay Points.

Both backends write through :func:`to_stored`; validation (``layers.validate``) accepts the
shapely types of :data:`ACCEPTED` for each declared type.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import shapely

from layers.schema import GeometryType

#: the declared type as GeoPackage's ``geometry_type_name`` and PostGIS's typmod
SQL_NAME: Final[dict[GeometryType, str]] = {
    "MultiPolygon": "MULTIPOLYGON",
    "MultiLineString": "MULTILINESTRING",
    "Point": "POINT",
}

#: shapely type ids accepted for each declared type (the single part and the multi-part)
ACCEPTED: Final[dict[GeometryType, tuple[int, ...]]] = {
    "MultiPolygon": (3, 6),
    "MultiLineString": (1, 5),
    "Point": (0,),
}

#: what a person reads of each declared type ("this layer needs ...")
NEEDS: Final[dict[GeometryType, str]] = {
    "MultiPolygon": "Polygon or MultiPolygon",
    "MultiLineString": "LineString or MultiLineString",
    "Point": "Point",
}

_SINGLE: Final[dict[GeometryType, tuple[int, Any]]] = {
    "MultiPolygon": (3, shapely.multipolygons),
    "MultiLineString": (1, shapely.multilinestrings),
}


def to_stored(declared: GeometryType, geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """``geoms`` with every single part of ``declared``'s multi-part type wrapped in one
    (vectorised); other geometries are returned as they are."""
    single = _SINGLE.get(declared)
    if single is None or len(geoms) == 0:
        return geoms
    type_id, build = single
    mask = shapely.get_type_id(geoms) == type_id
    if not mask.any():
        return geoms
    out = np.asarray(geoms, dtype=object).copy()
    out[mask] = build(out[mask, None])
    return out
