"""Routes: one Land Conclusion and one contract, as the JSON a program reads.

``GET /land_conclusions/{lc_id}`` and ``GET /contracts/{parcel_id}`` answer a GeoJSON Feature
with the labels, and for a Land Conclusion its pipeline step, days waiting, queue and
contracts, for a contract its term, status, renewal window, renewals, status changes and the
holder's rehabilitation zones (:mod:`api.services.objects`). A browser asking the same
address for HTML gets the object's page instead (``web/negotiate.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ServicesDep
from api.services.objects import contract_document, land_conclusion_document, local_today

router = APIRouter(tags=["allocation"])

_404: dict[int | str, dict[str, Any]] = {404: {"description": "No such record"}}


@router.get(
    "/land_conclusions/{lc_id}",
    operation_id="getLandConclusion",
    summary="One Land Conclusion: pipeline step, days waiting, queue and contracts",
    responses=_404,
)
def get_land_conclusion(lc_id: str, services: ServicesDep) -> dict[str, Any]:
    """A Land Conclusion as a GeoJSON Feature with its labels, its step in the pipeline, the
    days it has waited there, its queue of applications in order and its contracts."""
    return land_conclusion_document(services, lc_id, today=local_today(services))


@router.get(
    "/contracts/{parcel_id}",
    operation_id="getContract",
    summary="One contract: parcel, holder, term, status, renewal window, renewals, changes",
    responses=_404,
)
def get_contract(parcel_id: str, services: ServicesDep) -> dict[str, Any]:
    """A contract parcel as a GeoJSON Feature with its labels and days left in its term; its
    properties also carry the approved `application_id`, `renewal` (days left, whether it may
    be renewed now and why; null outside the `GAZAR_EXPIRING_DAYS` window) and its status
    `changes`; beside them its `renewals` and the rehabilitation zones of its holder."""
    return contract_document(services, parcel_id, today=local_today(services))
