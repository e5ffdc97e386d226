"""Routes: the Land Conclusion pipeline before MRPAM — propose, record the Khural's approval,
submit to MRPAM.

Each write needs ``Authorization: Bearer <token>`` of a soum or aimag official (or an
administrator) and acts only in the official's own soum or aimag, checked on the stored
record (:mod:`api.services.access`, action ``propose``). Refusals as the other writes: 400 (a
body that does not fit the document), 401 (no or bad token), 403 (role or soum), 404 (no such
Land Conclusion), 409 (the status does not allow the step: the reason in both languages),
422 (unusable input: no name, a polygon no analysis can use, a date in the future), 429 (too
many failed token checks). The routes call :class:`api.services.pipeline.PipelineService`, as
the official's desk (``/desk``) does. MRPAM's review is ``POST /land_conclusions/{id}/review``
(``api/routes/allocation.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import shapely
from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import UserDep
from api.deps import ServicesDep
from api.errors import Unprocessable
from api.services.access import require_role

router = APIRouter(tags=["allocation"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request is malformed (a parameter or the body is invalid)"},
    401: {"description": "No token, or an unknown or revoked one"},
    403: {"description": "The token's role or soum does not allow this"},
    404: {"description": "No such Land Conclusion (or path)"},
    409: {"description": "Refused by the Land Conclusion's status; the description says why"},
    422: {"description": "The input cannot be used"},
    429: {
        "description": "Too many failed token checks from this address: every token is "
        "refused until Retry-After",
        "headers": {
            "Retry-After": {
                "description": "Seconds until a token may be tried again",
                "schema": {"type": "integer"},
            }
        },
    },
}


class ProposalIn(BaseModel):
    """A proposed Land Conclusion: its outline (a GeoJSON Polygon or MultiPolygon, EPSG:4326)
    and name, in the official's soum unless ``soum_code`` names another of its aimag."""

    name: str = Field(min_length=1, max_length=200)
    geometry: dict[str, Any]
    soum_code: str | None = Field(
        None,
        description="The soum (an id of /collections/soums/items); a soum official's own by "
        "default, required for aimag officials and administrators (422 without)",
    )
    mineral: str = Field("gold", min_length=1, max_length=60)


class KhuralIn(BaseModel):
    approved_on: dt.date = Field(
        description="The day the Khural approved the proposal: not before the proposal, not "
        "in the future (422)"
    )


def _geometry(value: dict[str, Any]) -> shapely.Geometry:
    try:
        return shapely.from_geojson(orjson.dumps(value).decode())
    except (shapely.errors.GEOSException, orjson.JSONEncodeError) as exc:
        raise Unprocessable(f"geometry: not a GeoJSON geometry ({exc})") from None


@router.post(
    "/land_conclusions",
    status_code=201,
    operation_id="proposeLandConclusion",
    summary="Propose a Land Conclusion in the official's soum (status proposed)",
    responses=_ERRORS,
)
def propose_land_conclusion(
    body: ProposalIn, services: ServicesDep, user: UserDep
) -> dict[str, Any]:
    """Save a new Land Conclusion as ``proposed``, dated today; the answer is its record."""
    require_role(user, "propose")  # 401/403 before the geometry is read (422)
    return services.pipeline.propose(
        _geometry(body.geometry),
        name=body.name,
        soum_code=body.soum_code,
        mineral=body.mineral,
        user=user,
    )


@router.post(
    "/land_conclusions/{lc_id}/khural",
    operation_id="recordKhuralApproval",
    summary="Record the Khural's approval of a proposed Land Conclusion",
    responses=_ERRORS,
)
def record_khural(
    lc_id: str, body: KhuralIn, services: ServicesDep, user: UserDep
) -> dict[str, Any]:
    """``proposed → khural_approved``, with the day of the Khural's approval."""
    return services.pipeline.record_khural(lc_id, approved_on=body.approved_on, user=user)


@router.post(
    "/land_conclusions/{lc_id}/submit",
    operation_id="submitLandConclusion",
    summary="Submit a Khural-approved Land Conclusion to MRPAM",
    responses=_ERRORS,
)
def submit_land_conclusion(lc_id: str, services: ServicesDep, user: UserDep) -> dict[str, Any]:
    """``khural_approved → submitted``, dated today: it enters MRPAM's inbox."""
    return services.pipeline.submit(lc_id, user=user)
