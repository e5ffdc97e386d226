"""The soum official's desk (/desk) over HTTP, signed in through /login: an official approves
with a reason; a
reason-less approval is refused next to the field and writes nothing; another soum's forged
POST is 403 and writes nothing; a POST without the session's CSRF token is 403."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services.access import local_operator
from api.services.allocation import AllocationService, ApplicationInput
from api.settings import ApiSettings
from geo.settings import AnalysisSettings
from layers.ledger import Ledger, open_ledger
from layers.store import open_store
from tests import factories as f
from tests.factories import Clock

T0 = dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)
T_DECIDE = T0 + dt.timedelta(days=30)  # the objection windows have closed
PASSWORD = "Gobi-Wind-2026"


@dataclass
class Desk:
    client: TestClient
    ledger: Ledger
    clock: Clock
    apps: dict[str, str]


def _apply(ledger: Ledger, lc: str, holder: str, geom: Any) -> str:
    data = ApplicationInput(lc, holder, "partnership", 3, 3, geometry=geom)
    doc = AllocationService(lambda: ledger, AnalysisSettings()).apply(
        data, user=local_operator("setup")
    )
    assert doc["status"] == "pending", doc["reasons"]
    return str(doc["id"])


@pytest.fixture
def desk(tmp_path: Any) -> Iterator[Desk]:
    path = str(tmp_path / "gazar.gpkg")
    with open_store(path) as store:
        store.write(
            f.frames(
                {
                    "soums": [
                        f.soum("MN4322"),
                        f.soum("MN8201", aimag_code="MN82",
                               geometry=f.utm_box(20_000, -3000, 8000, 8000)),
                    ],
                    "land_conclusions": [
                        f.land_conclusion("LC-A"),
                        f.land_conclusion("LC-C", soum_code="MN8201", aimag_code="MN82",
                                          geometry=f.utm_box(20_000, 0, 2000, 1000)),
                    ],
                }
            )
        )  # fmt: skip
    clock = Clock(T0)
    ledger = open_ledger(path, clock=clock)
    ledger.add_user("tsetseg", role="soum", soum_code="MN4322", actor="setup", password=PASSWORD)
    ledger.add_user("bold", role="soum", soum_code="MN8201", actor="setup", password=PASSWORD)
    apps = {
        "a": _apply(ledger, "LC-A", "Altan", f.utm_box(100, 100, 200, 200)),
        "c": _apply(ledger, "LC-C", "Khuder", f.utm_box(20_100, 100, 200, 200)),
    }
    clock.now = T_DECIDE
    app = create_app(ApiSettings(db=path, signin_delay_s=0.0))
    with TestClient(app) as client:
        services = app.state.services
        if services.ledger is not None:
            services.ledger.close()
        services.ledger = ledger  # every service reads it (Services.open_ledger): one clock
        try:
            yield Desk(client, ledger, clock, apps)
        finally:
            app.state.services.ledger = None
            ledger.close()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:400]
    return match.group(1)


def sign_in(desk: Desk, name: str) -> str:
    """Sign ``name`` in through /login (the login page's CSRF token, the password); returns
    the CSRF token of the session's forms, read from the desk."""
    token = _csrf(desk.client.get("/login").text)
    r = desk.client.post(
        "/login",
        data={"csrf_token": token, "name": name, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/desk")
    page = desk.client.get("/desk")
    assert page.status_code == 200, page.text
    return _csrf(page.text)


def test_an_official_approves_with_a_reason(desk: Desk) -> None:
    csrf = sign_in(desk, "tsetseg")
    page = desk.client.get("/desk")
    number = desk.apps["a"]
    assert number in page.text and desk.apps["c"] not in page.text  # only the own soum
    r = desk.client.post(
        f"/desk/applications/{number}/decide",
        data={"csrf_token": csrf, "outcome": "approve", "reason": "Meets every rule",
              "next": f"/desk#app-{number}"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/desk?done=decided#app-{number}"  # query, then fragment
    assert desk.ledger.applications(ids=[number])["status"].iloc[0] == "approved"
    assert len(desk.ledger.read("contract_parcels", ids=[f"CP-{number}"])) == 1
    decision = desk.ledger.records("decisions", where={"application_id": number})[0]
    assert decision["actor"] == "tsetseg" and decision["reason"] == "Meets every rule"
    check = desk.ledger.verify_chain()
    assert check.ok
    assert "tsetseg" in {e.actor for e in desk.ledger.events()}


def test_an_approval_without_a_reason_is_refused_next_to_the_field(desk: Desk) -> None:
    csrf = sign_in(desk, "tsetseg")
    number = desk.apps["a"]
    before = len(desk.ledger.events())
    r = desk.client.post(
        f"/desk/applications/{number}/decide",
        data={"csrf_token": csrf, "outcome": "approve", "reason": "  "},
        follow_redirects=False,
    )
    assert r.status_code == 422
    field = re.search(rf'<textarea name="reason" id="decide-{number}-reason"[^>]*>', r.text)
    assert field and 'aria-invalid="true"' in field.group(0)
    assert f'id="decide-{number}-reason-error"' in r.text
    assert re.search(rf'id="decide-{number}-approve" checked', r.text)  # the choice is kept
    assert len(desk.ledger.events()) == before
    assert desk.ledger.applications(ids=[number])["status"].iloc[0] == "pending"


def test_another_soums_forged_post_is_403_and_writes_nothing(desk: Desk) -> None:
    csrf = sign_in(desk, "bold")  # MN8201's official
    number = desk.apps["a"]  # MN4322's application
    before = len(desk.ledger.events())
    r = desk.client.post(
        f"/desk/applications/{number}/decide",
        data={"csrf_token": csrf, "outcome": "approve", "reason": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = desk.client.post(
        "/desk/land_conclusions/LC-A/submit", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code in (403, 409)  # 403: the scope is checked before the move
    assert r.status_code == 403
    assert len(desk.ledger.events()) == before
    assert desk.ledger.applications(ids=[number])["status"].iloc[0] == "pending"


def test_a_post_without_the_csrf_token_is_403_and_writes_nothing(desk: Desk) -> None:
    sign_in(desk, "tsetseg")
    number = desk.apps["a"]
    before = len(desk.ledger.events())
    for data in ({}, {"csrf_token": "not-the-token"}):
        r = desk.client.post(
            f"/desk/applications/{number}/decide",
            data={**data, "outcome": "approve", "reason": "Meets every rule"},
            follow_redirects=False,
        )
        assert r.status_code == 403
    assert len(desk.ledger.events()) == before


def test_the_desk_needs_an_official(desk: Desk) -> None:
    r = desk.client.get("/desk", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/desk")


def test_the_review_of_a_proposal_over_stored_land_lists_the_overlaps(desk: Desk) -> None:
    """The propose page's review names every overlapped feature with its status (a review
    over stored land once failed on the page: the overlap table's status helper was missing)."""
    import json

    import shapely.geometry

    csrf = sign_in(desk, "tsetseg")
    outline = shapely.geometry.mapping(f.utm_box(50, 50, 500, 300))  # over LC-A and its queue
    drawn = {"type": "FeatureCollection",
             "features": [{"type": "Feature", "properties": {}, "geometry": outline}]}  # fmt: skip
    r = desk.client.post(
        "/desk/propose",
        data={"csrf_token": csrf, "drawn": json.dumps(drawn), "action": "review", "lang": "en"},
    )
    assert r.status_code == 200, r.text[-2000:]
    assert 'class="overlap"' in r.text and "LC-A" in r.text
    assert 'id="propose-save"' in r.text
