"""The allocation service: each step of the process as one ledger transaction.

Used by the ``gazar`` commands (``api/commands/allocation.py``) and the HTTP routes
(``api/routes/allocation.py``), so both enforce the same rules. Each function reads what it
needs *inside* the transaction (the write lock is held), checks the caller's role against the
stored object (:func:`api.auth.authorize`), applies the rules of :mod:`geo.allocation` and
writes; a refusal raises :class:`layers.ledger.Conflict` (409) with every reason, and nothing
is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from api.auth import authorize, require_role
from api.errors import BadRequest, Unprocessable
from geo.allocation import (
    OUTCOMES,
    STATUS_LABELS,
    NoRoom,
    Reason,
    approval_reasons,
    competing_groups,
    contract_parcel,
    draw_input,
    draw_order,
    draw_seed,
    eligibility,
    group_closed,
    local_day,
    objection_until,
    parcel_of_size,
    queue_reasons,
    verify_draw,
)
from geo.availability import LandConclusionNotInForce
from geo.lifecycle import expiring
from geo.repair import check_polygons, repair_polygons
from geo.settings import AnalysisSettings
from layers.errors import InvalidGeometry
from layers.geojson import collection
from layers.labels import LABELS, label
from layers.ledger import (
    APPLICATIONS,
    Conflict,
    Ledger,
    LedgerTx,
    RecordNotFound,
    User,
    parse_json_list,
    stamp,
)
from layers.schema import MONGOLIA_BOUNDS, STORE_CRS

#: how far around an application the layers are read for its checks (degrees, ~100 m)
_PAD_DEG: Final = 0.001

#: contract status changes a soum official may make
CONTRACT_MOVES: Final[dict[str, tuple[str, ...]]] = {
    "active": ("suspended", "terminated", "expired"),
    "suspended": ("active", "terminated", "expired"),
}

REHAB_ORDER: Final = ("required", "technical_done", "biological_done", "accepted")

#: Land Conclusion review steps MRPAM may take: from -> allowed targets
REVIEW_MOVES: Final[dict[str, tuple[str, ...]]] = {
    "submitted": ("under_review",),
    "under_review": ("issued", "rejected"),
}


@dataclass(frozen=True)
class ApplicationInput:
    """What an applicant sends: a polygon, or a size in hectares to be placed for them."""

    land_conclusion_id: str
    holder: str
    holder_type: str
    members_women: int
    members_men: int
    geometry: shapely.Geometry | None = None
    requested_ha: float | None = None


def _today(moment: dt.datetime, settings: AnalysisSettings) -> dt.date:
    return local_day(moment, utc_offset_hours=settings.utc_offset_hours)


def _land_conclusion(tx: LedgerTx, lc_id: str) -> pd.Series:
    lcs = tx.read("land_conclusions", ids=[lc_id])
    if lcs.empty:
        raise Unprocessable(
            f"газрын дүгнэлт '{lc_id}' олдсонгүй / no Land Conclusion has the id '{lc_id}'"
        )
    return lcs.iloc[0]


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _near(tx: LedgerTx, geom: shapely.Geometry, lc_id: str) -> dict[str, gpd.GeoDataFrame]:
    """The layers an application's checks need, read inside the transaction."""
    x0, y0, x1, y1 = shapely.bounds(geom)
    bbox = (x0 - _PAD_DEG, y0 - _PAD_DEG, x1 + _PAD_DEG, y1 + _PAD_DEG)
    layers = {
        name: tx.read(name, bbox=bbox)
        for name in ("land_conclusions", "contract_parcels", "exclusions", "licences", "soums")
    }
    if lc_id not in set(layers["land_conclusions"]["id"]):
        layers["land_conclusions"] = _concat(
            layers["land_conclusions"], tx.read("land_conclusions", ids=[lc_id])
        )
    zones = tx.read("rehab_zones")  # every zone: the holder check looks at all of them
    layers["rehab_zones"] = zones
    named = [str(p) for p in zones["parcel_id"].dropna().unique()]
    if named:
        layers["contract_parcels"] = _concat(
            layers["contract_parcels"], tx.read("contract_parcels", ids=named)
        )
    return layers


def _concat(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if b.empty:
        return a
    if a.empty:
        return b
    both = pd.concat([a, b], ignore_index=True).drop_duplicates("id")
    return gpd.GeoDataFrame(both, geometry="geometry", crs=STORE_CRS)


def _check_geometry(geom: shapely.Geometry) -> shapely.Geometry:
    """The applicant's polygon, repaired if invalid; refused when no analysis can use it."""
    if geom is None or geom.is_empty:
        raise InvalidGeometry("the application has no polygon (empty geometry)")
    arr = np.array([geom], dtype=object)
    check_polygons(arr, layer="application", ids=["application"])
    x0, y0, x1, y1 = MONGOLIA_BOUNDS
    bx0, by0, bx1, by1 = shapely.bounds(geom)
    if not (x0 <= bx0 and bx1 <= x1 and y0 <= by0 and by1 <= y1):
        hint = " (latitude and longitude look swapped)" if y0 <= bx0 and bx1 <= y1 else ""
        raise InvalidGeometry(
            f"the application's polygon lies outside Mongolia (lon {x0}–{x1}, lat {y0}–{y1}){hint}"
        )
    fixed, _ = repair_polygons(arr, layer="application", ids=["application"])
    if fixed[0] is None or fixed[0].is_empty:
        raise InvalidGeometry("the application's polygon has no area once repaired")
    return fixed[0]


def _check_input(data: ApplicationInput, settings: AnalysisSettings) -> None:
    if not data.holder.strip():
        raise Unprocessable("өргөдөл гаргагчийн нэр хоосон / the holder's name is empty")
    if data.holder_type not in LABELS["holder_type"]:
        raise Unprocessable(
            f"holder_type '{data.holder_type}' is not one of {', '.join(LABELS['holder_type'])}"
        )
    if min(data.members_women, data.members_men) < 0:
        raise Unprocessable("member counts cannot be negative")
    if (data.geometry is None) == (data.requested_ha is None):
        raise Unprocessable(
            "талбайн хилийг эсвэл хэмжээг (га) өгнө үү / send either a polygon or a size in "
            "hectares (requested_ha), not both"
        )
    if data.requested_ha is not None and not (
        np.isfinite(data.requested_ha) and 0 < data.requested_ha <= settings.parcel_cap_ha
    ):
        raise Unprocessable(
            f"requested_ha must be a number of hectares above 0 and at most the cap of "
            f"{settings.parcel_cap_ha:g} ha, not {data.requested_ha!r}"
        )


# ------------------------------------------------------------------------------- applying


def apply(
    ledger: Ledger, data: ApplicationInput, *, user: User | None, settings: AnalysisSettings
) -> dict[str, Any]:
    """File an application: number, server time, place in the queue, eligibility with reasons.

    An application that fails a check is still recorded (status ``ineligible``, with every
    reason) so that the applicant and the public can read why.
    """
    _check_input(data, settings)
    geom = None if data.geometry is None else _check_geometry(data.geometry)
    who = authorize(user, "apply")
    with ledger.transaction(actor=who.name, request=f"apply {data.holder}") as tx:
        now = tx.now()
        today = _today(now, settings)
        lc = _land_conclusion(tx, data.land_conclusion_id)
        if geom is None:
            region = lc.geometry
            near = _near(tx, region, data.land_conclusion_id)
            waiting = tx.read("applications", bbox=shapely.bounds(region).tolist())
            try:
                geom = parcel_of_size(
                    data.land_conclusion_id,
                    ha=float(data.requested_ha or 0),
                    layers=near,
                    applications=waiting,
                    today=today,
                )
            except NoRoom as exc:
                raise Conflict("no parcel of that size fits", [exc.reason]) from None
            except LandConclusionNotInForce as exc:
                raise Conflict(str(exc)) from None
        soum = _text(lc["soum_code"]) or "MN"
        prefix = f"{soum}-{today.year}-"
        number = f"{prefix}{tx.count('applications', prefix=prefix) + 1:04d}"
        queue = tx.read("applications", where={"land_conclusion_id": data.land_conclusion_id})
        filed_at = stamp(now)
        frame = gpd.GeoDataFrame(
            {
                "id": [number],
                "land_conclusion_id": [data.land_conclusion_id],
                "holder": [data.holder.strip()],
                "holder_type": [data.holder_type],
                "members_women": [int(data.members_women)],
                "members_men": [int(data.members_men)],
                "filed_at": [filed_at],
            },
            geometry=[geom],
            crs=STORE_CRS,
        )
        layers = _near(tx, geom, data.land_conclusion_id)
        others = tx.read("applications", bbox=_pad(geom))
        result = eligibility(
            frame, layers=layers, applications=others, today=today, settings=settings
        )
        record = frame.assign(
            soum_code=soum,
            aimag_code=_text(lc["aimag_code"]),
            requested_ha=data.requested_ha,
            official_ha=result.official_ha,
            filed_on=today,
            place=len(queue) + 1,
            status="pending" if result.eligible else "ineligible",
            reasons=_dumps([r.as_dict() for r in result.reasons]),
            notes=_dumps([r.as_dict() for r in result.notes]),
            competing=_dumps(list(result.competing)),
            objection_until=objection_until(today, days=settings.objection_window_days),
            decided_at=None,
            parcel_id=None,
            applicant=who.name,
        )
        tx.write({"applications": record[[*APPLICATIONS.columns, "geometry"]]})
    return application_view(ledger, number, settings=settings)


def _pad(geom: shapely.Geometry) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = shapely.bounds(geom)
    return (x0 - _PAD_DEG, y0 - _PAD_DEG, x1 + _PAD_DEG, y1 + _PAD_DEG)


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def _application(tx: LedgerTx, number: str) -> gpd.GeoDataFrame:
    frame = tx.read("applications", ids=[number])
    if frame.empty:
        raise RecordNotFound("applications", number)
    return frame


# ----------------------------------------------------------------------------- objections


def object_to(
    ledger: Ledger,
    number: str,
    *,
    name: str,
    reason: str,
    user: User | None,
    settings: AnalysisSettings,
) -> dict[str, Any]:
    """File an objection within the objection window; shown with the application."""
    who = authorize(user, "object")
    if not reason.strip():
        raise Unprocessable("гомдлын шалтгааныг бичнэ үү / an objection needs a reason")
    with ledger.transaction(actor=who.name, request=f"object {number}") as tx:
        app = _application(tx, number).iloc[0]
        today = _today(tx.now(), settings)
        until = app["objection_until"]
        if isinstance(until, dt.date) and today > until:
            raise Conflict(
                f"Гомдол гаргах хугацаа {until.isoformat()}-нд дууссан / the objection window "
                f"of {number} closed on {until.isoformat()}"
            )
        k = len(tx.records("objections", where={"application_id": number})) + 1
        row = {
            "id": f"{number}/O{k}",
            "application_id": number,
            "filed_at": stamp(tx.now()),
            "name": name.strip() or who.name,
            "reason": reason.strip(),
            "actor": who.name,
        }
        tx.insert("objections", [row])
    return row


# ------------------------------------------------------------------------------ decisions


def decide(
    ledger: Ledger,
    number: str,
    *,
    outcome: str,
    reason: str,
    user: User | None,
    settings: AnalysisSettings,
    contract_no: str | None = None,
) -> dict[str, Any]:
    """Approve (creating the contract parcel) or reject an application, with a written reason.

    An approval re-checks everything inside the transaction — the application is pending,
    its objection window has closed, a draw ranked it first among the pending competitors,
    and it is still eligible (above all: no overlap with any parcel holding land) — then
    writes the contract parcel, the decision and the application's new status together.
    """
    if outcome not in OUTCOMES:
        raise BadRequest(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if not reason.strip():
        raise Unprocessable("шийдвэрийн үндэслэлийг бичнэ үү / a decision needs a written reason")
    require_role(user, "decide")
    with ledger.transaction(actor=_name(user), request=f"decide {outcome} {number}") as tx:
        frame = _application(tx, number)
        app = frame.iloc[0]
        who = authorize(
            user, "decide", soum_code=_text(app["soum_code"]), aimag_code=_text(app["aimag_code"])
        )
        now = tx.now()
        today = _today(now, settings)
        decision: dict[str, Any] = {
            "id": number,
            "application_id": number,
            "outcome": outcome,
            "reason": reason.strip(),
            "decided_at": stamp(now),
            "actor": who.name,
            "parcel_id": None,
            "contract_no": None,
            "expires_on": None,
        }
        if outcome == "approve":
            reasons = _approval_blockers(tx, frame, today=today, settings=settings)
            if reasons:
                raise Conflict(f"application {number} cannot be approved", reasons)
            parcel_id = f"CP-{number}"
            parcel = contract_parcel(
                frame,
                parcel_id=parcel_id,
                contract_no=contract_no or number,
                signed_on=today,
                term_years=settings.contract_term_years,
            )
            tx.write({"contract_parcels": parcel})
            decision |= {
                "parcel_id": parcel_id,
                "contract_no": contract_no or number,
                "expires_on": parcel["expires_on"].iloc[0].isoformat(),
            }
            status = "approved"
        else:
            if app["status"] not in ("pending", "ineligible"):
                raise Conflict(
                    f"Өргөдөл {number} аль хэдийн шийдвэрлэгдсэн / application {number} is "
                    f"already decided ({app['status']})"
                )
            status = "rejected"
        tx.insert("decisions", [decision])
        tx.update(
            "applications",
            number,
            {"status": status, "decided_at": stamp(now), "parcel_id": decision["parcel_id"]},
        )
    return decision


def _name(user: User | None) -> str:
    return user.name if user is not None else "anonymous"


def _approval_blockers(
    tx: LedgerTx, frame: gpd.GeoDataFrame, *, today: dt.date, settings: AnalysisSettings
) -> list[Reason]:
    app = frame.iloc[0]
    number = str(app["id"])
    others = tx.read("applications", bbox=_pad(app.geometry))
    competitors: tuple[str, ...] = ()
    if app["status"] == "pending":
        _, competitors = queue_reasons(frame, others, settings=settings)
    order = None
    for draw in tx.records("draws"):
        members = parse_json_list(draw["applications"])
        if number in members and draw["seed"]:
            order = parse_json_list(draw["result"])
    statuses = dict(zip(others["id"].astype(str), others["status"].astype(str), strict=True))
    reasons = approval_reasons(
        number,
        status=str(app["status"]),
        filed_on=app["filed_on"],
        today=today,
        competitors=competitors,
        order=order,
        statuses=statuses,
        settings=settings,
    )
    if app["status"] != "pending":
        return reasons
    layers = _near(tx, app.geometry, str(app["land_conclusion_id"]))
    now = eligibility(
        frame, layers=layers, applications=None, today=today, settings=settings, queue=False
    )
    return reasons + list(now.reasons)


# ------------------------------------------------------------------------------ the draw


def announce_draw(
    ledger: Ledger,
    number: str,
    *,
    draw_date: dt.date,
    public_value: str,
    user: User | None,
    settings: AnalysisSettings,
) -> dict[str, Any]:
    """Announce the draw of the competing group ``number`` belongs to, before the draw date.

    The group must be final (its filing window closed); the public value is published now,
    with the server time, and the draw may run on ``draw_date`` (a later day) or after.
    """
    require_role(user, "draw")
    with ledger.transaction(actor=_name(user), request=f"draw announce {number}") as tx:
        app = _application(tx, number).iloc[0]
        who = authorize(
            user, "draw", soum_code=_text(app["soum_code"]), aimag_code=_text(app["aimag_code"])
        )
        today = _today(tx.now(), settings)
        pending = tx.read(
            "applications",
            where={"land_conclusion_id": app["land_conclusion_id"], "status": "pending"},
        )
        groups = competing_groups(pending, settings=settings)
        group = groups.get(number)
        if group is None:
            raise Conflict(
                f"Өргөдөл {number} өрсөлдөгчгүй: сугалаа шаардлагагүй / application {number} "
                "competes with no pending application: no draw is needed"
            )
        members = sorted(str(i) for i in groups.index[(groups == group).to_numpy()])
        filed = pending.set_index(pending["id"].astype(str)).loc[members, "filed_at"]
        if not group_closed(filed, today=today, settings=settings):
            raise Conflict(
                "Өрсөлдөх хугацаа дуусаагүй: шинэ өргөдөл нэмэгдэж болзошгүй / the competing "
                "window is still open: more applications may join the group; announce the "
                "draw after it closes"
            )
        if draw_date <= today:
            raise Conflict(
                f"Сугалааны өдөр ({draw_date.isoformat()}) зарласан өдрөөс хойш байна / the "
                f"draw date ({draw_date.isoformat()}) must come after the day the public "
                f"value is announced ({today.isoformat()})"
            )
        draw_input(members, draw_date=draw_date, public_value=public_value)  # checks inputs
        for draw in tx.records("draws"):
            if set(parse_json_list(draw["applications"])) & set(members):
                raise Conflict(
                    f"these applications already have a draw: {draw['id']} "
                    f"({', '.join(parse_json_list(draw['applications']))})"
                )
        soum = _text(app["soum_code"]) or "MN"
        prefix = f"D-{soum}-{today.year}-"
        row = {
            "id": f"{prefix}{tx.count('draws', prefix=prefix) + 1:03d}",
            "soum_code": soum,
            "land_conclusion_id": app["land_conclusion_id"],
            "applications": _dumps(members),
            "draw_date": draw_date.isoformat(),
            "public_value": public_value,
            "announced_at": stamp(tx.now()),
            "announced_by": who.name,
        }
        tx.insert("draws", [row])
    return draw_view(ledger, str(row["id"]))


def run_draw(
    ledger: Ledger, draw_id: str, *, user: User | None, settings: AnalysisSettings
) -> dict[str, Any]:
    """Run an announced draw on or after its date: the seed, the order, the winner."""
    require_role(user, "draw")
    with ledger.transaction(actor=_name(user), request=f"draw run {draw_id}") as tx:
        rows = tx.records("draws", where={"id": draw_id})
        if not rows:
            raise RecordNotFound("draws", draw_id)
        draw = rows[0]
        lcs = tx.read("land_conclusions", ids=[draw["land_conclusion_id"]])
        aimag = _text(lcs["aimag_code"].iloc[0]) if len(lcs) else None
        who = authorize(user, "draw", soum_code=draw["soum_code"], aimag_code=aimag)
        if draw["seed"]:
            raise Conflict(f"draw {draw_id} has run already (seed {draw['seed']})")
        today = _today(tx.now(), settings)
        day = dt.date.fromisoformat(draw["draw_date"])
        if today < day:
            raise Conflict(
                f"Сугалаа {day.isoformat()}-нд явагдана / draw {draw_id} is set for "
                f"{day.isoformat()}; it cannot run before that day"
            )
        members = parse_json_list(draw["applications"])
        text = draw_input(members, draw_date=day, public_value=draw["public_value"])
        seed = draw_seed(members, draw_date=day, public_value=draw["public_value"])
        tx.update(
            "draws",
            draw_id,
            {
                "run_at": stamp(tx.now()),
                "run_by": who.name,
                "input": text,
                "seed": seed,
                "result": _dumps(draw_order(members, seed=seed)),
            },
        )
    return draw_view(ledger, draw_id)


def draw_view(ledger: Ledger, draw_id: str) -> dict[str, Any]:
    """A draw as published, with its re-computation (``verification``) once it has run."""
    rows = ledger.records("draws", where={"id": draw_id})
    if not rows:
        raise RecordNotFound("draws", draw_id)
    return _draw_json(rows[0])


def _draw_json(draw: Mapping[str, Any]) -> dict[str, Any]:
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


# ------------------------------------------------------------ Land Conclusions, contracts


def review_land_conclusion(
    ledger: Ledger,
    lc_id: str,
    *,
    status: str,
    decision_ref: str | None,
    user: User | None,
    settings: AnalysisSettings,
    valid_until: dt.date | None = None,
) -> dict[str, Any]:
    """MRPAM's review step: ``submitted → under_review → issued | rejected``."""
    require_role(user, "review")
    with ledger.transaction(actor=_name(user), request=f"review {lc_id} {status}") as tx:
        lcs = tx.read("land_conclusions", ids=[lc_id])
        if lcs.empty:
            raise RecordNotFound("land_conclusions", lc_id)
        lc = lcs.iloc[0]
        authorize(user, "review", soum_code=_text(lc["soum_code"]))
        now_status = str(lc["status"])
        allowed = REVIEW_MOVES.get(now_status, ())
        if status not in allowed:
            raise Conflict(
                f"Газрын дүгнэлт {lc_id}: '{label('land_conclusion_status', now_status)}' "
                f"төлвөөс '{label('land_conclusion_status', status)}' руу шилжих боломжгүй / "
                f"Land Conclusion {lc_id} cannot go from '{now_status}' to '{status}' "
                f"(allowed: {', '.join(allowed) or 'none'})"
            )
        changes: dict[str, Any] = {"status": status}
        if status in ("issued", "rejected"):
            if not decision_ref or not decision_ref.strip():
                raise Unprocessable(
                    "шийдвэрийн дугаарыг бичнэ үү / issuing or rejecting needs a decision "
                    "reference (decision_ref)"
                )
            changes |= {
                "decision_ref": decision_ref.strip(),
                "decided_on": _today(tx.now(), settings),
            }
            if status == "issued" and valid_until is not None:
                changes["valid_until"] = valid_until
        tx.update("land_conclusions", lc_id, changes)
        row = tx.read("land_conclusions", ids=[lc_id]).iloc[0]
    return _feature_json(row)


def _feature_json(row: pd.Series) -> dict[str, Any]:
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


def _soum_of_parcel(tx: LedgerTx, parcel: pd.Series) -> tuple[str | None, str | None]:
    lcs = tx.read("land_conclusions", ids=[str(parcel["land_conclusion_id"])])
    if lcs.empty:
        return None, None
    return _text(lcs["soum_code"].iloc[0]), _text(lcs["aimag_code"].iloc[0])


def set_contract_status(
    ledger: Ledger, parcel_id: str, *, status: str, reason: str, user: User | None
) -> dict[str, Any]:
    """Suspend, reactivate, terminate or close a contract (soum officials of its soum)."""
    require_role(user, "contracts")
    with ledger.transaction(actor=_name(user), request=f"contract {parcel_id} {status}") as tx:
        parcels = tx.read("contract_parcels", ids=[parcel_id])
        if parcels.empty:
            raise RecordNotFound("contract_parcels", parcel_id)
        parcel = parcels.iloc[0]
        soum, aimag = _soum_of_parcel(tx, parcel)
        authorize(user, "contracts", soum_code=soum, aimag_code=aimag)
        allowed = CONTRACT_MOVES.get(str(parcel["status"]), ())
        if status not in allowed:
            raise Conflict(
                f"Гэрээ {parcel_id}: '{label('contract_status', str(parcel['status']))}' "
                f"төлвөөс '{label('contract_status', status)}' руу шилжих боломжгүй / "
                f"contract {parcel_id} cannot go from '{parcel['status']}' to '{status}' "
                f"(allowed: {', '.join(allowed) or 'none'})"
            )
        if not reason.strip():
            raise Unprocessable("шалтгааныг бичнэ үү / a status change needs a reason")
        tx.update("contract_parcels", parcel_id, {"status": status})
        row = tx.read("contract_parcels", ids=[parcel_id]).iloc[0]
    return _feature_json(row)


def set_rehab_stage(
    ledger: Ledger,
    zone_id: str,
    *,
    stage: str,
    user: User | None,
    settings: AnalysisSettings,
) -> dict[str, Any]:
    """Move a rehabilitation zone forward (acceptance records the day)."""
    require_role(user, "contracts")
    with ledger.transaction(actor=_name(user), request=f"rehab {zone_id} {stage}") as tx:
        zones = tx.read("rehab_zones", ids=[zone_id])
        if zones.empty:
            raise RecordNotFound("rehab_zones", zone_id)
        zone = zones.iloc[0]
        soum = aimag = None
        pid = _text(zone["parcel_id"])
        if pid:
            parcels = tx.read("contract_parcels", ids=[pid])
            if len(parcels):
                soum, aimag = _soum_of_parcel(tx, parcels.iloc[0])
        else:  # a legacy zone: the Land Conclusion it lies in
            point = zone.geometry.representative_point()
            lcs = tx.read("land_conclusions", bbox=(point.x, point.y, point.x, point.y))
            inside = lcs[lcs.geometry.contains(point)]
            if len(inside):
                soum, aimag = (
                    _text(inside["soum_code"].iloc[0]),
                    _text(inside["aimag_code"].iloc[0]),
                )
        authorize(user, "contracts", soum_code=soum, aimag_code=aimag)
        if stage not in REHAB_ORDER:
            raise Unprocessable(f"stage must be one of {', '.join(REHAB_ORDER)}, not {stage!r}")
        now_stage = str(zone["stage"])
        if REHAB_ORDER.index(stage) <= REHAB_ORDER.index(now_stage):
            raise Conflict(
                f"нөхөн сэргээлтийн бүс {zone_id} аль хэдийн "
                f"'{label('rehab_stage', now_stage)}' / rehabilitation zone {zone_id} is "
                f"already at '{now_stage}'; stages only move forward"
            )
        changes: dict[str, Any] = {"stage": stage}
        if stage == "accepted":
            changes["accepted_on"] = _today(tx.now(), settings)
        tx.update("rehab_zones", zone_id, changes)
        row = tx.read("rehab_zones", ids=[zone_id]).iloc[0]
    return _feature_json(row)


# ---------------------------------------------------------------------------- the views


def application_view(ledger: Ledger, number: str, *, settings: AnalysisSettings) -> dict[str, Any]:
    """One application with its reasons, objections, decision, draw and competing group."""
    frame = ledger.applications(ids=[number])
    if frame.empty:
        raise RecordNotFound("applications", number)
    lc = str(frame["land_conclusion_id"].iloc[0])
    same_lc = ledger.applications(where={"land_conclusion_id": lc})
    rows = _rows(same_lc, settings)
    out = next(r for r in rows if r["id"] == number)
    out["objections"] = ledger.records("objections", where={"application_id": number})
    decisions = ledger.records("decisions", where={"application_id": number})
    out["decision"] = decisions[0] if decisions else None
    draws = [d for d in ledger.records("draws") if number in parse_json_list(d["applications"])]
    out["draw"] = _draw_json(draws[0]) if draws else None
    out["geometry"] = shapely.geometry.mapping(frame.geometry.iloc[0])
    return out


def _application_json(row: pd.Series) -> dict[str, Any]:
    out = _feature_json(row)
    for key in ("reasons", "notes", "competing"):
        out[key] = parse_json_list(row[key])
    status = str(row["status"])
    out["status_mn"], out["status_en"] = STATUS_LABELS.get(status, (status, status))
    out["holder_type_mn"] = label("holder_type", str(row["holder_type"]), "mn")
    out["holder_type_en"] = label("holder_type", str(row["holder_type"]), "en")
    return out


def _rows(frame: gpd.GeoDataFrame, settings: AnalysisSettings) -> list[dict[str, Any]]:
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


def applications_view(
    ledger: Ledger, *, settings: AnalysisSettings, where: Mapping[str, object] | None = None
) -> list[dict[str, Any]]:
    """Applications, oldest first (see :func:`_rows`)."""
    return _rows(ledger.applications(where=where), settings)


def register(
    ledger: Ledger, *, settings: AnalysisSettings, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The public register: queue, decisions, objections, draws, contracts expiring soon."""
    moment = now or ledger.clock()
    today = _today(moment, settings)
    queue = _rows(ledger.applications(), settings)
    objections = ledger.records("objections")
    count: dict[str, int] = {}
    for o in objections:
        count[o["application_id"]] = count.get(o["application_id"], 0) + 1
    for q in queue:
        q["objection_count"] = count.get(q["id"], 0)
    soon = expiring(
        ledger.read("contract_parcels"),
        ledger.read("rehab_zones"),
        today=today,
        days=settings.expiring_days,
    )
    expiring_rows = [
        {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in r.items()}
        for r in _plain(soon)
    ]
    check = ledger.verify_chain()
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
        },
        "queue": queue,
        "decisions": ledger.records("decisions"),
        "objections": objections,
        "draws": [_draw_json(d) for d in ledger.records("draws")],
        "expiring": expiring_rows,
        "log": check.as_dict(),
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
    frame = ledger.applications()
    rows = _rows(frame, settings)
    decisions = {d["application_id"]: d for d in ledger.records("decisions")}
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
    return collection(features)


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


def register_csv(doc: Mapping[str, Any]) -> str:
    """The register (as :func:`register` returns it) as one CSV table, section by section."""
    rows: list[dict[str, Any]] = []
    for q in doc["queue"]:
        rows.append(
            {
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
        )
    for o in doc["objections"]:
        rows.append(
            {
                "section": "objection",
                "id": o["id"],
                "application_id": o["application_id"],
                "holder": o["name"],
                "time": o["filed_at"],
                "text_mn": o["reason"],
                "text_en": o["reason"],
            }
        )
    for d in doc["decisions"]:
        rows.append(
            {
                "section": "decision",
                "id": d["id"],
                "application_id": d["application_id"],
                "status": d["outcome"],
                "time": d["decided_at"],
                "text_mn": d["reason"],
                "text_en": d["reason"],
                "detail": (
                    f"parcel={d['parcel_id']}; contract={d['contract_no']}; "
                    f"expires_on={d['expires_on']}"
                    if d["parcel_id"]
                    else ""
                ),
            }
        )
    for w in doc["draws"]:
        rows.append(
            {
                "section": "draw",
                "id": w["id"],
                "application_id": ";".join(w["result"] or w["applications"]),
                "land_conclusion_id": w["land_conclusion_id"],
                "soum_code": w["soum_code"],
                "status": w["status"],
                "time": w["run_at"] or w["announced_at"],
                "text_mn": f"сугалааны өдөр {w['draw_date']}, нийтийн утга {w['public_value']}",
                "text_en": f"draw date {w['draw_date']}, public value {w['public_value']}",
                "detail": f"seed={w['seed'] or ''}; winner={w['winner'] or ''}",
            }
        )
    for e in doc["expiring"]:
        rows.append(
            {
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
        )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: "" if r.get(c) is None else r.get(c) for c in CSV_COLUMNS})
    return buf.getvalue()
