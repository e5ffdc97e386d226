"""Routes: the analyses over HTTP, with the same results and JSON shapes as the ``gazar``
commands (both call :mod:`api.services.views`).

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
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from api.deps import AnalysisDep, LayersDep, ServicesDep, known_parameters, read_body
from api.errors import BadRequest
from api.openapi import GEOJSON_PROPOSAL
from api.responses import GeoJSONResponse, OrjsonResponse, Problem
from api.services.proposals import proposal_from_body
from api.services.views import (
    EXPIRING_LAYERS,
    availability_geojson,
    availability_json,
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
from layers.errors import InvalidGeometry
from layers.schema import AREA_LAYERS

router = APIRouter(prefix="/analysis", tags=["analysis"])


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    reasons = {
        400: "A parameter is unknown or has a value the endpoint does not take",
        404: "The path names nothing (or, for rehab, no raster is registered)",
        413: "The request body is larger than the server accepts (GAZAR_MAX_BODY_BYTES)",
        422: "The body cannot be used: invalid geometry, coordinates outside Mongolia, "
        "too many vertices or features",
    }
    return {s: {"model": Problem, "description": reasons[s]} for s in statuses}


_JSON_OR_GEOJSON: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/geo+json": {"schema": {"type": "object"}}},
        "description": "JSON (`format=json`, as `gazar ... --format json`) or GeoJSON "
        "(`format=geojson`)",
    }
}

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: object) -> object:
    """Only a ``YYYY-MM-DD`` text is a day: pydantic would also read ``0`` as 1970-01-01."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


TodayQuery = Annotated[
    dt.date | None,
    BeforeValidator(_iso_day),
    Query(description="The day dates are compared with, YYYY-MM-DD (default: today)."),
]
FormatQuery = Annotated[
    Literal["json", "geojson"],
    Query(alias="format", description="`json` (the records) or `geojson` (the areas themselves)."),
]


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
            json_schema_extra={"enum": list(AREA_LAYERS)},
        ),
    ] = None,
    against: Annotated[
        str | None,
        Query(
            description="Overlaps of `layer` with this layer.",
            json_schema_extra={"enum": list(AREA_LAYERS)},
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
        if value is not None and value not in AREA_LAYERS:
            raise BadRequest(
                f"{name}={value!r} is not a layer; choose one of {', '.join(AREA_LAYERS)}"
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
    services: ServicesDep,
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
    frame = services.available_land(day, soum=soum)
    if fmt == "geojson":
        return GeoJSONResponse(availability_geojson(frame))
    return OrjsonResponse(availability_json(frame, today=day))


# ----------------------------------------------------------------------------------- check

_SQUARE = [[[106.30, 48.50], [106.31, 48.50], [106.31, 48.51], [106.30, 48.51], [106.30, 48.50]]]
_CHECK_BODY = {
    "required": True,
    "description": "The proposal in lon/lat (RFC 7946): a GeoJSON Polygon or MultiPolygon, a "
    "Feature, or a FeatureCollection of them. Properties a review reads: `id`, `name`, and for a "
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
    services: ServicesDep,
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
    body = await read_body(request, services.settings.api.max_body_bytes)

    def run() -> dict[str, Any]:  # parsing and reviewing off the event loop
        proposal = proposal_from_body(body, settings=services.settings.api)
        result = services.review.check(proposal, kind=kind, today=_day(today), soum=soum)
        if result.problems:
            raise InvalidGeometry(
                "the proposal cannot be reviewed: "
                + "; ".join(
                    f"feature #{p.index} (id={p.id}): {p.reason_en}" for p in result.problems
                )
            )
        return result.as_json()

    return OrjsonResponse(await run_in_threadpool(run))


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


@router.get(
    "/rehab",
    operation_id="rehab",
    summary="Vegetation recovery of every rehabilitation zone between two registered rasters",
    responses={**_JSON_OR_GEOJSON, **_errors(400, 404, 422)},
    dependencies=[Depends(known_parameters("before", "after", "threshold", "pixels", "format"))],
)
def rehab(
    services: ServicesDep,
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
    table, zones = services.rehab.recovery(
        before=before, after=after, min_recovery=minimum, mode=pixels
    )
    if fmt == "geojson":
        return GeoJSONResponse(rehab_geojson(table, zones))
    return OrjsonResponse(rehab_json(table, min_recovery=minimum, pixels=pixels))
