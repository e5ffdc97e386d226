"""Anyone can verify the allocation from what is published (issue 17): the public log feed, its
head, salted commitments to private values, and ``gazar verify`` over downloaded feeds."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from api.services import publog
from api.services.access import local_operator
from api.services.allocation import AllocationService, ApplicationInput
from geo.settings import AnalysisSettings
from layers.gpkg import register_functions
from layers.ledger import Ledger, open_ledger
from layers.ledger.commit import check_commitments, commitment
from layers.verify import event_hash, folder_source, verify
from tests import factories as f

CONTACT = "+976 9911 2233"


def _story(ledger: Ledger, now: list[dt.datetime]) -> AllocationService:
    """Apply (three competing, one apart), object (with a contact), draw, decide."""
    service = AllocationService(lambda: ledger, AnalysisSettings())
    op = local_operator("op")
    numbers = {}
    for key, (x, y) in {"A": (500, 100), "B": (550, 100), "E": (1500, 500)}.items():
        data = ApplicationInput(
            "LC-1", f"Org {key}", "partnership", 3, 3, geometry=f.utm_box(x, y, 200, 200)
        )
        numbers[key] = service.apply(data, user=op)["id"]
    service.object_to(numbers["A"], name="Dorj", reason="my camp", user=None, contact=CONTACT)
    now[0] += dt.timedelta(days=1)
    draw = service.announce_draw(
        numbers["A"], draw_date=dt.date(2026, 5, 4), public_value="48213", user=op
    )
    now[0] += dt.timedelta(days=30)
    order = service.run_draw(draw["id"], user=op)["result"]
    service.decide(order[0], outcome="approve", reason="won the draw", user=op)
    service.decide(order[1], outcome="reject", reason="lost the draw", user=op)
    service.decide(numbers["E"], outcome="approve", reason="no competitor", user=op)
    return service


@pytest.fixture
def story(store_location: str) -> Iterator[tuple[Ledger, AllocationService]]:
    from layers.store import open_store

    with open_store(store_location) as store:
        store.write({"land_conclusions": f.frame("land_conclusions", [f.land_conclusion()])})
    now = [dt.datetime(2026, 5, 1, 2, tzinfo=dt.UTC)]
    ledger = open_ledger(store_location, clock=lambda: now[0])
    try:
        yield ledger, _story(ledger, now)
    finally:
        ledger.close()


def _publish(ledger: Ledger, service: AllocationService, folder: Path) -> Path:
    """The feeds as an outsider downloads them, named as their URLs."""
    folder.mkdir(exist_ok=True)
    doc = service.register()  # first, as the verifier reads them (its head <= the log's)
    (folder / "register.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))
    (folder / "log.jsonl").write_text("".join(publog.export(ledger)), encoding="utf-8")
    return folder


def _lines(folder: Path) -> list[dict[str, Any]]:
    text = (folder / "log.jsonl").read_text(encoding="utf-8")
    return [json.loads(x) for x in text.splitlines()]


def _write_lines(folder: Path, lines: list[dict[str, Any]]) -> None:
    body = "".join(publog.dumps(x) + "\n" for x in lines)
    (folder / "log.jsonl").write_text(body, encoding="utf-8")


def _register(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "register.json").read_bytes()))


def _save_register(folder: Path, doc: dict[str, Any]) -> None:
    (folder / "register.json").write_text(json.dumps(doc), encoding="utf-8")


def _check(folder: Path, head: str | None = None) -> Any:
    return verify(folder_source(folder), head=head)


# ------------------------------------------------------------------------ a clean story


def test_a_whole_story_verifies_cleanly_and_keeps_the_contact_private(
    story: tuple[Ledger, AllocationService], tmp_path: Path
) -> None:
    ledger, service = story
    folder = _publish(ledger, service, tmp_path / "feeds")
    report = _check(folder)
    assert report.ok, report.finding and report.finding.english()
    assert report.checks["draws"] == 1 and report.checks["decisions"] == 3
    assert report.checks["contracts"] == 2
    log = (folder / "log.jsonl").read_text(encoding="utf-8")
    assert CONTACT not in log and CONTACT not in (folder / "register.json").read_text()
    # the objection's event carries a commitment the store's salt opens
    line = next(x for x in _lines(folder) if x["object"].startswith("objections/"))
    kept = json.loads(line["after"])["contact"]["commitment"]
    salts = ledger.operational_rows("gazar_commitments", {"seq": line["seq"]})
    assert commitment(salts[0]["salt"], CONTACT) == kept
    # the hash is recomputed from the feed line alone
    assert event_hash(line) == line["hash"]
    assert (
        hashlib.sha256(
            json.dumps(
                [line[k] for k in ("seq", "time", "actor", "request", "action", "object")]
                + [line["before"], line["after"], line["prev"]],
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
        ).hexdigest()
        == line["hash"]
    )
    assert line["actor"] == "anonymous" and line["role"] == "anonymous"
    # the head is the log's last line and the register's
    head = publog.head(ledger)
    assert head["seq"] == _lines(folder)[-1]["seq"] == _register(folder)["log_head"]["seq"]
    assert _check(folder, head=f"{head['seq']}:{head['hash']}").ok
    # and the store's private values match their commitments
    assert _store_commitments(ledger) is None


def _store_commitments(ledger: Ledger) -> str | None:
    return check_commitments(
        ledger.events(),
        {"objections": ledger.records("objections")},
        ledger.operational_rows("gazar_commitments"),
    )


# ------------------------------------------------------------------------------ tampering


@pytest.fixture
def feeds(story: tuple[Ledger, AllocationService], tmp_path: Path) -> Path:
    return _publish(*story, tmp_path / "feeds")


def _line_of(lines: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    return next(x for x in lines if (x["object"] or "").startswith(prefix))


def test_a_changed_reason_is_named(feeds: Path) -> None:
    doc = _register(feeds)
    doc["decisions"][0]["reason"] = "a nicer reason"
    _save_register(feeds, doc)
    finding = _check(feeds).finding
    assert finding.code == "row_differs" and finding.values["field"] == "reason"
    assert finding.record == doc["decisions"][0]["id"]


def test_a_changed_reason_in_the_log_breaks_its_hash(feeds: Path) -> None:
    lines = _lines(feeds)
    line = _line_of(lines, "decisions/")
    after = json.loads(line["after"])
    line["after"] = publog.dumps({**after, "reason": "a nicer reason"})
    _write_lines(feeds, lines)
    assert _check(feeds).finding.code == "hash_mismatch"
    assert _check(feeds).finding.seq == line["seq"]


def test_a_deleted_event_is_named(feeds: Path) -> None:
    lines = _lines(feeds)
    gone = _line_of(lines, "objections/")
    _write_lines(feeds, [x for x in lines if x is not gone])
    finding = _check(feeds).finding
    assert finding.code == "seq_gap" and finding.seq == gone["seq"] + 1


def test_two_reordered_events_are_named(feeds: Path) -> None:
    lines = _lines(feeds)
    i = lines.index(_line_of(lines, "draws/"))
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    _write_lines(feeds, lines)
    finding = _check(feeds).finding
    assert finding.code == "seq_gap" and finding.seq == lines[i]["seq"]


def test_an_altered_public_value_is_named(feeds: Path) -> None:
    doc = _register(feeds)
    doc["draws"][0]["public_value"] = "99999"
    _save_register(feeds, doc)
    finding = _check(feeds).finding
    assert finding.code == "row_differs" and finding.values["field"] == "public_value"
    # the same change rewritten into the log, with every hash recomputed after it
    lines = _lines(feeds)
    _rehash(lines, "draws/", lambda d: {**d, "public_value": "99999"} if d.get("seed") else d)
    _write_lines(feeds, lines)
    doc["log_head"] = {"seq": lines[-1]["seq"], "hash": lines[-1]["hash"]}
    _save_register(feeds, doc)
    finding = _check(feeds).finding
    assert finding.code == "draw_seed" and finding.record == doc["draws"][0]["id"]


def _rehash(lines: list[dict[str, Any]], prefix: str, change: Any) -> None:
    """Rewrite every event of ``prefix`` with ``change`` and recompute the chain after it."""
    prev = lines[0]["prev"]
    for line in lines:
        if (line["object"] or "").startswith(prefix) and line["after"]:
            line["after"] = publog.dumps(change(json.loads(line["after"])))
        line["prev"] = prev
        line["hash"] = event_hash(line)
        prev = line["hash"]


def test_history_rewritten_after_a_published_head_is_named(feeds: Path) -> None:
    lines = _lines(feeds)
    published = lines[-1]
    head = f"{published['seq']}:{published['hash']}"
    assert _check(feeds, head=head).ok
    _rehash(lines, "decisions/", lambda d: {**d, "reason": "rewritten"})
    _write_lines(feeds, lines)
    doc = _register(feeds)
    for d in doc["decisions"]:
        d["reason"] = "rewritten"
    doc["log_head"] = {"seq": lines[-1]["seq"], "hash": lines[-1]["hash"]}
    _save_register(feeds, doc)
    assert _check(feeds).ok  # consistent in itself ...
    finding = _check(feeds, head=head).finding  # ... but not an extension of the head
    assert finding.code == "head_mismatch" and finding.seq == published["seq"]


def test_a_register_row_with_no_event_is_named(feeds: Path) -> None:
    doc = _register(feeds)
    ghost = {**doc["decisions"][0], "id": "MN0000-2026-9999", "application_id": "X"}
    doc["decisions"].append(ghost)
    _save_register(feeds, doc)
    finding = _check(feeds).finding
    assert finding.code == "row_without_event" and finding.record == "MN0000-2026-9999"
    doc["decisions"] = doc["decisions"][1:-1]  # and an event's record left out
    _save_register(feeds, doc)
    assert _check(feeds).finding.code == "event_without_row"


def test_a_private_value_changed_in_the_store_is_caught_by_its_commitment(
    story: tuple[Ledger, AllocationService], backend: str, tmp_path: Path
) -> None:
    ledger, service = story
    assert _store_commitments(ledger) is None
    objection = ledger.records("objections")[0]
    sql = "UPDATE objections SET contact = 'someone@else.mn' WHERE id = %s"
    if backend == "gpkg":
        path = ledger.location if hasattr(ledger, "location") else None
        conn = sqlite3.connect(str(path))
        with conn:  # around the store's triggers, as a hostile operator would
            for name in ("gazar_keep_objections_update", "gazar_log_objections_update"):
                conn.execute(f'DROP TRIGGER "{name}"')
            conn.execute(sql.replace("%s", "?"), (objection["id"],))
        conn.close()
    else:
        import psycopg

        with psycopg.connect(str(ledger.location)) as conn:
            conn.execute("ALTER TABLE objections DISABLE TRIGGER USER")
            conn.execute(sql, (objection["id"],))
            conn.execute("ALTER TABLE objections ENABLE TRIGGER USER")
    why = _store_commitments(ledger)
    assert why is not None and objection["id"] in why and "contact" in why
    # gazar audit verify and /audit name it too (the chain itself still holds)
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.cli import app as cli
    from api.settings import ApiSettings

    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(ledger.location)])
    assert result.exit_code == 1 and f"objections/{objection['id']}" in result.output
    assert "contact" in result.output and "commitment" in result.output
    web = create_app(ApiSettings(db=str(ledger.location), token_failures=100_000))
    with TestClient(web) as client:
        check = client.get("/audit").json()
    assert check["ok"] is False and check["first_broken"] is None
    assert f"objections/{objection['id']}" in check["commitments"] == check["reason"]
    # the public feed shows no private value, before or after
    folder = _publish(ledger, service, tmp_path / "after")
    log = (folder / "log.jsonl").read_text(encoding="utf-8")
    assert CONTACT not in log and "someone@else.mn" not in log


def test_a_head_or_register_beyond_the_log_is_named(feeds: Path) -> None:
    lines = _lines(feeds)
    finding = _check(feeds, head=f"{len(lines) + 5}:{'a' * 64}").finding
    assert finding.code == "head_missing" and finding.seq == len(lines) + 5
    assert str(len(lines) + 5) in finding.english()
    _write_lines(feeds, lines[:-1])  # a log downloaded older than its register
    finding = _check(feeds).finding
    assert finding.code == "register_head" and str(len(lines)) in finding.english()
    assert all(publog.finding_text(finding))


def test_a_write_landing_between_the_heads_and_the_records_reads_still_verifies(
    story: tuple[Ledger, AllocationService], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from api.services import register

    ledger, service = story
    calls: list[int] = []

    def write_once() -> None:  # a write lands after the head was read, before the records
        calls.append(publog.head(ledger)["seq"])
        if len(calls) == 1:
            data = ApplicationInput(
                "LC-1", "Org Late", "partnership", 3, 3, geometry=f.utm_box(2500, 500, 200, 200)
            )
            service.apply(data, user=local_operator("op"))

    monkeypatch.setattr(register, "_between_reads", write_once)
    folder = _publish(ledger, service, tmp_path / "feeds")
    doc = _register(folder)
    assert len(calls) == 2 and calls[1] > calls[0]  # the head moved: read again
    assert doc["log_head"]["seq"] == calls[1] and "Org Late" in {q["holder"] for q in doc["queue"]}
    assert _check(folder).ok, _check(folder).finding
    geo = service.register_geojson()
    assert geo["log_head"]["seq"] == publog.head(ledger)["seq"]


# ------------------------------------------------------------------------- the surfaces


def test_the_cli_and_the_feeds_agree(
    story: tuple[Ledger, AllocationService], tmp_path: Path
) -> None:
    from api.cli import app

    ledger, service = story
    folder = _publish(ledger, service, tmp_path / "feeds")
    runner = CliRunner()
    result = runner.invoke(app, ["verify", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Verified" in result.output
    doc = _register(folder)
    doc["decisions"][0]["reason"] = "changed"
    _save_register(folder, doc)
    result = runner.invoke(app, ["verify", str(folder)])
    assert result.exit_code == 1 and doc["decisions"][0]["id"] in result.output


def test_the_log_feed_pages_and_the_verify_page(tmp_path: Path, store_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiSettings
    from layers.store import open_store

    with open_store(str(store_path)) as store:
        store.write({"land_conclusions": f.frame("land_conclusions", [f.land_conclusion()])})
    now = [dt.datetime(2026, 5, 1, 2, tzinfo=dt.UTC)]
    ledger = open_ledger(str(store_path), clock=lambda: now[0])
    try:
        _story(ledger, now)
        total = publog.head(ledger)["seq"]
    finally:
        ledger.close()
    app = create_app(ApiSettings(db=str(store_path), token_failures=100_000))
    with TestClient(app) as client:
        first = client.get("/log.jsonl", params={"limit": 3})
        assert first.status_code == 200 and len(first.text.splitlines()) == 3
        assert first.headers["link"] == '</log.jsonl?after=3&limit=3>; rel="next"'
        rest = client.get("/log.jsonl", params={"after": 3, "limit": 5000})
        assert len(rest.text.splitlines()) == total - 3 and "link" not in rest.headers
        assert CONTACT not in first.text + rest.text
        head = client.get("/log/head").json()
        assert head["seq"] == total and len(head["hash"]) == 64
        assert client.get("/register.json").json()["log_head"]["seq"] == total
        assert client.get("/register.csv").text.splitlines()[-1].startswith("log_head,")
        for lang in ("mn", "en"):
            page = client.get("/verify", params={"lang": lang})
            assert page.status_code == 200 and 'id="verify-verdict"' in page.text
            assert "sev-ok" in page.text
        register = client.get("/register").text
        assert f"{head['seq']}:{head['hash']}" in register
        # decisions are append-only even for an outside tool; an application's holder changed
        # with sqlite3 and not sealed: the page names the record and the field
        number = client.get("/register.json").json()["queue"][0]["id"]
        db = sqlite3.connect(store_path, isolation_level=None)
        register_functions(db)  # the GeoPackage functions, as QGIS (GDAL) opens it
        db.execute("UPDATE applications SET holder = 'Someone else' WHERE id = ?", (number,))
        db.close()
        for lang in ("mn", "en"):
            page = client.get("/verify", params={"lang": lang})
            assert page.status_code == 200 and "sev-block" in page.text
            assert number in page.text and "holder" in page.text
