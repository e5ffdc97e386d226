"""Routes: download a whole store layer as a file (``GET /collections/{collectionId}/export``).

The formats and their writing are those of ``gazar export`` (``layers.export.export_layer``):
GeoPackage, GeoJSON (RFC 7946), CSV with WKT, KML, FlatGeobuf, and a zipped Shapefile. The file
is written to a temporary directory, streamed, and deleted once sent.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.deps import LayersDep, known_parameters
from api.errors import NotFound
from api.responses import Problem
from layers.export import export_layer
from layers.schema import REGISTRY

router = APIRouter(tags=["export"])

Format = Literal["gpkg", "geojson", "csv", "kml", "fgb", "shp"]

#: each format's media type and file name suffix
MEDIA: Final[dict[str, tuple[str, str]]] = {
    "gpkg": ("application/geopackage+sqlite3", ".gpkg"),
    "geojson": ("application/geo+json", ".geojson"),
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "kml": ("application/vnd.google-earth.kml+xml", ".kml"),
    "fgb": ("application/flatgeobuf", ".fgb"),
    "shp": ("application/zip", ".zip"),
}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The layer as a file, named `{collectionId}.{suffix}` "
        "(`Content-Disposition: attachment`); a Shapefile comes zipped.",
        "content": {
            media.split(";")[0]: {
                # a JSON body is validated as JSON by clients: describe it as an object
                "schema": {"type": "object"}
                if media.endswith("json")
                else {"type": "string", "format": "binary"}
            }
            for media, _ in MEDIA.values()
        },
    },
    400: {"model": Problem, "description": "An unknown format or query parameter"},
    404: {"model": Problem, "description": "No store layer has this name"},
}


@router.get(
    "/collections/{collectionId}/export",
    operation_id="export",
    summary="Download a layer as GeoPackage, GeoJSON, CSV, KML, FlatGeobuf or zipped Shapefile",
    response_class=FileResponse,
    responses=_RESPONSES,
    dependencies=[Depends(known_parameters("format"))],
)
def export(
    layers: LayersDep,
    collection_id: Annotated[
        str,
        Path(
            alias="collectionId",
            description="A store layer (the derived collections have no export).",
            json_schema_extra={"enum": list(REGISTRY)},
        ),
    ],
    fmt: Annotated[
        Format, Query(alias="format", description="The file format (`shp`: a zipped Shapefile).")
    ] = "gpkg",
) -> FileResponse:
    """The whole layer, written as `gazar export` writes it."""
    kind = REGISTRY.get(collection_id)
    if kind is None:
        raise NotFound(
            f"collection '{collection_id}' has no export; the layers that can be downloaded "
            f"are: {', '.join(REGISTRY)}"
        )
    frame = layers.get(kind.name)
    media, suffix = MEDIA[fmt]
    folder = tempfile.mkdtemp(prefix="gazar-export-")
    try:
        [path] = export_layer(frame, kind, fmt=fmt, out=FilePath(folder) / f"{kind.name}{suffix}")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=media,
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
