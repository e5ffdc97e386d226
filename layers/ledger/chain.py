"""The log's hash chain: the hash of an event, and the check of a whole log (any backend)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

GENESIS: Final = "0" * 64

#: The changes waiting to be sealed, in the order they were caught (the same SQL on both
#: backends; :func:`chain_events` takes its rows).
PENDING_CHANGES: Final = (
    "SELECT id, time, actor, request, action, object, before, after FROM gazar_changes ORDER BY id"
)

#: The log's last event as ``(seq, hash)``, no row for an empty log (the ``head`` of
#: :func:`chain_events`).
LOG_HEAD: Final = "SELECT seq, hash FROM gazar_events ORDER BY seq DESC LIMIT 1"


@dataclass(frozen=True)
class Event:
    seq: int
    time: str
    actor: str | None
    request: str | None
    action: str
    object: str
    before: str | None
    after: str | None
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        def parse(text: str | None) -> Any:
            return None if text is None else orjson.loads(text)

        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "request": self.request,
            "action": self.action,
            "object": self.object,
            "before": parse(self.before),
            "after": parse(self.after),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class ChainCheck:
    """The result of recomputing the log's hash chain."""

    ok: bool
    events: int
    #: the sequence number of the first event that does not match, None when all do
    first_broken: int | None
    reason: str | None
    head_seq: int | None
    head_hash: str | None
    #: changes caught but not yet sealed into the log
    pending: int
    #: why a private value kept in the store does not match its commitment in the log
    #: (:func:`layers.ledger.commit.audit`), None when all do or when not checked
    commitments: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_broken": self.first_broken,
            "reason": self.reason,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "pending": self.pending,
            "commitments": self.commitments,
        }


def event_hash(
    seq: int,
    time: str,
    actor: str | None,
    request: str | None,
    action: str,
    obj: str,
    before: str | None,
    after: str | None,
    prev_hash: str,
) -> str:
    """The hash of one event (see the module docstring)."""
    text = json.dumps(
        [seq, time, actor, request, action, obj, before, after, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


def chain_events(
    changes: Iterable[Sequence[Any]], head: Sequence[Any] | None
) -> Iterator[tuple[Any, ...]]:
    """The ``gazar_events`` rows that seal ``changes`` into the log, each numbered and hashed
    onto the one before; every backend seals here.

    ``changes`` are ``gazar_changes`` rows (``id, time, actor, request, action, object,
    before, after``) in ``id`` order; ``head`` is the log's last ``(seq, hash)``, None for an
    empty log.
    """
    seq, prev = (0, GENESIS) if head is None else (int(head[0]), str(head[1]))
    for _, time, actor, request, action, obj, before, after in changes:
        seq += 1
        h = event_hash(seq, time, actor, request, action, obj, before, after, prev)
        yield (seq, time, actor, request, action, obj, before, after, prev, h)
        prev = h


def check_chain(rows: Iterable[Sequence[Any]], *, pending: int) -> ChainCheck:
    """Recompute the hash chain over the log's rows (``gazar_events`` columns, in ``seq``
    order) and name the first event that does not follow; every backend's log is checked here.
    """
    prev, expect, count = GENESIS, 1, 0
    head: tuple[int | None, str | None] = (None, None)
    for row in rows:
        event = Event(*row)
        count += 1
        why = _broken(event, expect, prev)
        if why is not None:
            return ChainCheck(False, count, event.seq, why, *head, pending)
        prev, expect = event.hash, event.seq + 1
        head = (event.seq, event.hash)
    return ChainCheck(True, count, None, None, *head, pending)


def _broken(event: Event, expect: int, prev: str) -> str | None:
    """Why an event breaks the chain, None when it follows."""
    if event.seq != expect:
        return (
            f"event {event.seq}: expected sequence number {expect} "
            f"(event(s) {expect}–{event.seq - 1} are missing)"
        )
    if event.prev_hash != prev:
        return (
            f"event {event.seq}: its prev_hash {event.prev_hash[:16]}… is not the hash of the "
            f"event before it ({prev[:16]}…)"
        )
    again = event_hash(
        event.seq,
        event.time,
        event.actor,
        event.request,
        event.action,
        event.object,
        event.before,
        event.after,
        event.prev_hash,
    )
    if again != event.hash:
        return (
            f"event {event.seq} ({event.action} {event.object} at {event.time}): its content "
            f"does not match its hash (recomputed {again[:16]}…, stored {event.hash[:16]}…)"
        )
    return None
