"""Issue 13's QA walk-through in a real browser (Debian's chromium): the workbench's pages at a
phone's 390 px and at 1280 px, in both languages, signed in as the user of each page, on the
demo's allocation record.

At 390 px every page fits the width (``document.documentElement.scrollWidth`` within
``clientWidth``), the header's links wrap inside the screen and are at least 40 px high, and
the links between pages (``.links``) too, and
every form control (text fields, selects, buttons) fills its form's width and is at least
40 px high (a radio's or checkbox's label is its touch target); the page's heading and its
main form's button are visible. The Land Conclusion proposal's map opens on the official's
soum, not on the whole country; the desk's run draw stays compact on a phone (its input and
seed folded). No console error, no request leaving 127.0.0.1. Screenshots of every page go
to ``/tmp/shots-qa``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import shapely

from api.services.allocation_checks import today_of
from api.services.demo_allocation import DemoRecord, demo_allocation, demo_clock, demo_users
from geo.settings import AnalysisSettings
from layers.labels import text
from layers.ledger import open_ledger
from tests.workbench import CHROMIUM, Tab, Workbench, browse, build_store, serve, settle

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

SHOTS = Path("/tmp/shots-qa")
ORG = "altan-shijir"  # the demo's organisation, with applications

#: what a control's box is measured against (the map's own controls keep Leaflet's sizes)
MEASURE = """() => {
  const w = document.documentElement.clientWidth;
  const seen = e => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const box = e => { const r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, width: r.width, height: r.height}; };
  const header = [...document.querySelectorAll('header.bar a, header.bar button')].filter(seen)
    .map(e => ({what: e.textContent.trim(), ...box(e)}));
  const links = [...document.querySelectorAll('main .links a, main .desk-sections a')].filter(seen)
    .map(e => ({what: e.id || e.textContent.trim(), ...box(e)}));
  const controls = [];
  for (const e of document.querySelectorAll(
      'main form input:not([type=hidden]), main form select, main form textarea, main form button')) {
    if (!seen(e) || e.closest('.map-box, .leaflet-container')) continue;
    const radio = e.type === 'radio' || e.type === 'checkbox';
    const target = radio ? (e.closest('label') || e) : e;
    const form = e.closest('fieldset') || e.closest('form');
    const style = getComputedStyle(form);
    const inner = form.getBoundingClientRect().width
      - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
      - parseFloat(style.borderLeftWidth) - parseFloat(style.borderRightWidth);
    controls.push({what: (e.id || e.name || e.type), radio, inner, ...box(target)});
  }
  return {scroll: document.documentElement.scrollWidth, client: w, header, links, controls};
}"""

#: show the whole page for a screenshot (the pages scroll inside their main box)
UNFOLD = """() => { for (const e of document.querySelectorAll('html, body, main, .page, .split, .side')) {
  e.style.setProperty('height', 'auto', 'important');
  e.style.setProperty('overflow', 'visible', 'important'); } }"""


@dataclass
class QaBench:
    bench: Workbench
    record: DemoRecord
    passwords: dict[str, str]
    proposed: str  # a Land Conclusion Mandal's official proposed (its Khural date to record)


@pytest.fixture(scope="module")
def qa_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QaBench]:
    settings = AnalysisSettings()
    today = today_of(dt.datetime.now(dt.UTC), settings)
    db = build_store(tmp_path_factory.mktemp("qa-browser"), today=today)
    clock = demo_clock()
    with open_ledger(str(db), clock=clock) as ledger:
        passwords = {name: password for name, _role, password in demo_users(ledger)}
        record = demo_allocation(ledger, clock, today=today, settings=settings)
        users = {u.name: u for u in ledger.users()}
    assert record is not None
    with serve(db) as (url, app):
        outline = shapely.Polygon([(106.200, 48.600), (106.204, 48.600), (106.202, 48.602)])
        lc = app.state.services.pipeline.propose(
            outline, name="QA proposal", soum_code="MN4322", user=users["wb-soum"]
        )
        yield QaBench(Workbench(url, app, db, users), record, passwords, str(lc["id"]))


def _q(path: str, lang: str) -> str:
    return path if lang == "mn" else path + ("&" if "?" in path else "?") + "lang=en"


def _fits(tab: Tab, width: int, where: str) -> None:
    m: dict[str, Any] = tab.page.evaluate(MEASURE)
    assert m["scroll"] <= m["client"], f"{where}: {m['scroll']} px wide in {m['client']}"
    for link in m["header"] + m["links"]:  # the header's and the pages' links between pages
        assert link["left"] >= -1 and link["right"] <= m["client"] + 1, (where, link)
        if width < 700:
            assert link["height"] >= 40, (where, link)
    assert m["controls"] or where.endswith(("/inbox", "/my")), f"{where}: no form control"
    for c in m["controls"]:
        assert c["right"] <= m["client"] + 1, (where, c)
        if width >= 700:
            continue
        assert c["height"] >= 40, (where, c)
        if not c["radio"]:
            assert c["width"] >= c["inner"] - 2, (where, c)  # full width


def _shot(tab: Tab, name: str, *, at: str | None = None) -> Path:
    """A screenshot of the whole page, or (``at``: a map page, whose map fills the screen) of
    the screen with ``at`` scrolled into view."""
    if at is None:
        tab.page.evaluate(UNFOLD)
    else:
        tab.page.locator(at).first.scroll_into_view_if_needed()
    return tab.shot(name, SHOTS)


def _visit(tab: Tab, path: str, lang: str, width: int, heading: str | None = None) -> None:
    tab.goto(_q(path, lang))
    h1 = tab.page.locator("h1").first
    assert h1.is_visible(), path
    if heading is not None:
        assert h1.inner_text().startswith(heading), (path, h1.inner_text())
    _fits(tab, width, path)


@pytest.mark.parametrize(("lang", "width"), [("mn", 390), ("en", 390), ("mn", 1280), ("en", 1280)])
def test_the_workbench_fits_a_phone_and_links_through(
    qa_bench: QaBench, browser: Any, lang: str, width: int
) -> None:
    bench, rec = qa_bench.bench, qa_bench.record
    tag = f"{lang}-{width}"
    with browse(browser, bench, width=width) as tab:
        _visit(tab, "/login", lang, width, text("signin_title", lang))  # type: ignore[arg-type]
        assert tab.page.locator("#signin-submit").is_visible()
        _shot(tab, f"{tag}-login")

        # the organisation: apply, my applications (links to the register entry)
        tab.sign_in(ORG, qa_bench.passwords[ORG])
        _visit(tab, "/apply", lang, width)
        _shot(tab, f"{tag}-apply")
        _visit(tab, "/my", lang, width)
        entry = tab.page.locator("[id^='register-']").first
        href = str(entry.get_attribute("href"))
        with tab.page.expect_navigation():
            entry.click()
        settle(tab.page)
        anchor = href.partition("#")[2]
        assert tab.page.locator(f"[id='{anchor}']").count() == 1, href
        tab.goto(_q("/my", lang))
        _shot(tab, f"{tag}-my")

        # the soum official: the desk (the draw run, compact), the proposal map, an LC's page
        tab.sign_in("wb-soum")
        _visit(tab, "/desk", lang, width, text("desk_title", lang))  # type: ignore[arg-type]
        run = tab.page.locator(f"#run-{rec.draw} button[type='submit']")
        if run.count():
            with tab.page.expect_navigation():
                run.click()
            settle(tab.page)
        draw = tab.page.locator(f"#draw-{rec.draw}")
        assert draw.locator("ol.order li").count() == 2
        assert not draw.locator(".draw-input").is_visible()  # folded
        height = draw.bounding_box()["height"]
        assert height <= (520 if width < 700 else 300), height
        draw.locator("summary").click()
        assert draw.locator(".draw-input").is_visible()
        _fits(tab, width, "/desk (draw run)")
        _shot(tab, f"{tag}-desk")

        tab.goto(_q("/desk/propose", lang))
        tab.page.wait_for_function("window.gazar && gazar.maps && gazar.maps.length > 0")
        _fits(tab, width, "/desk/propose")
        view = tab.page.evaluate(
            "() => { const b = gazar.maps[0].getBounds(); return [b.getWest(), b.getSouth(),"
            " b.getEast(), b.getNorth()]; }"
        )
        west, south, east, north = view
        assert east - west < 5 and north - south < 3, view  # not the whole country
        assert west < 106.3 < east or west < 106.6 < east, view  # Mandal (about 106 E, 48.6 N)
        assert south < 48.7 < north, view
        _shot(tab, f"{tag}-propose", at="#map-box")

        _visit(tab, f"/land_conclusions/{qa_bench.proposed}", lang, width)
        assert tab.page.locator(f"#khural-{qa_bench.proposed}-date").is_visible()
        _shot(tab, f"{tag}-land-conclusion")

        # MRPAM: the inbox links to the review document
        tab.sign_in("wb-mrpam")
        _visit(tab, "/inbox", lang, width)
        doc = tab.page.locator(f"#review-doc-{rec.inbox}")
        assert doc.is_visible()
        answer = tab.page.request.get(bench.url + str(doc.get_attribute("href")))
        assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
        _shot(tab, f"{tag}-inbox")
        _visit(tab, f"/inbox/{rec.inbox}", lang, width)
        assert tab.page.locator("#lc-review-pdf").is_visible()
        _shot(tab, f"{tag}-inbox-review", at="#map-box" if width >= 700 else "h1")

        # the administrator: the revocation asks for its confirmation
        tab.sign_in("wb-admin")
        _visit(tab, "/admin", lang, width)
        assert tab.page.locator("form.revoke input[name='confirm']").count() >= 1
        _shot(tab, f"{tag}-admin")

        # the register links to the maps
        _visit(tab, "/register", lang, width)
        maps = tab.page.locator("a.map-link")
        assert maps.count() >= 1
        assert re.match(r"/map/land-conclusion/", str(maps.first.get_attribute("href")))
        _shot(tab, f"{tag}-register")
        tab.clean()
