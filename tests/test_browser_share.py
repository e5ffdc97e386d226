"""A map's view travels in its address: a copied link opens the same centre, zoom, layers and
open feature, at desktop and phone widths, in both languages (Debian's chromium)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

from layers.schema import REGISTRY  # noqa: E402
from tests.conftest import CHROMIUM  # noqa: E402
from tests.workbench import serve  # noqa: E402

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/test installs it)"
)

PAGE = "/map/land-conclusion/LC-MN4322-001"
PARCEL = "CP-MN4322-00002"

VIEW = """() => {
  const map = gazar.maps[0];
  const c = map.getCenter();
  const on = map._gazar.layers.filter(l => map.hasLayer(l)).map(l => l.gazarSpec.layer);
  const popup = document.querySelector('.leaflet-popup-content');
  return {zoom: map.getZoom(), lat: c.lat, lng: c.lng, on: on.sort(),
          popup: popup ? popup.innerText : null};
}"""


@dataclass
class Server:
    url: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The small demo, served."""
    from layers.demo import build_demo
    from layers.schema import LAYER_ORDER
    from layers.store import open_store

    path = tmp_path_factory.mktemp("share") / "demo.gpkg"
    layers = build_demo(seed=7, scale=1, today=dt.date.today())
    with open_store(path) as store:
        store.write({name: layers[name] for name in LAYER_ORDER})
    with serve(path) as (url, _app):
        yield Server(url)


@pytest.fixture
def open_page(browser: Any, server: Server) -> Iterator[Any]:
    contexts: list[Any] = []

    def go(url: str, width: int) -> tuple[Any, list[str], list[str]]:
        ctx = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(ctx)
        page = ctx.new_page()
        errors: list[str] = []
        outside: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request",
            lambda r: None if r.url.startswith(server.url) else outside.append(r.url),
        )
        page.goto(url, wait_until="networkidle")
        page.wait_for_function("() => window.gazar && gazar.maps && gazar.maps.length > 0")
        return page, errors, outside

    yield go
    for ctx in contexts:
        ctx.close()


def _click_parcel(page: Any) -> None:
    point = page.evaluate(
        """(id) => {
          const map = gazar.maps[0];
          let target = null;
          map._gazar.layers.forEach(l => l.eachLayer(p => {
            if (p.feature && p.feature.properties.id === id) target = p;
          }));
          const c = map.latLngToContainerPoint(target.getBounds().getCenter());
          const box = map.getContainer().getBoundingClientRect();
          return {x: box.left + c.x, y: box.top + c.y};
        }""",
        PARCEL,
    )
    page.mouse.click(point["x"], point["y"])
    page.locator(".leaflet-popup-content").wait_for()


@pytest.mark.parametrize(("width", "lang"), [(1280, "mn"), (390, "en")])
def test_a_copied_link_opens_the_same_view(
    server: Server, open_page: Any, width: int, lang: str
) -> None:
    page, errors, outside = open_page(f"{server.url}{PAGE}?lang={lang}", width)
    page.wait_for_function("() => location.hash.indexOf('map=') === 1")
    # the user zooms in on the parcel, switches the licences off and opens the parcel's popup
    page.evaluate(
        """(id) => {
          const map = gazar.maps[0];
          map._gazar.layers.forEach(l => l.eachLayer(p => {
            if (p.feature && p.feature.properties.id === id) map.setView(p.getBounds().getCenter(), 15, {animate: false});
          }));
          map._gazar.layers.filter(l => l.gazarSpec.layer === 'licences')
             .forEach(l => map.removeLayer(l));
        }""",
        PARCEL,
    )
    _click_parcel(page)
    page.wait_for_function(f"() => location.hash.indexOf('sel=contract_parcels%3A{PARCEL}') > 0")
    # the popup may pan the map into view: wait until the address holds where it came to rest
    page.wait_for_function(
        """() => {
          const map = gazar.maps[0], c = map.getCenter();
          return location.hash.indexOf(c.lat.toFixed(5) + '/' + c.lng.toFixed(5)) > 0;
        }"""
    )
    before = page.evaluate(VIEW)
    assert before["zoom"] == 15 and "licences" not in before["on"]
    assert "contract_parcels" in before["on"] and PARCEL in before["popup"]
    link = page.url
    assert "#map=15/" in link and "layers=" in link

    again, errors2, outside2 = open_page(link, width)
    again.locator(".leaflet-popup-content").wait_for()
    after = again.evaluate(VIEW)
    assert after["zoom"] == before["zoom"]
    assert after["lat"] == pytest.approx(before["lat"], abs=1e-4)
    assert after["lng"] == pytest.approx(before["lng"], abs=1e-4)
    assert after["on"] == before["on"]
    assert PARCEL in after["popup"]
    assert errors == errors2 == [] and outside == outside2 == []


def test_a_broken_or_hostile_address_is_ignored(server: Server, open_page: Any) -> None:
    plain, _, _ = open_page(f"{server.url}{PAGE}?lang=en", 1280)
    default = plain.evaluate(VIEW)
    hostile = (
        "#map=99/999/abc&layers=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
        "&sel=contract_parcels:%3Cscript%3E&junk=%E0%A4%A"
    )
    page, errors, outside = open_page(f"{server.url}{PAGE}?lang=en{hostile}", 1280)
    got = page.evaluate(VIEW)
    assert (got["zoom"], got["popup"]) == (default["zoom"], None)  # the fitted view, no popup
    assert got["on"] == default["on"]  # the list named no layer of this map: not a choice
    assert page.locator("img[src=x]").count() == 0
    assert errors == [] and outside == []


@pytest.mark.parametrize(("width", "lang", "name"), [(1280, "mn", "Мандал"), (390, "en", "Mandal")])
def test_a_popup_names_the_soum_and_links_to_its_map(
    server: Server, open_page: Any, width: int, lang: str, name: str
) -> None:
    page, errors, outside = open_page(f"{server.url}{PAGE}?lang={lang}", width)
    # open the Land Conclusion's popup as a click on its edge would (parcels cover its middle)
    page.evaluate(
        """() => gazar.maps[0]._gazar.layers.forEach(l => l.eachLayer(p => {
             if (l.gazarSpec.layer === 'land_conclusions') p.openPopup();
           }))"""
    )
    link = page.locator(".leaflet-popup-content a", has_text=name)
    link.wait_for()
    assert link.inner_text() == f"{name} (MN4322)"
    suffix = "?lang=en" if lang == "en" else ""
    assert link.get_attribute("href") == f"/map/soum/MN4322{suffix}"
    # the popup pans the map into view: click once the map has come to rest (the address
    # holds the centre it rests at), else the click can land where the link was a moment ago
    page.wait_for_function(
        """() => {
          const map = gazar.maps[0], c = map.getCenter();
          return location.hash.indexOf(c.lat.toFixed(5) + '/' + c.lng.toFixed(5)) > 0;
        }"""
    )
    with page.expect_navigation(url=f"**/map/soum/MN4322{suffix}*", timeout=60_000):
        link.click()
    page.wait_for_function("() => window.gazar && gazar.maps && gazar.maps.length > 0")
    assert errors == [] and outside == []


@pytest.mark.parametrize(
    ("width", "lang", "paper", "turn", "words"),
    [(1280, "en", "A3", "landscape", ("Legend", "Printed on")),
     (390, "mn", "A4", "portrait", ("Тайлбар", "Хэвлэсэн огноо"))],
)  # fmt: skip
def test_the_print_view_holds_title_date_legend_scale_and_north(
    server: Server,
    open_page: Any,
    width: int,
    lang: str,
    paper: str,
    turn: str,
    words: tuple[str, str],
) -> None:
    page, errors, outside = open_page(f"{server.url}{PAGE}?lang={lang}", width)
    # the browser's own dialog is not under test: note that it was asked for instead
    page.evaluate("() => { window.print = () => { window.__printed = true; }; }")
    page.locator(".gazar-print summary").click()
    page.locator(".gazar-print select[name=paper]").select_option(paper)
    page.locator(".gazar-print select[name=orientation]").select_option(turn)
    page.locator(".gazar-print button").click()
    page.wait_for_function("() => window.__printed === true")
    assert f"size: {paper} {turn}" in page.locator("#gazar-page-size").text_content()
    page.emulate_media(media="print")
    head = page.locator(".gazar-print-head")
    assert head.is_visible() and words[1] in head.inner_text()
    box = page.evaluate(
        """() => {
          const r = e => { const b = e.getBoundingClientRect();
                           return [b.left, b.top, b.right, b.bottom, b.width, b.height]; };
          const map = gazar.maps[0].getContainer();
          return {map: r(map), legend: r(map.querySelector('.gazar-legend')),
                  scale: r(map.querySelector('.leaflet-control-scale')),
                  north: r(map.querySelector('.gazar-north')),
                  open: map.querySelector('.gazar-legend').open,
                  cut: map.querySelector('.gazar-legend').scrollHeight
                       - map.querySelector('.gazar-legend').clientHeight};
        }"""
    )
    mm = 96 / 25.4
    long_side, short_side = {"A4": (297, 210), "A3": (420, 297)}[paper]
    expected_w = (long_side if turn == "landscape" else short_side) - 20
    assert box["map"][4] == pytest.approx(expected_w * mm, abs=2)
    assert box["open"] is True and box["cut"] <= 1  # the whole legend, not a scrolled part
    m = box["map"]
    for part in ("legend", "scale", "north"):
        left, top, right, bottom, w, h = box[part]
        assert w > 0 and h > 0, part  # drawn
        assert left >= m[0] and top >= m[1] and right <= m[2] and bottom <= m[3], part
    assert words[0] in page.locator(".gazar-legend").inner_text()
    assert not page.locator(".gazar-print").is_visible()  # the controls stay off the paper
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    import re

    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # all of it on one sheet
    sheet = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", pdf)
    assert sheet is not None
    points = sorted((float(sheet.group(1)), float(sheet.group(2))), reverse=turn == "landscape")
    assert points == pytest.approx(
        [x * 72 / 25.4 for x in (short_side, long_side)][:: 1 if turn == "portrait" else -1], abs=1
    )
    # after printing, the page is as it was
    page.emulate_media(media="screen")
    page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
    assert not page.evaluate("() => document.documentElement.classList.contains('gazar-printing')")
    assert errors == [] and outside == []


@pytest.fixture(scope="module")
def queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo with its allocation record (pending applications in Mandal), served."""
    from api.services.allocation_checks import today_of
    from api.services.demo_allocation import demo_allocation, demo_clock, demo_users
    from geo.settings import AnalysisSettings
    from layers.ledger import open_ledger
    from tests.workbench import build_store

    settings = AnalysisSettings()
    today = today_of(dt.datetime.now(dt.UTC), settings)
    db = build_store(tmp_path_factory.mktemp("queue"), today=today)
    clock = demo_clock()
    with open_ledger(str(db), clock=clock) as ledger:
        demo_users(ledger)
        record = demo_allocation(ledger, clock, today=today, settings=settings)
    assert record is not None
    with serve(db) as (url, _app):
        yield Server(url)


@pytest.mark.parametrize(("width", "lang", "title", "place"), [
    (1280, "en", "Pending applications", "Position now"),
    (390, "mn", "Хүлээгдэж буй өргөдөл", "Одоогийн байр"),
])  # fmt: skip
def test_pending_applications_are_a_layer_with_numbers_and_queue_places(
    queue_server: Server,
    browser: Any,
    width: int,
    lang: str,
    title: str,
    place: str,
) -> None:
    import json
    import urllib.request

    server = queue_server
    with urllib.request.urlopen(f"{server.url}/register.json") as r:
        queue = {q["id"]: q for q in json.load(r)["queue"] if q["status"] == "pending"}
    assert queue  # the demo has pending applications
    ctx = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/map/soum/MN4322?lang={lang}", wait_until="networkidle")
        page.wait_for_function("() => window.gazar && gazar.maps && gazar.maps.length > 0")
        shown = page.evaluate(
            """() => { const out = {};
               gazar.maps[0]._gazar.layers.filter(l => l.gazarSpec.layer === 'applications')
                 .forEach(l => l.eachLayer(p => { out[p.feature.properties.id] = p.feature.properties; }));
               return out; }"""
        )
        mine = {k: q for k, q in queue.items() if q["soum_code"] == "MN4322"}
        assert set(shown) == set(mine)
        for number, props in shown.items():
            assert props["position"] == mine[number]["position"]  # the register's queue place
            assert "applicant" not in props and "notes" not in props  # public fields only
        assert title in (page.locator(".gazar-legend").text_content() or "")  # folded on a phone
        number = sorted(shown)[0]
        page.evaluate(
            """(id) => gazar.maps[0]._gazar.layers.forEach(l => l.eachLayer(p => {
                 if (l.gazarSpec.layer === 'applications' && p.feature.properties.id === id)
                   p.openPopup();
               }))""",
            number,
        )
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        text = popup.inner_text()
        assert number in text and place in text and str(shown[number]["position"]) in text
        assert errors == []
    finally:
        ctx.close()


@pytest.mark.parametrize(("width", "lang", "words"), [
    (1280, "mn", ("OGC API цуглуулгууд", "Дараагийн хуудас →", "Нийт объект: 100; харуулсан: 21–40")),
    (390, "en", ("OGC API collections", "Next page →", "Features 21–40 of 100")),
])  # fmt: skip
def test_the_ogc_collections_are_browsable_pages(
    server: Server, browser: Any, width: int, lang: str, words: tuple[str, str, str]
) -> None:
    import json
    import urllib.request

    ctx = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        outside: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request", lambda r: None if r.url.startswith(server.url) else outside.append(r.url)
        )
        page.goto(f"{server.url}/collections?lang={lang}", wait_until="networkidle")
        assert words[0] in page.locator("h1").inner_text()
        rows = page.locator("#ogc-collections table tr")
        # a header, every store layer and the two derived collections
        assert rows.count() == 1 + len(REGISTRY) + 2
        page.locator("#collection-contract_parcels a").click()
        page.wait_for_url("**/collections/contract_parcels*")
        assert "MultiPolygon" in page.locator("table.facts").inner_text()
        page.locator("a.button").click()
        page.wait_for_url("**/collections/contract_parcels/items*")
        assert page.locator("#items-table tr").count() == 1 + 20
        assert page.locator("svg.object-map path").count() == 20  # the small map of the page
        page.get_by_text(words[1]).click()
        page.wait_for_url("**offset=20**")
        assert page.locator("#items-shown").inner_text() == words[2]
        # no horizontal scrolling of the page itself on a phone (the table scrolls in its box)
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert errors == [] and outside == []
    finally:
        ctx.close()
    # a program asking at the same address still gets JSON / GeoJSON
    with urllib.request.urlopen(f"{server.url}/collections/contract_parcels/items?limit=1") as r:
        assert r.headers["content-type"].startswith("application/geo+json")
        assert json.load(r)["numberReturned"] == 1
