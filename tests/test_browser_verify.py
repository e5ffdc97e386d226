"""The /verify page in a real browser (issue 17): on the workbench's own feeds, at desktop and
phone width, in both languages: the verdict and what was checked are visible, the page fits,
no console error, no request leaves 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.workbench import Workbench, browse, workbench  # noqa: F401

SHOTS = Path("/tmp/shots-verify2")


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["mn", "en"])
def test_the_verify_page_shows_its_verdict_and_checks(
    workbench: Workbench,  # noqa: F811
    browser: Any,
    width: int,
    lang: str,
) -> None:
    with browse(browser, workbench, width=width) as tab:
        response = tab.goto(f"/verify?lang={lang}")
        assert response is not None and response.status == 200
        page = tab.page
        # the demo's feeds are consistent (its planted overlap is an *applied* contract over a
        # granted one, for validation to find; the verifier checks granted contracts)
        verdict = page.locator("#verify-verdict")
        assert verdict.is_visible() and "sev-ok" in (verdict.get_attribute("class") or "")
        words = verdict.inner_text()
        assert ("Verified" in words) is (lang == "en")
        with urllib.request.urlopen(f"{workbench.url}/log/head") as r:  # the page's own head
            head = json.loads(r.read())
        assert head["hash"] in words and head["seq"] > 0
        rows = page.locator("#verify-checks tr")
        assert rows.count() >= 6  # a header and chain, register, draws, contracts, decisions
        for i in range(rows.count()):
            assert rows.nth(i).is_visible()
        text = page.locator("#verify-checks").inner_text()
        assert all(ch.isascii() for ch in text) is (lang == "en")
        # it fits the width: nothing wider than the window
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow}px wider than the window"
        clipped = verdict.evaluate("(e) => e.scrollWidth - e.clientWidth")
        assert clipped <= 0, f"the verdict runs {clipped}px past its box"  # the 64-hex head
        tab.shot(f"verify-{lang}-{width}", SHOTS)
        tab.clean()
