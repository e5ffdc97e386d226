"""The vocabulary (geo.vocab), and one suspended parcel seen the same way everywhere.

A suspended contract still holds its land (it may be reinstated): the overlap rules list
overlaps with it, availability counts it as allocated, the review of a proposal over it
blocks, and an application over it is not eligible.
"""

from __future__ import annotations

import datetime as dt
import doctest

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import geo.vocab
from geo.allocation import ALLOCATING, eligibility
from geo.availability import ALLOCATING_STATUSES, availability
from geo.lifecycle import OPEN_CONTRACT
from geo.review import review
from geo.rules import LIVE, VALID_LAND_CONCLUSION, analyze
from geo.settings import AnalysisSettings
from geo.summary import soum_summary
from geo.vocab import (
    HOLDING_STATUSES,
    OPEN_STATUSES,
    before,
    holder_key,
    holder_keys,
    holds_land,
    in_force,
    open_contract,
    rehab_accepted,
)
from tests import factories as f

TODAY = dt.date(2026, 5, 1)
SETTINGS = AnalysisSettings()
STATUSES = ["applied", "active", "suspended", "expired", "terminated"]


# ------------------------------------------------------------------------ the definitions


def test_the_doctests_hold() -> None:
    result = doctest.testmod(geo.vocab)
    assert result.attempted >= 10 and result.failed == 0


def test_parcels_that_hold_land_include_suspended_ones() -> None:
    parcels = pd.DataFrame({"status": [*STATUSES, None]})
    assert holds_land(parcels).tolist() == [True, True, True, False, False, False]
    assert HOLDING_STATUSES == ("applied", "active", "suspended")


def test_open_contracts_are_active_or_suspended() -> None:
    parcels = pd.DataFrame({"status": STATUSES})
    assert open_contract(parcels).tolist() == [False, True, True, False, False]
    assert OPEN_STATUSES == ("active", "suspended")


def test_every_module_uses_the_one_definition() -> None:
    assert ALLOCATING == ALLOCATING_STATUSES == HOLDING_STATUSES
    assert OPEN_CONTRACT == OPEN_STATUSES
    assert LIVE["contract_parcels"] is geo.vocab.HOLDS_LAND
    assert LIVE["rehab_zones"] is geo.vocab.REHAB_OPEN
    assert VALID_LAND_CONCLUSION is geo.vocab.IN_FORCE


@pytest.mark.parametrize(
    ("status", "valid_until", "expected"),
    [
        ("issued", None, True),
        ("issued", TODAY, True),  # the last valid day
        ("issued", TODAY - dt.timedelta(days=1), False),
        ("proposed", None, False),
        ("rejected", None, False),
        ("revoked", None, False),
        ("expired", None, False),
    ],
)
def test_land_conclusions_in_force(status: str, valid_until: object, expected: bool) -> None:
    lcs = pd.DataFrame({"status": [status], "valid_until": [valid_until]})
    assert in_force(lcs, TODAY).tolist() == [expected]


def test_in_force_refuses_a_missing_column_and_a_value_that_is_no_date() -> None:
    with pytest.raises(ValueError, match="'valid_until'"):
        in_force(pd.DataFrame({"status": ["issued"]}), TODAY)
    with pytest.raises(ValueError, match="not a date"):
        in_force(pd.DataFrame({"status": ["issued"], "valid_until": ["soon"]}), TODAY)


def test_only_accepted_rehabilitation_counts_as_accepted() -> None:
    zones = pd.DataFrame({"stage": ["required", "technical_done", "biological_done", "accepted"]})
    assert rehab_accepted(zones).tolist() == [False, False, False, True]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("  Алтан   Шижир ", "алтан шижир"),
        ("АЛТАН\tшижир\n", "алтан шижир"),
        ("Khas", "khas"),
        (None, ""),
        (float("nan"), ""),
        (pd.NA, ""),
        ("   ", ""),
    ],
)
def test_holder_key(name: object, key: str) -> None:
    assert holder_key(name) == key


def test_holder_keys_is_holder_key_on_every_row() -> None:
    names = pd.Series(
        [" Алтан  Шижир", None, "ALTAN shijir", "", float("nan"), pd.NA, pd.NaT, 7, "\tА\nБ "],
        index=[5, 6, 7, 8, 9, 10, 11, 12, 13],
        dtype=object,
    )
    keys = holder_keys(names)
    assert keys.index.tolist() == [5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert keys.tolist() == [holder_key(n) for n in names]
    # the same keys pandas' string methods give (what holder_keys computed before)
    text = names.astype("string").str.split().str.join(" ").str.casefold()
    assert keys.tolist() == text.fillna("").astype(object).tolist()
    assert keys.tolist()[:4] == ["алтан шижир", "", "altan shijir", ""]


# ------------------------------------------------------- one suspended parcel, four readers


@pytest.fixture
def store() -> dict[str, gpd.GeoDataFrame]:
    """LC-1 (2000 x 1000 m) with one suspended 200 x 200 m parcel P-1, and an active one."""
    return {
        "land_conclusions": f.frame("land_conclusions", [f.land_conclusion()]),
        "contract_parcels": f.frame(
            "contract_parcels",
            [
                f.parcel("P-1", status="suspended", geometry=f.utm_box(100, 100, 200, 200)),
                f.parcel("P-2", holder="Өөр", geometry=f.utm_box(200, 100, 200, 200)),
            ],
        ),
        "rehab_zones": f.frame("rehab_zones", []),
        "exclusions": f.frame("exclusions", []),
        "licences": f.frame("licences", []),
    }


def test_analysis_lists_the_overlap_with_a_suspended_parcel(store: dict) -> None:
    found = analyze(store, today=TODAY, settings=SETTINGS).of("PARCEL_OVERLAP")
    assert found[["a_id", "b_id"]].to_dict("records") == [{"a_id": "P-1", "b_id": "P-2"}]
    assert found["overlap_ha"].iloc[0] == pytest.approx(2.0, rel=1e-3)  # 100 x 200 m


def test_availability_counts_a_suspended_parcel_as_allocated(store: dict) -> None:
    row = availability(
        store["land_conclusions"],
        store["contract_parcels"],
        store["rehab_zones"],
        store["exclusions"],
        store["licences"],
        today=TODAY,
    ).iloc[0]
    assert row["allocated_ha"] == pytest.approx(6.0, rel=1e-3)  # 300 x 200 m, P-1 and P-2
    free = row.geometry
    p1 = store["contract_parcels"].geometry.iloc[0]
    assert free.intersection(p1).area == pytest.approx(0.0, abs=1e-12)
    summary = soum_summary(store, today=TODAY).set_index("soum_code")
    assert summary.loc["MN4322", "allocated_ha"] == pytest.approx(8.0, rel=1e-3)  # 4 + 4 ha


def _over_p1() -> gpd.GeoDataFrame:
    """A proposal on the suspended parcel's land only (x 100-200 m, clear of P-2)."""
    return gpd.GeoDataFrame(
        {"id": ["A-1"], "land_conclusion_id": ["LC-1"], "holder": ["Шинэ нөхөрлөл"]},
        geometry=[f.utm_box(100, 100, 100, 100)],
        crs=4326,
    )


def test_the_review_of_a_proposal_over_a_suspended_parcel_blocks(store: dict) -> None:
    result = review(_over_p1(), kind="parcel", layers=store, today=TODAY, settings=SETTINGS)
    overlaps = [x for x in result["findings"] if x["code"] == "PARCEL_OVERLAP"]
    assert [x["id"] for x in overlaps] == ["P-1"]
    assert overlaps[0]["severity"] == "block"


def test_an_application_over_a_suspended_parcel_is_not_eligible(store: dict) -> None:
    app = _over_p1().assign(
        holder_type="partnership", members_women=3, members_men=3,
        filed_at="2026-05-01T02:00:00Z", status="pending",
    )  # fmt: skip
    result = eligibility(app, layers=store, applications=None, today=TODAY, settings=SETTINGS)
    assert not result.eligible
    overlap = [r for r in result.reasons if r.code == "PARCEL_OVERLAP"]
    assert [r.ids for r in overlap] == [("P-1",)]


def test_once_terminated_the_land_is_free_for_all_four(store: dict) -> None:
    parcels = store["contract_parcels"].copy()
    parcels.loc[0, "status"] = "terminated"
    store = {**store, "contract_parcels": parcels}
    assert len(analyze(store, today=TODAY, settings=SETTINGS).of("PARCEL_OVERLAP")) == 0
    row = availability(
        store["land_conclusions"], parcels, store["rehab_zones"], store["exclusions"],
        store["licences"], today=TODAY,
    ).iloc[0]  # fmt: skip
    assert row["allocated_ha"] == pytest.approx(4.0, rel=1e-3)
    result = review(_over_p1(), kind="parcel", layers=store, today=TODAY, settings=SETTINGS)
    assert not [x for x in result["findings"] if x["code"] == "PARCEL_OVERLAP"]


# --------------------------------------------- the fast paths answer as pandas' parsing does


def test_before_on_plain_dates_answers_as_on_parsed_ones() -> None:
    days = [dt.date(2026, 4, 30), None, TODAY, dt.date(2027, 1, 1), dt.date(1999, 12, 31)]
    expected = [True, False, False, False, True]
    assert geo.vocab.plain_dates(pd.Series(days, dtype=object)) is not None
    assert before(pd.Series(days, dtype=object), TODAY).tolist() == expected
    # the same days as text and as datetimes go through pd.to_datetime
    texts = pd.Series([None if d is None else d.isoformat() for d in days], dtype=object)
    assert geo.vocab.plain_dates(texts) is None
    assert before(texts, TODAY).tolist() == expected
    stamps = pd.Series([None if d is None else pd.Timestamp(d) for d in days], dtype=object)
    assert before(stamps, TODAY).tolist() == expected
    # NaN is an empty date on both paths
    assert before(pd.Series([float("nan"), dt.date(2020, 1, 1)]), TODAY).tolist() == [False, True]


def test_text_values_keep_the_code_list_membership_of_astype_string() -> None:
    values = pd.Series(["issued", None, float("nan"), pd.NA, 7, "Issued", " issued"], dtype=object)
    codes = ("issued", "", "7")
    fast = np.isin(geo.vocab.text_values(values), codes)
    slow = np.isin(values.astype("string").fillna("").to_numpy(), codes)
    # a number is not its text (astype("string") made 7 the code "7"): code lists hold text
    assert fast.tolist() == [True, True, True, True, False, False, False]
    assert slow.tolist()[:4] == fast.tolist()[:4]
    assert slow.tolist()[5:] == fast.tolist()[5:]
    mask = geo.vocab.Live("status", keep=("issued",)).mask(pd.DataFrame({"status": values}))
    assert mask.tolist() == [True, False, False, False, False, False, False]
