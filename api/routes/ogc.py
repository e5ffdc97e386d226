"""OGC API – Features: Part 1 (Core, GeoJSON, OpenAPI 3.0) and Part 2 (CRS) over every layer.

``/`` (landing page), ``/conformance``, ``/api`` (the OpenAPI document, served by the app
factory), ``/collections``, ``/collections/{collectionId}``, ``.../queryables``, ``.../items``
and ``.../items/{featureId}``. Collections are defined in :mod:`api.services.collections`
(every store layer, plus the derived ``overlaps`` and ``available_land``); features are written by
:mod:`layers.geojson`; coordinate systems are handled by :mod:`api.crs`.

Items take ``limit`` (default and maximum from ``ApiSettings``; a larger limit is cut to the
maximum, as the standard asks), ``offset`` (paging: ``next`` and ``prev`` links carry it),
``bbox`` and ``bbox-crs``, ``datetime`` (an instant or an interval with ``..`` for an open end,
on the layer's main date), ``crs``, and ``name=value`` equality filters on the collection's
queryables (a name given twice matches either value). Any other parameter is refused (400).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from starlette.datastructures import URL

from api import crs as crs_mod
from api.deps import SettingsDep, get_services
from api.errors import BadRequest
from api.responses import GeoJSONResponse, OrjsonResponse, Problem
from api.schemas import (
    TRS_GREGORIAN,
    Collection,
    Collections,
    Conformance,
    Feature,
    FeatureCollection,
    LandingPage,
    Queryables,
)
from api.services.collection_schema import area_extra, as_declared, schema_doc
from api.services.collections import (
    COLLECTIONS,
    CollectionCache,
    CollectionData,
    CollectionDef,
    ItemQuery,
    collection_def,
    select,
)
from api.services.tiles import TILES_CONFORMANCE
from layers.errors import FeatureNotFound
from layers.geojson import feature_to_geojson_bytes, features_to_geojson_bytes
from layers.labels import bilingual

router = APIRouter(tags=["OGC API – Features"])

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"

CONFORMANCE: tuple[str, ...] = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas",
    *TILES_CONFORMANCE,
)

#: Parameters ``/items`` takes besides the collection's queryables.
ITEM_PARAMETERS: tuple[str, ...] = ("limit", "offset", "bbox", "bbox-crs", "datetime", "crs", "f")
#: Parameters ``/items/{featureId}`` takes.
FEATURE_PARAMETERS: tuple[str, ...] = ("crs", "f")

#: Formats the export route writes a store layer in: (format, media type).
EXPORTS: tuple[tuple[str, str], ...] = (
    ("gpkg", "application/geopackage+sqlite3"),
    ("geojson", GEOJSON),
    ("csv", "text/csv"),
    ("kml", "application/vnd.google-earth.kml+xml"),
    ("fgb", "application/flatgeobuf"),
    ("shp", "application/zip"),
)


# ----------------------------------------------------------------- documents (OpenAPI models)


def _errors(*statuses: int, geojson: bool = False) -> dict[int | str, dict[str, Any]]:
    """Error responses: a :class:`Problem` as ``application/json``.

    On a GeoJSON route the schema is referenced rather than given as ``model``, which FastAPI
    would document under the route's own media type (``application/geo+json``) as well.
    """
    words = {400: "A parameter is unknown or its value cannot be used", 404: "No such resource"}
    if geojson:
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        return {s: {"description": words[s], "content": {JSON: problem}} for s in statuses}
    return {s: {"model": Problem, "description": words[s]} for s in statuses}


_CRS_HEADER = {
    "Content-Crs": {
        "description": "The coordinate reference system of the geometries, in angle brackets",
        "schema": {"type": "string"},
    }
}

_NUMBER = r"[-+]?[0-9]{1,7}(\.[0-9]{1,12})?"
#: what ``parse_bbox`` reads: four numbers, or six with heights
_BBOX_PATTERN = rf"^{_NUMBER}(,{_NUMBER}){{3}}(,{_NUMBER},{_NUMBER})?$"
_DAY = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?([Zz]|[+-][01][0-9]:[0-5][0-9])"
_INSTANT = rf"{_DAY}([Tt]{_TIME})?"
#: what ``parse_datetime`` reads: an instant, or an interval with ``..`` or nothing for an open end
_DATETIME_PATTERN = rf"^({_INSTANT}|({_INSTANT}|\.\.)?/({_INSTANT}|\.\.)?)$"

CollectionId = Annotated[
    str,
    Path(
        description="A collection: a store layer, `overlaps` or `available_land`",
        json_schema_extra={"enum": list(COLLECTIONS)},
        examples=["contract_parcels"],
    ),
]


# ------------------------------------------------------------------------------------ helpers


def get_collections(request: Request) -> CollectionCache:
    """The collections of the app's services (built in the lifespan)."""
    return get_services(request).collections


def _link(href: str | URL, rel: str, media_type: str, title: str) -> dict[str, str]:
    return {"href": str(href), "rel": rel, "type": media_type, "title": title}


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _check_parameters(request: Request, allowed: Iterable[str]) -> None:
    known = set(allowed)
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s): {', '.join(sorted(set(unknown)))}; "
            f"this resource takes: {', '.join(sorted(known))}"
        )


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``minx,miny,maxx,maxy`` (or with heights: 6 numbers) as 4 floats; 400 otherwise.

    Examples
    --------
    >>> parse_bbox("106.1,48.5,106.9,49")
    (106.1, 48.5, 106.9, 49.0)
    """
    parts = text.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise BadRequest(
            f"bbox={text!r} is not a bounding box; write four numbers "
            "minx,miny,maxx,maxy (or six with heights)"
        )
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    minx, miny, maxx, maxy = numbers
    if miny > maxy:
        raise BadRequest(f"bbox={text!r}: the lower bound {miny} is above the upper bound {maxy}")
    return (minx, miny, maxx, maxy)


def _boxes(
    bbox: tuple[float, float, float, float], uri: str
) -> tuple[tuple[float, float, float, float], ...]:
    """The lon/lat boxes to query; a CRS84 box with minx > maxx crosses the antimeridian."""
    if uri == crs_mod.CRS84 and bbox[0] > bbox[2]:
        return ((bbox[0], bbox[1], 180.0, bbox[3]), (-180.0, bbox[1], bbox[2], bbox[3]))
    if uri != crs_mod.CRS84 and (bbox[0] > bbox[2]):
        raise BadRequest(f"bbox: the lower bound {bbox[0]} is above the upper bound {bbox[2]}")
    return (crs_mod.bbox_to_crs84(bbox, uri),)


def _instant(text: str) -> dt.date:
    try:
        if "T" in text or "t" in text:
            moment = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
            if moment.tzinfo is not None:
                moment = moment.astimezone(dt.UTC)
            return moment.date()
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"datetime: {text!r} is not a date or an RFC 3339 date-time "
            "(e.g. 2024-03-01 or 2024-03-01T00:00:00Z)"
        ) from None


def parse_datetime(text: str) -> tuple[dt.date | None, dt.date | None]:
    """An instant or an interval (``start/end``, ``..`` or nothing for an open end) as days.

    A feature's date is a whole day: it matches when that day meets the instant or interval.

    Examples
    --------
    >>> parse_datetime("2024-01-01/..")
    (datetime.date(2024, 1, 1), None)
    >>> parse_datetime("2024-05-02T10:00:00Z")
    (datetime.date(2024, 5, 2), datetime.date(2024, 5, 2))
    """
    if "/" not in text:
        day = _instant(text)
        return (day, day)
    head, _, tail = text.partition("/")
    if "/" in tail:
        raise BadRequest(f"datetime={text!r}: an interval has one '/' (start/end)")
    start = None if head in ("", "..") else _instant(head)
    end = None if tail in ("", "..") else _instant(tail)
    if start is not None and end is not None and start > end:
        raise BadRequest(f"datetime={text!r}: the interval ends before it starts")
    return (start, end)


def _equals(request: Request, definition: CollectionDef) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for name, value in request.query_params.multi_items():
        queryable = definition.queryable(name)
        if queryable is not None:
            out.setdefault(name, []).append(queryable.parse(value))
    return out


def _collection_doc(
    request: Request, definition: CollectionDef, data: CollectionData
) -> dict[str, Any]:
    base = f"{_root(request)}/collections/{definition.id}"
    links = [
        _link(base, "self", JSON, "This collection"),
        _link(f"{base}/items", "items", GEOJSON, "The features (GeoJSON)"),
        _link(f"{base}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
              SCHEMA_JSON, "The properties features can be filtered on"),
        _link(f"{base}/schema", "http://www.opengis.net/def/rel/ogc/1.0/schema", SCHEMA_JSON,
              "The properties and geometry type of the features"),
        _link(f"{base}/tiles", "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", JSON,
              "Vector tiles (Mapbox Vector Tiles, WebMercatorQuad)"),
    ]  # fmt: skip
    if not definition.derived:
        links += [
            _link(f"{base}/export?format={fmt}", "enclosure", media, f"The whole layer ({fmt})")
            for fmt, media in EXPORTS
        ]
    extent: dict[str, Any] = {}
    if data.bbox is not None:
        extent["spatial"] = {"bbox": [list(data.bbox)], "crs": crs_mod.CRS84}
    if data.interval is not None:
        first, last = data.interval
        extent["temporal"] = {
            "interval": [[f"{first.isoformat()}T00:00:00Z", f"{last.isoformat()}T23:59:59Z"]],
            "trs": TRS_GREGORIAN,
        }
    doc: dict[str, Any] = {
        "id": definition.id,
        "title": definition.title,
        "description": definition.description,
        "links": links,
        "itemType": "feature",
        "crs": list(crs_mod.SUPPORTED),
        "storageCrs": crs_mod.STORAGE_CRS,
    }
    if extent:
        doc["extent"] = extent
    return doc


def _json(content: Any, status_code: int = 200) -> OrjsonResponse:
    return OrjsonResponse(content, status_code=status_code)


def _geojson(body: bytes, uri: str) -> GeoJSONResponse:
    response = GeoJSONResponse(None, headers={"Content-Crs": crs_mod.content_crs(uri)})
    response.body = body
    response.headers["content-length"] = str(len(body))
    return response


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------- routes


@router.get(
    "/",
    operation_id="getLandingPage",
    summary="Landing page",
    response_model=LandingPage,
    responses={200: {"description": "Links to the API's resources"}},
)
def landing_page(request: Request, settings: SettingsDep) -> OrjsonResponse:
    root = _root(request)
    return _json(
        {
            "title": settings.title,
            "description": bilingual("api_text", "landing_description"),
            "links": [
                _link(f"{root}/", "self", JSON, "This document"),
                _link(f"{root}/api", "service-desc", OPENAPI_30, "The API definition (OpenAPI)"),
                _link(f"{root}/api.html", "service-doc", "text/html", "The API documentation"),
                _link(f"{root}/conformance", "conformance", JSON, "Conformance classes"),
                _link(f"{root}/collections", "data", JSON, "The collections"),
            ],
        }
    )


@router.get(
    "/conformance",
    operation_id="getConformanceDeclaration",
    summary="The conformance classes this API implements",
    response_model=Conformance,
)
def conformance() -> OrjsonResponse:
    return _json({"conformsTo": list(CONFORMANCE)})


@router.get(
    "/collections",
    operation_id="getCollections",
    summary="The collections: every layer, overlaps and available land",
    response_model=Collections,
)
def collections(request: Request) -> OrjsonResponse:
    cache = get_collections(request)
    docs = [
        _collection_doc(request, definition, cache.get(cid))
        for cid, definition in COLLECTIONS.items()
    ]
    root = _root(request)
    return _json(
        {
            "links": [_link(f"{root}/collections", "self", JSON, "The collections")],
            "crs": list(crs_mod.SUPPORTED),
            "collections": docs,
        }
    )


@router.get(
    "/collections/{collectionId}",
    operation_id="describeCollection",
    summary="One collection: its extent, links and coordinate systems",
    response_model=Collection,
    responses=_errors(404),
)
def collection(request: Request, collectionId: CollectionId) -> OrjsonResponse:
    definition = collection_def(collectionId)
    data = get_collections(request).get(collectionId)
    return _json(_collection_doc(request, definition, data))


@router.get(
    "/collections/{collectionId}/queryables",
    operation_id="getQueryables",
    summary="The properties a collection's features can be filtered on (name=value)",
    response_model=Queryables,
    responses={
        200: {"content": {SCHEMA_JSON: {"schema": {"$ref": "#/components/schemas/Queryables"}}}},
        **_errors(404),
    },
)
def queryables(request: Request, collectionId: CollectionId) -> OrjsonResponse:
    definition = collection_def(collectionId)
    url = f"{_root(request)}/collections/{definition.id}/queryables"
    body = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": url,
        "type": "object",
        "title": definition.title,
        "properties": {q.name: q.json_schema() for q in definition.queryables},
        "additionalProperties": False,
    }
    response = _json(body)
    response.headers["content-type"] = SCHEMA_JSON
    return response


@router.get(
    "/collections/{collectionId}/schema",
    operation_id="getSchema",
    summary="The properties of a collection's features and their geometry type (Part 5)",
    responses={200: {"content": {SCHEMA_JSON: {"schema": {"type": "object"}}}}, **_errors(404)},
)
def schema(request: Request, collectionId: CollectionId) -> OrjsonResponse:
    definition = collection_def(collectionId)
    data = get_collections(request).get(collectionId)
    url = f"{_root(request)}/collections/{definition.id}/schema"
    response = _json(schema_doc(definition, data, url))
    response.headers["content-type"] = SCHEMA_JSON
    return response


@router.get(
    "/collections/{collectionId}/items",
    operation_id="getFeatures",
    summary="The features of a collection (GeoJSON), filtered and paged",
    description="Besides the parameters below, each queryable property of the collection "
    "(see `/collections/{collectionId}/queryables`) filters by equality: `status=active`, "
    "`soum_code=MN4322`; a property given twice matches either value. Unknown parameters "
    "get 400.",
    response_class=GeoJSONResponse,
    response_model=FeatureCollection,
    responses={200: {"headers": _CRS_HEADER}, **_errors(400, 404, geojson=True)},
)
def items(
    request: Request,
    collectionId: CollectionId,
    settings: SettingsDep,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="Features per page (default 100; at most 10,000 — a larger "
            "limit is cut to the maximum)",
        ),
    ] = None,
    offset: Annotated[
        int, Query(ge=0, description="Features to skip (the `next`/`prev` links set it)")
    ] = 0,
    bbox: Annotated[
        str | None,
        Query(
            description="minx,miny,maxx,maxy (or six numbers with heights) in `bbox-crs`: "
            "features whose geometry intersects it; miny is at most maxy (and, but for a "
            "CRS84 box crossing the antimeridian, minx at most maxx)",
            examples=["106.0,48.5,107.0,49.0"],
            json_schema_extra={"pattern": _BBOX_PATTERN},
        ),
    ] = None,
    bbox_crs: Annotated[
        str | None,
        Query(
            alias="bbox-crs",
            description="The CRS of `bbox` (default CRS84)",
            json_schema_extra={"enum": list(crs_mod.SUPPORTED)},
        ),
    ] = None,
    datetime: Annotated[
        str | None,
        Query(
            description="A date, a date-time or an interval (`start/end`, `..` for an open "
            "end, the start not after the end) matched against the collection's main date; "
            "only for a collection with a date (its `extent.temporal`)",
            examples=["2024-01-01/.."],
            json_schema_extra={"pattern": _DATETIME_PATTERN},
        ),
    ] = None,
    crs: Annotated[
        str | None,
        Query(
            description="The CRS of the geometries returned (default CRS84)",
            json_schema_extra={"enum": list(crs_mod.SUPPORTED)},
        ),
    ] = None,
    f: Annotated[Literal["json", "geojson"] | None, Query(description="Format")] = None,
) -> GeoJSONResponse:
    definition = collection_def(collectionId)
    _check_parameters(request, [*ITEM_PARAMETERS, *(q.name for q in definition.queryables)])
    out_crs = crs_mod.parse_crs(crs, parameter="crs")
    box_crs = crs_mod.parse_crs(bbox_crs, parameter="bbox-crs")
    query = ItemQuery(
        boxes=() if bbox is None else _boxes(parse_bbox(bbox), box_crs),
        interval=None if datetime is None else _interval(definition, datetime),
        equals=_equals(request, definition),
    )
    data = get_collections(request).get(collectionId)
    chosen = select(data, query)
    size = min(limit or settings.default_limit, settings.max_limit)
    page = chosen[offset : offset + size]
    members = {
        "numberMatched": len(chosen),
        "numberReturned": len(page),
        "timeStamp": _now(),
        "links": _page_links(request, definition, offset=offset, size=size, matched=len(chosen)),
    }
    frame, ha, geoms = data.rows(page)
    body = features_to_geojson_bytes(
        frame,
        extra=area_extra(definition, ha),
        geometries=crs_mod.to_crs(as_declared(definition, geoms), out_crs),
        members=members,
    )
    return _geojson(body, out_crs)


def _interval(definition: CollectionDef, text: str) -> tuple[dt.date | None, dt.date | None]:
    if definition.main_date is None:
        raise BadRequest(
            f"collection '{definition.id}' has no date to filter on; leave out 'datetime'"
        )
    return parse_datetime(text)


def _page_links(
    request: Request, definition: CollectionDef, *, offset: int, size: int, matched: int
) -> list[dict[str, str]]:
    url = request.url
    links = [
        _link(url, "self", GEOJSON, "This page"),
        _link(f"{_root(request)}/collections/{definition.id}", "collection", JSON,
              definition.title),
    ]  # fmt: skip
    if offset + size < matched:
        links.append(
            _link(url.include_query_params(offset=offset + size, limit=size), "next", GEOJSON,
                  "The next page")
        )  # fmt: skip
    if offset > 0:
        links.append(
            _link(url.include_query_params(offset=max(offset - size, 0), limit=size), "prev",
                  GEOJSON, "The previous page")
        )  # fmt: skip
    return links


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    operation_id="getFeature",
    summary="One feature (GeoJSON)",
    response_class=GeoJSONResponse,
    response_model=Feature,
    responses={200: {"headers": _CRS_HEADER}, **_errors(400, 404, geojson=True)},
)
def feature(
    request: Request,
    collectionId: CollectionId,
    featureId: Annotated[str, Path(description="The feature's id")],
    crs: Annotated[
        str | None,
        Query(
            description="The CRS of the geometry returned (default CRS84)",
            json_schema_extra={"enum": list(crs_mod.SUPPORTED)},
        ),
    ] = None,
    f: Annotated[Literal["json", "geojson"] | None, Query(description="Format")] = None,
) -> GeoJSONResponse:
    definition = collection_def(collectionId)
    _check_parameters(request, FEATURE_PARAMETERS)
    out_crs = crs_mod.parse_crs(crs, parameter="crs")
    data = get_collections(request).get(collectionId)
    position = data.position(featureId)
    if position is None:
        raise FeatureNotFound(collectionId, featureId)
    base = f"{_root(request)}/collections/{definition.id}"
    links = [
        _link(request.url, "self", GEOJSON, "This feature"),
        _link(base, "collection", JSON, definition.title),
    ]
    frame, ha, geoms = data.rows(np.array([position], dtype=np.intp))
    body = feature_to_geojson_bytes(
        frame,
        extra=area_extra(definition, ha),
        geometries=crs_mod.to_crs(as_declared(definition, geoms), out_crs),
        members={"links": links},
    )
    return _geojson(body, out_crs)
