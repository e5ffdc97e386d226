"""The ledger's parts the organisation's pages use, on both backends: the rate-limit counter
(``Ledger.count_hit``, an operational table shared by workers, never logged) and the one
migration (``missing_columns``) that gives an older store's ``objections`` its private
``contact`` column."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import psycopg
import pytest

from layers.ledger import open_ledger
from tests.factories import Clock

T0 = dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)


def test_count_hit_counts_per_key_and_window_and_logs_nothing(store_location: str) -> None:
    clock = Clock(T0)
    with open_ledger(store_location, clock=clock) as ledger:
        events = len(ledger.events())
        assert [ledger.count_hit("objection:a", window_s=3600) for _ in range(3)] == [1, 2, 3]
        assert ledger.count_hit("objection:b", window_s=3600) == 1  # another address
        clock.now = T0 + dt.timedelta(hours=1)  # the next window starts again
        assert ledger.count_hit("objection:a", window_s=3600) == 1
        assert ledger.count_hit("objection:a", window_s=3600) == 2
        assert len(ledger.events()) == events  # operational: not in the log
        rows = ledger.operational_rows("gazar_rate_limits")
        assert sorted((r["key"], r["hits"]) for r in rows) == [
            ("objection:a", 2),
            ("objection:b", 1),
        ]
        assert ledger.verify_chain().ok


def test_count_hit_loses_no_hit_between_workers(store_location: str) -> None:
    """Workers (threads on their own ledgers, as processes would be) count one key at once."""
    with open_ledger(store_location, clock=lambda: T0) as first:
        first.count_hit("warm-up", window_s=60)  # the tables exist before the workers start
    seen: list[int] = []
    failures: list[BaseException] = []

    def work() -> None:
        try:
            with open_ledger(store_location, clock=lambda: T0) as ledger:
                for _ in range(10):
                    seen.append(ledger.count_hit("objection:shared", window_s=3600))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert failures == []
    assert sorted(seen) == list(range(1, 41))  # every hit counted once, none lost


def _drop_contact(location: str) -> None:
    """Make the store look like one written before ``objections.contact`` existed."""
    if location.startswith("postgresql://"):
        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute("ALTER TABLE objections DROP COLUMN contact")
            conn.execute("UPDATE gazar_meta SET value = 'old' WHERE key = 'ledger_ddl'")
        return
    with sqlite3.connect(location) as c:
        # an older store's log triggers did not name the column either
        for (name,) in c.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'objections' "
            "AND name LIKE 'gazar_log_%'"
        ).fetchall():
            c.execute(f'DROP TRIGGER "{name}"')
        c.execute("ALTER TABLE objections DROP COLUMN contact")
        c.execute("UPDATE gazar_meta SET value = 'old' WHERE key = 'ledger_ddl'")


def _columns(location: str) -> list[str]:
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as conn:
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'objections'"
            ).fetchall()
        return [str(r[0]) for r in rows]
    with sqlite3.connect(location) as c:
        return [str(r[1]) for r in c.execute("PRAGMA table_info(objections)")]


def test_an_older_store_gets_the_contact_column(store_location: str) -> None:
    with open_ledger(store_location, clock=lambda: T0) as ledger:
        ledger.add_user("setup-user", role="admin", actor="setup")
    _drop_contact(store_location)
    assert "contact" not in _columns(store_location)
    with open_ledger(store_location, clock=lambda: T0) as ledger:
        assert ledger.verify_chain().ok
        assert [u.name for u in ledger.users()] == ["setup-user"]
    assert "contact" in _columns(store_location)


@pytest.mark.parametrize("window_s", [1, 60, 86_400])
def test_count_hit_windows_are_fixed_by_the_server_time(store_location: str, window_s: int) -> None:
    clock = Clock(T0)
    clock.now = dt.datetime.fromtimestamp((T0.timestamp() // window_s) * window_s, dt.UTC)
    with open_ledger(store_location, clock=clock) as ledger:
        assert ledger.count_hit("k", window_s=window_s) == 1
        clock.now += dt.timedelta(seconds=window_s - 0.5)  # still the same window
        assert ledger.count_hit("k", window_s=window_s) == 2
        clock.now += dt.timedelta(seconds=1)
        assert ledger.count_hit("k", window_s=window_s) == 1
