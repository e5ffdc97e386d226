"""The pages people land on, in Debian's chromium: the home page, one page per object kind,
``/api.html`` with no network, and a map at 390 px with its layer list and legend folded; both
languages, no console error, no request leaving 127.0.0.1. Screenshots go to
/tmp/shots-pages/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.object_records import Records, build
from tests.test_browser import CHROMIUM, serve

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing")

SHOTS = Path("/tmp/shots-pages")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Records]]:
    records = build(tmp_path_factory.mktemp("pages-browser"))
    with serve(records.db) as (url, _app):
        yield url, records


class Tab:
    def __init__(self, browser: Any, url: str, viewport: dict[str, int]) -> None:
        self.ctx = browser.new_context(viewport=viewport)
        self.base = url
        self.errors: list[str] = []
        self.outside: list[str] = []
        # nothing may leave the machine: such a request is refused and recorded
        self.ctx.route("**/*", self._route)
        self.page = self.ctx.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith((self.base, "data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def go(self, path: str) -> Any:
        response = self.page.goto(self.base + path, wait_until="networkidle")
        return response

    def clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.outside == [], self.outside


@pytest.fixture
def tab(browser: Any, site: tuple[str, Records]) -> Iterator[Any]:
    tabs: list[Tab] = []

    def open_(viewport: dict[str, int] = DESKTOP) -> Tab:
        t = Tab(browser, site[0], viewport)
        tabs.append(t)
        return t

    yield open_
    for t in tabs:
        t.ctx.close()


def _paths(r: Records) -> dict[str, str]:
    return {
        "home": "/",
        "application": f"/applications/{r.hostile}",
        "land_conclusion": f"/land_conclusions/{r.lc}",
        "contract": f"/contracts/{r.parcel}",
        "draw": f"/draws/{r.draw}",
    }


@pytest.mark.parametrize("lang", ["mn", "en"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("kind", ["home", "application", "land_conclusion", "contract", "draw"])
def test_each_page_loads_cleanly(
    tab: Any, site: tuple[str, Records], kind: str, viewport: dict[str, int], lang: str
) -> None:
    t = tab(viewport)
    path = _paths(site[1])[kind] + ("?lang=en" if lang == "en" else "")
    response = t.go(path)
    assert response.status == 200 and "text/html" in response.headers["content-type"]
    assert t.page.locator("html").get_attribute("lang") == lang
    if kind == "home":
        assert t.page.locator("#home-links a").count() == 5
    else:
        assert t.page.locator(f"#object-{kind}").count() == 1
        assert t.page.locator("svg.object-map").count() == (0 if kind == "draw" else 1)
    # nothing wider than the screen but the tables' own scroll boxes
    width = t.page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"] + 1, width
    SHOTS.mkdir(exist_ok=True)
    t.page.screenshot(path=str(SHOTS / f"{kind}-{lang}-{viewport['width']}.png"), full_page=True)
    t.clean()


@pytest.mark.parametrize("lang", ["mn", "en"])
def test_the_api_page_renders_offline(tab: Any, lang: str) -> None:
    t = tab()
    t.go("/api.html" + ("?lang=en" if lang == "en" else ""))
    t.page.wait_for_selector(".opblock", timeout=20_000)
    assert t.page.locator(".opblock").count() > 20
    assert t.page.locator('[data-path="/applications/{number}"]').count() >= 1
    assert t.page.locator("button.authorize").count() == 1  # the Bearer scheme
    SHOTS.mkdir(exist_ok=True)
    t.page.screenshot(path=str(SHOTS / f"api-{lang}.png"))
    t.clean()


@pytest.mark.parametrize("lang", ["mn", "en"])
@pytest.mark.parametrize("path", ["/map", "/check", "/map/land-conclusion/LC-MN4322-001"])
def test_a_map_at_phone_width_folds_its_legend_and_layer_list(
    tab: Any, path: str, lang: str
) -> None:
    t = tab(PHONE)
    t.go(path + ("?lang=en" if lang == "en" else ""))
    page = t.page
    page.wait_for_selector(".gazar-layers-toggle")
    viewport = page.locator('meta[name="viewport"]')
    assert viewport.count() == 1
    content = viewport.get_attribute("content") or ""
    assert "user-scalable" not in content and "maximum-scale" not in content
    assert page.evaluate("document.querySelector('.gazar-legend').open") is False
    layers = page.locator(".leaflet-control-layers")
    assert not layers.is_visible()
    SHOTS.mkdir(exist_ok=True)
    name = path.strip("/").replace("/", "-")
    page.screenshot(path=str(SHOTS / f"{name}-{lang}-390-folded.png"))
    # the keyboard opens the layer list and the legend
    toggle = page.locator(".gazar-layers-toggle")
    toggle.focus()
    page.keyboard.press("Enter")
    assert layers.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    page.locator(".gazar-legend summary").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.querySelector('.gazar-legend').open") is True
    page.screenshot(path=str(SHOTS / f"{name}-{lang}-390-open.png"))
    page.keyboard.press("Tab")  # focus moves on: nothing traps it
    page.locator(".gazar-layers-toggle").click()
    assert not layers.is_visible()
    t.clean()


def test_desktop_maps_keep_the_layer_list_open(tab: Any) -> None:
    t = tab()
    t.go("/map")
    t.page.wait_for_function("window.gazar && gazar.maps && gazar.maps.length > 0")
    assert t.page.locator(".leaflet-control-layers").is_visible()
    assert t.page.locator(".gazar-layers-toggle").count() == 0
    t.clean()
