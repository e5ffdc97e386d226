"""geo.allocation: eligibility reasons, the queue, competing groups, the draw, approval rules.

Shapes are metre rectangles in UTM 48N (tests.factories): the Land Conclusion LC-1 is
2000 x 1000 m (200 ha), a 200 x 200 m parcel is 4 ha.
"""

from __future__ import annotations

import datetime as dt
import doctest
import hashlib
import shutil
import subprocess
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import geo.allocation
from geo.allocation import (
    NoRoom,
    add_years,
    approval_reasons,
    competing_groups,
    contract_parcel,
    draw_input,
    draw_order,
    draw_seed,
    eligibility,
    group_closed,
    holder_key,
    local_day,
    members_reason,
    objection_until,
    parcel_of_size,
    rehab_reason,
    verify_draw,
)
from geo.area import official_ha
from geo.settings import AnalysisSettings
from tests import factories as f

SETTINGS = AnalysisSettings()
TODAY = dt.date(2026, 5, 1)
FILED = "2026-05-01T02:00:00.000000Z"  # 10:00 in Ulaanbaatar


def app_frame(
    number: str = "A-1",
    *,
    box: tuple[float, float, float, float] = (500, 100, 200, 200),
    filed_at: str = FILED,
    status: str = "pending",
    **kw: object,
) -> gpd.GeoDataFrame:
    row: dict[str, object] = {
        "id": number,
        "land_conclusion_id": "LC-1",
        "holder": "Шинэ нөхөрлөл",
        "holder_type": "partnership",
        "members_women": 3,
        "members_men": 3,
        "filed_at": filed_at,
        "status": status,
    }
    row.update(kw)
    return gpd.GeoDataFrame({k: [v] for k, v in row.items()}, geometry=[f.utm_box(*box)], crs=4326)


def apps(*frames: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)


def layers(
    *,
    lc: dict[str, object] | None = None,
    parcels: list[dict[str, object]] | None = None,
    zones: list[dict[str, object]] | None = None,
    exclusions: list[dict[str, object]] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    return {
        "land_conclusions": f.frame("land_conclusions", [lc or f.land_conclusion()]),
        "contract_parcels": f.frame("contract_parcels", parcels or []),
        "rehab_zones": f.frame("rehab_zones", zones or []),
        "exclusions": f.frame("exclusions", exclusions or []),
    }


def codes(result: geo.allocation.Eligibility) -> list[str]:
    return sorted(r.code for r in result.reasons)


def test_doctests_run() -> None:
    import geo.allocation.checks
    import geo.allocation.draws
    import geo.allocation.reasons

    modules = (geo.allocation.reasons, geo.allocation.checks, geo.allocation.draws)
    results = [doctest.testmod(m) for m in modules]
    assert sum(r.attempted for r in results) >= 15
    assert all(r.failed == 0 for r in results)


# ------------------------------------------------------------------------------------ time


def test_local_day_counts_ulaanbaatar_days() -> None:
    late = dt.datetime(2026, 4, 30, 16, 0, tzinfo=dt.UTC)  # 00:00 on 1 May in UB
    assert local_day(late, utc_offset_hours=8) == dt.date(2026, 5, 1)
    assert local_day(late - dt.timedelta(seconds=1), utc_offset_hours=8) == dt.date(2026, 4, 30)
    assert local_day(dt.datetime(2026, 4, 30, 16, 0), utc_offset_hours=8) == dt.date(2026, 5, 1)


def test_windows_and_terms() -> None:
    assert objection_until(dt.date(2026, 12, 20), days=21) == dt.date(2027, 1, 10)
    assert add_years(dt.date(2026, 6, 1), 3) == dt.date(2029, 6, 1)
    assert add_years(dt.date(2028, 2, 29), 1) == dt.date(2029, 2, 28)


# ------------------------------------------------------------------------------- members


@pytest.mark.parametrize(
    ("women", "men", "refused"),
    [(2, 3, False), (2, 2, True), (0, 5, False), (None, 4, True), (None, None, True)],
)
def test_members(women: int | None, men: int | None, refused: bool) -> None:
    reason = members_reason(pd.Series({"members_women": women, "members_men": men}), min_members=5)
    assert (reason is not None) == refused
    if reason is not None:
        n = (women or 0) + (men or 0)
        assert f"has {n} member(s)" in reason.message_en and f"{n} гишүүнтэй" in reason.message_mn


# ------------------------------------------------------------------------- rehabilitation


def _zones(**kw: Any) -> pd.DataFrame:
    return f.frame("rehab_zones", [f.rehab_zone(**kw)])


PARCELS = f.frame(
    "contract_parcels",
    [
        f.parcel("P-1", holder="Алтан шижир нөхөрлөл", status="active"),
        f.parcel("P-OLD", holder="Алтан шижир нөхөрлөл", status="expired"),
    ],
)


@pytest.mark.parametrize(
    ("zone", "blocks"),
    [
        # a zone of a running contract, not yet due: work in time
        ({"parcel_id": "P-1", "stage": "required", "due_on": dt.date(2026, 10, 1)}, False),
        # the same zone past its due date
        ({"parcel_id": "P-1", "stage": "technical_done", "due_on": dt.date(2026, 4, 30)}, True),
        # due today is not overdue (the last day still counts)
        ({"parcel_id": "P-1", "stage": "required", "due_on": TODAY}, False),
        # a zone of an expired contract, not accepted
        ({"parcel_id": "P-OLD", "stage": "biological_done", "due_on": None}, True),
        # accepted by the commission
        ({"parcel_id": "P-OLD", "stage": "accepted", "due_on": dt.date(2020, 1, 1)}, False),
        # a legacy zone (no parcel) under the holder's name, written differently
        ({"parcel_id": None, "holder": " АЛТАН  шижир нөхөрлөл", "due_on": None}, True),
        # a legacy zone of someone else
        ({"parcel_id": None, "holder": "Өөр нөхөрлөл", "due_on": None}, False),
        # the zone's own holder field differs, but its parcel is the applicant's
        ({"parcel_id": "P-OLD", "holder": "хуучин нэр", "due_on": None}, True),
    ],
)
def test_rehab_rule(zone: dict[str, Any], blocks: bool) -> None:
    reason = rehab_reason("Алтан шижир нөхөрлөл", _zones(**zone), PARCELS, today=TODAY)
    assert (reason is not None) == blocks
    if reason is not None:
        assert reason.code == "HOLDER_REHAB_OUTSTANDING" and reason.ids == ("R-1",)
        assert "R-1" in reason.message_en and "R-1" in reason.message_mn


def test_holder_key() -> None:
    assert holder_key("\tАлтан\n шижир ") == holder_key("алтан шижир") == "алтан шижир"
    assert holder_key(None) == holder_key(float("nan")) == ""


# ---------------------------------------------------------------------------- eligibility


def test_clear_application_is_eligible_and_measured() -> None:
    result = eligibility(
        app_frame(), layers=layers(), applications=None, today=TODAY, settings=SETTINGS
    )
    assert result.eligible and result.reasons == () and result.notes == ()
    assert result.official_ha == pytest.approx(4.0, rel=1e-3)


@pytest.mark.parametrize(
    ("lc", "why"),
    [
        ({"status": "under_review"}, "status: Under review"),
        ({"status": "issued", "valid_until": dt.date(2026, 4, 30)}, "2026-04-30"),
    ],
)
def test_land_conclusion_must_be_in_force(lc: dict[str, Any], why: str) -> None:
    result = eligibility(
        app_frame(),
        layers=layers(lc=f.land_conclusion(**lc)),
        applications=None,
        today=TODAY,
        settings=SETTINGS,
    )
    assert codes(result) == ["PARCEL_LC_NOT_VALID"]
    assert why in result.reasons[0].message_en


def test_parcel_partly_outside_its_land_conclusion() -> None:
    # 100 m of the 200 m wide parcel sticks out east of the 2000 m LC: 2 ha outside
    result = eligibility(
        app_frame(box=(1900, 100, 200, 200)),
        layers=layers(),
        applications=None,
        today=TODAY,
        settings=SETTINGS,
    )
    assert codes(result) == ["PARCEL_OUTSIDE_LC"]
    assert "2.00 ha" in result.reasons[0].message_en


def test_every_failure_is_listed_at_once() -> None:
    # 300 x 300 m = 9 ha over the 5 ha cap, on an active parcel, 4 members, overdue rehab
    result = eligibility(
        app_frame(box=(100, 100, 300, 300), members_women=1, members_men=3),
        layers=layers(
            parcels=[f.parcel("P-9", holder="Бусад")],
            zones=[
                f.rehab_zone(
                    "R-9", parcel_id=None, holder="Шинэ нөхөрлөл", due_on=dt.date(2025, 1, 1)
                )
            ],
        ),
        applications=None,
        today=TODAY,
        settings=SETTINGS,
    )
    assert not result.eligible
    assert codes(result) == [
        "HOLDER_REHAB_OUTSTANDING",
        "MEMBERS_BELOW_MIN",
        "PARCEL_OVERLAP",
        "PARCEL_OVER_CAP",
    ]
    for r in result.reasons:  # every reason readable in both languages
        assert r.message_mn and r.message_en and r.message_mn != r.message_en
        assert r.as_dict()["title_mn"] and r.as_dict()["title_en"]


@pytest.mark.parametrize(
    ("status", "blocks"),
    [("active", True), ("suspended", True), ("applied", True), ("expired", False)],
)
def test_parcels_that_hold_land(status: str, blocks: bool) -> None:
    # P-1 is at (100, 100), 200 x 200; the application overlaps it by 100 x 200 m = 2 ha
    result = eligibility(
        app_frame(box=(200, 100, 200, 200)),
        layers=layers(parcels=[f.parcel(status=status, holder="Бусад")]),
        applications=None,
        today=TODAY,
        settings=SETTINGS,
    )
    assert codes(result) == (["PARCEL_OVERLAP"] if blocks else [])
    if blocks:
        assert "2.00 ha" in result.reasons[0].message_en


def test_touching_parcels_do_not_overlap() -> None:
    result = eligibility(
        app_frame(box=(300, 100, 200, 200)),  # shares P-1's east edge
        layers=layers(parcels=[f.parcel(holder="Бусад")]),
        applications=None,
        today=TODAY,
        settings=SETTINGS,
    )
    assert result.eligible


def test_excluded_land_blocks() -> None:
    result = eligibility(
        app_frame(),
        layers=layers(exclusions=[f.exclusion(geometry=f.utm_box(600, 150, 50, 50))]),
        applications=None,
        today=TODAY,
        settings=SETTINGS,
    )
    assert codes(result) == ["PARCEL_OVER_EXCLUSION"]


def test_queue_earlier_pending_application_blocks_and_same_day_competes() -> None:
    yesterday = app_frame("A-0", box=(550, 100, 200, 200), filed_at="2026-04-30T02:00:00Z")
    same_day = app_frame("A-2", box=(650, 100, 200, 200), filed_at="2026-05-01T01:00:00Z")
    decided = app_frame("A-3", box=(500, 150, 200, 200), status="rejected")
    apart = app_frame("A-4", box=(900, 100, 200, 200))  # touches A-1's east edge only
    result = eligibility(
        app_frame(),
        layers=layers(),
        applications=apps(yesterday, same_day, decided, apart),
        today=TODAY,
        settings=SETTINGS,
    )
    assert codes(result) == ["APPLICATION_BEHIND_EARLIER"]
    assert result.reasons[0].ids == ("A-0",)
    assert result.competing == ("A-2",)
    assert [n.code for n in result.notes] == ["COMPETING"]


def test_competing_window_of_one_day() -> None:
    yesterday = app_frame("A-0", box=(550, 100, 200, 200), filed_at="2026-04-30T02:00:00Z")
    settings = AnalysisSettings(competing_window_days=1)
    result = eligibility(
        app_frame(), layers=layers(), applications=yesterday, today=TODAY, settings=settings
    )
    assert result.eligible and result.competing == ("A-0",)


def test_days_are_local_days() -> None:
    # 23:30 UTC on 30 April is 07:30 on 1 May in Ulaanbaatar: the same local day as A-1
    early = app_frame("A-0", box=(550, 100, 200, 200), filed_at="2026-04-30T23:30:00Z")
    result = eligibility(
        app_frame(), layers=layers(), applications=early, today=TODAY, settings=SETTINGS
    )
    assert result.eligible and result.competing == ("A-0",)


# -------------------------------------------------------------------------- competing groups


def test_competing_groups_are_connected_components() -> None:
    frames = [
        app_frame("A-1", box=(0, 0, 200, 200)),
        app_frame("A-2", box=(150, 0, 200, 200)),  # overlaps A-1
        app_frame("A-3", box=(300, 0, 200, 200)),  # overlaps A-2 only: same group
        app_frame("A-4", box=(1000, 0, 200, 200)),  # alone
        app_frame("A-5", box=(1100, 0, 200, 200), filed_at="2026-05-02T02:00:00Z"),  # next day
        app_frame("A-6", box=(0, 0, 200, 200), status="rejected"),  # not pending
    ]
    groups = competing_groups(apps(*frames), settings=SETTINGS)
    assert groups.to_dict() == {
        "A-1": "A-1",
        "A-2": "A-1",
        "A-3": "A-1",
        "A-4": None,
        "A-5": None,
        "A-6": None,
    }
    wider = competing_groups(apps(*frames), settings=AnalysisSettings(competing_window_days=1))
    assert wider["A-4"] == wider["A-5"] == "A-4"


def test_group_closes_after_its_window() -> None:
    filed = ["2026-05-01T02:00:00Z", "2026-05-01T15:00:00Z"]  # 23:00 UB, still 1 May
    assert not group_closed(filed, today=dt.date(2026, 5, 1), settings=SETTINGS)
    assert group_closed(filed, today=dt.date(2026, 5, 2), settings=SETTINGS)
    wider = AnalysisSettings(competing_window_days=2)
    assert not group_closed(filed, today=dt.date(2026, 5, 3), settings=wider)


# ------------------------------------------------------------------------------- the draw


NUMBERS = ["MN4322-2026-0002", "MN4322-2026-0001", "MN4322-2026-0003"]
DAY = dt.date(2026, 5, 3)


def test_seed_is_sha256_of_the_published_text() -> None:
    text = draw_input(NUMBERS, draw_date=DAY, public_value="48213")
    assert text == (
        "gazar-draw-v1\nMN4322-2026-0001\nMN4322-2026-0002\nMN4322-2026-0003\n2026-05-03\n48213"
    )
    seed = draw_seed(NUMBERS, draw_date=DAY, public_value="48213")
    assert seed == hashlib.sha256(text.encode()).hexdigest()
    if shutil.which("sha256sum"):  # anyone can recompute it with the shell
        shell = subprocess.run(["sha256sum"], input=text.encode(), capture_output=True, check=True)
        assert shell.stdout.decode().split()[0] == seed


def test_order_sorts_by_the_hash_of_seed_and_number() -> None:
    seed = draw_seed(NUMBERS, draw_date=DAY, public_value="48213")
    digests = {n: hashlib.sha256(f"{seed}:{n}".encode()).hexdigest() for n in NUMBERS}
    order = draw_order(NUMBERS, seed=seed)
    assert order == sorted(NUMBERS, key=digests.__getitem__)
    assert sorted(order) == sorted(NUMBERS)
    assert draw_order(reversed(NUMBERS), seed=seed) == order  # input order does not matter


def test_a_different_public_value_gives_a_different_seed() -> None:
    seeds = {draw_seed(NUMBERS, draw_date=DAY, public_value=str(v)) for v in range(20)}
    assert len(seeds) == 20
    winners = {draw_order(NUMBERS, seed=s)[0] for s in seeds}
    assert winners == set(NUMBERS)  # over 20 values each applicant won at least once


def test_verify_draw() -> None:
    seed = draw_seed(NUMBERS, draw_date=DAY, public_value="7")
    order = draw_order(NUMBERS, seed=seed)
    assert verify_draw(NUMBERS, draw_date=DAY, public_value="7", seed=seed, order=order).ok
    swapped = [order[1], order[0], order[2]]
    bad = verify_draw(NUMBERS, draw_date=DAY, public_value="7", seed=seed, order=swapped)
    assert not bad.ok and bad.seed_matches and not bad.order_matches
    assert ", ".join(order) in bad.message_en
    other = verify_draw(NUMBERS, draw_date=DAY, public_value="8", seed=seed, order=order)
    assert not other.ok and not other.seed_matches


@pytest.mark.parametrize(
    ("numbers", "value"),
    [(["A-1"], "1"), (["A-1", "A-1"], "1"), (["A-1", "B\n2"], "1"), (["A-1", "B-2"], " ")],
)
def test_draw_inputs_are_checked(numbers: list[str], value: str) -> None:
    with pytest.raises(ValueError):
        draw_input(numbers, draw_date=DAY, public_value=value)


# ------------------------------------------------------------------------------- approval


def _approval(**kw: object) -> list[str]:
    args: dict[str, object] = {
        "status": "pending",
        "filed_on": dt.date(2026, 5, 1),
        "today": dt.date(2026, 5, 23),
        "competitors": (),
        "order": None,
        "statuses": {},
        "settings": SETTINGS,
    }
    args.update(kw)
    return [r.code for r in approval_reasons("A-2", **args)]  # type: ignore[arg-type]


def test_approval_rules() -> None:
    assert _approval() == []
    assert _approval(status="approved") == ["NOT_PENDING"]
    assert _approval(today=dt.date(2026, 5, 22)) == ["OBJECTION_WINDOW_OPEN"]  # last day
    assert _approval(competitors=["A-1"]) == ["DRAW_REQUIRED"]
    ranked = {"competitors": ["A-1"], "order": ["A-1", "A-2"]}
    assert _approval(**ranked, statuses={"A-1": "pending"}) == ["RANKED_BEHIND"]
    assert _approval(**ranked, statuses={"A-1": "approved"}) == ["RANKED_BEHIND"]
    assert _approval(**ranked, statuses={"A-1": "rejected"}) == []
    assert _approval(competitors=["A-1"], order=["A-2", "A-1"], statuses={"A-1": "pending"}) == []


def test_contract_parcel_row() -> None:
    frame = contract_parcel(
        app_frame(),
        parcel_id="CP-1",
        contract_no="C-1",
        signed_on=dt.date(2026, 6, 1),
        term_years=3,
    )
    row = frame.iloc[0]
    assert list(frame.columns[:-1]) == f.frame("contract_parcels", []).columns[:-1].tolist()
    assert (row.status, row.starts_on, row.expires_on) == (
        "active",
        dt.date(2026, 6, 1),
        dt.date(2029, 5, 31),
    )
    assert row.holder == "Шинэ нөхөрлөл" and row.members_women + row.members_men == 6
    assert row.geometry.equals(app_frame().geometry.iloc[0])


# --------------------------------------------------------------------------- size requests


def test_parcel_of_size_avoids_parcels_and_pending_applications() -> None:
    lyr = layers(parcels=[f.parcel(holder="Бусад")])  # P-1 at (100, 100) 200 x 200
    waiting = app_frame("A-0", box=(0, 0, 100, 1000))  # the west strip is waiting
    geom = parcel_of_size("LC-1", ha=2.0, layers=lyr, applications=waiting, today=TODAY)
    assert official_ha([geom])[0] == pytest.approx(2.0, rel=5e-3)
    lc = lyr["land_conclusions"].geometry.iloc[0]
    assert shapely.difference(geom, lc).area < 1e-12
    for other in (lyr["contract_parcels"].geometry.iloc[0], waiting.geometry.iloc[0]):
        assert official_ha([shapely.intersection(geom, other)])[0] < 1e-4


def test_parcel_of_size_says_when_nothing_fits() -> None:
    small = f.land_conclusion(geometry=f.utm_box(0, 0, 100, 100))  # 1 ha
    with pytest.raises(NoRoom) as info:
        parcel_of_size("LC-1", ha=2.0, layers=layers(lc=small), applications=None, today=TODAY)
    assert "no 2 ha parcel fits" in str(info.value) and info.value.reason.code == "NO_ROOM"
