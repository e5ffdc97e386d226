"""What a collection's features look like: the geometry type they are served as and the
OGC API – Features Part 5 schema of their properties (``/collections/{id}/schema``).

The store holds every polygon as a MultiPolygon (a one-part MultiPolygon for a simple polygon);
readers hand the analyses the single part. What is served follows the store: a store layer's
features leave as the layer's declared type (``LayerKind.geometry``), so a client such as QGIS
that types a layer from its declaration gets what the store holds. Derived collections are
computed areas (overlaps, available land) and are served as MultiPolygons too.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import shapely

from api.services.collections import CollectionData, CollectionDef
from layers.schema import REGISTRY

#: the type of every derived collection's geometry
DERIVED_GEOMETRY: Final = "MultiPolygon"

#: JSON Schema ``format`` of each geometry type (OGC API – Features Part 5)
GEOMETRY_FORMATS: Final = {
    "Point": "geometry-point",
    "MultiPoint": "geometry-multipoint",
    "LineString": "geometry-linestring",
    "MultiLineString": "geometry-multilinestring",
    "Polygon": "geometry-polygon",
    "MultiPolygon": "geometry-multipolygon",
}

#: shapely's type id of a Polygon, a LineString and a Point -> their multi-part type
_MULTI_OF: Final = {3: shapely.multipolygons, 1: shapely.multilinestrings, 0: shapely.multipoints}
_SINGLE_OF: Final = {"MultiPolygon": 3, "MultiLineString": 1, "MultiPoint": 0}


def geometry_type(definition: CollectionDef) -> str:
    """The geometry type ``definition``'s features are declared and served as."""
    if definition.derived:
        return DERIVED_GEOMETRY
    return REGISTRY[definition.id].geometry


def carries_area(definition: CollectionDef) -> bool:
    """Whether the collection's features carry ``official_ha``: polygons do, the lines and
    points of the background layers (roads, settlements) do not."""
    return geometry_type(definition) == "MultiPolygon"


def area_extra(definition: CollectionDef, ha: npt.NDArray[np.float64]) -> dict[str, Any]:
    """The properties added to each served feature: ``official_ha`` for polygons, else none."""
    return {"official_ha": ha} if carries_area(definition) else {}


def as_declared(definition: CollectionDef, geoms: npt.NDArray[np.object_]) -> Any:
    """``geoms`` with every single part of the declared multi-part type made that type.

    Vectorised: the single parts are wrapped all at once (one multi-part geometry each).
    Missing geometries stay missing; other types are left as they are.
    """
    declared = geometry_type(definition)
    single = _SINGLE_OF.get(declared)
    if single is None or len(geoms) == 0:
        return geoms
    out = np.asarray(geoms, dtype=object).copy()
    mask = shapely.get_type_id(out) == single
    if mask.any():
        parts = out[mask]
        out[mask] = _MULTI_OF[single](parts, indices=np.arange(len(parts)))
    return out


def _from_dtype(name: str, dtype: Any) -> dict[str, Any]:
    """A served column that is not a queryable, typed from its values' dtype."""
    kind = getattr(dtype, "kind", "O")
    types = {"f": "number", "i": "integer", "u": "integer", "b": "boolean"}
    return {"title": name, "type": types.get(kind, "string"), "readOnly": True}


def schema_doc(definition: CollectionDef, data: CollectionData, url: str) -> dict[str, Any]:
    """The collection's schema: every property its features carry, with its type and role.

    The properties are the served columns themselves (read from ``data``), so the schema cannot
    drift from what ``/items`` writes: queryables keep their declared types and allowed values,
    other columns are typed from their values, and ``official_ha`` (added to every feature) last.
    """
    frame, _ha, _geoms = data.rows(np.array([], dtype=np.intp))
    properties: dict[str, Any] = {}
    for name in (c for c in frame.columns if str(frame[c].dtype) != "geometry"):
        q = definition.queryable(name)
        prop = q.json_schema() if q is not None else _from_dtype(name, frame[name].dtype)
        if name == "id":
            prop["x-ogc-role"] = "id"
        elif definition.main_date is not None and name == definition.main_date:
            prop["x-ogc-role"] = "primary-instant"
        properties[name] = prop
    if carries_area(definition):
        properties["official_ha"] = {
            "title": "official_ha",
            "type": "number",
            "description": "Official area in hectares (the cadastre's rule), computed by Gazar",
            "readOnly": True,
        }
    properties["geometry"] = {
        "format": GEOMETRY_FORMATS[geometry_type(definition)],
        "x-ogc-role": "primary-geometry",
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": definition.title,
        "description": definition.description,
        "properties": properties,
    }
