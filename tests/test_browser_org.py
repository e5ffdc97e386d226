"""The organisation's story in a real browser (Debian's chromium), at desktop and phone width,
in both languages: an organisation signs in, applies by drawing a polygon on the map and sees
its number and place; someone not signed in objects to it; the organisation sees the
objection under "My applications" (and uploads a member list once the services keep
documents). No console error, no request leaving 127.0.0.1. Screenshots: /tmp/shots-org/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_apply_pages import LC, ORG, make_store
from tests.test_browser import CHROMIUM, serve

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

SHOTS = Path("/tmp/shots-org")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    db = tmp_path_factory.mktemp("org-browser") / "org.gpkg"
    tokens = make_store(db)
    with serve(db) as (url, _app):
        yield url, tokens


class Tab:
    """One browser context: its page, console errors, failed and outside requests."""

    def __init__(self, browser: Any, url: str, width: int, token: str | None) -> None:
        self.url = url
        height = 844 if width < 500 else 900
        self.ctx = browser.new_context(viewport={"width": width, "height": height})
        if token:  # signed in (web/session.py: the account's cookie)
            self.ctx.add_cookies([{"name": "gazar_token", "value": token, "url": url}])
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", self._request)

    def _request(self, r: Any) -> None:
        if not r.url.startswith((self.url, "data:", "about:")):
            self.outside.append(r.url)

    def clean(self) -> None:
        assert self.errors == [] and self.outside == [], (self.errors, self.outside)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def _draw_in_land_conclusion(page: Any) -> None:
    """Click a square inside LC-1 with Leaflet.draw's polygon tool and close it."""
    page.locator("#map-box").scroll_into_view_if_needed()
    page.wait_for_timeout(400)  # the fit to the chosen Land Conclusion
    page.locator(".leaflet-draw-draw-polygon").click()
    points = page.evaluate(
        """(id) => {
          const map = gazar.maps[0];
          const b = map.getBounds(), box = map.getContainer().getBoundingClientRect();
          let lc = null;
          map.eachLayer(l => { if (l.feature && l.feature.properties.id === id) lc = l; });
          const c = lc.getBounds().getCenter(), d = lc.getBounds();
          const dy = (d.getNorth() - d.getSouth()) / 14, dx = (d.getEast() - d.getWest()) / 28;
          return [[c.lat - dy, c.lng - dx], [c.lat - dy, c.lng + dx], [c.lat + dy, c.lng + dx],
                  [c.lat + dy, c.lng - dx], [c.lat - dy, c.lng - dx]].map(p => {
            const q = map.latLngToContainerPoint(p);
            return [box.left + q.x, box.top + q.y];
          });
        }""",
        LC,
    )
    for x, y in points:
        page.mouse.click(x, y)
        page.wait_for_timeout(120)


CASES = [(1280, "mn"), (390, "en"), (390, "mn"), (1280, "en")]


@pytest.mark.parametrize(("width", "lang"), CASES, ids=[f"{w}-{g}" for w, g in CASES])
def test_apply_by_drawing_object_and_see_it(
    site: tuple[str, dict[str, str]], browser: Any, width: int, lang: str
) -> None:
    url, tokens = site
    q = "?lang=en" if lang == "en" else ""
    name = f"{width}-{lang}"
    org = Tab(browser, url, width, tokens[ORG])
    page = org.page
    page.goto(f"{url}/apply{q}", wait_until="networkidle")
    page.wait_for_function("window.gazar && gazar.maps.length > 0")
    org.shot(f"{name}-apply")
    page.select_option("#land_conclusion_id", LC)
    page.check("#how-draw")
    page.fill("#holder", "Алтан хоршоо")
    page.select_option("#holder_type", "cooperative")
    page.fill("#members_women", "6")
    page.fill("#members_men", "9")
    _draw_in_land_conclusion(page)
    assert page.locator("#drawn").input_value().startswith('{"type":"FeatureCollection"')
    org.shot(f"{name}-drawn")
    page.locator("#apply-submit").click()
    page.wait_for_url("**/my/**")
    number = page.locator("dd.number").inner_text().strip()
    assert number.startswith("MN4322-")
    assert page.locator("#filed").is_visible()
    assert page.locator("dd.place").inner_text().strip().isdigit()
    org.shot(f"{name}-answer")
    org.clean()

    # someone not signed in objects, with the keyboard only
    anon = Tab(browser, url, width, None)
    anon.page.goto(f"{url}/applications/{number}/objection-form{q}", wait_until="networkidle")
    anon.page.focus("#ob-name")
    anon.page.keyboard.type("Дорж")
    anon.page.keyboard.press("Tab")
    anon.page.keyboard.type("Бэлчээрийн газар")
    anon.page.keyboard.press("Tab")
    anon.page.keyboard.type("dorj@example.mn")
    anon.page.keyboard.press("Tab")
    anon.page.keyboard.press("Enter")
    anon.page.wait_for_selector("#objection-filed")
    assert "dorj@example.mn" not in anon.page.content()
    anon.shot(f"{name}-objection")
    anon.clean()

    # the organisation sees it under My applications
    page.goto(f"{url}/my{q}", wait_until="networkidle")
    card = page.locator(f"#app-{number}")
    assert "Бэлчээрийн газар" in card.inner_text() and "Дорж" in card.inner_text()
    org.shot(f"{name}-my")
    # documents, once the services keep them: a member list PDF and the missing list shrinks
    page.goto(f"{url}/my/{number}{q}", wait_until="networkidle")
    if page.locator("#doc-form").count():
        missing = page.locator("#docs-missing li").count()
        page.select_option("#doc-kind", "member_list")
        page.set_input_files(
            "#doc-file",
            files=[{"name": "members.pdf", "mimeType": "application/pdf",
                    "buffer": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"}],
        )  # fmt: skip
        page.locator("#doc-upload").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("#docs-missing li").count() == missing - 1
        org.shot(f"{name}-documents")
    org.clean()
    org.ctx.close()
    anon.ctx.close()
