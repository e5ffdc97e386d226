"""Sign-in sessions and failed sign-in counters: operational rows in the store's database.

A session is made at sign-in with a fresh random id (shown only to the browser, in its
cookie); the table keeps the id's SHA-256 (``gazar_sessions.id``), so a copy of the database
lets nobody in. The counters (``gazar_signin_failures``) are kept per key, ``user:NAME`` or
``addr:ADDRESS``, so that every server process sees the same counts. Neither table is a layer
or an allocation record: no log triggers, no revision, nothing in the hash chain (the
service logs sign-ins, sign-outs and lockouts as events with ``Ledger.log_event``). What a
session may do, its timeouts and the lockout policy are the service's
(``api.services.accounts``); here are only the rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from layers.ledger.base import stamp

if TYPE_CHECKING:
    from layers.ledger.interface import OperationalTx

SESSIONS: Final = "gazar_sessions"
FAILURES: Final = "gazar_signin_failures"


def session_digest(session_id: str) -> str:
    """The stored form of a session id: its SHA-256 (the id is 32 random bytes)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def parse_stamp(text: str | None) -> dt.datetime | None:
    """A stored timestamp (:func:`layers.ledger.stamp`) as an aware datetime."""
    return None if not text else dt.datetime.fromisoformat(text)


@dataclass(frozen=True)
class SessionRecord:
    """One stored session (``id`` is the hash of the session id, never the id)."""

    id: str
    user_id: str
    csrf: str
    created_at: str
    seen_at: str
    ended_at: str | None
    address: str | None
    agent: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SessionRecord:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class FailureCount:
    """The failed sign-ins counted under one key after :meth:`SignInRecords.count_failure`."""

    key: str
    count: int
    first_at: dt.datetime
    locked_until: dt.datetime | None
    #: whether this failure is the one that locked the key
    locked_now: bool = False


class _Rows(Protocol):
    """What :class:`SignInRecords` needs of the ledger it is mixed into."""

    clock: Callable[[], dt.datetime]

    def operational(self) -> AbstractContextManager[OperationalTx]: ...

    def operational_rows(
        self, table: str, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]: ...


class SignInRecords:
    """Sessions and failure counters: what a :class:`~layers.ledger.Ledger` keeps in its
    operational tables."""

    # -- sessions ----------------------------------------------------------------------------

    def open_session(
        self: _Rows, user_id: str, *, address: str | None, agent: str | None, now: dt.datetime
    ) -> tuple[str, SessionRecord]:
        """A new session for the user: its id (for the cookie, not stored) and its record."""
        session_id = secrets.token_urlsafe(32)
        row = {
            "id": session_digest(session_id),
            "user_id": user_id,
            "csrf": secrets.token_urlsafe(32),
            "created_at": stamp(now),
            "seen_at": stamp(now),
            "ended_at": None,
            "address": address,
            "agent": (agent or "")[:120] or None,
        }
        with self.operational() as tx:
            tx.insert(SESSIONS, row)
        return session_id, SessionRecord.from_row(row)

    def find_session(self: _Rows, session_id: str) -> SessionRecord | None:
        """The stored session of this id (ended ones too), None when there is none."""
        rows = self.operational_rows(SESSIONS, {"id": session_digest(session_id)})
        return SessionRecord.from_row(rows[0]) if rows else None

    def touch_session(self: _Rows, digest: str, *, now: dt.datetime) -> None:
        """Note that an open session was just used."""
        with self.operational() as tx:
            tx.update(SESSIONS, {"id": digest, "ended_at": None}, {"seen_at": stamp(now)})

    def end_session(self: _Rows, digest: str, *, now: dt.datetime) -> bool:
        """End one session; whether it was open."""
        with self.operational() as tx:
            n = tx.update(SESSIONS, {"id": digest, "ended_at": None}, {"ended_at": stamp(now)})
        return n > 0

    def end_sessions(self: _Rows, user_id: str, *, now: dt.datetime) -> int:
        """End every open session of a user at once; how many were open."""
        with self.operational() as tx:
            return tx.update(
                SESSIONS, {"user_id": user_id, "ended_at": None}, {"ended_at": stamp(now)}
            )

    def open_sessions(self: _Rows, user_id: str | None = None) -> list[SessionRecord]:
        """The sessions not ended (of one user, or everyone's), oldest first. Some may have
        timed out without being ended: the service judges that."""
        where: dict[str, object] = {"ended_at": None}
        if user_id is not None:
            where["user_id"] = user_id
        rows = self.operational_rows(SESSIONS, where)
        return sorted((SessionRecord.from_row(r) for r in rows), key=lambda s: s.created_at)

    # -- failed sign-ins ---------------------------------------------------------------------

    def failures(self: _Rows, key: str) -> FailureCount | None:
        """The failures counted under ``key``, None when none are."""
        rows = self.operational_rows(FAILURES, {"key": key})
        if not rows:
            return None
        r = rows[0]
        first = parse_stamp(r["first_at"])
        assert first is not None
        return FailureCount(key, int(r["count"]), first, parse_stamp(r["locked_until"]))

    def count_failure(
        self: _Rows,
        key: str,
        *,
        now: dt.datetime,
        window: dt.timedelta,
        limit: int,
        lock_for: dt.timedelta,
    ) -> FailureCount:
        """Count one failed sign-in under ``key`` (one transaction, so that two processes
        counting at once both count). Failures older than ``window``, or from before a lock
        that has ended, are forgotten; the ``limit``-th one locks the key for ``lock_for``."""
        with self.operational() as tx:
            fresh = {"key": key, "count": 0, "first_at": stamp(now), "last_at": stamp(now)}
            tx.insert(FAILURES, fresh, if_absent=True)
            row = tx.rows(FAILURES, {"key": key}, lock=True)[0]
            count, first = int(row["count"]), parse_stamp(row["first_at"]) or now
            locked = parse_stamp(row["locked_until"])
            if (locked is not None and locked <= now) or (locked is None and first < now - window):
                count, first, locked = 0, now, None
            count += 1
            locked_now = locked is None and count >= limit
            if locked_now:
                locked = now + lock_for
            tx.update(
                FAILURES,
                {"key": key},
                {
                    "count": count,
                    "first_at": stamp(first),
                    "last_at": stamp(now),
                    "locked_until": None if locked is None else stamp(locked),
                },
            )
        return FailureCount(key, count, first, locked, locked_now)

    def clear_failures(self: _Rows, key: str) -> None:
        """Forget the failures under ``key`` (after a good sign-in)."""
        with self.operational() as tx:
            tx.update(FAILURES, {"key": key}, {"count": 0, "locked_until": None})
