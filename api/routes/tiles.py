"""OGC API – Tiles over every collection: vector tiles (Mapbox Vector Tiles) in WebMercatorQuad.

``/collections/{collectionId}/tiles`` (the tilesets: one, WebMercatorQuad),
``.../tiles/WebMercatorQuad`` (the tileset: its tile matrix set, zoom limits, the templated tile
link, the tile matrices that hold features) and
``.../tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}`` (a tile, cut by
:mod:`api.services.tiles`; 204 when it holds no feature). A tile outside the tile matrix set is
404 naming the index; an index that is not a whole number from 0 up, 400.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from api import crs as crs_mod
from api.deps import get_services, known_parameters
from api.responses import OrjsonResponse, Problem
from api.services.collections import COLLECTIONS, collection_def
from api.services.tiles import (
    MAX_ZOOM,
    MVT,
    TILE_MATRIX_SET,
    TILE_MATRIX_SET_URI,
    WEB_MERCATOR,
    TileCache,
    check_matrix_set,
    check_tile,
)

router = APIRouter(tags=["OGC API – Tiles"])

JSON = "application/json"
#: the link relations of OGC API – Tiles
REL_TILESETS = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
REL_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_COLLECTION = "collection"

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A tile index is not a whole number from 0 up"},
    404: {"model": Problem, "description": "No such collection, tile matrix set or tile"},
}

CollectionId = Annotated[
    str,
    Path(
        description="A collection: a store layer, `overlaps` or `available_land`",
        json_schema_extra={"enum": list(COLLECTIONS)},
        examples=["contract_parcels"],
    ),
]
MatrixSetId = Annotated[
    str,
    Path(
        description="The tile matrix set (only WebMercatorQuad)",
        json_schema_extra={"enum": [TILE_MATRIX_SET]},
    ),
]


def get_tiles(request: Request) -> TileCache:
    """The tile cache of the app's services."""
    return get_services(request).tiles


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _link(href: str, rel: str, media_type: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"href": href, "rel": rel, "type": media_type, "title": title, **extra}


def tile_template(root: str, collection_id: str) -> str:
    """The templated address of a collection's tiles."""
    return (
        f"{root}/collections/{collection_id}/tiles/{TILE_MATRIX_SET}"
        "/{tileMatrix}/{tileRow}/{tileCol}"
    )


def _limits(bbox: tuple[float, float, float, float] | None) -> list[dict[str, Any]]:
    """Per tile matrix, the rows and columns that can hold a feature (from the extent)."""
    if bbox is None:
        return []
    west, south, east, north = bbox
    lat = [max(min(v, 85.0511), -85.0511) for v in (north, south)]
    out = []
    for z in range(MAX_ZOOM + 1):
        n = 1 << z

        def col(lon: float, n: int = n) -> int:
            return min(max(int((lon + 180.0) / 360.0 * n), 0), n - 1)

        def row(phi: float, n: int = n) -> int:
            r = math.radians(phi)
            v = (1.0 - math.log(math.tan(r) + 1.0 / math.cos(r)) / math.pi) / 2.0
            return min(max(int(v * n), 0), n - 1)

        out.append(
            {
                "tileMatrix": str(z),
                "minTileRow": row(lat[0]),
                "maxTileRow": row(lat[1]),
                "minTileCol": col(west),
                "maxTileCol": col(east),
            }
        )
    return out


def _tileset_summary(root: str, collection_id: str) -> dict[str, Any]:
    base = f"{root}/collections/{collection_id}/tiles/{TILE_MATRIX_SET}"
    return {
        "title": f"{collection_def(collection_id).title} ({TILE_MATRIX_SET})",
        "dataType": "vector",
        "crs": WEB_MERCATOR,
        "tileMatrixSetURI": TILE_MATRIX_SET_URI,
        "links": [
            _link(base, "self", JSON, "The tileset"),
            _link(TILE_MATRIX_SET_URI, REL_SCHEME, JSON, "The tile matrix set"),
        ],
    }


@router.get(
    "/collections/{collectionId}/tiles",
    operation_id="getTileSetsList",
    summary="The vector tilesets of a collection (WebMercatorQuad)",
    responses={200: {"description": "The tilesets"}, **_ERRORS},
    dependencies=[Depends(known_parameters("f"))],
)
def tilesets(request: Request, collectionId: CollectionId) -> OrjsonResponse:
    collection_def(collectionId)
    root = _root(request)
    return OrjsonResponse(
        {
            "links": [
                _link(f"{root}/collections/{collectionId}/tiles", "self", JSON, "The tilesets"),
                _link(f"{root}/collections/{collectionId}", REL_COLLECTION, JSON, "Collection"),
            ],
            "tilesets": [_tileset_summary(root, collectionId)],
        }
    )


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}",
    operation_id="getTileSet",
    summary="A collection's vector tileset: tile matrix set, zoom limits, the tile address",
    responses={200: {"description": "The tileset"}, **_ERRORS},
    dependencies=[Depends(known_parameters("f"))],
)
def tileset(
    request: Request, collectionId: CollectionId, tileMatrixSetId: MatrixSetId
) -> OrjsonResponse:
    definition = collection_def(collectionId)
    check_matrix_set(tileMatrixSetId)
    data = get_services(request).collections.get(collectionId)
    root = _root(request)
    doc = _tileset_summary(root, collectionId)
    doc["description"] = definition.description
    doc["links"] += [
        _link(tile_template(root, collectionId), "item", MVT,
              "A tile (Mapbox Vector Tile)", templated=True),
        _link(f"{root}/collections/{collectionId}", REL_COLLECTION, JSON, definition.title),
    ]  # fmt: skip
    doc["minTileMatrix"] = "0"
    doc["maxTileMatrix"] = str(MAX_ZOOM)
    doc["tileMatrixSetLimits"] = _limits(data.bbox)
    doc["layers"] = [
        {
            "id": collectionId,
            "title": definition.title,
            "dataType": "vector",
            "minTileMatrix": "0",
            "maxTileMatrix": str(MAX_ZOOM),
        }
    ]
    if data.bbox is not None:
        west, south, east, north = data.bbox
        doc["boundingBox"] = {
            "lowerLeft": [west, south],
            "upperRight": [east, north],
            "crs": crs_mod.CRS84,
        }
    return OrjsonResponse(doc)


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    operation_id="getTile",
    summary="A vector tile of a collection (Mapbox Vector Tile); 204 when it is empty",
    response_class=Response,
    responses={
        200: {
            "description": "The tile: one layer named after the collection",
            "content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
        },
        204: {"description": "The tile holds no feature"},
        **_ERRORS,
    },
    dependencies=[Depends(known_parameters("f"))],
)
def tile(
    request: Request,
    collectionId: CollectionId,
    tileMatrixSetId: MatrixSetId,
    tileMatrix: Annotated[
        int, Path(ge=0, le=MAX_ZOOM, description=f"The zoom level z (0 to {MAX_ZOOM})")
    ],
    tileRow: Annotated[int, Path(ge=0, description="The row y (0 to 2^z - 1, from the north)")],
    tileCol: Annotated[int, Path(ge=0, description="The column x (0 to 2^z - 1, from the west)")],
) -> Response:
    collection_def(collectionId)
    check_matrix_set(tileMatrixSetId)
    check_tile(tileMatrix, tileRow, tileCol)
    body = get_tiles(request).tile(collectionId, tileMatrix, tileRow, tileCol)
    if body is None:
        return Response(status_code=204)
    return Response(body, media_type=MVT)
