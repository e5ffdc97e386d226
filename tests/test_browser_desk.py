"""The soum official's day at the desk, through the pages only, in a real browser (Debian's
chromium), at desktop and phone width, in both languages: no console error, no request leaving
127.0.0.1.

On the demo store with its allocation record in every state (``gazar demo``'s builder and
:func:`api.services.demo_allocation.demo_allocation`, dated today) the official of Mandal
(``wb-soum``) signs in; approves the application ready to decide with a reason, and its
contract appears on the Land Conclusion's map and in the register; runs the draw announced for
today, approves the winner, and the loser shows ineligible with the reason; renews the
contract whose rehabilitation is accepted and is refused, with the zone named, for the other;
proposes a Land Conclusion by drawing it, records the Khural's approval and submits it to
MRPAM. Each decided application links to its decision document (PDF). Afterwards the log's
chain holds and names the official as the actor of those steps.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.services.allocation_checks import today_of
from api.services.demo_allocation import (
    DEMO_LC,
    DemoRecord,
    demo_allocation,
    demo_clock,
    demo_users,
)
from geo.settings import AnalysisSettings
from layers.labels import label, message, text
from layers.ledger import open_ledger
from tests.workbench import CHROMIUM, Tab, Workbench, browse, build_store, serve, settle

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

SHOTS = Path("/tmp/shots-desk")
OFFICIAL = "wb-soum"  # Mandal's (MN4322) official in tests.workbench.USERS


@dataclass
class DeskBench:
    bench: Workbench
    record: DemoRecord
    today: dt.date


@pytest.fixture
def desk_bench(tmp_path: Path) -> Iterator[DeskBench]:
    """A fresh demo store with the demo's allocation states and the workbench's users, served
    on 127.0.0.1 (one per story: the story changes the store)."""
    settings = AnalysisSettings()
    today = today_of(dt.datetime.now(dt.UTC), settings)
    db = build_store(tmp_path, today=today)
    clock = demo_clock()
    with open_ledger(str(db), clock=clock) as ledger:
        demo_users(ledger)
        record = demo_allocation(ledger, clock, today=today, settings=settings)
        users = {u.name: u for u in ledger.users()}
    assert record is not None
    with serve(db) as (url, app):
        yield DeskBench(Workbench(url, app, db, users), record, today)


def _q(lang: str) -> str:
    return "?lang=en" if lang == "en" else ""


def _submit(tab: Tab, selector: str) -> None:
    with tab.page.expect_navigation():
        tab.page.locator(selector).click()
    settle(tab.page)


def _decide(tab: Tab, number: str, reason: str) -> None:
    tab.page.locator(f"#decide-{number}-approve").check()
    tab.page.locator(f"#decide-{number}-reason").fill(reason)
    _submit(tab, f"#decide-{number}-send")


def _done(tab: Tab, key: str, lang: str) -> None:
    assert tab.page.locator("#desk-done").inner_text() == text(f"desk_done_{key}", lang)


def _fits(tab: Tab, width: int) -> None:
    """The page does not scroll sideways (wide tables scroll inside their own box)."""
    scroll = tab.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width + 1, scroll


def _shot(tab: Tab, name: str, at: str | None = None) -> None:
    """A screenshot of what the viewer sees with ``at`` (a selector) scrolled into view (the
    pages scroll inside their main box, so a full-page shot would show the top only)."""
    if at is not None:
        tab.page.locator(at).first.scroll_into_view_if_needed()
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(SHOTS / f"{name}.png"))


def _on_map(tab: Tab, feature_id: str) -> bool:
    found: bool = tab.page.evaluate(
        """(id) => {
          let found = false;
          gazar.maps[0]._gazar.layers.forEach(l => l.eachLayer(p => {
            const f = p.feature && p.feature.properties;
            if (f && f.id === id) found = true;
          }));
          return found;
        }""",
        feature_id,
    )
    return found


def _draw_polygon(tab: Tab) -> None:
    """Draw a small triangle in an empty corner of Mandal on the page's map."""
    page = tab.page
    page.evaluate(
        """() => { const m = gazar.maps[0];
                   m.setView([48.60, 106.20], 14, {animate: false}); }"""
    )
    page.locator(".folium-map").scroll_into_view_if_needed()
    phone = page.viewport_size["width"] < 700
    page.click(".leaflet-draw-draw-polygon")
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # right of and above the centre: on a phone the draw tool's "Finish · Delete last point ·
    # Cancel" bar opens across the map's middle, left of it
    for dx, dy in ((20, -60), (100, -60), (60, 0), (20, -60)):
        if phone:  # a finger on the phone (a touch browser)
            page.touchscreen.tap(cx + dx, cy + dy)
        else:
            page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(250)
    assert page.input_value("#drawn").startswith('{"type":"FeatureCollection"')


@pytest.mark.parametrize(("lang", "width"), [("mn", 1280), ("en", 390)])
def test_the_soum_officials_day_at_the_desk(
    desk_bench: DeskBench, browser: Any, lang: str, width: int
) -> None:
    bench, rec = desk_bench.bench, desk_bench.record
    shot = f"{lang}-{width}"
    q = _q(lang)
    ledger = bench.services().allocation.ledger()
    with browse(browser, bench, width=width) as tab:
        tab.sign_in(OFFICIAL)
        tab.goto("/desk" + q)
        assert tab.page.locator("h1").inner_text() == text("desk_title", lang)
        _fits(tab, width)
        tab.shot(f"{shot}-desk", SHOTS)
        _shot(tab, f"{shot}-queues", f"#app-{rec.ready}")

        # 1. the application ready to decide: approved with a reason; its contract appears
        _decide(tab, rec.ready, f"Meets every rule ({lang})")
        _done(tab, "decided", lang)
        status = tab.page.locator(f"#app-{rec.ready} .status").inner_text()
        assert status == label("application_status", "approved", lang)
        doc = tab.page.locator(f"#doc-{rec.ready}")
        assert doc.get_attribute("href", timeout=2000).startswith(
            f"/applications/{rec.ready}/decision.pdf"
        )
        pdf = tab.page.request.get(bench.url + str(doc.get_attribute("href")))
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        parcel = str(
            ledger.records("decisions", where={"application_id": rec.ready})[0]["parcel_id"]
        )
        tab.goto(f"/map/land-conclusion/{DEMO_LC}" + ("?lang=en" if lang == "en" else ""))
        tab.page.wait_for_function("window.gazar && gazar.maps && gazar.maps.length > 0")
        assert _on_map(tab, parcel)
        _shot(tab, f"{shot}-map")
        tab.goto("/register" + q)
        assert tab.page.locator(f"a[href^='/contracts/{parcel}']").count() >= 1
        _fits(tab, width)

        # 2. the draw announced for today: run it, approve the winner, the loser is refused
        tab.goto("/desk" + q)
        _submit(tab, f"#run-{rec.draw} button[type='submit']")
        _done(tab, "drawn", lang)
        order = tab.page.locator(f"#draw-{rec.draw} ol.order li").all_inner_texts()
        assert len(order) == 2
        winner = next(n for n in rec.competing if order[0].startswith(n))
        loser = next(n for n in rec.competing if n != winner)
        tab.page.locator(f"#draw-check-{rec.draw} summary").click()  # folded: compact
        assert tab.page.locator(f"#draw-{rec.draw} .draw-input").inner_text()
        _shot(tab, f"{shot}-draw", f"#draw-{rec.draw}")
        _decide(tab, winner, "First in the draw")
        _done(tab, "decided", lang)
        lost = tab.page.locator(f"#app-{loser}")
        assert lost.locator(".status").inner_text() == label(
            "application_status", "ineligible", lang
        )
        granted = message("reason_message", "LAND_GRANTED", lang, number=winner)
        assert granted in lost.locator("ul.reasons").inner_text()
        assert tab.page.locator(f"#doc-{winner}").count() == 1
        assert tab.page.locator(f"#decide-{loser}-approve").count() == 0  # only rejection left
        _shot(tab, f"{shot}-loser", f"#app-{loser}")

        # 3. renewals: granted where rehabilitation is accepted, refused with the zone named
        refused = tab.page.locator(f"#contract-{rec.renew_refused} p.renewal").inner_text()
        assert rec.refused_zone in refused
        tab.page.locator(f"#renew-{rec.renew_ok}-reason").fill("Rehabilitation accepted")
        _submit(tab, f"#renew-{rec.renew_ok}-send")
        _done(tab, "renewed", lang)
        assert tab.page.locator(f"#contract-{rec.renew_ok}").count() == 0  # a new term
        tab.page.locator(f"#renew-{rec.renew_refused}-reason").fill("Asked by the holder")
        _submit(tab, f"#renew-{rec.renew_refused}-send")
        tab.allow(409)
        error = tab.page.locator(f"#renew-{rec.renew_refused}-error")
        assert rec.refused_zone in error.inner_text()
        assert tab.page.locator(f"#renew-{rec.renew_refused}-reason").input_value() == (
            "Asked by the holder"
        )  # the value is kept
        _shot(tab, f"{shot}-renewal-refused", f"#renew-{rec.renew_refused}")

        # 4. a new Land Conclusion: drawn, reviewed, saved, approved by the Khural, submitted
        tab.goto("/desk/propose" + q)
        _draw_polygon(tab)
        _shot(tab, f"{shot}-propose", ".folium-map")
        _submit(tab, "#propose-review")
        assert tab.page.locator("#verdict").count() == 1
        tab.page.locator("#name").fill(f"Desk story {lang} {width}")
        _shot(tab, f"{shot}-propose-review", "#verdict")
        _submit(tab, "#propose-save")
        _done(tab, "proposed", lang)
        found = re.search(r"[?&]lc=([^&#]+)", tab.page.url)
        assert found
        lc_id = found.group(1)
        row = tab.page.locator(f"#lc-{lc_id}")
        assert label("land_conclusion_status", "proposed", lang) in row.inner_text()
        tab.page.locator(f"#khural-{lc_id}-date").fill(desk_bench.today.isoformat())
        _submit(tab, f"#khural-{lc_id} button[type='submit']")
        _done(tab, "khural", lang)
        _submit(tab, f"#submit-{lc_id} button[type='submit']")
        _done(tab, "submitted", lang)
        row = tab.page.locator(f"#lc-{lc_id}")
        assert label("land_conclusion_status", "submitted", lang) in row.inner_text()
        _fits(tab, width)
        _shot(tab, f"{shot}-submitted", f"#lc-{lc_id}")

        # the desk in the other language fits the width too
        other = "en" if lang == "mn" else "mn"
        tab.goto("/desk" + _q(other))
        assert tab.page.locator("h1").inner_text() == text("desk_title", other)
        _fits(tab, width)
        _shot(tab, f"{other}-{width}-desk-after")
        _shot(tab, f"{other}-{width}-contracts", "#desk-contracts")
        tab.clean()

    check = ledger.verify_chain()
    assert check.ok, check.reason
    mine = [e for e in ledger.events() if e.actor == OFFICIAL]
    for thing in (rec.ready, winner, rec.draw, rec.renew_ok, lc_id):
        assert any(thing in f"{e.object} {e.request}" for e in mine), thing
    assert not any(rec.renew_refused in f"{e.object}" for e in mine)  # refused: nothing written
