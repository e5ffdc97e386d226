"""MRPAM issues a submitted Land Conclusion from its inbox, through the pages only, in a real
browser (Debian's chromium), at desktop and phone width, in both languages: no console error,
no request leaving 127.0.0.1; the log's chain holds afterwards and names the MRPAM user."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from layers.labels import label, text
from tests.workbench import CHROMIUM, Workbench, browse, settle, workbench  # noqa: F401

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

SHOTS = Path("/tmp/shots-inbox")


def _q(lang: str) -> str:
    return "?lang=en" if lang == "en" else ""


def _status_on_map(tab: Any, lc_id: str) -> str | None:
    status: str | None = tab.page.evaluate(
        """(id) => {
          let found = null;
          gazar.maps[0]._gazar.layers.forEach(l => l.eachLayer(p => {
            const f = p.feature && p.feature.properties;
            if (f && f.id === id && f.status) found = f.status;
          }));
          return found;
        }""",
        lc_id,
    )
    return status


@pytest.mark.parametrize(("lang", "width"), [("mn", 1280), ("en", 390)])
def test_mrpam_starts_the_review_and_issues_a_submitted_land_conclusion(
    workbench: Workbench,  # noqa: F811
    browser: Any,
    lang: str,
    width: int,
) -> None:
    mrpam = workbench.name_of("mrpam")
    shot = f"{lang}-{width}"
    with browse(browser, workbench, width=width) as tab:
        tab.sign_in(mrpam)
        tab.goto("/inbox" + _q(lang))
        assert tab.page.locator("h1").inner_text() == text("inbox_title", lang)
        rows = tab.page.locator("tr.inbox-row")
        assert rows.count() >= 2
        # oldest first, every row with its days waiting and the overdue flag
        dates = tab.page.locator("tr.inbox-row td:nth-child(7)").all_inner_texts()
        assert dates == sorted(dates)
        submitted = tab.page.locator("tr.inbox-row[data-status='submitted']").first
        lc_id = submitted.get_attribute("data-id")
        assert lc_id
        assert submitted.locator("td.days").inner_text().strip().isdigit()
        tab.shot(f"{shot}-inbox", SHOTS)
        # its full review, then the steps
        submitted.locator("a.open").click()
        settle(tab.page)
        assert tab.page.locator("#verdict").is_visible()
        assert tab.page.locator("#findings").count() == 1
        assert tab.page.locator("#lc-status").get_attribute("data-status") == "submitted"
        tab.shot(f"{shot}-review", SHOTS)
        with tab.page.expect_navigation():
            tab.page.locator("#inbox-start button[type='submit']").click()
        assert tab.page.locator("#inbox-done").inner_text() == text("inbox_done_under_review", lang)
        assert tab.page.locator("#lc-status").get_attribute("data-status") == "under_review"
        # a refused form keeps its values and says what is missing next to the field
        until = (dt.date.today() + dt.timedelta(days=3 * 365)).isoformat()
        tab.page.locator("#issue-until").fill(until)
        with tab.page.expect_navigation():
            tab.page.locator("#issue-submit").click()
        tab.allow(422)
        assert tab.page.locator("#issue-ref-error").inner_text() == text("inbox_need_ref", lang)
        assert tab.page.locator("#issue-until").input_value() == until
        assert tab.page.locator("#issue-ref").get_attribute("aria-invalid") == "true"
        tab.shot(f"{shot}-refused", SHOTS)
        ref = f"MRPAM-{lang}-{width}/1"
        tab.page.locator("#issue-ref").fill(ref)
        with tab.page.expect_navigation():
            tab.page.locator("#issue-submit").click()
        assert tab.page.locator("#inbox-done").inner_text() == text("inbox_done_issued", lang)
        assert tab.page.locator("#lc-status").get_attribute("data-status") == "issued"
        assert tab.page.locator("#lc-decision-ref").inner_text() == ref
        assert tab.page.locator("#lc-valid_until").inner_text() == until
        assert tab.page.locator("#inbox-issue").count() == 0  # nothing left to decide
        tab.shot(f"{shot}-issued", SHOTS)
        # the Land Conclusion's own page and the map say issued
        tab.goto(f"/land_conclusions/{lc_id}" + _q(lang))
        assert label("land_conclusion_status", "issued", lang) in tab.page.inner_text("main")
        tab.shot(f"{shot}-page", SHOTS)
        tab.goto(f"/map/land-conclusion/{lc_id}" + _q(lang))
        tab.page.wait_for_function("window.gazar && gazar.maps && gazar.maps.length > 0")
        assert _status_on_map(tab, lc_id) == "issued"
        # it has left the inbox
        tab.goto("/inbox" + _q(lang))
        assert tab.page.locator(f"tr.inbox-row[data-id='{lc_id}']").count() == 0
        tab.clean()
    ledger = workbench.services().allocation.ledger()
    check = ledger.verify_chain()
    assert check.ok, check.reason
    mine = [e for e in ledger.events() if e.actor == mrpam and lc_id in (e.object or "")]
    assert len(mine) >= 2  # the review started, then the issue
    assert all(lc_id in (e.request or "") for e in mine)


@pytest.mark.parametrize(("lang", "width"), [("en", 1280), ("mn", 390)])
def test_the_review_of_a_land_conclusion_under_review_reads_at_every_width(
    workbench: Workbench,  # noqa: F811
    browser: Any,
    lang: str,
    width: int,
) -> None:
    with browse(browser, workbench, width=width) as tab:
        tab.sign_in(workbench.name_of("mrpam"))
        tab.goto("/inbox" + _q(lang))
        row = tab.page.locator("tr.inbox-row[data-status='under_review']").first
        lc_id = row.get_attribute("data-id")
        tab.shot(f"{lang}-{width}-inbox-under-review", SHOTS)
        row.locator("a.open").click()
        settle(tab.page)
        assert tab.page.locator("#inbox-issue").is_visible()
        assert tab.page.locator("#inbox-reject").is_visible()
        # a rejection without a reason is refused, nothing changes
        with tab.page.expect_navigation():
            tab.page.locator("#reject-submit").click()
        tab.allow(422)
        assert tab.page.locator("#reject-ref-error").inner_text() == text("inbox_need_reason", lang)
        assert tab.page.locator("#lc-status").get_attribute("data-status") == "under_review"
        # the page fits the width (no sideways scrolling of the whole page)
        scroll = tab.page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width + 1, scroll
        tab.shot(f"{lang}-{width}-review-under-review", SHOTS)
        tab.clean()
    lcs = workbench.services().layers.get("land_conclusions")
    assert lcs.loc[lcs["id"] == lc_id, "status"].tolist() == ["under_review"]
