"""The sign-in pages through the app (TestClient): /login, /logout, /admin, the cookies'
flags, the CSRF check of every form, and no open redirect."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from layers.ledger import open_ledger
from layers.store import open_store
from tests import factories as f

GOOD = "Steppe-Horse-42"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "signin.gpkg"
    with open_store(path) as store:
        store.write({"soums": f.frame("soums", [f.soum()])})
    with open_ledger(path) as ledger:
        ledger.add_user("boss", role="admin", actor="setup", password=GOOD)
        ledger.add_user("tuya", role="soum", soum_code="MN4322", actor="setup", password=GOOD)
    return path


def make_client(db: Path, peer: str = "192.0.2.10", **settings: object) -> TestClient:
    values = {"signin_delay_s": 0.0, **settings}
    app = create_app(ApiSettings(db=str(db), **values))  # type: ignore[arg-type]
    return TestClient(app, client=(peer, 50000))


@pytest.fixture
def client(db: Path) -> Iterator[TestClient]:
    with make_client(db) as c:
        yield c


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:400]
    return found.group(1)


def sign_in(c: TestClient, name: str = "boss", password: str = GOOD, **extra: str) -> object:
    token = csrf(c.get("/login").text)
    data = {"csrf_token": token, "name": name, "password": password, **extra}
    return c.post("/login", data=data, follow_redirects=False)


def events(db: Path) -> list[tuple[str | None, str]]:
    with open_ledger(db) as ledger:
        return [(e.actor, e.action) for e in ledger.events()]


def test_sign_in_sets_a_session_cookie_with_its_flags_and_goes_to_the_desk(
    client: TestClient, db: Path
) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert 'for="name"' in page.text and 'for="password"' in page.text
    visitor = page.headers["set-cookie"]
    assert "gazar_csrf=" in visitor and "HttpOnly" in visitor and "SameSite=lax" in visitor
    r = sign_in(client)
    assert r.status_code == 303 and r.headers["location"] == "/admin"  # type: ignore[attr-defined]
    cookie = r.headers["set-cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith("gazar_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP, no proxy
    home = client.get("/map")
    assert "boss" in home.text and 'action="/logout"' in home.text
    assert events(db)[-1] == ("boss", "signin")


def test_each_role_goes_to_its_desk(db: Path) -> None:
    with make_client(db) as c:
        r = sign_in(c, "tuya")
        assert r.headers["location"] == "/desk"  # type: ignore[attr-defined]


def _proxied_sign_in(c: TestClient, headers: dict[str, str]) -> tuple[str, str]:
    """Sign in through a proxy's headers; the test client talks plain HTTP, so the cookies are
    sent back by hand (it would keep a Secure cookie to itself). Returns both Set-Cookies."""
    page = c.get("/login", headers=headers)
    visitor = page.headers["set-cookie"]
    value = visitor.split(";")[0].split("=", 1)[1]
    c.cookies.clear()
    r = c.post(
        "/login",
        data={"csrf_token": csrf(page.text), "name": "boss", "password": GOOD},
        headers={**headers, "cookie": f"gazar_csrf={value}"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    return visitor, r.headers["set-cookie"]


def test_secure_only_over_https_from_a_trusted_proxy(db: Path) -> None:
    https = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.5"}
    with make_client(db, peer="10.0.0.2", trusted_proxies="10.0.0.0/24") as c:
        visitor, session = _proxied_sign_in(c, https)
        assert "Secure" in visitor and "Secure" in session and "HttpOnly" in session
        with open_ledger(db) as ledger:
            assert [s.address for s in ledger.open_sessions()] == ["203.0.113.5"]
    with make_client(db, peer="198.51.100.9", trusted_proxies="10.0.0.0/24") as c:
        visitor, session = _proxied_sign_in(c, https)
        assert "Secure" not in visitor and "Secure" not in session
        with open_ledger(db) as ledger:
            assert "198.51.100.9" in [s.address for s in ledger.open_sessions()]
            assert "203.0.113.5" in [s.address for s in ledger.open_sessions()]


def test_a_refused_sign_in_keeps_the_name_and_says_why_next_to_the_field(
    client: TestClient,
) -> None:
    token = csrf(client.get("/login?lang=en").text)
    r = client.post(
        "/login", data={"csrf_token": token, "name": "boss", "password": "nope", "lang": "en"}
    )
    assert r.status_code == 401
    assert 'value="boss"' in r.text
    assert 'id="password-error"' in r.text and "The name or the password is wrong." in r.text
    assert 'aria-describedby="password-error"' in r.text


def test_lockout_is_answered_429(db: Path) -> None:
    with make_client(db, signin_failures=3) as c:
        for _ in range(3):
            assert sign_in(c, password="wrong-one").status_code == 401  # type: ignore[attr-defined]
        r = sign_in(c)
        assert r.status_code == 429 and "Retry-After" in r.headers  # type: ignore[attr-defined]
    assert ("boss", "signin_locked") in events(db)


def test_a_post_without_or_with_another_sessions_token_is_refused_and_writes_nothing(
    db: Path,
) -> None:
    with make_client(db) as mine, make_client(db) as theirs:
        sign_in(mine)
        sign_in(theirs, "tuya")
        their_token = csrf(theirs.get("/map").text)
        before = events(db)
        for data in (
            {"name": "x1", "role": "public", "password": "Gobi-Wind-2026"},
            {
                "name": "x2",
                "role": "public",
                "password": "Gobi-Wind-2026",
                "csrf_token": their_token,
            },
            {"name": "x3", "role": "public", "password": "Gobi-Wind-2026", "csrf_token": ""},
        ):
            r = mine.post("/admin/users", data=data)
            assert r.status_code == 403, r.text[:300]
            assert r.headers["content-type"].startswith("text/html")
        r = mine.post("/admin/users/tuya/revoke", data={"csrf_token": their_token})
        assert r.status_code == 403
        r = mine.post("/logout", data={})
        assert r.status_code == 403
        assert events(db) == before
        assert "x1" not in mine.get("/admin").text
        # a sign-in form without the visitor's token
        fresh = make_client(db)
        r = fresh.post("/login", data={"name": "boss", "password": GOOD})
        assert r.status_code == 403 and "set-cookie" not in {
            k for k, v in r.headers.items() if v.startswith("gazar_session")
        }


def test_get_logout_changes_nothing_and_post_logout_ends_the_session(
    client: TestClient, db: Path
) -> None:
    sign_in(client)
    old = client.cookies.get("gazar_session")
    page = client.get("/logout")
    assert page.status_code == 200 and 'method="post" action="/logout"' in page.text
    assert client.get("/admin").status_code == 200  # still signed in
    r = client.post("/logout", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?out=1"
    assert 'gazar_session=""' in r.headers["set-cookie"]
    assert events(db)[-1] == ("boss", "signout")
    # the old cookie no longer works, even sent again by hand
    with make_client(db) as other:
        other.cookies.set("gazar_session", old or "")
        r = other.get("/admin", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/admin"


def test_a_revoked_users_session_stops_at_once(db: Path) -> None:
    with make_client(db) as admin, make_client(db) as official:
        sign_in(admin)
        sign_in(official, "tuya")
        assert "tuya" in official.get("/map").text
        token = csrf(admin.get("/admin").text)
        r = admin.post("/admin/users/tuya/revoke", data={"csrf_token": token, "confirm": "yes"})
        assert r.status_code in {200, 303}
        page = official.get("/map")
        assert 'id="signin-link"' in page.text
        assert "tuya" not in page.text


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
     "http:/evil.example", "/\tevil"],
)  # fmt: skip
def test_next_is_a_local_path_only(client: TestClient, target: str) -> None:
    r = sign_in(client, next=target)
    assert r.headers["location"] == "/admin"  # type: ignore[attr-defined]


def test_next_on_this_site_is_followed_with_the_language(client: TestClient) -> None:
    r = sign_in(client, next="/register?x=1", lang="en")
    assert r.headers["location"] == "/register?x=1&lang=en"  # type: ignore[attr-defined]


def test_admin_page_is_for_admins_only(db: Path) -> None:
    with make_client(db) as visitor:
        r = visitor.get("/admin?lang=en", follow_redirects=False)
        assert (
            r.status_code == 303
            and r.headers["location"] == "/login?next=/admin%3Flang%3Den&lang=en"
        )
    with make_client(db) as official:
        sign_in(official, "tuya")
        r = official.get("/admin")
        assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")


def test_admin_adds_a_user_sets_a_password_and_revokes(client: TestClient, db: Path) -> None:
    sign_in(client)
    token = csrf(client.get("/admin").text)
    weak = {"csrf_token": token, "name": "bat", "role": "public", "password": "password1"}
    r = client.post("/admin/users?lang=en", data={**weak, "lang": "en"})
    assert r.status_code == 422 and 'id="new-password-error"' in r.text
    assert 'value="bat"' in r.text  # the values are kept
    r = client.post("/admin/users", data={**weak, "password": "Gobi-Wind-2026"})
    assert r.status_code == 200 and 'id="admin-token"' in r.text
    r = client.post(
        "/admin/users/bat/password", data={"csrf_token": token, "password": "Khangai-99x"}
    )
    assert r.status_code == 200  # redirected to the screen
    r = client.post("/admin/users/bat/revoke", data={"csrf_token": token, "confirm": "yes"})
    assert r.status_code == 200
    logged = events(db)
    assert logged[-3:] == [("boss", "insert"), ("boss", "update"), ("boss", "update")] or (
        ("boss", "sessions_ended") in logged
    )
    with open_ledger(db) as ledger:
        assert ledger.verify_chain().ok
        bat = next(u for u in ledger.users() if u.name == "bat")
        assert bat.revoked_at is not None
    assert make_client(db).get("/login").status_code == 200
    with make_client(db) as c:
        assert sign_in(c, "bat", "Khangai-99x").status_code == 401  # type: ignore[attr-defined]


def test_pages_without_a_session_still_render_for_visitors(client: TestClient) -> None:
    r = client.get("/map?lang=en")
    assert r.status_code == 200 and 'id="signin-link"' in r.text and "Sign in" in r.text
