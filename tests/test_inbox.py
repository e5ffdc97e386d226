"""MRPAM's inbox: the rows (pipeline days, overdue flag, names, order), the review of a stored
Land Conclusion against the rest of the store, the decision steps' refusals, and the pages'
role and CSRF checks (TestClient; the browser story is tests/test_browser_inbox.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.services.access import local_operator
from api.services.errors import Unprocessable
from api.services.inbox import inbox_rows
from geo.settings import AnalysisSettings
from layers.ledger import open_ledger
from layers.store import open_store
from tests import factories as f

TODAY = dt.date(2026, 3, 1)
SETTINGS = AnalysisSettings()


def _soums() -> Any:
    return f.frame(
        "soums",
        [{"id": "MN4322", "aimag_code": "MN43", "name_mn": "Мандал", "name_en": "Mandal",
          "geometry": f.utm_box(-5000, -5000, 20000, 20000)}],
    )  # fmt: skip


def _aimags() -> Any:
    return f.frame(
        "aimags",
        [{"id": "MN43", "name_mn": "Сэлэнгэ", "name_en": "Selenge",
          "geometry": f.utm_box(-6000, -6000, 22000, 22000)}],
    )  # fmt: skip


def _waiting() -> Any:
    return f.frame(
        "land_conclusions",
        [
            f.land_conclusion("LC-ISSUED"),
            f.land_conclusion("LC-LATE", status="submitted", submitted_on=dt.date(2026, 1, 2),
                              decided_on=None, valid_until=None, decision_ref=None),
            f.land_conclusion("LC-NEW", status="submitted", submitted_on=dt.date(2026, 2, 20),
                              decided_on=None, valid_until=None, decision_ref=None,
                              geometry=f.utm_box(3000, 0, 1000, 1000)),
            f.land_conclusion("LC-OLD", status="under_review", submitted_on=dt.date(2025, 12, 1),
                              decided_on=None, valid_until=None, decision_ref=None,
                              geometry=f.utm_box(5000, 0, 1000, 1000)),
        ],
    )  # fmt: skip


def test_inbox_lists_what_waits_at_mrpam_oldest_first_with_names_days_and_overdue() -> None:
    rows = inbox_rows(
        _waiting(), soums=_soums(), aimags=_aimags(), today=TODAY, settings=SETTINGS, lang="en"
    )
    assert [r["id"] for r in rows] == ["LC-OLD", "LC-LATE", "LC-NEW"]  # issued: not waiting
    old, late, new = rows
    assert (old["soum_name"], old["aimag_name"]) == ("Mandal", "Selenge")
    assert old["status_label"] == "Under review"
    # days at MRPAM count from the submission; the limit is the status's own
    assert (old["days_waiting"], old["limit_days"], old["overdue"]) == (90, 60, True)
    assert (late["days_waiting"], late["limit_days"], late["overdue"]) == (58, 30, True)
    assert (new["days_waiting"], new["overdue"]) == (9, False)
    assert new["official_ha"] == pytest.approx(100.0, rel=1e-3)
    mn = inbox_rows(
        _waiting(), soums=_soums(), aimags=_aimags(), today=TODAY, settings=SETTINGS, lang="mn"
    )
    assert mn[0]["soum_name"] == "\u041c\u0430\u043d\u0434\u0430\u043b"


def test_a_longer_limit_from_the_settings_clears_the_flag() -> None:
    settings = AnalysisSettings(pipeline_limit_days={"submitted": 60, "under_review": 120})
    rows = inbox_rows(
        _waiting(), soums=_soums(), aimags=_aimags(), today=TODAY, settings=settings, lang="en"
    )
    assert [r["overdue"] for r in rows] == [False, False, False]


@pytest.fixture
def store_db(tmp_path: Path) -> Path:
    """A store with two overlapping Land Conclusions (one under review) and its ledger."""
    db = tmp_path / "inbox.gpkg"
    lcs = f.frame(
        "land_conclusions",
        [
            f.land_conclusion("LC-A"),
            f.land_conclusion("LC-B", status="under_review", decided_on=None,
                              valid_until=None, decision_ref=None,
                              geometry=f.utm_box(1000, 0, 2000, 1000)),
        ],
    )  # fmt: skip
    with open_store(db) as store:
        store.write({"aimags": _aimags(), "soums": _soums(), "land_conclusions": lcs})
    open_ledger(str(db), create=True).close()
    return db


@pytest.fixture
def services(store_db: Path) -> Iterator[Any]:
    from api.services import Services
    from api.settings import ApiSettings, load_settings

    s = Services.open(load_settings(api=ApiSettings(db=str(store_db))))
    yield s
    s.close()


def test_a_stored_land_conclusion_is_reviewed_against_the_rest_of_the_store(
    services: Any,
) -> None:
    row, review = services.review.check_stored("LC-B", today=TODAY)
    assert row["id"].tolist() == ["LC-B"]
    doc = review.as_json()
    assert doc["proposing_soum"] == "MN4322"
    ids = {x["id"] for x in doc["findings"] if x["layer"] == "land_conclusions"}
    assert ids == {"LC-A"}  # the other one it overlaps; never itself
    assert [x["id"] for x in doc["features"]] == ["LC-B"]


def test_reviewing_an_unknown_land_conclusion_is_not_found(services: Any) -> None:
    from api.services.errors import NotFound

    with pytest.raises(NotFound):
        services.review.check_stored("LC-NONE", today=TODAY)


def test_issuing_with_a_last_valid_day_that_is_not_after_today_is_refused(services: Any) -> None:
    from api.services.inbox import local_today

    today = local_today(services.settings.analysis)
    before = services.layers.get("land_conclusions").copy()
    with pytest.raises(Unprocessable, match="valid_until"):
        services.allocation.review_land_conclusion(
            "LC-B", status="issued", decision_ref="A/1", valid_until=today,
            user=local_operator("mrpam"),
        )  # fmt: skip
    after = services.layers.get("land_conclusions")
    assert after["status"].tolist() == before["status"].tolist()


# ------------------------------------------------------------------------------ the pages


@pytest.fixture(scope="module")
def bench_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workbench's demo store with a user per role (tests/workbench.py)."""
    from tests.workbench import build_store

    return build_store(tmp_path_factory.mktemp("inbox-pages"))


@pytest.fixture
def client(bench_db: Path, tmp_path: Path) -> Iterator[Any]:
    """A TestClient on a copy of the workbench store (each test writes its own)."""
    import shutil

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiSettings

    db = tmp_path / "bench.gpkg"
    shutil.copy(bench_db, db)
    with TestClient(create_app(ApiSettings(db=str(db)))) as c:
        yield c


def _statuses(client: Any) -> list[str]:
    lcs = client.app.state.services.layers.get("land_conclusions")
    return [str(s) for s in lcs.sort_values("id")["status"]]


def _submitted(client: Any, status: str = "submitted") -> str:
    lcs = client.app.state.services.layers.get("land_conclusions")
    return str(sorted(lcs.loc[lcs["status"] == status, "id"])[0])


def test_the_inbox_needs_a_sign_in_and_mrpam(client: Any) -> None:
    from tests.workbench import client_sign_in

    lc = _submitted(client)
    answer = client.get("/inbox", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    client_sign_in(client, "wb-soum")
    assert client.get("/inbox").status_code == 403
    assert client.get(f"/inbox/{lc}").status_code == 403
    client_sign_in(client, "wb-mrpam")
    page = client.get("/inbox")
    assert page.status_code == 200 and f'data-id="{lc}"' in page.text


def test_every_waiting_land_conclusion_s_review_page_lists_its_overlaps(client: Any) -> None:
    """The review page draws the review's tables, the overlapped features among them (whose
    status the shared helper ``overlap_status`` labels), for each Land Conclusion waiting."""
    from tests.workbench import client_sign_in

    client_sign_in(client, "wb-mrpam")
    lcs = client.app.state.services.layers.get("land_conclusions")
    waiting = sorted(lcs.loc[lcs["status"].isin(["submitted", "under_review"]), "id"])
    assert waiting
    overlapped = 0
    for lc in waiting:
        page = client.get(f"/inbox/{lc}?lang=en")
        assert page.status_code == 200, (lc, page.text[-400:])
        overlapped += page.text.count('<tr class="overlap"')
    assert overlapped > 0  # the demo has a waiting one over other land


def test_a_soum_officials_forged_issue_is_refused_and_writes_nothing(client: Any) -> None:
    from tests.workbench import client_sign_in, csrf_of

    lc = _submitted(client, "under_review")
    client_sign_in(client, "wb-soum")  # logged by design (a "sign in" event): before counting
    token = csrf_of(client.get("/map").text)  # the header's sign-out form carries it
    before, events = _statuses(client), len(client.app.state.services.allocation.events())
    form = {"csrf_token": token, "decision_ref": "X/1", "valid_until": "2031-01-01"}
    answer = client.post(f"/inbox/{lc}/issue", data=form, follow_redirects=False)
    assert answer.status_code == 403
    assert _statuses(client) == before
    assert len(client.app.state.services.allocation.events()) == events


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(client: Any) -> None:
    from tests.workbench import client_sign_in

    lc = _submitted(client)
    before = _statuses(client)
    client_sign_in(client, "wb-mrpam")
    for form in ({}, {"csrf_token": "not-the-token"}):
        answer = client.post(f"/inbox/{lc}/start", data=form, follow_redirects=False)
        assert answer.status_code == 403
    assert _statuses(client) == before


def test_issuing_without_a_decision_reference_is_refused_next_to_the_field(client: Any) -> None:
    from tests.workbench import client_sign_in, csrf_of

    lc = _submitted(client, "under_review")
    before = _statuses(client)
    client_sign_in(client, "wb-mrpam")
    token = csrf_of(client.get(f"/inbox/{lc}?lang=en").text)
    form = {"csrf_token": token, "lang": "en", "decision_ref": " ", "valid_until": "2031-01-01"}
    answer = client.post(f"/inbox/{lc}/issue", data=form)
    assert answer.status_code == 422
    assert 'id="issue-ref-error"' in answer.text and "Write the decision reference." in answer.text
    assert 'value="2031-01-01"' in answer.text  # the value typed is kept
    past = {**form, "decision_ref": "A/1", "valid_until": "2020-01-01"}
    answer = client.post(f"/inbox/{lc}/issue", data=past)
    assert answer.status_code == 422 and 'id="issue-until-error"' in answer.text
    assert 'value="A/1"' in answer.text
    assert _statuses(client) == before
    done = client.post(f"/inbox/{lc}/issue", data={**past, "valid_until": "2031-01-01"},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    lcs = client.app.state.services.layers.get("land_conclusions")
    row = lcs[lcs["id"] == lc].iloc[0]
    assert (row["status"], row["decision_ref"]) == ("issued", "A/1")
    assert str(row["valid_until"]) == "2031-01-01"
    actors = {e.actor for e in client.app.state.services.allocation.events() if lc in e.object}
    assert "wb-mrpam" in actors
