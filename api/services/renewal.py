"""Contracts after their approval: renewal (requested by the holder, granted by an official of
the parcel's soum), status changes with their reasons, and the stages of rehabilitation zones.

Mixed into :class:`api.services.allocation.AllocationService`; each write is one ledger
transaction whose actor is the acting user, as every allocation write.

Renewal
    A contract may be renewed while its term runs (``active`` or ``suspended``) and it ends
    within ``expiring_days`` (60) of today: the window of the register's "contracts ending
    soon" (:func:`geo.lifecycle.expiring`). The new term is ``contract_term_years`` from the
    day after the current end. It is refused (409, every blocking zone named) while any
    rehabilitation zone of the contract is not accepted by the commission — the zones whose
    ``parcel_id`` is the contract's, and the holder's legacy zones (no parcel): the same rule
    the register shows (``renewal_eligible``), so the page and the decision never disagree.
    The holder's organisation (the public account that filed the approved application, or an
    administrator) may ask for it first; an official of the soum grants it with a reason
    (asked or not). Each renewal is a row of ``renewals``: ``id`` (``<parcel>/R<n>``),
    ``parcel_id``, ``requested_at``/``requested_by``, ``decided_at``/``decided_by``,
    ``outcome`` (``requested`` → ``renewed``), ``reason``, ``previous_expires_on``,
    ``starts_on`` and ``expires_on`` (the new term).

Status changes
    Suspend, reactivate, terminate or close: a reason is required, and recorded with the
    statuses before and after in the append-only ``contract_changes`` (``<parcel>/S<n>``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from api.services import register as views
from api.services.access import Forbidden, Unauthorized, authorize, require_role
from api.services.allocation_checks import (
    CONTRACT_MOVES,
    REHAB_ORDER,
    accepted_day,
    check_move,
    one,
    soum_of_parcel,
    soum_of_zone,
    today_of,
)
from api.services.errors import Unprocessable
from api.services.messages import both
from geo.allocation import add_years
from geo.lifecycle import expiring
from geo.settings import AnalysisSettings
from geo.vocab import OPEN_STATUSES
from layers.labels import label
from layers.ledger import Conflict, Ledger, LedgerTx, RecordNotFound, User, stamp

__all__ = ["ContractOps", "renewal_json"]


def renewal_json(row: dict[str, Any]) -> dict[str, Any]:
    """A ``renewals`` row with its outcome labelled in both languages."""
    out = dict(row)
    out["outcome_mn"] = label("renewal_outcome", str(row["outcome"]), "mn")
    out["outcome_en"] = label("renewal_outcome", str(row["outcome"]), "en")
    return out


def _holder_account(tx: LedgerTx, parcel_id: str) -> str | None:
    """The account that filed the approved application this contract came from."""
    decisions = tx.records("decisions", where={"parcel_id": parcel_id, "outcome": "approve"})
    if not decisions:
        return None
    apps = tx.read("applications", ids=[str(decisions[0]["application_id"])])
    if apps.empty:
        return None
    value = apps["applicant"].iloc[0]
    return None if value is None or pd.isna(value) else str(value)


def _window(tx: LedgerTx, parcel: pd.Series, *, today: dt.date, days: int) -> pd.Series:
    """The contract's row of :func:`geo.lifecycle.expiring` (409 when it is not open or not
    within the renewal window)."""
    pid = str(parcel["id"])
    status = str(parcel["status"])
    if status not in OPEN_STATUSES:
        raise Conflict(
            both(
                "workflow_message",
                "renewal_not_open",
                id=pid,
                status=status,
                status_mn=label("contract_status", status),
            )
        )
    frame = pd.DataFrame([parcel.drop(labels=["geometry"], errors="ignore")])
    soon = expiring(frame, tx.read("rehab_zones"), today=today, days=days)
    if soon.empty:
        ends = parcel["expires_on"]
        raise Conflict(
            both(
                "workflow_message",
                "renewal_window",
                id=pid,
                expires_on=ends.isoformat() if isinstance(ends, dt.date) else "—",
                days=days,
            )
        )
    return soon.iloc[0]


class ContractOps:
    """Renewal and status changes of contracts (see the module docstring)."""

    settings: AnalysisSettings

    def ledger(self) -> Ledger:  # pragma: no cover - AllocationService's
        raise NotImplementedError

    # ------------------------------------------------------------------------ renewal

    def request_renewal(self, parcel_id: str, *, user: User | None) -> dict[str, Any]:
        """The holder's organisation asks for its contract to be renewed (within the window).

        Returns the ``renewals`` row written (outcome ``requested``), as :func:`renewal_json`.

        Raises
        ------
        Unauthorized / Forbidden
            No user; a user who is neither the holder's account nor an administrator.
        Conflict
            The contract is not open, not within the window, or a request is already open.
        """
        if user is None:
            raise Unauthorized(both("access_message", "no_token"))
        request = f"renewal request {parcel_id}"
        with self.ledger().transaction(actor=user.name, request=request) as tx:
            parcel = one(tx, "contract_parcels", parcel_id).iloc[0]
            if user.role != "admin" and (
                user.role != "public" or _holder_account(tx, parcel_id) != user.name
            ):
                raise Forbidden(both("workflow_message", "renewal_holder", name=user.name))
            today = today_of(tx.now(), self.settings)
            _window(tx, parcel, today=today, days=self.settings.expiring_days)
            rows = tx.records("renewals", where={"parcel_id": parcel_id})
            open_ = [r for r in rows if r["outcome"] == "requested"]
            if open_:
                raise Conflict(both("workflow_message", "renewal_twice", request=open_[0]["id"]))
            row = {
                "id": f"{parcel_id}/R{len(rows) + 1}",
                "parcel_id": parcel_id,
                "requested_at": stamp(tx.now()),
                "requested_by": user.name,
                "decided_at": None,
                "decided_by": None,
                "outcome": "requested",
                "reason": None,
                "previous_expires_on": _iso(parcel["expires_on"]),
                "starts_on": None,
                "expires_on": None,
            }
            tx.insert("renewals", [row])
        return renewal_json(row)

    def renew(self, parcel_id: str, *, reason: str, user: User | None) -> dict[str, Any]:
        """An official of the parcel's soum (or aimag) renews its contract for a new term.

        The new term starts the day after the current end and runs ``contract_term_years``;
        the contract's ``starts_on`` and ``expires_on`` change, its status stays. An open
        request is completed; without one a renewal row is written all the same.

        Returns the ``renewals`` row (outcome ``renewed``), as :func:`renewal_json`.

        Raises
        ------
        Unprocessable
            No reason.
        Conflict
            The contract is not open or not within the window, or a rehabilitation zone of
            the contract is not accepted (every zone named, in both languages).
        """
        if not reason.strip():
            raise Unprocessable(both("workflow_message", "renewal_reason"))
        require_role(user, "contracts")
        request = f"renew {parcel_id}"
        with self.ledger().transaction(actor=_name(user), request=request) as tx:
            parcel = one(tx, "contract_parcels", parcel_id).iloc[0]
            soum, aimag = soum_of_parcel(tx, parcel)
            who = authorize(user, "contracts", soum_code=soum, aimag_code=aimag)
            today = today_of(tx.now(), self.settings)
            soon = _window(tx, parcel, today=today, days=self.settings.expiring_days)
            if not bool(soon["renewal_eligible"]):
                raise Conflict(
                    both("workflow_message", "renewal_rehab", id=parcel_id),
                    [f"{soon['reason_mn']} / {soon['reason_en']}"],
                )
            ends = parcel["expires_on"]
            starts = ends + dt.timedelta(days=1)
            new_end = add_years(starts, self.settings.contract_term_years) - dt.timedelta(days=1)
            tx.update("contract_parcels", parcel_id, {"starts_on": starts, "expires_on": new_end})
            rows = tx.records("renewals", where={"parcel_id": parcel_id})
            open_ = [r for r in rows if r["outcome"] == "requested"]
            decided = {
                "decided_at": stamp(tx.now()),
                "decided_by": who.name,
                "outcome": "renewed",
                "reason": reason.strip(),
                "previous_expires_on": ends.isoformat(),
                "starts_on": starts.isoformat(),
                "expires_on": new_end.isoformat(),
            }
            if open_:
                row = {**open_[0], **decided}
                tx.update("renewals", str(row["id"]), decided)
            else:
                row = {
                    "id": f"{parcel_id}/R{len(rows) + 1}",
                    "parcel_id": parcel_id,
                    "requested_at": None,
                    "requested_by": None,
                    **decided,
                }
                tx.insert("renewals", [row])
        return renewal_json(row)

    # -------------------------------------------------------------------- status changes

    def set_contract_status(
        self, parcel_id: str, *, status: str, reason: str, user: User | None
    ) -> dict[str, Any]:
        """Suspend, reactivate, terminate or close a contract (officials of its soum), with a
        reason, recorded in ``contract_changes``; returns the contract's fields."""
        if not reason.strip():
            raise Unprocessable(both("allocation_message", "status_reason"))
        require_role(user, "contracts")
        request = f"contract {parcel_id} {status}"
        with self.ledger().transaction(actor=_name(user), request=request) as tx:
            parcel = one(tx, "contract_parcels", parcel_id).iloc[0]
            soum, aimag = soum_of_parcel(tx, parcel)
            who = authorize(user, "contracts", soum_code=soum, aimag_code=aimag)
            before = str(parcel["status"])
            check_move("contract", parcel_id, now=before, to=status, moves=CONTRACT_MOVES)
            tx.update("contract_parcels", parcel_id, {"status": status})
            k = len(tx.records("contract_changes", where={"parcel_id": parcel_id})) + 1
            change = {
                "id": f"{parcel_id}/S{k}",
                "parcel_id": parcel_id,
                "status_before": before,
                "status": status,
                "reason": reason.strip(),
                "changed_at": stamp(tx.now()),
                "actor": who.name,
            }
            tx.insert("contract_changes", [change])
            row = tx.read("contract_parcels", ids=[parcel_id]).iloc[0]
        return views.feature_json(row)

    # -------------------------------------------------------------------------- reads

    def set_rehab_stage(
        self,
        zone_id: str,
        *,
        stage: str,
        user: User | None,
        accepted_on: dt.date | None = None,
    ) -> dict[str, Any]:
        """Move a rehabilitation zone forward. Acceptance records the day the commission
        accepted it: ``accepted_on`` is required for ``accepted`` (422 without, or in the
        future) and ignored for the other stages."""
        require_role(user, "contracts")
        with self.ledger().transaction(actor=_name(user), request=f"rehab {zone_id} {stage}") as tx:
            zone = one(tx, "rehab_zones", zone_id).iloc[0]
            soum, aimag = soum_of_zone(tx, zone)
            authorize(user, "contracts", soum_code=soum, aimag_code=aimag)
            if stage not in REHAB_ORDER:
                raise Unprocessable(f"stage must be one of {', '.join(REHAB_ORDER)}, not {stage!r}")
            now_stage = str(zone["stage"])
            if REHAB_ORDER.index(stage) <= REHAB_ORDER.index(now_stage):
                raise Conflict(
                    both(
                        "allocation_message",
                        "rehab_forward",
                        id=zone_id,
                        now=now_stage,
                        now_mn=label("rehab_stage", now_stage),
                    )
                )
            changes: dict[str, Any] = {"stage": stage}
            if stage == "accepted":
                changes["accepted_on"] = accepted_day(
                    accepted_on, today_of(tx.now(), self.settings)
                )
            tx.update("rehab_zones", zone_id, changes)
            row = tx.read("rehab_zones", ids=[zone_id]).iloc[0]
        return views.feature_json(row)

    def contract(self, parcel_id: str, *, now: dt.datetime | None = None) -> dict[str, Any]:
        """One contract: its fields, ``application_id`` (the approved application, None for
        one recorded before the ledger), ``renewal`` (its row of the register's contracts
        ending soon — ``days_left``, ``renewal_eligible``, ``blocking_zones``, ``reason_mn``,
        ``reason_en`` — or None outside the window), ``renewals`` and ``changes`` (oldest
        first). RecordNotFound (404) when there is none."""
        ledger = self.ledger()
        frame = ledger.read("contract_parcels", ids=[parcel_id])
        if frame.empty:
            raise RecordNotFound("contract_parcels", parcel_id)
        parcel = frame.iloc[0]
        out = views.feature_json(parcel)
        status = str(parcel["status"])
        out["status_mn"] = label("contract_status", status, "mn")
        out["status_en"] = label("contract_status", status, "en")
        decisions = ledger.records("decisions", where={"parcel_id": parcel_id})
        out["application_id"] = decisions[0]["application_id"] if decisions else None
        today = today_of(now or ledger.clock(), self.settings)
        soon = expiring(
            pd.DataFrame([parcel.drop(labels=["geometry"])]),
            ledger.read("rehab_zones"),
            today=today,
            days=self.settings.expiring_days,
        )
        out["renewal"] = (
            {
                "days_left": int(soon["days_left"].iloc[0]),
                "renewal_eligible": bool(soon["renewal_eligible"].iloc[0]),
                "blocking_zones": list(soon["blocking_zones"].iloc[0]),
                "reason_mn": str(soon["reason_mn"].iloc[0]),
                "reason_en": str(soon["reason_en"].iloc[0]),
            }
            if len(soon)
            else None
        )
        out["renewals"] = self.renewals(parcel_id)
        out["changes"] = ledger.records("contract_changes", where={"parcel_id": parcel_id})
        return out

    def renewals(self, parcel_id: str | None = None) -> list[dict[str, Any]]:
        """The renewals (of one contract), oldest first, as :func:`renewal_json`."""
        where = None if parcel_id is None else {"parcel_id": parcel_id}
        return [renewal_json(r) for r in self.ledger().records("renewals", where=where)]


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else None


def _name(user: User | None) -> str:
    return user.name if user is not None else "anonymous"
