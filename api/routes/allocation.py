"""Routes: the allocation process over HTTP, and the public register's data feeds.

Reads are open to everyone; every write needs ``Authorization: Bearer <token>`` and checks
the role and the object (:mod:`api.auth`; the document declares its ``bearerAuth`` scheme).
Refusals: 400 (a body or parameter that does not fit the document), 401 (no or bad token), 403
(role or soum), 404 (no such record), 409 (the records forbid it: every reason listed), 422
(unusable input). The rules are those of :mod:`api.allocation`, shared with the ``gazar`` commands.

``/register.json``, ``/register.geojson`` and ``/register.csv`` are the feeds a soum can
publish daily (the HTML page ``/register`` is served by ``web``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import orjson
import shapely
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api import allocation as service
from api.auth import LedgerDep, UserDep, require_role
from api.errors import Unprocessable
from api.responses import GeoJSONResponse
from api.routes.analysis import AnalysisDep
from layers.ledger import RecordNotFound

router = APIRouter(tags=["allocation"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No token, or an unknown or revoked one"},
    403: {"description": "The token's role or soum does not allow this"},
    404: {"description": "No such record"},
    409: {"description": "Refused by the records' state; the description lists every reason"},
    422: {"description": "The input cannot be used"},
}


class ApplicationIn(BaseModel):
    """An application: a polygon (GeoJSON geometry, EPSG:4326) or a size in hectares."""

    # one of the two, not both (checked by api.allocation: 422), said in the document
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["geometry"], "properties": {"geometry": {"type": "object"}}},
                {"required": ["requested_ha"], "properties": {"requested_ha": {"type": "number"}}},
            ]
        }
    )

    land_conclusion_id: str = Field(min_length=1)
    holder: str = Field(min_length=1, description="The partnership or cooperative")
    holder_type: Literal["partnership", "cooperative", "individual"]
    members_women: int = Field(ge=0, le=100_000)
    members_men: int = Field(ge=0, le=100_000)
    geometry: dict[str, Any] | None = None
    requested_ha: float | None = Field(
        None,
        gt=0,
        le=100_000,
        description="Hectares, at most the parcel cap (GAZAR_PARCEL_CAP_HA, 5 by default): 422 "
        "above it",
    )


class ObjectionIn(BaseModel):
    reason: str = Field(min_length=1)
    name: str = ""


class DecisionIn(BaseModel):
    outcome: Literal["approve", "reject"]
    reason: str = Field(min_length=1, description="The written reason, published")
    contract_no: str | None = None


class DrawIn(BaseModel):
    application: str = Field(description="Any application of the competing group")
    draw_date: dt.date
    public_value: str = Field(min_length=1, description="Announced now, before the draw")


class ReviewIn(BaseModel):
    status: Literal["under_review", "issued", "rejected"]
    decision_ref: str | None = None
    valid_until: dt.date | None = None


class ContractStatusIn(BaseModel):
    status: Literal["active", "suspended", "terminated", "expired"]
    reason: str = Field(min_length=1)


class RehabStageIn(BaseModel):
    stage: Literal["technical_done", "biological_done", "accepted"]


def _geometry(value: dict[str, Any] | None) -> shapely.Geometry | None:
    if value is None:
        return None
    try:
        return shapely.from_geojson(orjson.dumps(value).decode())
    except (shapely.errors.GEOSException, orjson.JSONEncodeError) as exc:  # e.g. 2**64
        raise Unprocessable(f"geometry: not a GeoJSON geometry ({exc})") from None


# ---------------------------------------------------------------------------- applications


@router.post(
    "/applications",
    status_code=201,
    operation_id="createApplication",
    summary="Apply for a parcel",
    responses=_ERRORS,
)
def create_application(
    body: ApplicationIn, ledger: LedgerDep, user: UserDep, settings: AnalysisDep
) -> dict[str, Any]:
    require_role(user, "apply")  # 401/403 before the geometry is read (422)
    data = service.ApplicationInput(
        land_conclusion_id=body.land_conclusion_id,
        holder=body.holder,
        holder_type=body.holder_type,
        members_women=body.members_women,
        members_men=body.members_men,
        geometry=_geometry(body.geometry),
        requested_ha=body.requested_ha,
    )
    return service.apply(ledger, data, user=user, settings=settings)


@router.get("/applications", operation_id="listApplications", summary="The queue")
def list_applications(
    ledger: LedgerDep,
    settings: AnalysisDep,
    status: str | None = Query(None),
    land_conclusion_id: str | None = Query(None),
    soum_code: str | None = Query(None),
) -> list[dict[str, Any]]:
    where = {
        k: v
        for k, v in (
            ("status", status),
            ("land_conclusion_id", land_conclusion_id),
            ("soum_code", soum_code),
        )
        if v is not None
    }
    return service.applications_view(ledger, settings=settings, where=where)


@router.get(
    "/applications/{number}",
    operation_id="getApplication",
    summary="One application: reasons, objections, decision, draw",
    responses={404: _ERRORS[404]},
)
def get_application(number: str, ledger: LedgerDep, settings: AnalysisDep) -> dict[str, Any]:
    return service.application_view(ledger, number, settings=settings)


@router.post(
    "/applications/{number}/objections",
    status_code=201,
    operation_id="createObjection",
    summary="Object to an application within its objection window",
    responses=_ERRORS,
)
def create_objection(
    number: str, body: ObjectionIn, ledger: LedgerDep, user: UserDep, settings: AnalysisDep
) -> dict[str, Any]:
    return service.object_to(
        ledger, number, name=body.name, reason=body.reason, user=user, settings=settings
    )


@router.get(
    "/applications/{number}/objections",
    operation_id="listObjections",
    responses={404: _ERRORS[404]},
)
def list_objections(number: str, ledger: LedgerDep) -> list[dict[str, Any]]:
    if ledger.applications(ids=[number]).empty:
        raise RecordNotFound("applications", number)
    return ledger.records("objections", where={"application_id": number})


@router.post(
    "/applications/{number}/decision",
    operation_id="decideApplication",
    summary="Approve (creating the contract parcel) or reject, with a written reason",
    responses=_ERRORS,
)
def decide_application(
    number: str, body: DecisionIn, ledger: LedgerDep, user: UserDep, settings: AnalysisDep
) -> dict[str, Any]:
    return service.decide(
        ledger,
        number,
        outcome=body.outcome,
        reason=body.reason,
        contract_no=body.contract_no,
        user=user,
        settings=settings,
    )


@router.get(
    "/applications/{number}/decision",
    operation_id="getDecision",
    responses={404: _ERRORS[404]},
)
def get_decision(number: str, ledger: LedgerDep) -> dict[str, Any]:
    rows = ledger.records("decisions", where={"application_id": number})
    if not rows:
        raise RecordNotFound("decisions", number)
    return rows[0]


# ---------------------------------------------------------------------------------- draws


@router.post(
    "/draws",
    status_code=201,
    operation_id="announceDraw",
    summary="Announce the draw of a competing group, with the public value",
    responses=_ERRORS,
)
def announce_draw(
    body: DrawIn, ledger: LedgerDep, user: UserDep, settings: AnalysisDep
) -> dict[str, Any]:
    return service.announce_draw(
        ledger,
        body.application,
        draw_date=body.draw_date,
        public_value=body.public_value,
        user=user,
        settings=settings,
    )


@router.post(
    "/draws/{draw_id}/run",
    operation_id="runDraw",
    summary="Run an announced draw on or after its date",
    responses=_ERRORS,
)
def run_draw(
    draw_id: str, ledger: LedgerDep, user: UserDep, settings: AnalysisDep
) -> dict[str, Any]:
    return service.run_draw(ledger, draw_id, user=user, settings=settings)


@router.get("/draws", operation_id="listDraws")
def list_draws(ledger: LedgerDep) -> list[dict[str, Any]]:
    return [service.draw_view(ledger, d["id"]) for d in ledger.records("draws")]


@router.get(
    "/draws/{draw_id}",
    operation_id="getDraw",
    summary="A draw with its inputs, seed, order and re-computation",
    responses={404: _ERRORS[404]},
)
def get_draw(draw_id: str, ledger: LedgerDep) -> dict[str, Any]:
    return service.draw_view(ledger, draw_id)


# ------------------------------------------------- Land Conclusions, contracts, rehabilitation


@router.post(
    "/land_conclusions/{lc_id}/review",
    operation_id="reviewLandConclusion",
    summary="MRPAM: under_review, then issued or rejected with a decision reference",
    responses=_ERRORS,
)
def review_land_conclusion(
    lc_id: str, body: ReviewIn, ledger: LedgerDep, user: UserDep, settings: AnalysisDep
) -> dict[str, Any]:
    return service.review_land_conclusion(
        ledger,
        lc_id,
        status=body.status,
        decision_ref=body.decision_ref,
        valid_until=body.valid_until,
        user=user,
        settings=settings,
    )


@router.post(
    "/contracts/{parcel_id}/status",
    operation_id="setContractStatus",
    summary="Suspend, reactivate, terminate or close a contract",
    responses=_ERRORS,
)
def set_contract_status(
    parcel_id: str, body: ContractStatusIn, ledger: LedgerDep, user: UserDep
) -> dict[str, Any]:
    return service.set_contract_status(
        ledger, parcel_id, status=body.status, reason=body.reason, user=user
    )


@router.post(
    "/rehab_zones/{zone_id}/stage",
    operation_id="setRehabStage",
    summary="Move a rehabilitation zone to its next stage",
    responses=_ERRORS,
)
def set_rehab_stage(
    zone_id: str, body: RehabStageIn, ledger: LedgerDep, user: UserDep, settings: AnalysisDep
) -> dict[str, Any]:
    return service.set_rehab_stage(ledger, zone_id, stage=body.stage, user=user, settings=settings)


# ------------------------------------------------------------------------ register and log


@router.get("/register.json", operation_id="registerJson", summary="The public register")
def register_json(ledger: LedgerDep, settings: AnalysisDep) -> dict[str, Any]:
    return service.register(ledger, settings=settings)


@router.get(
    "/register.geojson",
    operation_id="registerGeojson",
    summary="The applications as GeoJSON",
    response_class=GeoJSONResponse,
)
def register_geojson(ledger: LedgerDep, settings: AnalysisDep) -> GeoJSONResponse:
    return GeoJSONResponse(service.register_geojson(ledger, settings=settings))


@router.get(
    "/register.csv",
    operation_id="registerCsv",
    summary="The register as one CSV table",
    response_class=Response,
)
def register_csv(ledger: LedgerDep, settings: AnalysisDep) -> Response:
    text = service.register_csv(service.register(ledger, settings=settings))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="register.csv"'},
    )


@router.get("/audit", operation_id="auditVerify", summary="Recompute the log's hash chain")
def audit(ledger: LedgerDep) -> dict[str, Any]:
    return ledger.verify_chain().as_dict()


@router.get("/events", operation_id="listEvents", summary="The append-only log")
def events(
    ledger: LedgerDep,
    after: int = Query(0, ge=0),
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    return [e.as_dict() for e in ledger.events(after=after, limit=limit)]
