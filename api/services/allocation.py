"""The allocation service: each step of the process as one ledger transaction.

Both front doors call one :class:`AllocationService`: the HTTP routes
(``api/routes/allocation.py``), the ``gazar`` commands (``api/commands/allocation.py``) and
the register page (``web/register.py``), so all enforce the same rules. Each write reads what
it needs *inside* the transaction (the write lock is held), checks the caller's role against
the stored object (:func:`api.services.access.authorize`), applies the rules of
:mod:`geo.allocation` and writes; a refusal raises :class:`layers.ledger.Conflict` (409) with
every reason, and nothing is written. The reads (applications, draws, the register and its
feeds) are those of :mod:`api.services.register`.

The service raises domain errors only; ``api/errors.py`` maps them to HTTP statuses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Final

import geopandas as gpd
import orjson
import shapely

from api.services import register as views
from api.services.access import Forbidden, Unauthorized, authorize, require_role
from api.services.allocation_checks import (
    REVIEW_MOVES,
    ApplicationInput,
    approval_blockers,
    check_contact,
    check_geometry,
    check_input,
    check_move,
    check_vertices,
    land_conclusion,
    near,
    one,
    overlapping_pending,
    pad,
    text_or_none,
    today_of,
)
from api.services.documents import DocumentOps
from api.services.errors import BadRequest, Unprocessable
from api.services.messages import both
from api.services.renewal import ContractOps
from geo import allocation as rules
from geo.availability import LandConclusionNotInForce
from geo.settings import AnalysisSettings
from layers.errors import StoreError
from layers.ledger import (
    APPLICATIONS,
    Conflict,
    Event,
    Ledger,
    RecordNotFound,
    User,
    parse_json_list,
    public_record,
    stamp,
)
from layers.ledger.commit import audit as commit_audit
from layers.schema import STORE_CRS

__all__ = ["AllocationService", "ApplicationInput", "LedgerUnavailable"]

#: the checklist when none is given (``api.settings.DocumentSettings``' default)
DEFAULT_DOCUMENTS: Final = ("registration", "member_list", "rehabilitation_plan")

#: a callable returning the open ledger, or raising :class:`LedgerUnavailable`
LedgerProvider = Callable[[], Ledger]


class LedgerUnavailable(StoreError):
    """The store's ledger cannot be opened (503, as every store that cannot be read)."""


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def _name(user: User | None) -> str:
    return user.name if user is not None else "anonymous"


class AllocationService(ContractOps, DocumentOps):
    """The allocation process over one ledger: apply, object, decide, draw, review, contracts
    (renewal and status: :class:`~api.services.renewal.ContractOps`), documents
    (:class:`~api.services.documents.DocumentOps`), rehabilitation stages, and the records
    the public reads.

    Parameters
    ----------
    ledger_provider
        Returns the open ledger (called at each operation, so the ledger may be opened late
        or replaced); raises :class:`LedgerUnavailable` when it cannot be opened.
    settings
        The rules' numbers (objection window, competing window, cap, contract term, ...).
    required_documents, max_document_bytes
        The soum's checklist of documents and the cap on one file (``api.settings``'s
        :class:`~api.settings.DocumentSettings`).

    Every write takes the acting ``user`` (None: anonymous, refused with 401) and returns the
    record written as JSON-ready values, as the HTTP API answers and ``gazar ... --json``
    prints.
    """

    def __init__(
        self,
        ledger_provider: LedgerProvider,
        settings: AnalysisSettings,
        *,
        max_vertices: int | None = None,
        required_documents: tuple[str, ...] = DEFAULT_DOCUMENTS,
        max_document_bytes: int = 4_000_000,
    ) -> None:
        self._ledger = ledger_provider
        self.settings = settings
        self.required_documents = tuple(required_documents)
        self.max_document_bytes = max_document_bytes
        #: an application's polygon with more vertices is refused (``GAZAR_MAX_VERTICES``)
        self.max_vertices = max_vertices

    def ledger(self) -> Ledger:
        """The open ledger (:class:`LedgerUnavailable` when it cannot be opened)."""
        return self._ledger()

    def authenticate(self, token: str) -> User | None:
        """The user of a token; None for an unknown or revoked one."""
        return self.ledger().authenticate(token)

    def _today(self, moment: dt.datetime) -> dt.date:
        return today_of(moment, self.settings)

    # ------------------------------------------------------------------------- applying

    def apply(self, data: ApplicationInput, *, user: User | None) -> dict[str, Any]:
        """File an application: number, server time, place in the queue, eligibility with
        reasons.

        An application that fails a check is still recorded (status ``ineligible``, with every
        reason) so that the applicant and the public can read why.
        """
        settings = self.settings
        check_input(data, settings)
        if data.geometry is not None:
            check_vertices(data.geometry, self.max_vertices)
        geom = None if data.geometry is None else check_geometry(data.geometry)
        who = authorize(user, "apply")
        ledger = self.ledger()
        with ledger.transaction(actor=who.name, request=f"apply {data.holder}") as tx:
            now = tx.now()
            today = self._today(now)
            lc = land_conclusion(tx, data.land_conclusion_id)
            if geom is None:
                region = lc.geometry
                waiting = tx.read("applications", bbox=shapely.bounds(region).tolist())
                try:
                    geom = rules.parcel_of_size(
                        data.land_conclusion_id,
                        ha=float(data.requested_ha or 0),
                        layers=near(tx, region, data.land_conclusion_id),
                        applications=waiting,
                        today=today,
                    )
                except rules.NoRoom as exc:
                    raise Conflict("no parcel of that size fits", [exc.reason]) from None
                except LandConclusionNotInForce as exc:
                    raise Conflict(str(exc)) from None
            soum = text_or_none(lc["soum_code"]) or "MN"
            prefix = f"{soum}-{today.year}-"
            number = f"{prefix}{tx.count('applications', prefix=prefix) + 1:04d}"
            queue = tx.read("applications", where={"land_conclusion_id": data.land_conclusion_id})
            frame = gpd.GeoDataFrame(
                {
                    "id": [number],
                    "land_conclusion_id": [data.land_conclusion_id],
                    "holder": [data.holder.strip()],
                    "holder_type": [data.holder_type],
                    "members_women": [int(data.members_women)],
                    "members_men": [int(data.members_men)],
                    "filed_at": [stamp(now)],
                },
                geometry=[geom],
                crs=STORE_CRS,
            )
            result = rules.eligibility(
                frame,
                layers=near(tx, geom, data.land_conclusion_id),
                applications=tx.read("applications", bbox=pad(geom)),
                today=today,
                settings=settings,
            )
            row = frame.assign(
                soum_code=soum,
                aimag_code=text_or_none(lc["aimag_code"]),
                requested_ha=data.requested_ha,
                official_ha=result.official_ha,
                filed_on=today,
                place=len(queue) + 1,
                status="pending" if result.eligible else "ineligible",
                reasons=_dumps([r.as_dict() for r in result.reasons]),
                notes=_dumps([r.as_dict() for r in result.notes]),
                competing=_dumps(list(result.competing)),
                objection_until=rules.objection_until(today, days=settings.objection_window_days),
                decided_at=None,
                parcel_id=None,
                applicant=who.name,
            )
            tx.write({"applications": row[[*APPLICATIONS.columns, "geometry"]]})
        return self.application(number)

    # ----------------------------------------------------------------------- objections

    def object_to(
        self,
        number: str,
        *,
        name: str,
        reason: str,
        user: User | None,
        contact: str | None = None,
    ) -> dict[str, Any]:
        """File an objection within the objection window; shown with the application.

        Anyone may object, signed in or not (``user`` None: logged as ``anonymous``, and the
        objector's name is then required). ``contact`` (a phone number or an e-mail address)
        is kept in the record only: never in the log, the register or any feed
        (:data:`layers.ledger.SECRET_COLUMNS`).
        """
        who = authorize(user, "object") if user is not None else None
        if not reason.strip():
            raise Unprocessable(both("allocation_message", "objection_reason"))
        if who is None and not name.strip():
            raise Unprocessable(both("org_message", "objection_name"))
        kept = check_contact(contact)
        actor = _name(who)
        with self.ledger().transaction(actor=actor, request=f"object {number}") as tx:
            app = one(tx, "applications", number).iloc[0]
            today = self._today(tx.now())
            until = app["objection_until"]
            if isinstance(until, dt.date) and today > until:
                raise Conflict(
                    both(
                        "allocation_message",
                        "objection_closed",
                        number=number,
                        until=until.isoformat(),
                    )
                )
            k = len(tx.records("objections", where={"application_id": number})) + 1
            row = {
                "id": f"{number}/O{k}",
                "application_id": number,
                "filed_at": stamp(tx.now()),
                "name": name.strip() or actor,
                "reason": reason.strip(),
                "actor": actor,
                "contact": kept,
            }
            tx.insert("objections", [row])
        return public_record("objections", row)

    # ------------------------------------------------------------------------ decisions

    def decide(
        self,
        number: str,
        *,
        outcome: str,
        reason: str,
        user: User | None,
        contract_no: str | None = None,
    ) -> dict[str, Any]:
        """Approve (creating the contract parcel) or reject an application, with a written
        reason.

        An approval re-checks everything inside the transaction — the application is pending,
        its objection window has closed, a draw ranked it first among the pending competitors,
        and it is still eligible (above all: no overlap with any parcel holding land) — then
        writes the contract parcel, the decision and the application's new status together,
        and every other pending application over the same land (sharing more than the overlap
        tolerance) becomes ``ineligible`` with the reason ``LAND_GRANTED``, naming this one.
        """
        if outcome not in rules.OUTCOMES:
            raise BadRequest(f"outcome must be one of {', '.join(rules.OUTCOMES)}, not {outcome!r}")
        if not reason.strip():
            raise Unprocessable(both("allocation_message", "decision_reason"))
        require_role(user, "decide")
        request = f"decide {outcome} {number}"
        with self.ledger().transaction(actor=_name(user), request=request) as tx:
            frame = one(tx, "applications", number)
            app = frame.iloc[0]
            who = authorize(
                user,
                "decide",
                soum_code=text_or_none(app["soum_code"]),
                aimag_code=text_or_none(app["aimag_code"]),
            )
            now = tx.now()
            today = self._today(now)
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
                reasons = approval_blockers(tx, frame, today=today, settings=self.settings)
                if reasons:
                    raise Conflict(f"application {number} cannot be approved", reasons)
                parcel = rules.contract_parcel(
                    frame,
                    parcel_id=f"CP-{number}",
                    contract_no=contract_no or number,
                    signed_on=today,
                    term_years=self.settings.contract_term_years,
                )
                tx.write({"contract_parcels": parcel})
                granted = rules.Reason.of("LAND_GRANTED", (number,), number=number)
                for other, reasons_json in overlapping_pending(tx, frame, self.settings):
                    kept = [*parse_json_list(reasons_json), granted.as_dict()]
                    tx.update(
                        "applications", other, {"status": "ineligible", "reasons": _dumps(kept)}
                    )
                decision |= {
                    "parcel_id": f"CP-{number}",
                    "contract_no": contract_no or number,
                    "expires_on": parcel["expires_on"].iloc[0].isoformat(),
                }
                status = "approved"
            else:
                if app["status"] not in ("pending", "ineligible"):
                    raise Conflict(
                        both(
                            "allocation_message",
                            "already_decided",
                            number=number,
                            status=app["status"],
                        )
                    )
                status = "rejected"
            tx.insert("decisions", [decision])
            tx.update(
                "applications",
                number,
                {"status": status, "decided_at": stamp(now), "parcel_id": decision["parcel_id"]},
            )
        return decision

    # --------------------------------------------------------------------------- draws

    def announce_draw(
        self, number: str, *, draw_date: dt.date, public_value: str, user: User | None
    ) -> dict[str, Any]:
        """Announce the draw of the competing group ``number`` belongs to, before the draw date.

        The group must be final (its filing window closed); the public value is published now,
        with the server time, and the draw may run on ``draw_date`` (a later day) or after.
        """
        require_role(user, "draw")
        with self.ledger().transaction(actor=_name(user), request=f"draw announce {number}") as tx:
            app = one(tx, "applications", number).iloc[0]
            who = authorize(
                user,
                "draw",
                soum_code=text_or_none(app["soum_code"]),
                aimag_code=text_or_none(app["aimag_code"]),
            )
            today = self._today(tx.now())
            pending = tx.read(
                "applications",
                where={"land_conclusion_id": app["land_conclusion_id"], "status": "pending"},
            )
            groups = rules.competing_groups(pending, settings=self.settings)
            group = groups.get(number)
            if group is None:
                raise Conflict(both("allocation_message", "no_competitor", number=number))
            members = sorted(str(i) for i in groups.index[(groups == group).to_numpy()])
            filed = pending.set_index(pending["id"].astype(str)).loc[members, "filed_at"]
            if not rules.group_closed(filed, today=today, settings=self.settings):
                raise Conflict(both("allocation_message", "group_open"))
            if draw_date <= today:
                raise Conflict(
                    both(
                        "allocation_message",
                        "draw_date_early",
                        draw_date=draw_date.isoformat(),
                        today=today.isoformat(),
                    )
                )
            rules.draw_input(
                members, draw_date=draw_date, public_value=public_value
            )  # checks inputs
            for draw in tx.records("draws"):
                if set(parse_json_list(draw["applications"])) & set(members):
                    raise Conflict(
                        f"these applications already have a draw: {draw['id']} "
                        f"({', '.join(parse_json_list(draw['applications']))})"
                    )
            soum = text_or_none(app["soum_code"]) or "MN"
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
        return self.draw(str(row["id"]))

    def run_draw(self, draw_id: str, *, user: User | None) -> dict[str, Any]:
        """Run an announced draw on or after its date: the seed, the order, the winner."""
        require_role(user, "draw")
        with self.ledger().transaction(actor=_name(user), request=f"draw run {draw_id}") as tx:
            rows = tx.records("draws", where={"id": draw_id})
            if not rows:
                raise RecordNotFound("draws", draw_id)
            draw = rows[0]
            lcs = tx.read("land_conclusions", ids=[draw["land_conclusion_id"]])
            aimag = text_or_none(lcs["aimag_code"].iloc[0]) if len(lcs) else None
            who = authorize(user, "draw", soum_code=draw["soum_code"], aimag_code=aimag)
            if draw["seed"]:
                raise Conflict(f"draw {draw_id} has run already (seed {draw['seed']})")
            day = dt.date.fromisoformat(draw["draw_date"])
            if self._today(tx.now()) < day:
                raise Conflict(
                    both("allocation_message", "draw_not_yet", id=draw_id, day=day.isoformat())
                )
            members = parse_json_list(draw["applications"])
            seed = rules.draw_seed(members, draw_date=day, public_value=draw["public_value"])
            tx.update(
                "draws",
                draw_id,
                {
                    "run_at": stamp(tx.now()),
                    "run_by": who.name,
                    "input": rules.draw_input(
                        members, draw_date=day, public_value=draw["public_value"]
                    ),
                    "seed": seed,
                    "result": _dumps(rules.draw_order(members, seed=seed)),
                },
            )
        return self.draw(draw_id)

    # -------------------------------------------------------- Land Conclusions, contracts

    def review_land_conclusion(
        self,
        lc_id: str,
        *,
        status: str,
        decision_ref: str | None,
        user: User | None,
        valid_until: dt.date | None = None,
    ) -> dict[str, Any]:
        """MRPAM's review step: ``submitted → under_review → issued | rejected``."""
        require_role(user, "review")
        with self.ledger().transaction(actor=_name(user), request=f"review {lc_id} {status}") as tx:
            lc = one(tx, "land_conclusions", lc_id).iloc[0]
            authorize(user, "review", soum_code=text_or_none(lc["soum_code"]))
            check_move(
                "land_conclusion", lc_id, now=str(lc["status"]), to=status, moves=REVIEW_MOVES
            )
            changes: dict[str, Any] = {"status": status}
            if status in ("issued", "rejected"):
                if not decision_ref or not decision_ref.strip():
                    raise Unprocessable(both("allocation_message", "decision_ref"))
                changes |= {
                    "decision_ref": decision_ref.strip(),
                    "decided_on": self._today(tx.now()),
                }
                if status == "issued" and valid_until is not None:
                    if valid_until <= changes["decided_on"]:  # born expired
                        raise Unprocessable(
                            both(
                                "allocation_message",
                                "valid_until_past",
                                day=valid_until.isoformat(),
                                today=changes["decided_on"].isoformat(),
                            )
                        )
                    changes["valid_until"] = valid_until
            tx.update("land_conclusions", lc_id, changes)
            row = tx.read("land_conclusions", ids=[lc_id]).iloc[0]
        return views.feature_json(row)

    # --------------------------------------------------------------------------- reads

    def application(self, number: str, *, user: User | None = None) -> dict[str, Any]:
        """One application with its reasons, objections, decision, draw and competing group;
        for a ``user`` who may read its documents (its applicant, its soum's officials, MRPAM,
        admin) also ``documents`` (:meth:`documents`) and ``documents_missing``
        (:meth:`missing_documents`), otherwise neither key."""
        out = views.application_view(self.ledger(), number, settings=self.settings)
        if user is not None:
            try:
                out["documents"] = self.documents(number, user)
            except (Forbidden, Unauthorized):
                return out
            out["documents_missing"] = self.missing_documents(number)
        return out

    def applications(self, where: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        """Applications, oldest first (:func:`api.services.register.application_rows`)."""
        return views.application_rows(self.ledger().applications(where=where), self.settings)

    def objections(self, number: str) -> list[dict[str, Any]]:
        """The objections to an application (RecordNotFound when there is no such one)."""
        ledger = self.ledger()
        if ledger.applications(ids=[number]).empty:
            raise RecordNotFound("applications", number)
        return views.public_objections(ledger, number)

    def decision(self, number: str) -> dict[str, Any]:
        """The decision on an application (RecordNotFound when none is recorded)."""
        rows = self.ledger().records("decisions", where={"application_id": number})
        if not rows:
            raise RecordNotFound("decisions", number)
        return rows[0]

    def draw(self, draw_id: str) -> dict[str, Any]:
        """A draw as published, with its re-computation (``verification``) once it has run."""
        rows = self.ledger().records("draws", where={"id": draw_id})
        if not rows:
            raise RecordNotFound("draws", draw_id)
        return views.draw_json(rows[0])

    def draws(self) -> list[dict[str, Any]]:
        """Every draw, as :meth:`draw` shows it."""
        return [views.draw_json(d) for d in self.ledger().records("draws")]

    def register(self, *, now: dt.datetime | None = None) -> dict[str, Any]:
        """The public register (:func:`api.services.register.register`)."""
        return views.register(self.ledger(), settings=self.settings, now=now)

    def register_geojson(self) -> dict[str, Any]:
        """The applications as a GeoJSON FeatureCollection."""
        return views.register_geojson(self.ledger(), settings=self.settings)

    def register_csv(self) -> str:
        """The register as one CSV table (:func:`api.services.register.register_csv`)."""
        return views.register_csv(self.register())

    def audit(self) -> dict[str, Any]:
        """The log's hash chain recomputed and the store's private values checked against
        their commitments (``ChainCheck.as_dict``, :func:`layers.ledger.commit.audit`)."""
        return commit_audit(self.ledger()).as_dict()

    def events(self, *, after: int = 0, limit: int | None = None) -> list[Event]:
        """The append-only log's events after ``after``, at most ``limit``."""
        return self.ledger().events(after=after, limit=limit)
