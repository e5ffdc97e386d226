"""The GeoJSON writer, now :mod:`layers.geojson` (importable without FastAPI); kept here for
the names ``api.geojson`` exported."""

from layers.geojson import (
    collection,
    dumps,
    feature_to_geojson_bytes,
    features_to_geojson_bytes,
    geometry_fragments,
    property_features,
)

__all__ = [
    "collection",
    "dumps",
    "feature_to_geojson_bytes",
    "features_to_geojson_bytes",
    "geometry_fragments",
    "property_features",
]
