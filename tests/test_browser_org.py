"""The organisation's story in a real browser (Debian's chromium), at desktop and phone width,
in both languages, through the pages only: the demo's organisation ``altan-shijir`` signs in
at ``/login``, finds Apply and My applications on the home page and in the header, applies by
drawing a polygon on the map and sees its number and place; someone not signed in objects on
the application's page with the keyboard; the organisation sees the objection under "My
applications", uploads a member list (the missing list shrinks) and asks for the renewal of
its contract ending within the window. No console error, no request leaving 127.0.0.1.
Screenshots: /tmp/shots-org/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workbench import CHROMIUM, PASSWORD, Workbench, browse, build_store, serve, settle

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

SHOTS = Path("/tmp/shots-org")
ORG = "altan-shijir"
LC = "LC-MN4322-001"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def bench(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Workbench, str, list[list[list[float]]]]]:
    """The workbench's demo store with the demo's allocation record (``gazar demo``'s): the
    organisation's contract whose renewal has not been asked for yet; its application's
    number is the second item."""
    from api.services.demo_allocation import demo_allocation, demo_clock, demo_users
    from geo.settings import AnalysisSettings
    from layers.ledger import open_ledger

    today = dt.date.today()
    db = build_store(tmp_path_factory.mktemp("org-browser"), today=today)
    clock = demo_clock()
    with open_ledger(str(db), clock=clock) as ledger:
        demo_users(ledger)
        record = demo_allocation(ledger, clock, today=today, settings=AnalysisSettings())
        assert record is not None
        ledger.set_password(ORG, PASSWORD, actor="test")
        decisions = ledger.records("decisions", where={"parcel_id": record.renew_refused})
        renewal_app = str(decisions[0]["application_id"])
        users = {u.name: u for u in ledger.users()}
    with serve(db) as (url, app):
        squares = free_squares(app.state.services, today)
        yield Workbench(url, app, db, users), renewal_app, squares


def free_squares(services: Any, today: dt.date, count: int = 4) -> list[list[list[float]]]:
    """``count`` squares (60 m wide, as ``[lat, lng]`` corners) on the Land Conclusion's free
    land away from the applications filed already and from each other, so that each case's
    application is eligible and first in its queue."""
    import shapely

    free = services.available_land(today)
    free = free[free["id"].astype(str) == LC]
    metres = free.estimate_utm_crs()
    inner = free.to_crs(metres).geometry.union_all().buffer(-40)
    filed = services.allocation.ledger().applications()  # an earlier one would come first
    if len(filed):
        inner = inner.difference(filed.to_crs(metres).geometry.union_all().buffer(40))
    x0, y0, x1, y1 = inner.bounds
    squares: list[shapely.Polygon] = []
    step = 50.0
    y = y0
    while y < y1 and len(squares) < count:
        x = x0
        while x < x1 and len(squares) < count:
            box = shapely.box(x - 30, y - 30, x + 30, y + 30)
            if inner.contains(box) and all(box.distance(b) > 60 for b in squares):
                squares.append(box)
            x += step
        y += step
    assert len(squares) == count, "the demo's Land Conclusion has too little free land"
    import geopandas as gpd

    shapes = gpd.GeoSeries(squares, crs=metres).to_crs(4326)
    return [[[lat, lng] for lng, lat in list(g.exterior.coords)] for g in shapes]


def _draw(page: Any, square: list[list[float]]) -> None:
    """Zoom to the square and click its corners with Leaflet.draw's polygon tool."""
    page.locator("#map-box").scroll_into_view_if_needed()
    page.wait_for_timeout(400)  # the fit to the chosen Land Conclusion
    page.evaluate(
        """(sq) => { const map = gazar.maps[0];
          map.setView(L.latLngBounds(sq).getCenter(), 17, {animate: false}); }""",
        square,
    )
    page.wait_for_timeout(300)
    page.locator(".leaflet-draw-draw-polygon").click()
    points = page.evaluate(
        """(sq) => { const map = gazar.maps[0];
          const box = map.getContainer().getBoundingClientRect();
          return sq.map(p => { const q = map.latLngToContainerPoint(p);
                               return [box.left + q.x, box.top + q.y]; }); }""",
        square,
    )
    for x, y in points:
        page.mouse.click(x, y)
        page.wait_for_timeout(120)


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


CASES = [(1280, "mn"), (390, "en"), (390, "mn"), (1280, "en")]


@pytest.mark.parametrize(("width", "lang"), CASES, ids=[f"{w}-{g}" for w, g in CASES])
def test_the_organisation_story(
    bench: tuple[Workbench, str, list[list[list[float]]]], browser: Any, width: int, lang: str
) -> None:
    wb, renewal_app, squares = bench
    q = "?lang=en" if lang == "en" else ""
    name = f"{width}-{lang}"
    with browse(browser, wb, width=width) as org:
        page = org.page
        org.sign_in(ORG)
        org.goto(f"/{q}")
        assert page.locator("#home-apply").is_visible() and page.locator("#home-my").is_visible()
        assert page.locator("#apply-link").count() == 1
        _shot(page, f"{name}-home")
        page.locator("#home-apply").click()
        page.wait_for_url("**/apply*")
        settle(page)
        page.wait_for_function("window.gazar && gazar.maps.length > 0")
        page.select_option("#land_conclusion_id", LC)
        page.check("#how-draw")
        page.fill("#holder", "Алтан шижир нөхөрлөл")
        page.select_option("#holder_type", "partnership")
        page.fill("#members_women", "6")
        page.fill("#members_men", "9")
        _draw(page, squares[CASES.index((width, lang))])
        assert page.locator("#drawn").input_value().startswith('{"type":"FeatureCollection"')
        _shot(page, f"{name}-apply-drawn")
        page.locator("#apply-submit").click()
        page.wait_for_url("**/my/**")
        settle(page)
        number = page.locator("dd.number").inner_text().strip()
        assert number.startswith("MN4322-")
        assert page.locator("#filed").is_visible()
        assert page.locator("dd.place").inner_text().strip().isdigit()  # eligible, queued
        _shot(page, f"{name}-answer")
        org.clean()

        # someone not signed in objects on the application's page, with the keyboard only
        with browse(browser, wb, width=width) as anon:
            anon.goto(f"/applications/{number}{q}")
            assert anon.page.locator("#objection-form").is_visible()
            anon.page.focus("#ob-name")
            anon.page.keyboard.type("Дорж")
            anon.page.keyboard.press("Tab")
            anon.page.keyboard.type("Бэлчээрийн газар")
            anon.page.keyboard.press("Tab")
            anon.page.keyboard.type("dorj@example.mn")
            anon.page.keyboard.press("Tab")
            with anon.page.expect_navigation():
                anon.page.keyboard.press("Enter")
            anon.page.wait_for_selector("#objection-filed")
            settle(anon.page)
            assert f"/applications/{number}" in anon.page.url
            assert "dorj@example.mn" not in anon.page.content()
            assert "Бэлчээрийн газар" in anon.page.locator("#app-objections").inner_text()
            _shot(anon.page, f"{name}-objection")
            anon.clean()

        # the organisation sees it under My applications (the header's link)
        page.locator("#desk-link").click()
        page.wait_for_url("**/my*")
        settle(page)
        card = page.locator(f"#app-{number}")
        assert "Бэлчээрийн газар" in card.inner_text() and "Дорж" in card.inner_text()
        _shot(page, f"{name}-my")

        # documents: a member list PDF, and the missing list shrinks
        org.goto(f"/my/{number}{q}")
        missing = page.locator("#docs-missing li").count()
        assert missing == 3
        page.select_option("#doc-kind", "member_list")
        page.set_input_files(
            "#doc-file",
            files=[{"name": "members.pdf", "mimeType": "application/pdf", "buffer": PDF}],
        )
        with page.expect_navigation():
            page.locator("#doc-upload").click()
        settle(page)
        assert page.locator("#docs-missing li").count() == missing - 1
        assert page.locator("#docs-missing li[data-kind='member_list']").count() == 0
        assert "members.pdf" in page.locator("#docs-uploaded").inner_text()
        _shot(page, f"{name}-documents")

        # the contract ending within the window: ask for its renewal (the first case does;
        # the others find it asked for)
        org.goto(f"/my/{renewal_app}{q}")
        assert page.locator("#contract").is_visible()
        if page.locator("#renew-form").count():
            with page.expect_navigation():
                page.locator("#renew").click()
            settle(page)
        assert page.locator("#renew-sent").is_visible()
        assert page.locator("#renew-form").count() == 0
        _shot(page, f"{name}-renewal")
        org.clean()
