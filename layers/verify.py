"""Verify a soum's allocation from what it publishes, with no access to its server.

Standard library only (shapely, when installed, for the one geometry check), so this file can
be published and run alone: ``python verify.py URL-or-FOLDER [--head SEQ:HASH]``. The formats
it reads are the README's "The public log"; ``gazar verify`` and the ``/verify`` page run it.

It reads ``log.jsonl`` (paged, ``?after=SEQ&limit=N``) and ``register.json`` from a server's
address, or from a folder of downloaded copies named as their URLs, and checks, stopping at
the first inconsistency: the hash chain from genesis to the head; that an earlier published
head is a prefix; that the register's queue, decisions, objections, draws and contracts are
exactly the records the events build (no row without an event, no event's record missing);
every draw's seed and order from its inputs; that no two granted contracts overlap; that
every approval came after its objection window closed and every decision names its reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

GENESIS: Final = "0" * 64
PAGE: Final = 5000
DRAW_FORMAT: Final = "gazar-draw-v1"
#: register section -> the table of its records' events
SECTIONS: Final = {
    "queue": "applications",
    "decisions": "decisions",
    "objections": "objections",
    "draws": "draws",
    "contracts": "contract_parcels",
}
GRANTED: Final = ("active", "suspended")
#: actions that may be published withheld (sign-ins logged with an address in clear)
WITHHOLDABLE: Final = ("signin", "signin_locked")

#: English of each finding (``gazar verify`` prints the catalogue's group ``verify`` instead)
ENGLISH: Final = {
    "ok": "Verified: {events} event(s) to head {seq} {hash}; {checks}",
    "bad_line": "line {line} of log.jsonl is not a log event",
    "seq_gap": "event {seq}: expected sequence number {expect} (an event is missing or moved)",
    "prev_mismatch": "event {seq}: its prev is not the hash of the event before it",
    "hash_mismatch": "event {seq}: its content does not match its hash",
    "withheld": "event {seq}: withheld, but it is not a sign-in",
    "head_missing": "the published head {seq} is beyond the log's last event {last}",
    "head_mismatch": "event {seq}: its hash is not the published head's {hash} "
    "(history rewritten after the head)",
    "register_head": "the register was read at head {seq}, which the log does not have",
    "row_without_event": "register {section}: record {record} has no event behind it",
    "event_without_row": "event {seq}: record {record} is missing from the register's {section}",
    "row_differs": "register {section}: record {record}, {field} differs from event {seq}",
    "private_published": "register {section}: record {record} publishes its private {field}",
    "draw_seed": "draw {record} (event {seq}): its seed does not follow from its inputs",
    "draw_order": "draw {record} (event {seq}): its order does not follow from its seed",
    "overlap": "contracts {record} and {other} overlap (events {seq} and {other_seq})",
    "approval_early": "decision {record} (event {seq}): approved on {day}, objection window "
    "open until {until}",
    "no_reason": "decision {record} (event {seq}): it names no reason",
    "unreadable": "{name} could not be read: {why}",
}


@dataclass(frozen=True)
class Finding:
    """The first inconsistency: a code (catalogue ``verify.<code>``) and its values."""

    code: str
    seq: int | None = None
    record: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)

    def english(self) -> str:
        return ENGLISH[self.code].format(seq=self.seq, record=self.record, **self.values)


class Inconsistent(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.english())
        self.finding = finding


@dataclass
class Report:
    """What was checked (``checks``: check name -> how many things), and the finding."""

    ok: bool = False
    events: int = 0
    head: dict[str, Any] = field(default_factory=lambda: {"seq": 0, "hash": GENESIS})
    checks: dict[str, int] = field(default_factory=dict)
    finding: Finding | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in vars(self).items() if k != "finding"}
        f = self.finding
        out["finding"] = None if f is None else {**vars(f), "values": dict(f.values)}
        return out


# ----------------------------------------------------------------------------- sources


#: ``name`` ("log.jsonl?after=0&limit=5000", "register.json") -> its bytes, None if absent
Source = Callable[[str], bytes | None]


def url_source(base: str, *, timeout: float = 60.0) -> Source:
    """The feeds of a server: ``base`` + name, fetched with urllib."""
    root = base if base.endswith("/") else base + "/"

    def get(name: str) -> bytes | None:
        try:
            with urllib.request.urlopen(urllib.parse.urljoin(root, name), timeout=timeout) as r:
                return bytes(r.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    return get


def folder_source(folder: Path) -> Source:
    """Downloaded copies named as their URLs (``log.jsonl``, ``register.json``); a page of
    ``log.jsonl?after=N`` is the lines of the one file after ``N``."""

    def get(name: str) -> bytes | None:
        path, _, query = name.partition("?")
        file = folder / path
        if not file.is_file():
            return None
        data = file.read_bytes()
        if path != "log.jsonl" or not query:
            return data
        after = int(urllib.parse.parse_qs(query).get("after", ["0"])[0])
        lines = [x for x in data.splitlines(keepends=True) if x.strip()]
        return b"".join(x for x in lines if _seq_of(x) > after)

    return get


def source_of(where: str) -> Source:
    if where.startswith(("http://", "https://")):
        return url_source(where)
    return folder_source(Path(where))


def _seq_of(line: bytes) -> int:
    try:
        return int(json.loads(line)["seq"])
    except (ValueError, KeyError, TypeError):
        return sys.maxsize  # kept: the chain check names the bad line


def read_log(source: Source) -> list[dict[str, Any]]:
    """Every line of the log, page by page."""
    lines: list[dict[str, Any]] = []
    after = 0
    while True:
        body = source(f"log.jsonl?after={after}&limit={PAGE}")
        if body is None:
            raise Inconsistent(Finding("unreadable", values={"name": "log.jsonl", "why": "404"}))
        page = [x for x in body.decode("utf-8").splitlines() if x.strip()]
        for n, text in enumerate(page, start=len(lines) + 1):
            try:
                doc = json.loads(text)
                int(doc["seq"])
            except (ValueError, KeyError, TypeError):
                raise Inconsistent(Finding("bad_line", values={"line": n})) from None
            lines.append(doc)
        if len(page) < PAGE:
            return lines
        after = int(lines[-1]["seq"])


# ------------------------------------------------------------------------------- chain


def event_hash(line: Mapping[str, Any]) -> str:
    """SHA-256 of ``[seq, time, actor, request, action, object, before, after, prev]`` as
    compact JSON (``ensure_ascii=False``, separators ``,`` ``:``), UTF-8."""
    keys = ("seq", "time", "actor", "request", "action", "object", "before", "after", "prev")
    text = json.dumps([line.get(k) for k in keys], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_chain(lines: list[dict[str, Any]]) -> int:
    """Recompute the chain; the number of withheld events (whose hash is taken as given)."""
    prev, withheld = GENESIS, 0
    for expect, line in enumerate(lines, start=1):
        seq = int(line["seq"])
        if seq != expect:
            raise Inconsistent(Finding("seq_gap", seq, values={"expect": expect}))
        if line.get("prev") != prev:
            raise Inconsistent(Finding("prev_mismatch", seq))
        if line.get("withheld"):
            if line.get("action") not in WITHHOLDABLE:
                raise Inconsistent(Finding("withheld", seq))
            withheld += 1
        elif event_hash(line) != line.get("hash"):
            raise Inconsistent(Finding("hash_mismatch", seq))
        prev = str(line.get("hash"))
    return withheld


def check_head(lines: list[dict[str, Any]], head: str) -> None:
    """``SEQ:HASH``: the log must hold that event with that hash."""
    seq_text, _, want = head.partition(":")
    seq = int(seq_text)
    if seq == 0:
        return
    if seq > len(lines):
        raise Inconsistent(Finding("head_missing", seq, values={"last": len(lines)}))
    if lines[seq - 1]["hash"] != want.strip().lower():
        raise Inconsistent(Finding("head_mismatch", seq, values={"hash": want[:16]}))


# ------------------------------------------------------------------------------ replay


def replay(lines: Iterable[Mapping[str, Any]], upto: int) -> dict[str, tuple[int, dict[str, Any]]]:
    """The records the events build: ``table/id`` -> (seq of its last event, its row)."""
    state: dict[str, tuple[int, dict[str, Any]]] = {}
    for line in lines:
        if int(line["seq"]) > upto or line.get("withheld"):
            continue
        obj = str(line["object"])
        if line.get("after") is None:
            state.pop(obj, None)
        else:
            state[obj] = (int(line["seq"]), json.loads(line["after"]))
    return state


def _same(logged: Any, published: Any) -> bool:
    if isinstance(logged, str) and isinstance(published, list | dict):
        try:
            logged = json.loads(logged)
        except ValueError:
            return False
    if isinstance(logged, bool) or isinstance(published, bool):
        return bool(logged == published)
    if isinstance(logged, int | float) and isinstance(published, int | float):
        return math.isclose(float(logged), float(published), rel_tol=1e-9, abs_tol=1e-9)
    if logged is None or published is None:
        return logged in (None, "") and published in (None, "")
    return bool(logged == published)


def _fail(code: str, seq: int | None, record: Any, **values: Any) -> Inconsistent:
    return Inconsistent(Finding(code, seq, None if record is None else str(record), values))


def check_register(register: Mapping[str, Any], state: Mapping[str, tuple[int, dict]]) -> None:
    """Every register row is an event's record, field for field, and the other way round."""
    for section, table in SECTIONS.items():
        rows = register.get(section)
        if rows is None:
            continue
        seen = set()
        for row in rows:
            obj = f"{table}/{row.get('id')}"
            seen.add(obj)
            if obj not in state:
                raise Inconsistent(
                    Finding("row_without_event", None, str(row.get("id")), {"section": section})
                )
            seq, logged = state[obj]
            for key, value in logged.items():
                if isinstance(value, dict) and set(value) == {"commitment"}:
                    if row.get(key) is not None:
                        raise Inconsistent(
                            Finding(
                                "private_published",
                                seq,
                                str(row["id"]),
                                {"section": section, "field": key},
                            )
                        )
                    continue
                if key in row and not _same(value, row[key]):
                    raise Inconsistent(
                        Finding(
                            "row_differs", seq, str(row["id"]), {"section": section, "field": key}
                        )
                    )
        for obj, (seq, _) in state.items():
            if obj.startswith(table + "/") and obj not in seen:
                raise Inconsistent(
                    Finding("event_without_row", seq, obj.split("/", 1)[1], {"section": section})
                )


# ------------------------------------------------------------------------------- rules


def draw_seed(numbers: list[str], draw_date: str, public_value: str) -> str:
    text = "\n".join([DRAW_FORMAT, *sorted(numbers), draw_date, public_value])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def draw_order(numbers: list[str], seed: str) -> list[str]:
    return sorted(numbers, key=lambda n: (hashlib.sha256(f"{seed}:{n}".encode()).hexdigest(), n))


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return list(json.loads(value)) if value else []


def check_draws(state: Mapping[str, tuple[int, dict[str, Any]]]) -> int:
    n = 0
    for obj, (seq, d) in state.items():
        if not obj.startswith("draws/") or not d.get("seed"):
            continue
        numbers = [str(x) for x in _json_list(d["applications"])]
        seed = draw_seed(numbers, str(d["draw_date"])[:10], str(d["public_value"]))
        if seed != d["seed"]:
            raise Inconsistent(Finding("draw_seed", seq, str(d["id"])))
        if [str(x) for x in _json_list(d.get("result"))] != draw_order(numbers, seed):
            raise Inconsistent(Finding("draw_order", seq, str(d["id"])))
        n += 1
    return n


def decode_geometry(hex_text: str) -> Any:
    """A logged geometry (hex of a GeoPackage blob or of WKB) as a shapely geometry."""
    import shapely

    blob = bytes.fromhex(hex_text)
    if blob[:2] == b"GP":
        envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(blob[3] >> 1) & 7]
        blob = blob[8 + envelope :]
    return shapely.from_wkb(blob)


def check_overlaps(state: Mapping[str, tuple[int, dict[str, Any]]], tolerance_m2: float) -> int:
    """No two granted contracts overlap by more than ``tolerance_m2`` (areas approximated on
    the sphere from degrees); the number of granted contracts checked."""
    import shapely

    granted = []
    for obj, (seq, row) in sorted(state.items()):
        if obj.startswith("contract_parcels/") and row.get("status") in GRANTED:
            hex_text = row.get("geom") or row.get("geometry")
            if hex_text:
                granted.append((str(row["id"]), seq, decode_geometry(str(hex_text))))
    tree = shapely.STRtree([g for _, _, g in granted])
    for i, (a, seq_a, ga) in enumerate(granted):
        for j in tree.query(ga):
            if j <= i:
                continue
            b, seq_b, gb = granted[int(j)]
            overlap = ga.intersection(gb)
            m2 = overlap.area * 111_320.0**2 * math.cos(math.radians(overlap.centroid.y or 0))
            if m2 > tolerance_m2:
                values = {"other": b, "other_seq": seq_b}
                raise Inconsistent(Finding("overlap", seq_a, a, values))
    return len(granted)


def check_decisions(state: Mapping[str, tuple[int, dict[str, Any]]], offset_hours: float) -> int:
    n = 0
    for obj, (seq, d) in state.items():
        if not obj.startswith("decisions/"):
            continue
        n += 1
        if not str(d.get("reason") or "").strip():
            raise Inconsistent(Finding("no_reason", seq, str(d["id"])))
        if d.get("outcome") != "approve":
            continue
        app = state.get(f"applications/{d['application_id']}", (0, {}))[1]
        until = str(app.get("objection_until") or "")[:10]
        moment = dt.datetime.fromisoformat(str(d["decided_at"]).replace("Z", "+00:00"))
        day = (moment + dt.timedelta(hours=offset_hours)).date().isoformat()
        if not until or day <= until:
            values = {"day": day, "until": until or "?"}
            raise Inconsistent(Finding("approval_early", seq, str(d["id"]), values))
    return n


# -------------------------------------------------------------------------------- main


def verify(source: Source, *, head: str | None = None) -> Report:
    """Every check, in order; the report names the first inconsistency."""
    report = Report()
    try:
        # the register first: a write landing between the two downloads then only makes the
        # log longer than the register's head, never the register ahead of the log
        body = source("register.json")
        lines = read_log(source)
        withheld = check_chain(lines)
        report.events = len(lines)
        if lines:
            report.head = {"seq": lines[-1]["seq"], "hash": lines[-1]["hash"]}
        report.checks["chain"] = len(lines)
        if withheld:
            report.notes.append(f"withheld={withheld}")
        if head:
            check_head(lines, head)
            report.checks["head"] = int(head.partition(":")[0])
        if body is None:
            raise Inconsistent(
                Finding("unreadable", values={"name": "register.json", "why": "404"})
            )
        register = json.loads(body)
        at = register.get("log_head") or report.head
        if at["seq"] and at["seq"] > len(lines):
            raise Inconsistent(Finding("register_head", seq=at["seq"]))
        if at["seq"]:
            check_head(lines, f"{at['seq']}:{at['hash']}")
        state = replay(lines, int(at["seq"] or 0))
        check_register(register, state)
        report.checks["register"] = sum(len(register.get(s) or []) for s in SECTIONS)
        report.checks["draws"] = check_draws(state)
        settings = register.get("settings") or {}
        try:
            report.checks["contracts"] = check_overlaps(
                state, float(settings.get("overlap_tolerance_m2", 1.0))
            )
        except ImportError:
            report.notes.append("no shapely: overlaps not checked")
        report.checks["decisions"] = check_decisions(
            state, float(settings.get("utc_offset_hours", 8.0))
        )
        report.ok = True
    except Inconsistent as exc:
        report.finding = exc.finding
    return report


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    head = None
    if "--head" in args:
        i = args.index("--head")
        head = args[i + 1]
        del args[i : i + 2]
    report = verify(source_of(args[0]), head=head)
    if report.ok:
        checks = ", ".join(f"{k}={v}" for k, v in report.checks.items())
        print(ENGLISH["ok"].format(events=report.events, checks=checks, **report.head))
        for note in report.notes:  # e.g. no shapely: overlaps not checked
            print(note)
        return 0
    assert report.finding is not None
    print(report.finding.english(), file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
