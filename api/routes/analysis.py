"""Routes: the analyses over HTTP, with the same results and JSON shapes as the ``gazar``
commands (both call :mod:`api.views`).

``GET /analysis/overlaps``, ``GET /analysis/availability``, ``POST /analysis/check``,
``GET /analysis/expiring`` and ``GET /analysis/rehab``. Whole layers come from the app's layer
cache; the desk review indexes the layers once per set of layer revisions and reuses that index
across requests, and reads only the window of the registered DEM under the proposal.
Rehabilitation monitoring reads rasters registered beside the store only — a client names them,
never gives a path — and keeps each answer until the zones or a raster file change.

Unlike ``gazar check``, which reports an ``invalid`` verdict, ``POST /analysis/check`` refuses a
proposal with a feature no analysis can use (not a polygon, NaN, outside Mongolia) with 422, so
a calling system learns at once that it sent something to fix. Self-intersections are repaired
and reported in ``repairs``, as on the command line.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict
from starlette.concurrency import run_in_threadpool

from api.deps import LayerCache, LayersDep, SettingsDep
from api.errors import BadRequest, NotFound, PayloadTooLarge, Unprocessable
from api.openapi import GEOJSON_PROPOSAL
from api.responses import GeoJSONResponse, OrjsonResponse
from api.routes.ogc import get_collections
from api.settings import ApiSettings
from api.views import (
    EXPIRING_LAYERS,
    availability_geojson,
    availability_json,
    check_view,
    expiring_json,
    expiring_view,
    features_geojson,
    layers_of,
    overlap_pairs,
    overlaps_json,
    overlaps_view,
    rehab_geojson,
    rehab_json,
)
from geo import raster as gr
from geo.raster import Dem
from geo.review import REVIEW_LAYERS, ReviewContext
from geo.settings import AnalysisSettings
from layers import rasters
from layers.errors import InvalidGeometry
from layers.schema import REGISTRY, STORE_CRS

router = APIRouter(prefix="/analysis", tags=["analysis"])


class ErrorBody(BaseModel):
    """Every error response: a code, a message a person can act on, and the HTTP status."""

    model_config = ConfigDict(extra="allow")

    code: str
    description: str
    status: int


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    reasons = {
        400: "A parameter is unknown or has a value the endpoint does not take",
        404: "The path names nothing (or, for rehab, no raster is registered)",
        413: "The request body is larger than the server accepts (GAZAR_MAX_BODY_BYTES)",
        422: "The body cannot be used: invalid geometry, coordinates outside Mongolia, "
        "too many vertices or features",
    }
    return {s: {"model": ErrorBody, "description": reasons[s]} for s in statuses}


_JSON_OR_GEOJSON: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/geo+json": {"schema": {"type": "object"}}},
        "description": "JSON (`format=json`, as `gazar ... --format json`) or GeoJSON "
        "(`format=geojson`)",
    }
}


def _iso_day(value: object) -> object:
    """Only a ``YYYY-MM-DD`` text is a day: pydantic would also read ``0`` as 1970-01-01."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
TodayQuery = Annotated[
    dt.date | None,
    BeforeValidator(_iso_day),
    Query(description="The day dates are compared with, YYYY-MM-DD (default: today)."),
]
FormatQuery = Annotated[
    Literal["json", "geojson"],
    Query(alias="format", description="`json` (the records) or `geojson` (the areas themselves)."),
]

_CONTEXT_LOCK = threading.Lock()


def known_parameters(*names: str) -> Callable[[Request], None]:
    """A dependency refusing query parameters other than ``names`` (400, naming them)."""
    allowed = frozenset(names)

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            takes = ", ".join(sorted(allowed)) or "none"
            raise BadRequest(
                f"unknown query parameter(s) {', '.join(unknown)}; this endpoint takes: {takes}"
            )

    return check


def analysis_settings(request: Request) -> AnalysisSettings:
    """The analysis settings (``GAZAR_*``), read once per app."""
    settings: AnalysisSettings | None = getattr(request.app.state, "analysis_settings", None)
    if settings is None:
        settings = AnalysisSettings()
        request.app.state.analysis_settings = settings
    return settings


AnalysisDep = Annotated[AnalysisSettings, Depends(analysis_settings)]


def _day(today: dt.date | None) -> dt.date:
    return today or dt.date.today()


# -------------------------------------------------------------------------------- overlaps


@router.get(
    "/overlaps",
    operation_id="overlaps",
    summary="Overlapping features, each with the rule it breaks",
    responses={**_JSON_OR_GEOJSON, **_errors(400)},
    dependencies=[Depends(known_parameters("layer", "against", "tolerance_m2", "today", "format"))],
)
def overlaps(
    layers: LayersDep,
    settings: AnalysisDep,
    layer: Annotated[
        str | None,
        Query(
            description="Overlaps within this layer (or with `against`). Without it: every "
            "pair of layers the rules forbid to overlap.",
            json_schema_extra={"enum": list(REGISTRY)},
        ),
    ] = None,
    against: Annotated[
        str | None,
        Query(
            description="Overlaps of `layer` with this layer.",
            json_schema_extra={"enum": list(REGISTRY)},
        ),
    ] = None,
    tolerance_m2: Annotated[
        float | None,
        Query(ge=0, allow_inf_nan=False, description="Shared m² up to this are not overlaps."),
    ] = None,
    today: TodayQuery = None,
    fmt: FormatQuery = "json",
) -> OrjsonResponse:
    """The same records as `gazar overlaps --format json` (`format=geojson`: the shared areas
    as features)."""
    for value, name in ((layer, "layer"), (against, "against")):
        if value is not None and value not in REGISTRY:
            raise BadRequest(
                f"{name}={value!r} is not a layer; choose one of {', '.join(REGISTRY)}"
            )
    if against is not None and layer is None:
        raise BadRequest("against needs layer: give the layer to compare with it")
    pairs = overlap_pairs(layer, against)
    tolerance = settings.overlap_tolerance_m2 if tolerance_m2 is None else tolerance_m2
    found = overlaps_view(
        layers.all(sorted(layers_of(pairs))), pairs=pairs, today=_day(today), tolerance_m2=tolerance
    )
    if fmt == "geojson":
        return GeoJSONResponse(features_geojson(found.records))
    return OrjsonResponse(overlaps_json(found))


# ---------------------------------------------------------------------------- availability


@router.get(
    "/availability",
    operation_id="availability",
    summary="Land still free in each Land Conclusion in force, with totals per soum and aimag",
    responses={**_JSON_OR_GEOJSON, **_errors(400)},
    dependencies=[Depends(known_parameters("soum", "today", "format"))],
)
def availability(
    request: Request,
    layers: LayersDep,
    soum: Annotated[
        str | None,
        Query(
            description="Only this soum's Land Conclusions (its code, e.g. MN4322: an id "
            "of `/collections/soums/items`).",
            json_schema_extra={"minLength": 1},
        ),
    ] = None,
    today: TodayQuery = None,
    fmt: FormatQuery = "json",
) -> OrjsonResponse:
    """The same document as `gazar availability --format json` (`format=geojson`: the free
    land itself, as `--format geojson`).

    The whole store's availability is computed once per day and store revision (it is the
    `available_land` collection's) and a soum's rows are taken from it: each Land
    Conclusion's figures depend only on what lies in it."""
    day = _day(today)
    frame = get_collections(request).get("available_land", today=day).frame
    if soum is not None:
        frame = frame[(frame["soum_code"] == soum).to_numpy(dtype=bool)].reset_index(drop=True)
        lcs = layers.get("land_conclusions")
        if not (lcs["soum_code"] == soum).any() and soum not in set(layers.get("soums")["id"]):
            raise BadRequest(
                f"soum={soum!r}: no soum has this code; the codes are the ids of "
                "/collections/soums/items (e.g. MN4322)"
            )
    if fmt == "geojson":
        return GeoJSONResponse(availability_geojson(frame))
    return OrjsonResponse(availability_json(frame, today=day))


# ----------------------------------------------------------------------------------- check

_GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)
#: the proposal's properties a review reads; others are ignored
_PROPERTIES = ("land_conclusion_id", "holder", "soum_code")
_SQUARE = [[[106.30, 48.50], [106.31, 48.50], [106.31, 48.51], [106.30, 48.51], [106.30, 48.50]]]
_CHECK_BODY = {
    "required": True,
    "description": "The proposal in lon/lat (RFC 7946): a GeoJSON Polygon or MultiPolygon, a "
    "Feature, or a FeatureCollection of them. Properties a review reads: `id`, and for a "
    "parcel `land_conclusion_id` and `holder`, for a Land Conclusion `soum_code`. A proposal "
    "this schema allows is still refused (422) when a ring is not closed or crosses itself "
    "beyond repair, or it lies outside Mongolia (or its lon/lat are swapped).",
    "content": {
        media: {
            "schema": GEOJSON_PROPOSAL,
            "example": {"type": "Polygon", "coordinates": _SQUARE},
        }
        for media in ("application/json", "application/geo+json")
    },
}


@router.post(
    "/check",
    operation_id="check",
    summary="The desk review of a proposed Land Conclusion or parcel",
    responses=_errors(400, 413, 422),
    openapi_extra={"requestBody": _CHECK_BODY},
    dependencies=[Depends(known_parameters("kind", "soum", "today"))],
)
async def check(
    request: Request,
    layers: LayersDep,
    settings: SettingsDep,
    analysis: AnalysisDep,
    kind: Annotated[
        Literal["land_conclusion", "parcel"],
        Query(description="`land_conclusion` (MRPAM's review) or `parcel`."),
    ] = "land_conclusion",
    soum: Annotated[
        str | None, Query(description="The proposing soum's code, e.g. MN4322.")
    ] = None,
    today: TodayQuery = None,
) -> OrjsonResponse:
    """The same document as `gazar check --format json`: verdict, areas, soums, overlaps and
    the rules broken; where a DEM registered beside the store holds the proposal, its slope
    (`terrain`, `dem`, a `SLOPE_OVER_LIMIT` warning when too steep). A body over
    `GAZAR_MAX_BODY_BYTES` gets 413; more than `GAZAR_MAX_CHECK_FEATURES` features or
    `GAZAR_MAX_VERTICES` vertices, a geometry that cannot be read or coordinates outside
    Mongolia get 422."""
    body = await read_body(request, settings.max_body_bytes)

    def run() -> dict[str, Any]:  # parsing and reviewing off the event loop
        proposal = proposal_from_body(body, settings=settings)
        result = check_view(
            proposal,
            kind=kind,
            context=review_context(request.app.state, layers),
            today=_day(today),
            settings=analysis,
            soum=soum,
            dem=proposal_dem(layers, proposal),
        )
        if result["problems"]:
            raise InvalidGeometry(
                "the proposal cannot be reviewed: "
                + "; ".join(
                    f"feature #{p['index']} (id={p['id']}): {p['reason']}"
                    for p in result["problems"]
                )
            )
        return result

    return OrjsonResponse(await run_in_threadpool(run))


async def read_body(request: Request, cap: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to be over ``cap`` bytes:
    from ``Content-Length`` before reading, and while reading (a body sent in chunks)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest(f"Content-Length {declared!r} is not a number of bytes") from None
        if size > cap:
            raise PayloadTooLarge(_too_large(f"{size:,} bytes", cap))
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise PayloadTooLarge(_too_large(f"over {cap:,} bytes", cap))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: str, cap: int) -> str:
    return (
        f"the request body is {size}; at most {cap:,} bytes are accepted "
        "(GAZAR_MAX_BODY_BYTES): send fewer features per request or simplify their outlines"
    )


def proposal_from_body(body: bytes, *, settings: ApiSettings) -> gpd.GeoDataFrame:
    """A GeoJSON body as a proposal frame (EPSG:4326) with ``id`` and the properties a review
    reads; refuses what cannot be reviewed, naming the feature and the reason."""
    if not body.strip():
        raise BadRequest("the body is empty; send a GeoJSON Polygon, Feature or FeatureCollection")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON ({exc}); send GeoJSON") from None
    features = _features(doc)
    if not features:
        raise Unprocessable("the FeatureCollection has no features; send at least one polygon")
    if len(features) > settings.max_check_features:
        raise Unprocessable(
            f"{len(features):,} features sent; a check takes at most "
            f"{settings.max_check_features:,} (GAZAR_MAX_CHECK_FEATURES): send them in "
            "several requests"
        )
    ids: list[str | None] = []
    columns: dict[str, list[str | None]] = {name: [] for name in _PROPERTIES}
    geoms = np.empty(len(features), dtype=object)
    for i, feature in enumerate(features):
        where = f"feature #{i}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise Unprocessable(f"{where} is not a GeoJSON Feature (an object with type Feature)")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise Unprocessable(f"{where}: 'properties' must be an object or null")
        fid = _text(props.get("id", feature.get("id")))
        ids.append(fid)
        for name in _PROPERTIES:
            columns[name].append(_text(props.get(name)))
        geoms[i] = _geometry(
            feature.get("geometry"), f"{where}{'' if fid is None else f' (id={fid})'}"
        )
    vertices = int(shapely.get_num_coordinates(geoms).sum())
    if vertices > settings.max_vertices:
        raise Unprocessable(
            f"the proposal has {vertices:,} vertices; at most {settings.max_vertices:,} are "
            "accepted (GAZAR_MAX_VERTICES): simplify the outline or send fewer features"
        )
    return gpd.GeoDataFrame({"id": ids, **columns}, geometry=geoms, crs=STORE_CRS)


def _features(doc: object) -> list[Any]:
    if not isinstance(doc, dict):
        raise Unprocessable(
            f"the body is a JSON {type(doc).__name__}, not a GeoJSON object: send a Polygon, "
            "MultiPolygon, Feature or FeatureCollection"
        )
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise Unprocessable("a FeatureCollection needs a 'features' array")
        return features
    if kind == "Feature":
        return [doc]
    if isinstance(kind, str) and kind in _GEOMETRY_TYPES:
        return [{"type": "Feature", "geometry": doc, "properties": None}]
    raise Unprocessable(
        f"type {kind!r} is not GeoJSON: send a Polygon, MultiPolygon, Feature or FeatureCollection"
    )


def _geometry(value: object, where: str) -> shapely.Geometry | None:
    """One GeoJSON geometry; ``None`` stays ``None`` (the review reports it as empty)."""
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in _GEOMETRY_TYPES:  # a list is unhashable
        raise InvalidGeometry(
            f"{where}: the geometry is not a GeoJSON geometry object; a polygon is "
            '{"type": "Polygon", "coordinates": [[[lon, lat], ...]]}'
        )
    try:
        geom = shapely.from_geojson(orjson.dumps(value))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise InvalidGeometry(
            f"{where}: the geometry cannot be read ({exc}); a polygon's rings are lists of "
            "[lon, lat] positions, each ring closed (its last position equal to its first)"
        ) from None
    rings = shapely.get_rings(geom) if geom.geom_type in ("Polygon", "MultiPolygon") else []
    short = [r for r in rings if shapely.get_num_coordinates(r) < 4]
    if short:
        raise InvalidGeometry(
            f"{where}: a ring has {shapely.get_num_coordinates(short[0])} positions; a closed "
            "ring needs at least 4 (three corners and the first repeated)"
        )
    return geom


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def proposal_dem(layers: LayerCache, proposal: gpd.GeoDataFrame) -> tuple[str, Dem] | None:
    """The registered DEM's name and its elevations under ``proposal`` (only that window is
    read), or None when no DEM registered beside the store holds it."""
    found = rasters.proposal_dem(layers.store.location, proposal)
    return None if found is None else (str(found[0]["file"]), found[1])


def review_context(state: Any, layers: LayerCache) -> ReviewContext:
    """The review layers indexed once, rebuilt only when one of them changes."""
    with _CONTEXT_LOCK:
        key = tuple(layers.store.revision(name) for name in REVIEW_LAYERS)
        hit: tuple[tuple[str, ...], ReviewContext] | None = getattr(state, "review_context", None)
        if hit is not None and hit[0] == key:
            return hit[1]
        context = ReviewContext(layers.all(REVIEW_LAYERS))
        state.review_context = (key, context)
        return context


# -------------------------------------------------------------------------------- expiring


@router.get(
    "/expiring",
    operation_id="expiring",
    summary="Contracts ending soon, whether each may be renewed, and those past their end",
    responses=_errors(400),
    dependencies=[Depends(known_parameters("days", "today"))],
)
def expiring(
    layers: LayersDep,
    settings: AnalysisDep,
    days: Annotated[
        int | None,
        Query(ge=0, le=36_500, description="Window in days (default GAZAR_EXPIRING_DAYS, 60)."),
    ] = None,
    today: TodayQuery = None,
) -> OrjsonResponse:
    """The same document as `gazar expiring --format json`."""
    frames = layers.all(EXPIRING_LAYERS)
    result = expiring_view(
        frames["contract_parcels"],
        frames["rehab_zones"],
        today=_day(today),
        days=settings.expiring_days if days is None else days,
    )
    return OrjsonResponse(expiring_json(result))


# ----------------------------------------------------------------------------------- rehab

#: the raster kinds a client may name for ``before`` and ``after``
NDVI_KINDS: tuple[str, ...] = ("ndvi_before", "ndvi_after")
#: the rehab answers kept (each a table of every zone), newest last
_REHAB_KEEP = 8
_REHAB_LOCK = threading.Lock()


def rehab_cached(
    state: Any,
    layers: LayerCache,
    *,
    before: str | None = None,
    after: str | None = None,
    min_recovery: float,
    mode: gr.PixelMode = "weighted",
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Every rehabilitation zone's recovery (``layers.rasters.rehab_registered``, or
    ``rehab_recovery`` of the two registered rasters named) and the zones, computed once per
    request parameters, ``rehab_zones`` revision and size and time of each raster file used.

    Raises ``NotFound`` when no NDVI raster is registered, ``BadRequest`` for a name the
    manifest does not list.
    """
    location = layers.store.location
    entries = rasters.registered(location)
    ndvi = [e for e in entries if e["kind"] in NDVI_KINDS]
    if not any(e["kind"] == "ndvi_before" for e in ndvi) and before is None:
        raise NotFound(
            "no NDVI rasters are registered beside the store: gazar demo writes some, or list "
            "yours (kind ndvi_before and ndvi_after) in the manifest.json of its .rasters folder "
            "(or of the folder GAZAR_RASTERS names: the only place for a PostGIS store)"
        )
    if (before is None) != (after is None):
        raise BadRequest("give both before and after (registered raster names), or neither")
    if before is not None and after is not None:
        try:
            used = [rasters.named(entries, n, kinds=NDVI_KINDS) for n in (before, after)]
        except KeyError as exc:
            raise BadRequest(str(exc.args[0])) from None
    else:
        used = ndvi
    manifest = {"file": rasters.MANIFEST, "path": rasters.raster_dir(location) / rasters.MANIFEST}
    key = (
        before,
        after,
        float(min_recovery),
        mode,
        layers.store.revision("rehab_zones"),
        rasters.file_stamps([*used, manifest]),
    )
    with _REHAB_LOCK:
        cache: dict[Any, tuple[pd.DataFrame, gpd.GeoDataFrame]] | None = getattr(
            state, "rehab_cache", None
        )
        if cache is None:
            cache = state.rehab_cache = {}
        hit = cache.get(key)
        if hit is not None:
            return hit
        zones = layers.get("rehab_zones")
        if len(used) == 2 and before is not None:
            table = rasters.rehab_recovery(
                used[0]["path"], used[1]["path"], zones, min_recovery=min_recovery, mode=mode
            )
        else:
            table = rasters.rehab_registered(location, zones, min_recovery=min_recovery, mode=mode)
        cache[key] = (table, zones)
        while len(cache) > _REHAB_KEEP:
            cache.pop(next(iter(cache)))
        return table, zones


@router.get(
    "/rehab",
    operation_id="rehab",
    summary="Vegetation recovery of every rehabilitation zone between two registered rasters",
    responses={**_JSON_OR_GEOJSON, **_errors(400, 404, 422)},
    dependencies=[Depends(known_parameters("before", "after", "threshold", "pixels", "format"))],
)
def rehab(
    request: Request,
    layers: LayersDep,
    settings: AnalysisDep,
    before: Annotated[
        str | None,
        Query(
            max_length=200,
            description="A registered NDVI raster's name (its file in the store's raster "
            "manifest, e.g. `ndvi_before_MN4322.tif`); never a path. With `after`. Default: "
            "every registered before/after pair, each zone measured on the pair holding it.",
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(max_length=200, description="The registered NDVI raster to compare with."),
    ] = None,
    threshold: Annotated[
        float | None,
        Query(
            allow_inf_nan=False,
            ge=-2,
            le=2,
            description="Smallest acceptable change of the mean (default "
            "GAZAR_REHAB_RECOVERY_MIN, 0.1).",
        ),
    ] = None,
    pixels: Annotated[
        Literal["weighted", "centre"],
        Query(
            description="`weighted`: partial pixels by their covered fraction; `centre`: "
            "whole pixels whose centre is inside (as GDAL and rasterstats)."
        ),
    ] = "weighted",
    fmt: FormatQuery = "json",
) -> OrjsonResponse:
    """The same document as `gazar rehab-monitor --format json` (`format=geojson`: the zones
    with the same properties, as `--format geojson`)."""
    minimum = float(settings.rehab_recovery_min if threshold is None else threshold)
    table, zones = rehab_cached(
        request.app.state, layers, before=before, after=after, min_recovery=minimum, mode=pixels
    )
    if fmt == "geojson":
        return GeoJSONResponse(rehab_geojson(table, zones))
    return OrjsonResponse(rehab_json(table, min_recovery=minimum, pixels=pixels))
