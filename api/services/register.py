"""The allocation records as JSON: applications, draws, and the public register's feeds.

What ``GET /applications``, ``/draws``, ``/register.json``, ``/register.geojson`` and
``/register.csv`` answer, what ``gazar register`` prints and what the ``/register`` page
shows, read from the ledger (:class:`layers.ledger.Ledger`) outside any write. The
:class:`api.services.allocation.AllocationService` calls these with its ledger and settings.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from api.services.allocation_checks import today_of
from api.services.publog import head as log_head
from geo.allocation import STATUS_LABELS, competing_groups, verify_draw
from geo.lifecycle import expiring
from geo.settings import AnalysisSettings
from layers.cells import safe_cell
from layers.errors import StoreError
from layers.geojson import collection
from layers.labels import label, messages
from layers.ledger import Ledger, RecordNotFound, parse_json_list, public_record, stamp

#: columns of ``/register.csv``: one row per record, the ``section`` saying which kind
CSV_COLUMNS: Final = (
    "section",
    "id",
    "application_id",
    "land_conclusion_id",
    "soum_code",
    "holder",
    "status",
    "time",
    "place",
    "position",
    "official_ha",
    "text_mn",
    "text_en",
    "detail",
)


def feature_json(row: pd.Series) -> dict[str, Any]:
    """A record's fields (not its geometry) as plain values; dates as ISO text."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "geometry":
            continue
        if isinstance(value, dt.date):
            out[str(key)] = value.isoformat()
        elif value is None or (not isinstance(value, str) and pd.isna(value)):
            out[str(key)] = None
        elif isinstance(value, np.integer):
            out[str(key)] = int(value)
        else:
            out[str(key)] = value
    return out


# ---------------------------------------------------------------------------- applications


def application_view(ledger: Ledger, number: str, *, settings: AnalysisSettings) -> dict[str, Any]:
    """One application with its reasons, objections, decision, draw and competing group."""
    frame = ledger.applications(ids=[number])
    if frame.empty:
        raise RecordNotFound("applications", number)
    lc = str(frame["land_conclusion_id"].iloc[0])
    rows = application_rows(ledger.applications(where={"land_conclusion_id": lc}), settings)
    out = next(r for r in rows if r["id"] == number)
    out["objections"] = public_objections(ledger, number)
    decisions = ledger.records("decisions", where={"application_id": number})
    out["decision"] = decisions[0] if decisions else None
    draws = [d for d in ledger.records("draws") if number in parse_json_list(d["applications"])]
    out["draw"] = draw_json(draws[0]) if draws else None
    out["geometry"] = shapely.geometry.mapping(frame.geometry.iloc[0])
    return out


def public_objections(ledger: Ledger, number: str | None = None) -> list[dict[str, Any]]:
    """The objections (to application ``number``, or all) as anyone may read them: without
    the objector's contact, which only the record keeps."""
    where = None if number is None else {"application_id": number}
    return [public_record("objections", o) for o in ledger.records("objections", where=where)]


def _application_json(row: pd.Series) -> dict[str, Any]:
    out = feature_json(row)
    for key in ("reasons", "notes", "competing"):
        out[key] = parse_json_list(row[key])
    status = str(row["status"])
    out["status_mn"], out["status_en"] = STATUS_LABELS.get(status, (status, status))
    out["holder_type_mn"] = label("holder_type", str(row["holder_type"]), "mn")
    out["holder_type_en"] = label("holder_type", str(row["holder_type"]), "en")
    return out


#: what a map shows of a pending application: its public number and place, no contact
PENDING_MAP_FIELDS: Final = ("id", "land_conclusion_id", "soum_code", "holder", "holder_type",
                             "official_ha", "filed_at", "objection_until", "position")  # fmt: skip


def pending_applications(ledger: Ledger, settings: AnalysisSettings) -> gpd.GeoDataFrame | None:
    """The pending applications as the public register shows them (number, holder, Land
    Conclusion, soum, filed at, objections until, official hectares, place in its Land
    Conclusion's queue), for the map pages and ``gazar map``; None when there are none. No
    contact or account is included."""
    frame = ledger.applications(where={"status": "pending"})
    if len(frame) == 0:
        return None
    rows = application_rows(frame, settings)
    table = pd.DataFrame([{k: r.get(k) for k in PENDING_MAP_FIELDS} for r in rows])
    return gpd.GeoDataFrame(table, geometry=frame.geometry.array, crs=frame.crs)


def application_rows(frame: gpd.GeoDataFrame, settings: AnalysisSettings) -> list[dict[str, Any]]:
    """Applications as JSON, oldest first, each with ``position`` (its place among the pending
    applications of its Land Conclusion now) and ``group`` (the pending applications it
    competes with now, itself included; ``competing`` is what was known when it was filed).
    """
    rows = [_application_json(r) for _, r in frame.iterrows()]
    groups = competing_groups(frame, settings=settings) if len(frame) else pd.Series([])
    members: dict[str, list[str]] = {}
    for number, group in groups.items():
        if group is not None:
            members.setdefault(str(group), []).append(str(number))
    seen: dict[str, int] = {}
    for r in rows:
        group = groups.get(r["id"]) if len(groups) else None
        r["group"] = sorted(members[str(group)]) if group is not None else []
        if r["status"] == "pending":
            lc = str(r["land_conclusion_id"])
            seen[lc] = seen.get(lc, 0) + 1
            r["position"] = seen[lc]
        else:
            r["position"] = None
    return rows


# ---------------------------------------------------------------------------------- draws


def draw_json(draw: Mapping[str, Any]) -> dict[str, Any]:
    """A draw as published, with its re-computation (``verification``) once it has run."""
    out = dict(draw)
    out["applications"] = parse_json_list(draw["applications"])
    out["result"] = parse_json_list(draw["result"]) if draw["result"] else None
    out["winner"] = out["result"][0] if out["result"] else None
    out["status"] = "run" if draw["seed"] else "announced"
    out["verification"] = verify(draw).as_dict() if draw["seed"] else None
    return out


def verify(draw: Mapping[str, Any]) -> Any:
    """Recompute a stored draw (``gazar verify-draw``)."""
    return verify_draw(
        parse_json_list(draw["applications"]),
        draw_date=dt.date.fromisoformat(draw["draw_date"]),
        public_value=draw["public_value"],
        seed=draw["seed"] or "",
        order=parse_json_list(draw["result"]),
    )


# ------------------------------------------------------------------------------- register


T = TypeVar("T")


class StoreBusy(StoreError):
    """Writes kept landing while the register was read (503: try again)."""


#: how many times the register's reads are done again when writes keep landing between them
READ_TRIES: Final = 20


def _between_reads() -> None:
    """Called between the register's first look at the head and its records (a test's hook
    to land a write there)."""


def as_of_one_head(ledger: Ledger, read: Callable[[], T]) -> tuple[dict[str, Any], T]:
    """What ``read`` makes of the store and the log's head that covers exactly it.

    The head is read before and after; the log is append-only and every ledger write seals
    its events in its own transaction, so an unchanged head means no write landed between:
    each record read has its events at or before the head, and none after it. When the head
    moved, everything is read again (a verifier would otherwise report a row with no event
    behind it, or one its events no longer explain). Both backends, no long snapshot held.
    """
    for _ in range(READ_TRIES):
        head = log_head(ledger)
        _between_reads()
        out = read()
        if log_head(ledger)["seq"] == head["seq"]:
            return head, out
    raise StoreBusy("the log kept moving while the register was read; try again")


def register(
    ledger: Ledger, *, settings: AnalysisSettings, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The public register: queue, decisions, objections, draws, contracts expiring soon,
    and the log's head covering exactly what was read (:func:`as_of_one_head`)."""
    moment = now or ledger.clock()
    head, doc = as_of_one_head(ledger, lambda: _register(ledger, settings, moment))
    return doc | {"log_head": head}


def _register(ledger: Ledger, settings: AnalysisSettings, moment: dt.datetime) -> dict[str, Any]:
    today = today_of(moment, settings)
    queue = application_rows(ledger.applications(), settings)
    objections = public_objections(ledger)
    count: dict[str, int] = {}
    for o in objections:
        count[o["application_id"]] = count.get(o["application_id"], 0) + 1
    for q in queue:
        q["objection_count"] = count.get(q["id"], 0)
    parcels = ledger.read("contract_parcels")
    soon = expiring(
        parcels,
        ledger.read("rehab_zones"),
        today=today,
        days=settings.expiring_days,
    )
    expiring_rows = [
        {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in r.items()}
        for r in _plain(soon)
    ]
    return {
        "generated_at": stamp(moment),
        "today": today.isoformat(),
        "settings": {
            "objection_window_days": settings.objection_window_days,
            "min_members": settings.min_members,
            "parcel_cap_ha": settings.parcel_cap_ha,
            "contract_term_years": settings.contract_term_years,
            "competing_window_days": settings.competing_window_days,
            "expiring_days": settings.expiring_days,
            "utc_offset_hours": settings.utc_offset_hours,
            "overlap_tolerance_m2": settings.overlap_tolerance_m2,
        },
        "queue": queue,
        "decisions": ledger.records("decisions"),
        "objections": objections,
        "draws": [draw_json(d) for d in ledger.records("draws")],
        "contracts": [feature_json(r) for _, r in parcels.iterrows()],
        "expiring": expiring_rows,
        "log": ledger.verify_chain().as_dict(),
        "log_head": None,
    }


def _plain(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cleaned = frame.astype(object).where(frame.notna(), None)
    rows: list[dict[str, Any]] = cleaned.to_dict("records")  # type: ignore[assignment]
    for r in rows:
        for k, v in r.items():
            if isinstance(v, np.generic):
                r[k] = v.item()
    return rows


def register_geojson(ledger: Ledger, *, settings: AnalysisSettings) -> dict[str, Any]:
    """The applications as a GeoJSON FeatureCollection (properties as in the register)."""
    head, (frame, decided) = as_of_one_head(
        ledger, lambda: (ledger.applications(), ledger.records("decisions"))
    )
    rows = application_rows(frame, settings)
    decisions = {d["application_id"]: d for d in decided}
    features = []
    for props, geom in zip(rows, frame.geometry, strict=True):
        d = decisions.get(props["id"])
        props["decision_outcome"] = d["outcome"] if d else None
        props["decision_reason"] = d["reason"] if d else None
        features.append(
            {
                "type": "Feature",
                "id": props["id"],
                "geometry": shapely.geometry.mapping(geom),
                "properties": props,
            }
        )
    out = collection(features)
    out["log_head"] = head
    return out


def register_csv(doc: Mapping[str, Any]) -> str:
    """The register (as :func:`register` returns it) as one CSV table, section by section."""
    rows = [
        *(_queue_csv(q) for q in doc["queue"]),
        *(_objection_csv(o) for o in doc["objections"]),
        *(_decision_csv(d) for d in doc["decisions"]),
        *(_draw_csv(w) for w in doc["draws"]),
        *(_expiring_csv(e) for e in doc["expiring"]),
        _head_csv(doc["log_head"]),
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: "" if r.get(c) is None else safe_cell(r.get(c)) for c in CSV_COLUMNS})
    return buf.getvalue()


def _queue_csv(q: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "section": "application",
        "id": q["id"],
        "application_id": q["id"],
        "land_conclusion_id": q["land_conclusion_id"],
        "soum_code": q["soum_code"],
        "holder": q["holder"],
        "status": q["status"],
        "time": q["filed_at"],
        "place": q["place"],
        "position": q["position"],
        "official_ha": q["official_ha"],
        "text_mn": "; ".join(r["message_mn"] for r in q["reasons"]),
        "text_en": "; ".join(r["message_en"] for r in q["reasons"]),
        "detail": f"objections={q['objection_count']}; until={q['objection_until']}",
    }


def _objection_csv(o: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "section": "objection",
        "id": o["id"],
        "application_id": o["application_id"],
        "holder": o["name"],
        "time": o["filed_at"],
        "text_mn": o["reason"],
        "text_en": o["reason"],
    }


def _decision_csv(d: Mapping[str, Any]) -> dict[str, Any]:
    detail = (
        f"parcel={d['parcel_id']}; contract={d['contract_no']}; expires_on={d['expires_on']}"
        if d["parcel_id"]
        else ""
    )
    return {
        "section": "decision",
        "id": d["id"],
        "application_id": d["application_id"],
        "status": d["outcome"],
        "time": d["decided_at"],
        "text_mn": d["reason"],
        "text_en": d["reason"],
        "detail": detail,
    }


def _draw_csv(w: Mapping[str, Any]) -> dict[str, Any]:
    text_mn, text_en = messages(
        "register_csv", "draw", draw_date=w["draw_date"], public_value=w["public_value"]
    )
    return {
        "section": "draw",
        "id": w["id"],
        "application_id": ";".join(w["result"] or w["applications"]),
        "land_conclusion_id": w["land_conclusion_id"],
        "soum_code": w["soum_code"],
        "status": w["status"],
        "time": w["run_at"] or w["announced_at"],
        "text_mn": text_mn,
        "text_en": text_en,
        "detail": f"seed={w['seed'] or ''}; winner={w['winner'] or ''}",
    }


def _head_csv(head: Mapping[str, Any]) -> dict[str, Any]:
    """The log's head the register was read at (``/log/head``), as the table's last row."""
    return {"section": "log_head", "id": head["seq"], "time": head["time"], "detail": head["hash"]}


def _expiring_csv(e: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "section": "expiring",
        "id": e["id"],
        "land_conclusion_id": e["land_conclusion_id"],
        "holder": e["holder"],
        "status": "renewal_eligible" if e["renewal_eligible"] else "renewal_refused",
        "time": e["expires_on"],
        "text_mn": e["reason_mn"],
        "text_en": e["reason_en"],
        "detail": f"days_left={e['days_left']}",
    }
