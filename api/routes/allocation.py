"""Routes: the allocation process over HTTP, and the public register's data feeds.

Reads are open to everyone; every write needs ``Authorization: Bearer <token>`` and checks
the role and the object (:mod:`api.services.access`; the document declares its ``bearerAuth``
scheme). Refusals: 400 (a body or parameter that does not fit the document),
401 (no or bad token), 403 (role or soum), 404 (no such record), 409 (the records forbid it:
every reason listed), 422 (unusable input), 429 (too many failed token checks from the
address: :class:`api.auth.FailedTokens`). Each route parses its input and calls the
:class:`api.services.allocation.AllocationService` the ``gazar`` commands call too.

``/register.json``, ``/register.geojson`` and ``/register.csv`` are the feeds a soum can
publish daily (the HTML page ``/register`` is served by ``web``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import orjson
import shapely
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api.auth import UserDep, client_address
from api.deps import AllocationDep, ServicesDep
from api.errors import Unprocessable
from api.responses import GeoJSONResponse
from api.services import publog
from api.services.access import require_role
from api.services.allocation import ApplicationInput

router = APIRouter(tags=["allocation"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request is malformed (a parameter or the body is invalid)"},
    401: {"description": "No token, or an unknown or revoked one"},
    403: {"description": "The token's role or soum does not allow this"},
    404: {"description": "No such record"},
    409: {"description": "Refused by the records' state; the description lists every reason"},
    422: {"description": "The input cannot be used"},
    429: {
        "description": "Too many failed token checks from this address (GAZAR_TOKEN_FAILURES "
        "within GAZAR_TOKEN_FAILURE_WINDOW_S): every token is refused until Retry-After",
        "headers": {
            "Retry-After": {
                "description": "Seconds until a token may be tried again",
                "schema": {"type": "integer"},
            }
        },
    },
}

F = TypeVar("F", bound=Callable[..., Any])


def _write(
    path: str, operation_id: str, summary: str, *, created: bool = False, anyone: bool = False
) -> Callable[[F], F]:
    """A write: POST ``path``, answering 201 (``created``) or 200, or any refusal of _ERRORS;
    ``anyone``: the token is optional (the OpenAPI document says so)."""
    return router.post(
        path,
        status_code=201 if created else 200,
        operation_id=operation_id,
        summary=summary,
        responses=_ERRORS,
        # FastAPI appends the list to the declared scheme: [{bearerAuth}, {}], the token optional
        openapi_extra={"security": [{}]} if anyone else None,
    )


def _read(path: str, operation_id: str, summary: str | None = None) -> Callable[[F], F]:
    """A read of one record: GET ``path``, 404 when there is none."""
    return router.get(
        path, operation_id=operation_id, summary=summary, responses={404: _ERRORS[404]}
    )


class ApplicationIn(BaseModel):
    """An application: a polygon (GeoJSON geometry, EPSG:4326) or a size in hectares."""

    # one of the two, not both (checked by the service: 422), said in the document
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

    def parsed(self) -> ApplicationInput:
        """What the service files (the geometry parsed from GeoJSON)."""
        return ApplicationInput(
            land_conclusion_id=self.land_conclusion_id,
            holder=self.holder,
            holder_type=self.holder_type,
            members_women=self.members_women,
            members_men=self.members_men,
            geometry=_geometry(self.geometry),
            requested_ha=self.requested_ha,
        )


class ObjectionIn(BaseModel):
    reason: str = Field(min_length=1)
    name: str = ""
    contact: str | None = Field(
        None,
        max_length=254,
        description="The objector's phone number or e-mail address: kept private (never in "
        "the log, the register or a feed)",
    )


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


class RenewIn(BaseModel):
    reason: str = Field(min_length=1, description="The written reason, published")


class RehabStageIn(BaseModel):
    stage: Literal["technical_done", "biological_done", "accepted"]
    accepted_on: dt.date | None = Field(
        None,
        description="The day the commission accepted the zone: required for stage "
        "'accepted', not in the future (422); ignored for the other stages",
    )


def _geometry(value: dict[str, Any] | None) -> shapely.Geometry | None:
    if value is None:
        return None
    try:
        return shapely.from_geojson(orjson.dumps(value).decode())
    except (shapely.errors.GEOSException, orjson.JSONEncodeError) as exc:  # e.g. 2**64
        raise Unprocessable(f"geometry: not a GeoJSON geometry ({exc})") from None


# ---------------------------------------------------------------------------- applications


@_write("/applications", "createApplication", "Apply for a parcel", created=True)
def create_application(
    body: ApplicationIn, allocation: AllocationDep, user: UserDep
) -> dict[str, Any]:
    """File an application (server time, number, place in the queue) with its eligibility:
    an ineligible one is recorded too, with every reason."""
    require_role(user, "apply")  # 401/403 before the geometry is read (422)
    return allocation.apply(body.parsed(), user=user)


@router.get("/applications", operation_id="listApplications", summary="The queue")
def list_applications(
    allocation: AllocationDep,
    status: str | None = Query(None),
    land_conclusion_id: str | None = Query(None),
    soum_code: str | None = Query(None),
) -> list[dict[str, Any]]:
    """The applications, oldest first, each with its place among the pending ones now."""
    where = {"status": status, "land_conclusion_id": land_conclusion_id, "soum_code": soum_code}
    return allocation.applications({k: v for k, v in where.items() if v is not None})


@_read(
    "/applications/{number}",
    "getApplication",
    "One application: reasons, objections, decision, draw",
)
def get_application(number: str, allocation: AllocationDep) -> dict[str, Any]:
    """One application with its objections, decision, draw and competing group."""
    return allocation.application(number)


@_write(
    "/applications/{number}/objections",
    "createObjection",
    "Object to an application within its objection window",
    created=True,
    anyone=True,
)
def create_objection(
    number: str, body: ObjectionIn, request: Request, services: ServicesDep, user: UserDep
) -> dict[str, Any]:
    """Object to an application (published with it) while its objection window is open;
    anyone may object (without a token the objector's name is required); at most
    GAZAR_OBJECTION_LIMIT per account, or per client address without a token, within
    GAZAR_OBJECTION_LIMIT_WINDOW_S (429 beyond)."""
    limits = services.settings.api
    address = client_address(request) or "unknown"  # behind a trusted proxy: the client's
    services.limits.take(
        "objection",
        f"user:{user.name}" if user is not None else f"address:{address}",
        limit=limits.objection_limit,
        window_s=limits.objection_limit_window_s,
    )
    return services.allocation.object_to(
        number, name=body.name, reason=body.reason, contact=body.contact, user=user
    )


@_read("/applications/{number}/objections", "listObjections")
def list_objections(number: str, allocation: AllocationDep) -> list[dict[str, Any]]:
    """The objections filed against an application."""
    return allocation.objections(number)


@_write(
    "/applications/{number}/decision",
    "decideApplication",
    "Approve (creating the contract parcel) or reject, with a written reason",
)
def decide_application(
    number: str, body: DecisionIn, allocation: AllocationDep, user: UserDep
) -> dict[str, Any]:
    """Approve or reject an application; an approval re-checks every rule first."""
    return allocation.decide(
        number, outcome=body.outcome, reason=body.reason, contract_no=body.contract_no, user=user
    )


@_read("/applications/{number}/decision", "getDecision")
def get_decision(number: str, allocation: AllocationDep) -> dict[str, Any]:
    """The decision on an application, with its written reason."""
    return allocation.decision(number)


# ---------------------------------------------------------------------------------- draws


@_write(
    "/draws",
    "announceDraw",
    "Announce the draw of a competing group, with the public value",
    created=True,
)
def announce_draw(body: DrawIn, allocation: AllocationDep, user: UserDep) -> dict[str, Any]:
    """Announce the draw of a closed competing group: its members, date and public value."""
    return allocation.announce_draw(
        body.application, draw_date=body.draw_date, public_value=body.public_value, user=user
    )


@_write("/draws/{draw_id}/run", "runDraw", "Run an announced draw on or after its date")
def run_draw(draw_id: str, allocation: AllocationDep, user: UserDep) -> dict[str, Any]:
    """Run an announced draw: the seed, the order and the winner."""
    return allocation.run_draw(draw_id, user=user)


@router.get("/draws", operation_id="listDraws")
def list_draws(allocation: AllocationDep) -> list[dict[str, Any]]:
    """Every draw, announced or run."""
    return allocation.draws()


@_read("/draws/{draw_id}", "getDraw", "A draw with its inputs, seed, order and re-computation")
def get_draw(draw_id: str, allocation: AllocationDep) -> dict[str, Any]:
    """One draw as published, re-computed once it has run."""
    return allocation.draw(draw_id)


# ------------------------------------------------- Land Conclusions, contracts, rehabilitation


@_write(
    "/land_conclusions/{lc_id}/review",
    "reviewLandConclusion",
    "MRPAM: under_review, then issued or rejected with a decision reference",
)
def review_land_conclusion(
    lc_id: str, body: ReviewIn, allocation: AllocationDep, user: UserDep
) -> dict[str, Any]:
    """Move a Land Conclusion one step through MRPAM's review."""
    return allocation.review_land_conclusion(
        lc_id,
        status=body.status,
        decision_ref=body.decision_ref,
        valid_until=body.valid_until,
        user=user,
    )


@_write(
    "/contracts/{parcel_id}/status",
    "setContractStatus",
    "Suspend, reactivate, terminate or close a contract",
)
def set_contract_status(
    parcel_id: str, body: ContractStatusIn, allocation: AllocationDep, user: UserDep
) -> dict[str, Any]:
    """Change a contract's status, with a reason (officials of its soum or aimag)."""
    return allocation.set_contract_status(
        parcel_id, status=body.status, reason=body.reason, user=user
    )


@_write(
    "/contracts/{parcel_id}/renewal",
    "requestRenewal",
    "The holder asks for its contract to be renewed (within the window before its end)",
    created=True,
)
def request_renewal(parcel_id: str, allocation: AllocationDep, user: UserDep) -> dict[str, Any]:
    """The holder's organisation (the account that filed the approved application) or an
    administrator asks for a renewal while the contract ends within `GAZAR_EXPIRING_DAYS`
    (60); 409 outside that window, for a contract not running, or when a request is open."""
    return allocation.request_renewal(parcel_id, user=user)


@_write(
    "/contracts/{parcel_id}/renew",
    "renewContract",
    "Renew a contract for a new term, refused while its rehabilitation is not accepted",
)
def renew_contract(
    parcel_id: str, body: RenewIn, allocation: AllocationDep, user: UserDep
) -> dict[str, Any]:
    """An official of the parcel's soum or aimag renews the contract: a new term of
    `GAZAR_CONTRACT_TERM_YEARS` from the day after its end. 409 with every reason while a
    rehabilitation zone of the contract is not accepted, or outside the window."""
    return allocation.renew(parcel_id, reason=body.reason, user=user)


@_write(
    "/rehab_zones/{zone_id}/stage",
    "setRehabStage",
    "Move a rehabilitation zone to its next stage",
)
def set_rehab_stage(
    zone_id: str, body: RehabStageIn, allocation: AllocationDep, user: UserDep
) -> dict[str, Any]:
    """Move a rehabilitation zone forward; acceptance records the commission's day."""
    return allocation.set_rehab_stage(
        zone_id, stage=body.stage, accepted_on=body.accepted_on, user=user
    )


# ------------------------------------------------------------------------ register and log


@router.get("/register.json", operation_id="registerJson", summary="The public register")
def register_json(allocation: AllocationDep) -> dict[str, Any]:
    return allocation.register()


@router.get(
    "/register.geojson",
    operation_id="registerGeojson",
    summary="The applications as GeoJSON",
    response_class=GeoJSONResponse,
)
def register_geojson(allocation: AllocationDep) -> GeoJSONResponse:
    return GeoJSONResponse(allocation.register_geojson())


@router.get(
    "/register.csv",
    operation_id="registerCsv",
    summary="The register as one CSV table",
    response_class=Response,
)
def register_csv(allocation: AllocationDep) -> Response:
    return Response(
        allocation.register_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="register.csv"'},
    )


@router.get(
    "/audit",
    operation_id="auditVerify",
    summary="Recompute the log's hash chain and check private values against their commitments",
)
def audit(allocation: AllocationDep) -> dict[str, Any]:
    return allocation.audit()


@router.get(
    "/events",
    operation_id="listEvents",
    summary="The append-only log",
    responses={400: _ERRORS[400]},
)
def events(
    allocation: AllocationDep,
    after: int = Query(0, ge=0),
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    return [e.as_dict() for e in allocation.events(after=after, limit=limit)]


@router.get(
    "/log.jsonl",
    operation_id="publicLog",
    summary="The public log: one JSON object per event, paged (README: The public log)",
    description=(
        "Every event in order: seq, time, actor (public name) and role, request, action, "
        "object, before and after (the exact JSON texts the hash covers, private values as "
        "salted commitments), prev and hash. `?after=SEQ` resumes after an event; `?limit=N` "
        f"answers at most N lines (default {publog.PAGE_DEFAULT}, at most {publog.PAGE_CAP}); "
        'a full page carries `Link: <...?after=LAST&limit=N>; rel="next"`.'
    ),
    response_class=Response,
    responses={200: {"content": {"application/jsonl": {"schema": {"type": "string"}}}}},
)
def public_log(
    request: Request,
    allocation: AllocationDep,
    after: int = Query(0, ge=0, description="Lines after this event's seq"),
    limit: int = Query(publog.PAGE_DEFAULT, ge=1, le=publog.PAGE_CAP),
) -> Response:
    lines = publog.page(allocation.ledger(), after=after, limit=limit)
    link = publog.next_link(request.url.path, lines, limit)
    return Response(
        publog.text(lines),
        media_type="application/jsonl; charset=utf-8",
        headers={"Link": link} if link else None,
    )


@router.get(
    "/log/head",
    operation_id="publicLogHead",
    summary="The log's head: seq, hash and time of its last event",
)
def public_log_head(allocation: AllocationDep) -> dict[str, Any]:
    return publog.head(allocation.ledger())
