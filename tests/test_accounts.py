"""Signing in (api.services.accounts) on both backends: passwords hashed with argon2 and
refused when weak, sessions stored only hashed and ended by time, sign-out and revocation,
lockouts shared by every service over the store, and nothing of it in a layer's revision or
the hash chain but the logged events."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.services.accounts import AccountService, SignInLocked, SignInRefused
from api.settings import ApiSettings
from layers.ledger import OPERATIONAL, Ledger, WeakPassword, open_ledger, session_digest
from layers.ledger.base import logged_tables
from layers.ledger.passwords import check_policy, common_passwords
from tests import factories as f
from tests.factories import Clock

START = dt.datetime(2026, 6, 30, 2, 0, tzinfo=dt.UTC)
GOOD = "Steppe-Horse-42"


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def ledger(store_location: str, clock: Clock) -> Iterator[Ledger]:
    with open_ledger(store_location, clock=clock) as led:
        led.write({"soums": f.frame("soums", [f.soum()])})
        led.add_user("boss", role="admin", actor="setup", password=GOOD)
        led.add_user("tuya", role="soum", soum_code="MN4322", actor="setup", password=GOOD)
        yield led


def service(ledger: Ledger, **settings: object) -> AccountService:
    values = {"signin_delay_s": 0.0, **settings}
    return AccountService(lambda: ledger, ApiSettings(db=ledger.location, **values))  # type: ignore[arg-type]


@pytest.mark.production_hashes
def test_passwords_are_argon2_hashes_never_logged(ledger: Ledger) -> None:
    from pwdlib import PasswordHash

    row = ledger.records("gazar_users", where={"name": "boss"})[0]
    # at pwdlib's recommended cost (the rest of the suite hashes cheaply: tests/conftest.py)
    recommended = PasswordHash.recommended().hash("x").rpartition("$")[0].rpartition("$")[0]
    assert recommended.startswith("$argon2id$") and "m=65536" in recommended
    assert row["password_hash"].startswith(recommended + "$")
    assert GOOD not in row["password_hash"]
    for event in ledger.events():
        assert "argon2" not in (event.after or "") and GOOD not in (event.after or "")
    assert ledger.check_password("boss", GOOD)[1]
    assert not ledger.check_password("boss", GOOD + "x")[1]
    assert ledger.check_password("nobody", GOOD) == (None, False)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1!", "too_short"),
        ("password", "common"),
        ("12345678", "common"),
        ("Iloveyou", "common"),
        ("ulaanbaatar", "common"),
        ("mongolia123", "common"),
        ("aaaaaaaaaa", "repeated"),
        ("ganbat-2026!", "name"),
        ("x" * 300, "too_long"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, code: str) -> None:
    with pytest.raises(WeakPassword) as caught:
        check_policy(password, name="Ganbat")
    assert caught.value.code == code
    assert " / " in str(caught.value)  # both languages


def test_the_common_list_holds_the_commonest() -> None:
    common = common_passwords()
    assert len(common) >= 300
    assert {"123456", "password", "qwerty", "12345678", "iloveyou", "admin123"} <= common


def test_a_weak_password_writes_nothing(ledger: Ledger) -> None:
    before = len(ledger.events())
    with pytest.raises(WeakPassword):
        ledger.add_user("bat", role="public", actor="boss", password="qwerty123")
    with pytest.raises(WeakPassword):
        service(ledger).set_password("tuya", "password1", actor="boss")
    assert [u.name for u in ledger.users()] == ["boss", "tuya"]
    assert len(ledger.events()) == before


def test_sign_in_stores_only_the_hash_of_the_session_id(ledger: Ledger) -> None:
    accounts = service(ledger)
    sid, session = accounts.sign_in("boss", GOOD, "192.0.2.1", "pytest")
    rows = ledger.operational_rows("gazar_sessions")
    assert [r["id"] for r in rows] == [session_digest(sid)] == [session.id]
    assert all(sid not in str(v) for r in rows for v in r.values())
    assert accounts.session(sid) == session
    assert session.user.name == "boss" and session.csrf
    event = ledger.events()[-1]
    assert (event.actor, event.action, event.object) == (
        "boss",
        "signin",
        f"gazar_users/{session.user.id}",
    )
    assert sid not in (event.after or "")
    # every sign-in is a new id
    sid2, _ = accounts.sign_in("boss", GOOD, "192.0.2.1", "pytest")
    assert sid2 != sid


def test_sessions_end_when_idle_and_when_too_old(ledger: Ledger, clock: Clock) -> None:
    accounts = service(ledger, session_idle_minutes=30, session_lifetime_hours=12)
    sid, _ = accounts.sign_in("boss", GOOD, "192.0.2.1")
    clock.advance(minutes=29)
    assert accounts.session(sid) is not None  # refreshes seen_at
    clock.advance(minutes=29)
    assert accounts.session(sid) is not None
    clock.advance(minutes=31)
    assert accounts.session(sid) is None  # idle for 31 minutes
    assert ledger.find_session(sid).ended_at is not None  # type: ignore[union-attr]
    # used every 20 minutes, it still ends 12 hours after the sign-in
    sid, _ = accounts.sign_in("boss", GOOD, "192.0.2.1")
    signed_in = clock.now
    for _ in range(40):
        clock.advance(minutes=20)
        if accounts.session(sid) is None:
            break
    assert dt.timedelta(hours=12) < clock.now - signed_in <= dt.timedelta(hours=12, minutes=20)


def test_seen_at_is_written_at_most_once_a_minute(ledger: Ledger, clock: Clock) -> None:
    accounts = service(ledger)
    sid, session = accounts.sign_in("boss", GOOD, "192.0.2.1")
    clock.advance(seconds=30)
    assert accounts.session(sid).seen_at == session.seen_at  # type: ignore[union-attr]
    clock.advance(seconds=40)
    accounts.session(sid)
    assert ledger.find_session(sid).seen_at > session.seen_at  # type: ignore[union-attr]


def test_sign_out_ends_the_session_on_the_server(ledger: Ledger) -> None:
    accounts = service(ledger)
    sid, _ = accounts.sign_in("boss", GOOD, "192.0.2.1")
    assert accounts.sign_out(sid)
    assert accounts.session(sid) is None
    assert not accounts.sign_out(sid)
    assert ledger.events()[-1].action == "signout"


def test_revoking_ends_every_session_at_once(ledger: Ledger) -> None:
    accounts = service(ledger)
    one, _ = accounts.sign_in("tuya", GOOD, "192.0.2.1")
    two, _ = accounts.sign_in("tuya", GOOD, "192.0.2.2")
    assert len(accounts.sessions()) == 2
    user, ended = accounts.revoke("tuya", actor="boss")
    assert ended == 2 and user.revoked_at
    assert accounts.session(one) is None and accounts.session(two) is None
    with pytest.raises(SignInRefused) as caught:
        accounts.sign_in("tuya", GOOD, "192.0.2.1")
    assert caught.value.code == "revoked"
    actions = [(e.actor, e.action) for e in ledger.events()[-2:]]
    assert actions == [("boss", "update"), ("boss", "sessions_ended")]


def test_a_password_change_ends_the_other_sessions(ledger: Ledger) -> None:
    accounts = service(ledger)
    mine, _ = accounts.sign_in("tuya", GOOD, "192.0.2.1")
    other, _ = accounts.sign_in("tuya", GOOD, "192.0.2.2")
    _, ended = accounts.set_password("tuya", "Gobi-Wind-2026", actor="tuya", keep_session=mine)
    assert ended == 1
    assert accounts.session(mine) is not None and accounts.session(other) is None
    assert ledger.events()[-1].request == "users password tuya"
    accounts.sign_in("tuya", "Gobi-Wind-2026", "192.0.2.1")


def test_unknown_users_and_wrong_passwords_get_the_same_answer(ledger: Ledger) -> None:
    accounts = service(ledger)
    answers = []
    for name, password in (("nobody", GOOD), ("boss", "Wrong-Password-1")):
        with pytest.raises(SignInRefused) as caught:
            accounts.sign_in(name, password, f"192.0.2.{len(answers) + 10}")
        answers.append(str(caught.value))
    assert answers[0] == answers[1]


def test_an_account_is_locked_after_n_failures_by_any_process(ledger: Ledger, clock: Clock) -> None:
    # two services over one store: two server processes
    first, second = service(ledger, signin_failures=5), service(ledger, signin_failures=5)
    for i in range(5):
        with pytest.raises(SignInRefused) as caught:
            (first if i % 2 else second).sign_in("boss", f"wrong-{i}", f"198.51.100.{i}")
        assert not isinstance(caught.value, SignInLocked)
    with pytest.raises(SignInLocked) as locked:
        first.sign_in("boss", GOOD, "198.51.100.99")  # even the right password
    assert 14 * 60 < locked.value.retry_after <= 15 * 60
    with pytest.raises(SignInLocked):
        second.sign_in("boss", GOOD, "198.51.100.98")
    event = [e for e in ledger.events() if e.action == "signin_locked"]
    assert len(event) == 1 and event[0].actor == "boss"
    assert event[0].object.startswith("gazar_users/")
    assert ledger.verify_chain().ok
    clock.advance(minutes=16)
    first.sign_in("boss", GOOD, "198.51.100.99")


def test_an_address_is_locked_after_n_failures_over_any_names(ledger: Ledger) -> None:
    accounts = service(ledger, signin_address_failures=4, signin_failures=50)
    for i in range(4):
        with pytest.raises(SignInRefused):
            accounts.sign_in(f"guess{i}", "whatever-1", "203.0.113.7")
    with pytest.raises(SignInLocked):
        service(ledger, signin_address_failures=4).sign_in("boss", GOOD, "203.0.113.7")
    accounts.sign_in("boss", GOOD, "203.0.113.8")  # another address is not locked
    locks = [e for e in ledger.events() if e.action == "signin_locked"]
    assert [e.object for e in locks] == ["gazar_signin_failures/address"]
    assert all("guess" not in (e.after or "") for e in ledger.events())


def test_failures_are_slowed_before_the_lock(ledger: Ledger) -> None:
    accounts = service(ledger, signin_delay_s=0.5)
    delays = []
    for i in range(4):
        with pytest.raises(SignInRefused) as caught:
            accounts.sign_in("boss", f"wrong-{i}", "192.0.2.50")
        delays.append(caught.value.delay)
    assert delays == [0.0, 0.5, 1.0, 2.0]


def test_sessions_and_counters_are_no_layer_and_not_in_the_log(ledger: Ledger) -> None:
    assert not set(OPERATIONAL) & set(logged_tables())
    revisions = {name: ledger.revision(name) for name in ("soums", "applications")}
    events = len(ledger.events())
    accounts = service(ledger)
    sid, _ = accounts.sign_in("boss", GOOD, "192.0.2.1")
    for _ in range(3):
        accounts.session(sid)
    with pytest.raises(SignInRefused):
        accounts.sign_in("tuya", "not-the-one", "192.0.2.1")
    accounts.sign_out(sid)
    assert {name: ledger.revision(name) for name in revisions} == revisions
    new = ledger.events()[events:]
    assert [e.action for e in new] == ["signin", "signout"]
    assert not any("gazar_sessions" in e.object for e in ledger.events())
    check = ledger.verify_chain()
    assert check.ok and check.pending == 0


@pytest.mark.gpkg_only
def test_an_older_store_gets_the_password_column(store_path: Path) -> None:
    with open_ledger(store_path) as led:
        led.add_user("old", role="admin", actor="setup")
    with sqlite3.connect(store_path) as conn:
        for op in ("insert", "update", "delete"):  # an older store's triggers lacked it too
            conn.execute(f'DROP TRIGGER "gazar_log_gazar_users_{op}"')
        conn.execute("ALTER TABLE gazar_users DROP COLUMN password_hash")
        conn.execute("UPDATE gazar_meta SET value = 'old' WHERE key = 'ledger_ddl'")
    with open_ledger(store_path) as led:
        led.set_password("old", GOOD, actor="setup")
        assert led.check_password("old", GOOD)[1]
        assert led.verify_chain().ok
