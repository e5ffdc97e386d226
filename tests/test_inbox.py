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
