"""layers.ledger: the append-only, hash-chained log, users and tokens, transactions.

Every test runs on both backends (``store_location``); tampering goes around the store's own
refusals: on the GeoPackage by dropping its triggers with sqlite3, on PostGIS as a superuser
with the triggers switched off (``session_replication_role = replica``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import sqlite3
import subprocess
from pathlib import Path

import orjson
import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import app
from layers.ledger import (
    GENESIS,
    Conflict,
    GeoPackageLedger,
    Ledger,
    event_hash,
    open_ledger,
)
from layers.ledger.pg import PostGISLedger
from layers.store import Store, open_store
from tests import factories as f

CLOCK = dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)

#: how a logged geometry starts: the GeoPackage blob ("GP") or PostGIS's little-endian WKB
GEOM_HEX = {"gpkg": "4750", "postgis": "0106000000"}


def ledger_at(location: str) -> Ledger:
    ledger = open_ledger(location, clock=lambda: CLOCK)
    kind = PostGISLedger if location.startswith("postgresql://") else GeoPackageLedger
    assert isinstance(ledger, kind)
    return ledger


def _sql(location: str, query: str, *, bypass: bool = False) -> list[tuple[object, ...]]:
    """Run SQL on the database itself, as another program would; ``bypass``: with the
    store's refusals switched off (the GeoPackage's triggers dropped; PostGIS as superuser)."""
    if location.startswith("postgresql://"):
        with psycopg.connect(location, autocommit=True) as conn:
            if bypass:
                conn.execute("SET session_replication_role = replica")
            cur = conn.execute(query.encode())
            return cur.fetchall() if cur.description else []
    with sqlite3.connect(location) as raw:
        if bypass:
            for op in ("update", "delete"):
                raw.execute(f'DROP TRIGGER "gazar_keep_gazar_events_{op}"')
        return raw.execute(query).fetchall()


def test_baseline_logs_every_feature_already_in_the_store(
    seeded: Store, store_location: str, backend: str
) -> None:
    seeded.close()
    with ledger_at(store_location) as ledger:
        events = ledger.events()
        assert [(e.action, e.object) for e in events] == [
            ("baseline", "land_conclusions/LC-1"),
            ("baseline", "contract_parcels/P-1"),
            ("baseline", "rehab_zones/R-1"),
            ("baseline", "exclusions/X-1"),
        ]
        after = orjson.loads(events[1].after or "")
        assert after["holder"] == "Алтан шижир нөхөрлөл" and after["status"] == "active"
        assert after["geom"].startswith(GEOM_HEX[backend])  # the stored geometry in hex
        assert events[0].prev_hash == GENESIS
        assert ledger.verify_chain().ok
    with ledger_at(store_location) as again:  # opening again adds nothing
        assert len(again.events()) == 4


def test_writes_are_logged_with_actor_before_and_after(store_location: str) -> None:
    with ledger_at(store_location) as ledger:
        with ledger.acting_as("Болд", "import parcels"):
            ledger.write(
                {
                    "land_conclusions": f.frame("land_conclusions", [f.land_conclusion()]),
                    "contract_parcels": f.frame("contract_parcels", [f.parcel()]),
                }
            )
        with ledger.transaction(actor="Сараа", request="suspend P-1") as tx:
            tx.update("contract_parcels", "P-1", {"status": "suspended"})
        ledger.delete("contract_parcels", ["P-1"])  # no actor given
        events = ledger.events()
    assert [(e.actor, e.request, e.action, e.object) for e in events] == [
        ("Болд", "import parcels", "insert", "land_conclusions/LC-1"),
        ("Болд", "import parcels", "insert", "contract_parcels/P-1"),
        ("Сараа", "suspend P-1", "update", "contract_parcels/P-1"),
        (None, None, "delete", "contract_parcels/P-1"),
    ]
    update = events[2]
    assert orjson.loads(update.before or "")["status"] == "active"
    assert orjson.loads(update.after or "")["status"] == "suspended"
    assert events[3].after is None and orjson.loads(events[3].before or "")["status"] == "suspended"
    for prev, event in itertools.pairwise(events):
        assert event.prev_hash == prev.hash
        assert event.seq == prev.seq + 1


def test_hash_is_sha256_of_the_documented_json(store_location: str) -> None:
    import hashlib
    import json

    with ledger_at(store_location) as ledger:
        ledger.add_user("Ганаа", role="public", actor="admin")
        e = ledger.events()[-1]
    text = json.dumps(
        [e.seq, e.time, e.actor, e.request, e.action, e.object, e.before, e.after, e.prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert e.hash == hashlib.sha256(text.encode()).hexdigest()
    assert e.hash == event_hash(
        e.seq, e.time, e.actor, e.request, e.action, e.object, e.before, e.after, e.prev_hash
    )


def test_changes_made_outside_the_ledger_are_caught_then_sealed(
    store_location: str, backend: str
) -> None:
    with ledger_at(store_location):
        pass
    plain = open_store(store_location)  # e.g. gazar import, which knows nothing of the ledger
    plain.write({"land_conclusions": f.frame("land_conclusions", [f.land_conclusion()])})
    plain.close()
    expected = [(None, "insert")]
    update = "UPDATE land_conclusions SET status = 'revoked' WHERE id = 'LC-1'"
    if backend == "postgis":  # or another program (QGIS, psql) editing the tables
        _sql(store_location, update)
        expected.append((None, "update"))
    elif shutil.which("ogrinfo"):  # or GDAL (as QGIS does), editing the file itself
        subprocess.run(
            ["ogrinfo", "-q", store_location, "-sql", update], check=True, capture_output=True
        )
        expected.append((None, "update"))
    with ledger_at(store_location) as ledger:
        check = ledger.verify_chain()
        assert check.ok and check.pending == len(expected) and check.events == 0
        assert ledger.seal() == len(expected)
        events = ledger.events()
        assert [(e.actor, e.action) for e in events] == expected
        assert ledger.verify_chain().pending == 0


@pytest.mark.parametrize("table", ["gazar_events", "decisions", "objections"])
def test_log_and_decisions_refuse_update_and_delete(store_location: str, table: str) -> None:
    with ledger_at(store_location) as ledger:
        ledger.add_user("Ганаа", role="public", actor="admin")
        with ledger.transaction(actor="a", request="r") as tx:
            tx.insert("decisions", [{"id": "A-1", "application_id": "A-1", "outcome": "reject",
                                     "reason": "x", "decided_at": "t"}])  # fmt: skip
            tx.insert("objections", [{"id": "A-1/O1", "application_id": "A-1",
                                      "filed_at": "t", "reason": "y"}])  # fmt: skip
        if table != "gazar_events":
            row = {"decisions": "A-1", "objections": "A-1/O1"}[table]
            with ledger.transaction(actor="a", request="r") as tx, pytest.raises(Conflict):
                tx.update(table, row, {"reason": "z"})
    column = "actor" if table == "gazar_events" else "reason"
    statements = [f'UPDATE "{table}" SET {column} = {column}', f'DELETE FROM "{table}"']
    refused: type[Exception] = sqlite3.DatabaseError
    if store_location.startswith("postgresql://"):
        statements.append(f'TRUNCATE "{table}"')
        refused = psycopg.errors.RestrictViolation
    for sql in statements:  # even the database's owner, writing directly
        with pytest.raises(refused, match="append-only"):
            _sql(store_location, sql)


def test_a_refused_transaction_writes_nothing_and_logs_nothing(store_location: str) -> None:
    with ledger_at(store_location) as ledger:
        before = len(ledger.events())
        with pytest.raises(Conflict), ledger.transaction(actor="a", request="r") as tx:
            tx.write({"land_conclusions": f.frame("land_conclusions", [f.land_conclusion()])})
            raise Conflict("refused after writing")
        assert ledger.read("land_conclusions").empty
        assert len(ledger.events()) == before and ledger.verify_chain().pending == 0


def test_tokens_are_stored_only_as_salted_hashes(store_location: str, backend: str) -> None:
    with ledger_at(store_location) as ledger:
        user, token = ledger.add_user("Болд", role="soum", soum_code="MN4322", actor="admin")
        other, token2 = ledger.add_user("Сараа", role="public", actor="admin")
        assert ledger.authenticate(token) == user
        assert ledger.authenticate(token2) == other
        secret = token.split("_", 2)[2]
        assert ledger.authenticate(token[:-2] + "xx") is None
        assert ledger.authenticate("gazar_nosuchkey_" + secret) is None
        assert ledger.authenticate("Bearer") is None
        with pytest.raises(Conflict):
            ledger.add_user("Болд", role="public", actor="admin")
        with pytest.raises(ValueError, match="--soum"):
            ledger.add_user("Дорж", role="soum", actor="admin")
        revoked = ledger.revoke_user("Болд", actor="admin")
        assert revoked.revoked_at is not None
        assert ledger.authenticate(token) is None
        log = b"".join(
            (e.after or "").encode() + (e.before or "").encode() for e in ledger.events()
        )
        kept = [r for t in ("gazar_users",) for r in ledger.records(t)]
    # the secrets are in the log only as salted commitments (layers.ledger.commit)
    for row in kept:
        assert row["token_hash"].encode() not in log and row["salt"].encode() not in log
    assert b'"token_hash":{"commitment":"' in log
    if backend == "postgis":  # no row of any table holds the secret
        tables = ("gazar_users", "gazar_events", "gazar_changes")
        rows = [r for t in tables for r in _sql(store_location, f"SELECT t::text FROM {t} AS t")]
        assert any(user.id in str(r) for r in rows)  # the rows were read
        assert not any(secret in str(r) for r in rows)
        return
    wal = Path(f"{store_location}-wal")  # closed: checkpointed into the file, but look anyway
    raw = Path(store_location).read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert user.id.encode() in raw  # the file was read
    assert secret.encode() not in raw


def _tamper(location: str, sql: str) -> None:
    _sql(location, sql, bypass=True)


def _five_events(location: str) -> None:
    with ledger_at(location) as ledger:
        for name in ("a", "b", "c", "d", "e"):
            ledger.add_user(name, role="public", actor="admin")
        assert ledger.verify_chain().events == 5


runner = CliRunner()


def test_audit_verify_passes_on_an_intact_log(store_location: str) -> None:
    _five_events(store_location)
    result = runner.invoke(app, ["audit", "verify", "--db", store_location])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output and "5 event(s)" in result.output


@pytest.mark.parametrize(
    ("sql", "first", "why"),
    [
        # a changed value: the event's own hash no longer matches
        (
            "UPDATE gazar_events SET after = replace(after, '\"c\"', '\"mallory\"') WHERE seq = 3",
            3,
            "does not match its hash",
        ),
        ("UPDATE gazar_events SET actor = 'someone else' WHERE seq = 2", 2, "does not match"),
        # a removed event: the sequence jumps
        ("DELETE FROM gazar_events WHERE seq = 4", 5, "missing"),
        # a rewritten event with its hash recomputed: the next event's link breaks
        ("UPDATE gazar_events SET hash = '" + "1" * 64 + "' WHERE seq = 2", 2, "does not match"),
    ],
)
def test_audit_verify_names_the_first_broken_event(
    store_location: str, sql: str, first: int, why: str
) -> None:
    _five_events(store_location)
    _tamper(store_location, sql)
    result = runner.invoke(app, ["audit", "verify", "--db", store_location])
    assert result.exit_code == 1
    assert f"broken at event {first}" in result.output
    assert why in result.output
    as_json = runner.invoke(app, ["audit", "verify", "--json", "--db", store_location])
    assert orjson.loads(as_json.stdout)["first_broken"] == first


def test_a_rehashed_event_breaks_the_link_to_the_next(store_location: str) -> None:
    _five_events(store_location)
    with ledger_at(store_location) as ledger:
        e = ledger.events()[1]  # seq 2
    forged_after = (e.after or "").replace('"b"', '"mallory"')
    forged = event_hash(
        e.seq, e.time, e.actor, e.request, e.action, e.object, e.before, forged_after, e.prev_hash
    )
    _tamper(
        store_location,
        f"UPDATE gazar_events SET after = '{forged_after}', hash = '{forged}' WHERE seq = 2",
    )
    with ledger_at(store_location) as ledger:
        check = ledger.verify_chain()
    assert not check.ok and check.first_broken == 3 and "prev_hash" in (check.reason or "")


def test_users_commands(store_location: str) -> None:
    with ledger_at(store_location):
        pass
    db = ["--db", store_location]
    add = runner.invoke(app, ["users", "add", "Болд", "--role", "soum", "--soum", "MN4322", *db])
    assert add.exit_code == 0, add.output
    token = add.stdout.strip().splitlines()[-1]
    assert token.startswith("gazar_")
    with ledger_at(store_location) as ledger:
        user = ledger.authenticate(token)
        assert user is not None and user.role == "soum" and user.soum_code == "MN4322"
        assert ledger.events()[-1].actor == "local"  # type: ignore[union-attr]
    bad = runner.invoke(app, ["users", "add", "Дорж", "--role", "soum", *db])
    assert bad.exit_code == 2 and "--soum" in bad.output
    revoke = runner.invoke(app, ["users", "revoke", "Болд", *db])
    assert revoke.exit_code == 0
    listing = runner.invoke(app, ["users", "list", "--json", *db])
    assert orjson.loads(listing.stdout)[0]["revoked_at"] is not None
    assert token not in listing.stdout
