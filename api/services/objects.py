"""One Land Conclusion or one contract as a document: what ``GET /land_conclusions/{id}`` and
``GET /contracts/{parcel_id}`` answer and what their pages (``web/objects.py``) show.

Each is a GeoJSON Feature (EPSG:4326) whose properties are the stored fields with their labels
in both languages (status, soum name, holder type), plus what a person asks next:

- a Land Conclusion: its pipeline step and days waiting (:func:`geo.lifecycle.pipeline` with
  the settings' limits), its official hectares, its queue in order
  (:meth:`AllocationService.applications`) and its contracts;
- a contract: its Land Conclusion and soum, the days left in its term, its allocation record
  (approved application, renewal window, renewals, status changes:
  :meth:`AllocationService.contract`), and the rehabilitation zones of its holder with their
  stage.

Reads only: the layers through the layer cache, the allocation records through the
allocation service. Nothing here knows HTTP.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from api.services.allocation import LedgerUnavailable
from api.services.allocation_checks import today_of
from api.services.register import feature_json
from geo.area import official_ha
from geo.lifecycle import pipeline
from layers.labels import label
from layers.ledger import RecordNotFound

if TYPE_CHECKING:  # the services import this module's callers, not the other way round
    from api.services import Services

__all__ = [
    "contract_document",
    "land_conclusion_document",
    "local_today",
    "soum_names",
]


def local_today(services: Services) -> dt.date:
    """Today in Mongolia (``utc_offset_hours``) by the ledger's clock (the system's when the
    ledger cannot be opened)."""
    try:
        moment = services.allocation.ledger().clock()
    except LedgerUnavailable:
        moment = dt.datetime.now(dt.UTC)
    return today_of(moment, services.settings.analysis)


def _pair(group: str, value: object) -> tuple[str, str]:
    """Both labels of a code (the code itself where the catalogue has none)."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):  # type: ignore[call-overload]
        return ("", "")
    return (label(group, str(value), "mn"), label(group, str(value), "en"))


def _one(frame: gpd.GeoDataFrame, table: str, record_id: str) -> gpd.GeoDataFrame:
    hit = frame[frame["id"].astype(str) == record_id]
    if hit.empty:
        raise RecordNotFound(table, record_id)
    return hit


def _hectares(frame: gpd.GeoDataFrame) -> list[float]:
    if len(frame) == 0:
        return []
    return [float(v) for v in official_ha(np.asarray(frame.geometry.array, dtype=object))]


def soum_names(services: Services, code: object) -> tuple[str, str]:
    """The soum's name in Mongolian and English (its code when it has no name)."""
    soums = services.layers.get("soums")
    hit = soums[soums["id"].astype(str) == str(code)]
    if hit.empty:
        return (str(code or ""), str(code or ""))
    row = hit.iloc[0]
    mn = row["name_mn"] if isinstance(row["name_mn"], str) and row["name_mn"] else None
    en = row["name_en"] if isinstance(row["name_en"], str) and row["name_en"] else None
    return (mn or en or str(code), en or mn or str(code))


def _feature(row: pd.Series, properties: dict[str, Any]) -> dict[str, Any]:
    geom = row.geometry
    return {
        "type": "Feature",
        "id": str(row["id"]),
        "geometry": None if geom is None else shapely.geometry.mapping(geom),
        "properties": properties,
    }


def _queue(services: Services, lc_id: str) -> list[dict[str, Any]]:
    try:
        rows = services.allocation.applications({"land_conclusion_id": lc_id})
    except LedgerUnavailable:
        return []
    return rows


def land_conclusion_document(services: Services, lc_id: str, *, today: dt.date) -> dict[str, Any]:
    """A Land Conclusion as a Feature with its labels, pipeline step, queue and contracts.

    Raises
    ------
    RecordNotFound
        When no Land Conclusion has the id (404).
    """
    lcs = services.layers.get("land_conclusions")
    frame = _one(lcs, "land_conclusions", lc_id)
    row = frame.iloc[0]
    props = feature_json(row)
    props["status_mn"], props["status_en"] = _pair("land_conclusion_status", row["status"])
    props["requested_by_mn"], props["requested_by_en"] = _pair("requested_by", row["requested_by"])
    props["soum_name_mn"], props["soum_name_en"] = soum_names(services, row["soum_code"])
    props["official_ha"] = _hectares(frame)[0]
    settings = services.settings.analysis
    steps = pipeline(
        pd.DataFrame(frame.drop(columns="geometry")),
        today=today,
        limits=settings.pipeline_limit_days,
    ).iloc[0]
    step = steps["current_step"]
    step = None if step is None or (not isinstance(step, str) and pd.isna(step)) else str(step)
    props["current_step"] = step
    props["current_step_mn"], props["current_step_en"] = _pair("land_conclusion_status", step)
    waited = steps["days_in_step"]
    props["days_waiting"] = None if pd.isna(waited) else int(waited)
    limit = steps["limit_days"]
    props["limit_days"] = None if pd.isna(limit) else int(limit)
    props["delayed"] = bool(steps["delayed"])
    parcels = services.layers.get("contract_parcels")
    mine = parcels[parcels["land_conclusion_id"].astype(str) == lc_id].sort_values("id")
    contracts = []
    for (_, p), area in zip(mine.iterrows(), _hectares(mine), strict=True):
        c = feature_json(p)
        c["status_mn"], c["status_en"] = _pair("contract_status", p["status"])
        c["official_ha"] = area
        contracts.append(c)
    doc = _feature(row, props)
    doc["queue"] = _queue(services, lc_id)
    doc["contracts"] = contracts
    return doc


def _contract_record(services: Services, parcel_id: str) -> dict[str, Any]:
    """The allocation record of a contract (:meth:`AllocationService.contract`): its renewal
    window, renewals, status changes and approved application; empty while the ledger cannot
    be opened."""
    try:
        return services.allocation.contract(parcel_id)
    except LedgerUnavailable:
        return {"renewal": None, "renewals": [], "changes": [], "application_id": None}


def _labelled_change(change: dict[str, Any]) -> dict[str, Any]:
    """A contract's status change with both statuses labelled in both languages."""
    out = dict(change)
    out["status_before_mn"], out["status_before_en"] = _pair(
        "contract_status", change["status_before"]
    )
    out["status_mn"], out["status_en"] = _pair("contract_status", change["status"])
    return out


def contract_document(services: Services, parcel_id: str, *, today: dt.date) -> dict[str, Any]:
    """A contract parcel as a Feature: holder, term, status, Land Conclusion and soum, and
    from the allocation record (:meth:`AllocationService.contract`) the approved
    ``application_id``, ``renewal`` (whether it may be renewed now and why, None outside the
    window) and its status ``changes``; beside the properties, like a Land Conclusion's queue
    and contracts, its ``renewals`` (oldest first) and the rehabilitation zones of its holder
    with their stage.

    Raises
    ------
    RecordNotFound
        When no contract parcel has the id (404).
    """
    frame = _one(services.layers.get("contract_parcels"), "contract_parcels", parcel_id)
    row = frame.iloc[0]
    props = feature_json(row)
    props["status_mn"], props["status_en"] = _pair("contract_status", row["status"])
    props["holder_type_mn"], props["holder_type_en"] = _pair("holder_type", row["holder_type"])
    props["official_ha"] = _hectares(frame)[0]
    expires = row["expires_on"]
    props["days_left"] = (expires - today).days if isinstance(expires, dt.date) else None
    lcs = services.layers.get("land_conclusions")
    lc = lcs[lcs["id"].astype(str) == str(row["land_conclusion_id"])]
    soum = lc["soum_code"].iloc[0] if len(lc) else None
    props["land_conclusion_name"] = str(lc["name"].iloc[0]) if len(lc) else None
    props["soum_code"] = None if soum is None else str(soum)
    props["soum_name_mn"], props["soum_name_en"] = soum_names(services, soum)
    zones = services.layers.get("rehab_zones")
    holder = str(row["holder"]) if isinstance(row["holder"], str) else None
    mine = zones[
        (zones["parcel_id"].astype(str) == parcel_id)
        | (zones["holder"].astype(str) == holder if holder else False)
    ].sort_values("id")
    rehab = []
    for _, z in mine.iterrows():
        item = feature_json(z)
        item["stage_mn"], item["stage_en"] = _pair("rehab_stage", z["stage"])
        item["this_parcel"] = str(z["parcel_id"]) == parcel_id
        rehab.append(item)
    record = _contract_record(services, parcel_id)
    props["application_id"] = record["application_id"]
    props["renewal"] = record["renewal"]
    props["changes"] = [_labelled_change(c) for c in record["changes"]]
    doc = _feature(row, props)
    doc["renewals"] = record["renewals"]
    doc["rehab_zones"] = rehab
    return doc
