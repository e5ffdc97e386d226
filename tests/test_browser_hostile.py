"""Hostile text in a real browser (issue 14, finding 3): a store whose every free-text field
holds ``<!--<script>``, ``</script>``, ``<img src=x onerror=alert(1)>`` and U+2028
(tests/hostile.py). Each page draws exactly the polygons it draws for the same store with plain
text, no dialog opens, no console error is logged and the Content-Security-Policy is never
violated; the standalone ``gazar map`` file the same, offline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.hostile import hostile_layers

playwright_api = pytest.importorskip("playwright.sync_api")

from tests.test_browser import CHROMIUM, offline_only, serve  # noqa: E402 - after the skip

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/test installs it)"
)

MAP_PAGES = ("/map", "/map/soum/MN4322", "/map/land-conclusion/LC-MN4322-001", "/check",
             "/availability", "/map?lang=en")  # fmt: skip

#: records every Content-Security-Policy violation and every dialog the page tries to open
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
    function (e) { window.__csp.push(e.violatedDirective + " " + e.blockedURI); });
"""


@dataclass
class Servers:
    plain: str
    hostile: str
    hostile_db: Path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    from layers.demo import build_demo
    from layers.schema import LAYER_ORDER
    from layers.store import open_store

    today = dt.date.today()
    folder = tmp_path_factory.mktemp("hostile-browser")
    plain, hostile = folder / "plain.gpkg", folder / "hostile.gpkg"
    demo = build_demo(seed=7, scale=1, today=today)
    with open_store(plain) as store:
        store.write({name: demo[name] for name in LAYER_ORDER})
    with open_store(hostile) as store:
        store.write(hostile_layers(today))
    with serve(plain) as (p, _), serve(hostile) as (h, _):
        yield Servers(p, h, hostile)


@dataclass
class Watched:
    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        return list(self.page.evaluate("window.__csp || []"))

    def assert_clean(self) -> None:
        assert self.dialogs == [], self.dialogs
        assert self.errors == [], self.errors
        assert self.violations() == []


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def go(url: str, *, has_map: bool = True, offline: bool = False) -> Watched:
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(ctx)
        ctx.add_init_script(WATCH)
        if offline:
            offline_only(ctx)
        page = ctx.new_page()
        w = Watched(page)
        page.on("console", lambda m: w.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: w.errors.append(str(e)))
        page.on("dialog", lambda d: (w.dialogs.append(d.message), d.dismiss()))
        page.goto(url, wait_until="networkidle")
        if has_map:
            page.wait_for_function("window.gazar && gazar.maps && gazar.maps.length > 0")
        return w

    yield go
    for ctx in contexts:
        ctx.close()


@pytest.mark.parametrize("path", MAP_PAGES)
def test_each_map_page_draws_every_polygon_of_a_hostile_store_and_runs_no_script(
    servers: Servers, open_page: Any, path: str
) -> None:
    plain = open_page(servers.plain + path)
    expected = plain.page.evaluate("gazar.drawn()")
    plain.assert_clean()
    hostile = open_page(servers.hostile + path)
    drawn = hostile.page.evaluate("gazar.drawn()")
    assert drawn["total"] > 0
    assert drawn == expected
    hostile.assert_clean()


def test_a_popup_shows_hostile_text_as_text(servers: Servers, open_page: Any) -> None:
    w = open_page(servers.hostile + "/map/land-conclusion/LC-MN4322-001?lang=en")
    w.page.fill(".gazar-search input", "CP-MN4322-00001")
    w.page.press(".gazar-search input", "Enter")
    popup = w.page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "<img src=x onerror=alert(1)>" in popup.inner_text()
    assert popup.locator("img").count() == 0
    w.page.wait_for_timeout(200)
    w.assert_clean()


def test_the_register_page_of_a_hostile_store_shows_every_parcel(
    servers: Servers, open_page: Any
) -> None:
    plain = open_page(servers.plain + "/register", has_map=False)
    rows = plain.page.locator("#register-contracts tr").count()
    w = open_page(servers.hostile + "/register", has_map=False)
    assert w.page.locator("#register-contracts tr").count() == rows > 1
    assert "<!--<script>" in w.page.locator("#register-contracts").inner_text()
    w.assert_clean()


def test_the_standalone_file_of_a_hostile_store_draws_every_polygon(
    servers: Servers, open_page: Any, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from api.cli import app
    from layers.store import open_store

    with open_store(servers.hostile_db) as store:
        counts = {info.layer: info.count for info in store.layers()}
    out = tmp_path / "hostile-map.html"
    result = CliRunner().invoke(app, ["map", "--db", str(servers.hostile_db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    w = open_page(out.as_uri(), offline=True)
    drawn = w.page.evaluate("gazar.drawn()")
    for name, count in counts.items():
        assert drawn["layers"][name] == count, name
    w.assert_clean()
