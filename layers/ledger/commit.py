"""Salted commitments: how the log covers a private value without publishing it.

The triggers (both backends) copy a changed row whole into ``gazar_changes``, private
columns included: that table is the store's own and never published. When the changes are
sealed (:func:`seal_changes`, the one sealing path of both backends, whoever wrote the rows),
each private value in ``before``/``after`` is replaced by its commitment::

    {"commitment": hex(SHA-256(salt || value))}

``salt`` is 32 random bytes (kept as hex in the operational table ``gazar_commitments``,
keyed by the event's ``seq``, the side ``before``/``after`` and the field; never published)
and ``value`` the UTF-8 bytes of the value (a string as is; a number, a boolean or anything
else as its JSON text). A NULL private value stays ``null``. The event's hash covers the
commitment, so the chain covers the private value; revealing the value and its salt proves
it (:func:`commitment`). Choosing to commit at sealing, not in the triggers, keeps "whoever
writes" true on both backends without a SHA-256 and random source inside SQLite (a plain
``sqlite3`` or QGIS writer has no such SQL function) and keeps one recipe for both.

Events sealed before commitments existed are not rewritten: their private columns were not
copied at all (the triggers dropped them), except sign-in events, whose ``address`` was
logged in clear; the public feed withholds those (:mod:`api.services.publog`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from layers.ledger.chain import ChainCheck
    from layers.ledger.interface import Ledger

#: Private fields by the table of an event's object (``table/id``): what is committed to.
#: The tables' SECRET_COLUMNS, the file name of an uploaded document (it may name a
#: person) and the network address of a sign-in (session data).
PRIVATE_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "gazar_users": ("salt", "token_hash", "password_hash", "address"),
    "gazar_signin_failures": ("address",),
    "document_contents": ("data",),
    "documents": ("filename",),
    "objections": ("contact",),
}

COMMITMENT_KEY: Final = "commitment"

#: The record tables whose rows' private values are checked against their commitments
#: (:func:`store_check`); the operational ``gazar_signin_failures`` change unlogged.
CHECKED_TABLES: Final = ("objections", "documents", "document_contents", "gazar_users")
#: The actions of an event that logs a row as it is (the triggers'); a ``log_event`` (a
#: sign-in, ...) logs what happened, not the row.
ROW_ACTIONS: Final = ("insert", "update")


def value_bytes(value: Any) -> bytes:
    """The bytes a commitment is made to: a string's UTF-8, anything else its JSON text."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def commitment(salt_hex: str, value: Any) -> str:
    """``hex(SHA-256(salt || value))`` (see the module docstring)."""
    return hashlib.sha256(bytes.fromhex(salt_hex) + value_bytes(value)).hexdigest()


def is_commitment(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {COMMITMENT_KEY}


def private_fields(obj: str) -> tuple[str, ...]:
    """The private fields of an event's object ``table/id``."""
    return PRIVATE_FIELDS.get(obj.split("/", 1)[0], ())


def _commit_text(
    text: str | None, fields: Sequence[str], side: str, salts: list[tuple[str, str, str]]
) -> str | None:
    """``text`` (a row's JSON) with its private values committed; ``salts`` gets
    ``(side, field, salt)`` for each."""
    if text is None or not fields:
        return text
    doc = json.loads(text)
    if not isinstance(doc, dict) or not any(doc.get(f) is not None for f in fields):
        return text
    for f in fields:
        value = doc.get(f)
        if value is None or is_commitment(value):
            continue
        salt = secrets.token_hex(32)
        doc[f] = {COMMITMENT_KEY: commitment(salt, value)}
        salts.append((side, f, salt))
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def commit_changes(
    changes: Iterable[Sequence[Any]],
) -> Iterator[tuple[tuple[Any, ...], list[tuple[str, str, str]]]]:
    """Each ``gazar_changes`` row with its private values committed, and its salts."""
    for change_id, time, actor, request, action, obj, before, after in changes:
        fields = private_fields(str(obj))
        salts: list[tuple[str, str, str]] = []
        b = _commit_text(before, fields, "before", salts)
        a = _commit_text(after, fields, "after", salts)
        yield (change_id, time, actor, request, action, obj, b, a), salts


def seal_changes(
    changes: Sequence[Sequence[Any]], head: Sequence[Any] | None
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The ``gazar_events`` rows sealing ``changes`` (private values committed) and the
    ``gazar_commitments`` rows keeping their salts (``id, seq, object, side, field, salt``)."""
    from layers.ledger.chain import chain_events

    committed = list(commit_changes(changes))
    events = list(chain_events([c for c, _ in committed], head))
    keep = [
        (f"{event[0]}/{side}/{field}", event[0], event[5], side, field, salt)
        for event, (_, salts) in zip(events, committed, strict=True)
        for side, field, salt in salts
    ]
    return events, keep


def check_commitments(
    events: Iterable[Any],
    records: Mapping[str, list[dict[str, Any]]],
    salts: Iterable[Mapping[str, Any]],
) -> str | None:
    """Why a private value kept in the store does not match the log, None when all do.

    ``events`` are the log's (:class:`~layers.ledger.chain.Event`), ``records`` the current
    rows of the tables with private fields, ``salts`` the ``gazar_commitments`` rows. Each
    record's private values are checked against the commitment of the last event of its
    object (rows logged before commitments existed are skipped).
    """
    last: dict[str, Any] = {}
    for e in events:
        if e.action in ROW_ACTIONS and private_fields(e.object):
            last[e.object] = e
        elif e.action == "delete":
            last.pop(e.object, None)
    salt = {(int(s["seq"]), s["side"], s["field"]): s["salt"] for s in salts}
    for table, rows in records.items():
        for row in rows:
            obj = f"{table}/{row['id']}"
            event = last.get(obj)
            if event is None or event.after is None:
                continue
            logged = json.loads(event.after)
            for f in PRIVATE_FIELDS.get(table, ()):
                if f not in logged or f not in row:
                    continue
                kept, value = logged[f], row.get(f)
                if kept is None and value is None:
                    continue
                key = (event.seq, "after", f)
                if not is_commitment(kept) or value is None or key not in salt:
                    return f"{obj}: its {f} does not match event {event.seq}"
                if commitment(salt[key], value) != kept[COMMITMENT_KEY]:
                    return f"{obj}: its {f} does not match its commitment in event {event.seq}"
    return None


def store_check(ledger: Ledger, *, tries: int = 5) -> str | None:
    """:func:`check_commitments` over the ledger's log, records and salts, read as of one
    head: the head is read before the records and the log after them, and the reads are
    done again when an event landed in between (else a write between the reads would be
    reported as a changed private value)."""
    why: str | None = None
    for _ in range(tries):
        before = ledger.last_event()
        records = {t: ledger.records(t) for t in CHECKED_TABLES}
        salts = ledger.operational_rows("gazar_commitments")
        events = ledger.events()
        why = check_commitments(events, records, salts)
        if why is None or (events[-1].seq if events else 0) == (before.seq if before else 0):
            return why
    return why


def audit(ledger: Ledger) -> ChainCheck:
    """The log's chain recomputed and, when it holds, every private value kept in the store
    checked against its commitment (``gazar audit verify``, ``/audit``): a value changed
    behind the triggers is named in ``reason`` and ``commitments``."""
    check = ledger.verify_chain()
    if not check.ok:
        return check
    why = store_check(ledger)
    if why is None:
        return check
    return replace(check, ok=False, reason=why, commitments=why)
