"""The public log: ``/log.jsonl``, ``/log/head``, ``gazar audit export`` and ``gazar audit head``.

One JSON object per line and per event, in ``seq`` order (the format is the README's "The
public log"; :mod:`layers.verify` checks it)::

    {"seq":1,"time":"...","actor":"name","role":"soum","request":"...","action":"insert",
     "object":"applications/A-1","before":null,"after":"<the row's JSON text>",
     "prev":"<64 hex>","hash":"<64 hex>"}

``before``/``after`` are the exact texts the hash covers (private values already replaced by
commitments when sealed, :mod:`layers.ledger.commit`); ``role`` is not hashed (the actor's role
now: ``anonymous`` for an anonymous objector, ``system`` for no actor). A sign-in event sealed
before commitments existed held its address in clear: it is published ``"withheld":true``
with ``request``/``object``/``before``/``after`` null, and only its place in the chain is
checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Final

import orjson

from layers.labels import messages
from layers.ledger import GENESIS, Event, Ledger
from layers.ledger.commit import is_commitment
from layers.verify import Finding, Report, Source

#: the most lines one page of ``/log.jsonl`` answers (``?limit=``)
PAGE_CAP: Final = 5000
#: lines per page when ``?limit=`` is not given
PAGE_DEFAULT: Final = 1000
#: sign-in events that logged a network address in clear before commitments existed
_SIGNIN: Final = ("signin", "signin_locked")


def dumps(doc: Any) -> str:
    """One feed line's JSON: UTF-8, no spaces, keys in the order given."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _withheld(e: Event) -> bool:
    if e.action not in _SIGNIN:
        return False
    if e.object.startswith("gazar_signin_failures/addr:"):
        return True
    after = json.loads(e.after) if e.after else {}
    address = after.get("address") if isinstance(after, dict) else None
    return address is not None and not is_commitment(address)


def roles(ledger: Ledger) -> dict[str, str]:
    """Each user's public role by name (never an account secret)."""
    return {str(u["name"]): str(u["role"]) for u in ledger.records("gazar_users")}


def line(e: Event, role_of: dict[str, str]) -> dict[str, Any]:
    """One event as the public feed publishes it."""
    role = "system" if e.actor is None else role_of.get(e.actor, "anonymous")
    out: dict[str, Any] = {"seq": e.seq, "time": e.time, "actor": e.actor, "role": role}
    if _withheld(e):
        out |= {"action": e.action, "withheld": True}
        out |= {"request": None, "object": None, "before": None, "after": None}
    else:
        out |= {"request": e.request, "action": e.action, "object": e.object}
        out |= {"before": e.before, "after": e.after}
    return out | {"prev": e.prev_hash, "hash": e.hash}


def page(ledger: Ledger, *, after: int = 0, limit: int = PAGE_DEFAULT) -> list[dict[str, Any]]:
    """The lines after ``after``, at most ``limit`` (capped at :data:`PAGE_CAP`)."""
    role_of = roles(ledger)
    events = ledger.events(after=after, limit=max(1, min(limit, PAGE_CAP)))
    return [line(e, role_of) for e in events]


def text(lines: list[dict[str, Any]]) -> str:
    """Lines as the body of ``/log.jsonl`` (each ending with a newline)."""
    return "".join(dumps(x) + "\n" for x in lines)


def export(ledger: Ledger) -> Iterator[str]:
    """Every line of the log, page by page (``gazar audit export``)."""
    role_of, after = roles(ledger), 0
    while events := ledger.events(after=after, limit=PAGE_CAP):
        for e in events:
            yield dumps(line(e, role_of)) + "\n"
        after = events[-1].seq


def head(ledger: Ledger) -> dict[str, Any]:
    """The log's last event: ``seq``, ``hash``, ``time`` (``0``, 64 zeros, null when empty)."""
    last = ledger.last_event()
    if last is None:
        return {"seq": 0, "hash": GENESIS, "time": None}
    return {"seq": last.seq, "hash": last.hash, "time": last.time}


def next_link(path: str, lines: list[dict[str, Any]], limit: int) -> str | None:
    """The ``Link`` header of a full page: the next page's address."""
    if len(lines) < limit or not lines:
        return None
    return f'<{path}?after={lines[-1]["seq"]}&limit={limit}>; rel="next"'


def own_source(ledger: Ledger, register: Callable[[], dict[str, Any]]) -> Source:
    """This server's public feeds as an outsider reads them (the ``/verify`` page): the same
    bytes ``/log.jsonl`` and ``/register.json`` answer, without a network round trip."""

    def get(name: str) -> bytes | None:
        path, _, query = name.partition("?")
        if path == "register.json":
            return orjson.dumps(register(), option=orjson.OPT_SERIALIZE_NUMPY)
        if path == "log.jsonl":
            args = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            after, limit = int(args.get("after", 0)), int(args.get("limit", PAGE_DEFAULT))
            return text(page(ledger, after=after, limit=limit)).encode("utf-8")
        if path == "log/head":
            return dumps(head(ledger)).encode("utf-8")
        return None

    return get


def finding_text(finding: Finding) -> tuple[str, str]:
    """A verifier's finding in Mongolian and English (catalogue group ``verify``)."""
    return messages(
        "verify", finding.code, seq=finding.seq, record=finding.record, **finding.values
    )


def verdict(report: Report) -> tuple[str, str]:
    """A verifier's one-line verdict in Mongolian and English."""
    if report.finding is not None:
        return finding_text(report.finding)
    checks = ", ".join(f"{k}={v}" for k, v in report.checks.items())
    return messages("verify", "ok", events=report.events, checks=checks, **report.head)
