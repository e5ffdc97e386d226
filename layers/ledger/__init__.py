"""The allocation ledger: applications, objections, decisions, draws, users and the audit log.

A :class:`Ledger` is a :class:`layers.store.Store` (the layers) that also keeps the allocation
records and an append-only, hash-chained log of every change, in the same database so that a
decision, the contract parcel it creates and their log events are one transaction.

The log
    Every insert, update and delete of a layer feature or an allocation record is an event:
    ``seq``, ``time`` (server, UTC), ``actor``, ``request`` (what the actor asked for, e.g.
    ``decide approve MN4322-2026-0001``), ``action`` (``insert``/``update``/``delete``/
    ``baseline``), ``object`` (``table/id``), ``before`` and ``after`` (JSON of the row; the
    geometry as the hex of its stored blob; private values as salted commitments,
    :mod:`~layers.ledger.commit`) and ``hash``::

        hash = SHA-256(json.dumps([seq, time, actor, request, action, object, before, after,
                                   prev_hash], ensure_ascii=False, separators=(",", ":")))

    with ``prev_hash`` the previous event's hash (64 zeros for the first). ``before`` and
    ``after`` are hashed as the stored text. :meth:`Ledger.verify_chain` recomputes the chain
    and names the first event that does not match; the store refuses to update or delete an
    event.

How changes are caught (GeoPackage)
    Triggers on every layer table and allocation table copy each changed row into
    ``gazar_changes`` inside the writer's own transaction, whoever writes: Gazar, ``gazar
    import`` through the plain store, GDAL or QGIS. The actor is read from the one-row
    ``gazar_context`` table, which a ledger transaction fills at its start and empties before
    it commits (writers outside a ledger leave it empty: the actor is recorded as ``NULL``,
    shown as "system"). At the end of every ledger transaction the waiting changes are
    *sealed*: moved into ``gazar_events`` with their hashes. Changes written outside a ledger
    wait in ``gazar_changes`` until the next ledger transaction or :meth:`Ledger.seal`
    (``gazar audit seal``); :meth:`Ledger.verify_chain` counts them. When the ledger is first
    added to a store that already holds features, each feature is logged once as a
    ``baseline`` event.

Never two contracts on the same land
    A ledger transaction takes the database's write lock first (``BEGIN IMMEDIATE``), so
    the checks made inside it (``LedgerTx.read``) see every committed contract and nothing
    can commit between the checks and the write. Threads of one process share the connection
    under a lock.

On PostGIS (``layers/ledger/pg.py``)
    The same tables and the same hash recipe (``gazar audit verify`` runs :func:`check_chain`
    on either); statement-level triggers with transition tables fill ``gazar_changes``, with
    the actor from ``SET LOCAL gazar.actor``; append-only tables refuse UPDATE, DELETE and
    TRUNCATE by trigger; every ledger transaction takes one ``pg_advisory_xact_lock`` key
    first, so the checks inside it see every committed allocation and two approvals of
    overlapping parcels cannot both commit, whichever server process runs them.

The package, by job: :mod:`~layers.ledger.base` (the tables, errors and values both backends
share), :mod:`~layers.ledger.chain` (the hash chain), :mod:`~layers.ledger.users` (users, roles,
tokens, passwords; :mod:`~layers.ledger.passwords` their policy and hash),
:mod:`~layers.ledger.sessions` (sign-in sessions and failure counters: operational tables, not
logged), :mod:`~layers.ledger.interface` (:class:`Ledger`, :class:`LedgerTx`),
:mod:`~layers.ledger.sqlite` (the GeoPackage backend) and :mod:`~layers.ledger.pg` (PostGIS,
imported only when a ``postgresql://`` store is opened).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from layers.ledger.base import (
    APPEND_ONLY,
    APPLICATIONS,
    OPERATIONAL,
    RECORDS,
    SECRET_COLUMNS,
    Conflict,
    RecordNotFound,
    parse_json_list,
    public_record,
    stamp,
    update_values,
    utcnow,
)
from layers.ledger.chain import GENESIS, ChainCheck, Event, check_chain, event_hash
from layers.ledger.interface import Ledger, LedgerTx, OperationalTx
from layers.ledger.passwords import WeakPassword
from layers.ledger.sessions import FailureCount, SessionRecord, session_digest
from layers.ledger.sqlite import GeoPackageLedger
from layers.ledger.users import ROLES, Role, User, token_digest

__all__ = [
    "APPEND_ONLY",
    "APPLICATIONS",
    "GENESIS",
    "OPERATIONAL",
    "RECORDS",
    "ROLES",
    "SECRET_COLUMNS",
    "ChainCheck",
    "Conflict",
    "Event",
    "FailureCount",
    "GeoPackageLedger",
    "Ledger",
    "LedgerTx",
    "OperationalTx",
    "RecordNotFound",
    "Role",
    "SessionRecord",
    "User",
    "WeakPassword",
    "check_chain",
    "event_hash",
    "open_ledger",
    "parse_json_list",
    "public_record",
    "session_digest",
    "stamp",
    "token_digest",
    "update_values",
    "utcnow",
]


def open_ledger(
    location: str | Path | None = None,
    *,
    create: bool = True,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Ledger:
    """The ledger of the store at ``location`` (default: ``layers.store.default_location()``)."""
    from layers.store import default_location

    loc = str(location) if location is not None else default_location()
    if loc.startswith(("postgresql://", "postgres://")):
        from layers.ledger.pg import PostGISLedger

        return PostGISLedger(loc, create=create, clock=clock)
    return GeoPackageLedger(Path(loc), create=create, clock=clock)
