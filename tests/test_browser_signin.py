"""Signing in and out in a real browser (Debian's chromium via Playwright): at 390 px and on a
desktop, in both languages, with no console error and no request leaving 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import factories as f
from tests.test_browser import CHROMIUM, serve

pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

GOOD = "Steppe-Horse-42"
SHOTS = Path("/tmp/shots-auth")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from layers.ledger import open_ledger
    from layers.store import open_store

    db = tmp_path_factory.mktemp("signin") / "signin.gpkg"
    with open_store(db) as store:
        store.write({"soums": f.frame("soums", [f.soum()])})
    with open_ledger(db) as ledger:
        ledger.add_user("Bolormaa", role="admin", actor="setup", password=GOOD)
    with serve(db) as (url, _):
        yield url


@pytest.mark.parametrize("lang", ["mn", "en"])
@pytest.mark.parametrize("width", [390, 1280])
def test_sign_in_and_out(site: str, browser: Any, lang: str, width: int) -> None:
    SHOTS.mkdir(exist_ok=True)
    ctx = browser.new_context(viewport={"width": width, "height": 800})
    page = ctx.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(site) else None,
    )
    suffix = "&lang=en" if lang == "en" else ""
    page.goto(f"{site}/login?next=/admin{suffix}")
    page.screenshot(path=str(SHOTS / f"login-{lang}-{width}.png"), full_page=True)
    # every control has its label
    page.get_by_label("User name" if lang == "en" else "Хэрэглэгчийн нэр").fill("Bolormaa")
    page.get_by_label("Password" if lang == "en" else "Нууц үг").fill(GOOD)
    page.locator("#signin-submit").click()
    page.wait_for_url("**/admin*")
    assert page.locator("#users-table").is_visible()
    assert "Bolormaa" in page.locator("header").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    page.screenshot(path=str(SHOTS / f"admin-{lang}-{width}.png"), full_page=True)
    cookies = {c["name"]: c for c in ctx.cookies()}
    assert cookies["gazar_session"]["httpOnly"] and cookies["gazar_session"]["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # no script reads the cookies
    page.locator("#signout").click()
    page.wait_for_url("**/login?out=1*")
    assert page.locator("#signin-notice").is_visible()
    assert page.locator("#signin-link").is_visible()
    assert errors == [] and outside == []
    ctx.close()
