"""Decisions as documents for the decision file (:mod:`web.document`): the approval or
rejection of an application (number, applicant, Land Conclusion, the parcel's corners and map,
the reason, who decided and when, the contract's number and term) and the issuance or
rejection of a Land Conclusion (decision reference, valid until, who decided and when, from
the log), each with the store revision and the log's head."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from geo.area import official_ha
from layers.labels import Lang, label
from web.docmap import document_map
from web.document import (
    Document,
    corner_table,
    file_stem,
    local_time,
    stamp_text,
    today_local,
)
from web.i18n import text
from web.render import ha


def _value(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _lc_row(frames: Mapping[str, gpd.GeoDataFrame], lc_id: str) -> pd.Series | None:
    lcs = frames.get("land_conclusions")
    if lcs is None:
        return None
    hit = lcs[lcs["id"].astype(str) == lc_id]
    return None if hit.empty else hit.iloc[0]


def application_document(
    app: Mapping[str, Any],
    *,
    lang: Lang,
    frames: Mapping[str, gpd.GeoDataFrame],
    revision: str,
    head_seq: int | None,
    head_hash: str | None,
    now: dt.datetime | None = None,
) -> Document:
    """The decision on an application (``AllocationService.application``'s record, which
    carries its ``decision``) as a :class:`Document`.

    Raises
    ------
    LookupError
        When no decision is recorded (the page answers 404).
    """
    decision = app.get("decision")
    if not decision:
        raise LookupError(text("doc_no_decision", lang))
    number = str(app["id"])
    geom = shapely.geometry.shape(app["geometry"]) if app.get("geometry") else None
    lc_id = str(app.get("land_conclusion_id") or "")
    lc = _lc_row(frames, lc_id)
    lc_text = lc_id if lc is None else f"{lc_id} — {_value(lc.get('name'))}"
    outcome = str(decision["outcome"])
    facts: list[tuple[str, str]] = [
        (text("doc_outcome", lang), text(f"doc_outcome_{outcome}", lang)),
        (text("doc_application", lang), number),
        (text("doc_holder", lang), _value(app.get("holder"))),
        (text("doc_holder_type", lang), label("holder_type", str(app.get("holder_type")), lang)),
        (text("doc_members", lang),
         f"{_value(app.get('members_women'))}, {_value(app.get('members_men'))}"),
        (text("doc_land_conclusion", lang), lc_text),
        (text("doc_filed_at", lang), stamp_text(app.get("filed_at"))),
        (text("doc_reason", lang), _value(decision.get("reason"))),
    ]  # fmt: skip
    if geom is not None:
        area = official_ha(gpd.GeoSeries([geom], crs=4326))
        facts.append((text("doc_area_ha", lang), ha(float(np.asarray(area)[0]))))
    parcel_id = decision.get("parcel_id")
    if outcome == "approve":
        parcel = None
        parcels = frames.get("contract_parcels")
        if parcels is not None and parcel_id:
            hit = parcels[parcels["id"].astype(str) == str(parcel_id)]
            parcel = None if hit.empty else hit.iloc[0]
        starts = _value(parcel.get("starts_on") if parcel is not None else None)
        if starts == "—" and parcel is not None:
            starts = _value(parcel.get("signed_on"))
        ends = _value(decision.get("expires_on"))
        facts += [
            (text("doc_parcel", lang), _value(parcel_id)),
            (text("doc_contract_no", lang), _value(decision.get("contract_no"))),
            (text("doc_contract_term", lang), f"{starts} — {ends}"),
        ]
    tables = (corner_table([(number, geom)], lang),)
    soum = [str(app["soum_code"])] if app.get("soum_code") else []
    skip = {"contract_parcels": [str(parcel_id)]} if parcel_id else None
    docmap = document_map([geom], frames, lang=lang, soum_codes=soum, skip=skip)
    when = _moment(decision.get("decided_at")) or now
    return Document(
        lang=lang,
        kind="application",
        title=text("doc_application_title", lang),
        subject=f"{text('doc_application', lang)}: {number} · {_value(app.get('holder'))}",
        facts=tuple(facts),
        tables=tables,
        map=docmap,
        signed_label=text("doc_decided_by", lang),
        signed_by=_value(decision.get("actor")),
        signed_at=stamp_text(decision.get("decided_at")),
        revision=revision,
        head_seq=head_seq,
        head_hash=head_hash,
        file_stem=file_stem("decision", number, _local_day(when)),
    )


def lc_decision_events(events: Sequence[Any], lc_id: str) -> Any | None:
    """The last log event that issued or rejected the Land Conclusion ``lc_id``."""
    found = None
    for event in events:
        if lc_id not in str(event.object):
            continue
        after = _json(event.after)
        if isinstance(after, dict) and str(after.get("id")) == lc_id and after.get("status") in (
            "issued", "rejected"
        ):  # fmt: skip
            found = event
    return found


def _json(value: Any) -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value) if isinstance(value, str | bytes) else value
    except orjson.JSONDecodeError:
        return None


def land_conclusion_document(
    lc: pd.Series,
    *,
    lang: Lang,
    frames: Mapping[str, gpd.GeoDataFrame],
    revision: str,
    head_seq: int | None,
    head_hash: str | None,
    event: Any | None = None,
    now: dt.datetime | None = None,
) -> Document:
    """The issuance or rejection of a Land Conclusion (a row of the layer) as a
    :class:`Document`; ``event`` is the log event that recorded it (who and when).

    Raises
    ------
    LookupError
        When the Land Conclusion has been neither issued nor rejected.
    """
    status = str(lc.get("status"))
    if status not in ("issued", "rejected", "revoked", "expired"):
        raise LookupError(text("doc_lc_not_decided", lang))
    lc_id = str(lc["id"])
    geom = lc.geometry
    area = official_ha(gpd.GeoSeries([geom], crs=4326))
    soum = str(lc.get("soum_code") or "")
    facts: list[tuple[str, str]] = [
        (text("doc_lc_status", lang), label("land_conclusion_status", status, lang)),
        (text("doc_lc_id", lang), lc_id),
        (text("doc_lc_name", lang), _value(lc.get("name"))),
        (text("doc_soum", lang), soum or "—"),
        (text("doc_submitted_on", lang), _value(lc.get("submitted_on"))),
        (text("doc_decision_ref", lang), _value(lc.get("decision_ref"))),
        (text("doc_decided_on", lang), _value(lc.get("decided_on"))),
        (text("doc_area_ha", lang), ha(float(np.asarray(area)[0]))),
    ]
    if status != "rejected":
        facts.append((text("doc_valid_until", lang), _value(lc.get("valid_until"))))
    reason = _event_reason(event)
    if reason:
        facts.append((text("doc_reason", lang), reason))
    docmap = document_map([geom], frames, lang=lang, soum_codes=[soum] if soum else [],
                          skip={"land_conclusions": [lc_id]})  # fmt: skip
    when = _moment(event.time) if event is not None else None
    return Document(
        lang=lang,
        kind="land_conclusion",
        title=text("doc_lc_title", lang),
        subject=f"{text('doc_lc_id', lang)}: {lc_id} · {_value(lc.get('name'))}",
        facts=tuple(facts),
        tables=(corner_table([(lc_id, geom)], lang),),
        map=docmap,
        signed_label=text("doc_decided_by", lang),
        signed_by=_value(event.actor) if event is not None else "—",
        signed_at=stamp_text(event.time) if event is not None else local_time(now),
        revision=revision,
        head_seq=head_seq,
        head_hash=head_hash,
        file_stem=file_stem("land-conclusion", lc_id, _local_day(when or now)),
    )


def _event_reason(event: Any | None) -> str | None:
    after = _json(event.after) if event is not None else None
    if isinstance(after, dict):
        for key in ("reason", "decision_reason"):
            if after.get(key):
                return str(after[key])
    return None


def _moment(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _local_day(moment: dt.datetime | None) -> dt.date:
    if moment is None:
        return today_local()
    from web.document import MONGOLIA

    when = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return when.astimezone(MONGOLIA).date()


__all__ = ["application_document", "land_conclusion_document", "lc_decision_events"]
