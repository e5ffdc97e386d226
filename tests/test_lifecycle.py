"""Contract expiry, renewal eligibility, overdue contracts and the Land Conclusion pipeline.

Every date is counted by hand from TODAY = 2026-03-01 (February 2026 has 28 days).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from geo.lifecycle import (
    EXPIRING_COLUMNS,
    OVERDUE_COLUMNS,
    PIPELINE_COLUMNS,
    expiring,
    overdue_contracts,
    pipeline,
    pipeline_summary,
)
from geo.settings import AnalysisSettings
from layers.store import Store
from tests import factories as f

TODAY = dt.date(2026, 3, 1)
IN_10 = dt.date(2026, 3, 11)
IN_60 = dt.date(2026, 4, 30)  # 30 days to 31 March, 30 more to 30 April
IN_61 = dt.date(2026, 5, 1)
LIMITS = {"proposed": 60, "khural_approved": 30, "submitted": 30, "under_review": 60}

runner = CliRunner()


def parcels(*rows: dict[str, Any]) -> pd.DataFrame:
    return f.frame("contract_parcels", list(rows))


def zones(*rows: dict[str, Any]) -> pd.DataFrame:
    return f.frame("rehab_zones", list(rows))


def lcs(*rows: dict[str, Any]) -> pd.DataFrame:
    return f.frame("land_conclusions", list(rows))


def by_id(frame: pd.DataFrame) -> dict[str, dict[Any, Any]]:
    return {r["id"]: r for r in frame.to_dict("records")}


def expiring_p1(*zone_rows: dict[str, Any]) -> pd.DataFrame:
    """The expiry table of one parcel, P-1, that expires in 10 days, with these zones."""
    return expiring(parcels(f.parcel("P-1", expires_on=IN_10)), zones(*zone_rows), today=TODAY)


# ------------------------------------------------------------------------------------ expiring


def test_overdue_zone_refuses_renewal_and_is_named_in_both_languages() -> None:
    table = expiring_p1(f.rehab_zone("R-1", stage="technical_done", due_on=dt.date(2026, 2, 1)))
    assert list(table.columns) == EXPIRING_COLUMNS
    [row] = table.to_dict("records")
    assert row["id"] == "P-1"
    assert row["expires_on"] == IN_10
    assert row["days_left"] == 10
    assert not row["renewal_eligible"]
    assert row["blocking_zones"] == ["R-1"]
    assert row["overdue_zones"] == ["R-1"]
    assert row["reason_en"] == (
        "Renewal refused: rehabilitation not accepted in 1 zone(s): "
        "R-1 (Technical rehabilitation done, overdue, due 2026-02-01)"
    )
    assert "R-1" in row["reason_mn"]
    assert "Техникийн нөхөн сэргээлт хийсэн" in row["reason_mn"]
    assert "хугацаа хэтэрсэн" in row["reason_mn"]


def test_all_zones_accepted_means_eligible() -> None:
    table = expiring_p1(
        f.rehab_zone("R-1", stage="accepted", due_on=dt.date(2025, 6, 1)),
        f.rehab_zone("R-2", stage="accepted", due_on=dt.date(2026, 1, 1)),
    )
    [row] = table.to_dict("records")
    assert row["renewal_eligible"]
    assert row["blocking_zones"] == []
    assert row["overdue_zones"] == []
    assert row["reason_en"].startswith("Renewal possible")
    assert row["reason_mn"].startswith("Сунгах боломжтой")


def test_a_zone_not_accepted_blocks_even_before_its_due_date() -> None:
    table = expiring_p1(
        f.rehab_zone("R-2", stage="required", due_on=dt.date(2026, 10, 1)),
        f.rehab_zone("R-1", stage="biological_done", due_on=dt.date(2026, 1, 15)),
        f.rehab_zone("R-3", stage="accepted", due_on=dt.date(2025, 1, 15)),
    )
    [row] = table.to_dict("records")
    assert not row["renewal_eligible"]
    # the overdue one first (earliest due date), the accepted one left out
    assert row["blocking_zones"] == ["R-1", "R-2"]
    assert row["overdue_zones"] == ["R-1"]
    assert row["reason_en"] == (
        "Renewal refused: rehabilitation not accepted in 2 zone(s): "
        "R-1 (Biological rehabilitation done, overdue, due 2026-01-15), "
        "R-2 (Rehabilitation required, due 2026-10-01)"
    )


@pytest.mark.parametrize(("days", "listed"), [(60, ["P-60"]), (61, ["P-60", "P-61"])])
def test_the_window_includes_its_last_day(days: int, listed: list[str]) -> None:
    table = expiring(
        parcels(
            f.parcel("P-61", expires_on=IN_61),
            f.parcel("P-60", expires_on=IN_60),
        ),
        zones(),
        today=TODAY,
        days=days,
    )
    assert table["id"].tolist() == listed
    assert table["days_left"].tolist() == [60, 61][: len(listed)]


def test_a_contract_ending_today_is_expiring_not_overdue() -> None:
    frame = parcels(
        f.parcel("P-today", expires_on=TODAY),
        f.parcel("P-yesterday", expires_on=dt.date(2026, 2, 28)),
    )
    soon = expiring(frame, zones(), today=TODAY, days=0)
    assert soon["id"].tolist() == ["P-today"]
    assert soon["days_left"].tolist() == [0]
    late = overdue_contracts(frame, today=TODAY)
    assert late["id"].tolist() == ["P-yesterday"]
    assert late["days_overdue"].tolist() == [1]


def test_only_active_and_suspended_contracts_are_listed() -> None:
    table = expiring(
        parcels(
            f.parcel("P-active", status="active", expires_on=IN_10),
            f.parcel("P-suspended", status="suspended", expires_on=IN_10),
            f.parcel("P-applied", status="applied", expires_on=IN_10),
            f.parcel("P-expired", status="expired", expires_on=IN_10),
            f.parcel("P-terminated", status="terminated", expires_on=IN_10),
            f.parcel("P-undated", status="active", expires_on=None),
        ),
        zones(),
        today=TODAY,
    )
    assert table["id"].tolist() == ["P-active", "P-suspended"]
    assert table["status"].tolist() == ["active", "suspended"]


def test_legacy_zone_is_matched_by_holder_name() -> None:
    holder = "Алтан шижир нөхөрлөл"
    table = expiring(
        parcels(
            f.parcel("P-1", holder=holder, expires_on=IN_10),
            f.parcel("P-2", holder="Хас Булаг хоршоо", expires_on=IN_10),
        ),
        zones(
            # a legacy zone of the same holder, written with other spacing and case
            f.rehab_zone(
                "R-legacy", parcel_id=None, holder="  алтан  Шижир нөхөрлөл ", due_on=None
            ),
            # an empty string is no parcel either
            f.rehab_zone("R-blank", parcel_id="", holder=holder, stage="required", due_on=None),
            # another holder's legacy zone
            f.rehab_zone("R-other", parcel_id=None, holder="Улаан Уул нөхөрлөл", due_on=None),
        ),
        today=TODAY,
    )
    rows = by_id(table)
    assert rows["P-1"]["blocking_zones"] == ["R-blank", "R-legacy"]
    assert rows["P-1"]["overdue_zones"] == []
    assert "legacy zone of the holder" in rows["P-1"]["reason_en"]
    assert "no due date" in rows["P-1"]["reason_en"]
    assert "эзэмшигчийн хуучин бүс" in rows["P-1"]["reason_mn"]
    assert rows["P-2"]["renewal_eligible"]
    assert rows["P-2"]["blocking_zones"] == []


def test_a_zone_on_another_parcel_of_the_holder_does_not_block_this_one() -> None:
    table = expiring(
        parcels(f.parcel("P-1", expires_on=IN_10), f.parcel("P-2", expires_on=IN_61)),
        zones(f.rehab_zone("R-2", parcel_id="P-2", due_on=dt.date(2026, 1, 1))),
        today=TODAY,
    )
    [row] = table.to_dict("records")
    assert row["id"] == "P-1"
    assert row["renewal_eligible"]


def test_expiring_refuses_bad_arguments() -> None:
    frame = parcels(f.parcel("P-1", expires_on=IN_10))
    with pytest.raises(ValueError, match="days must be a whole number >= 0, not -1"):
        expiring(frame, zones(), today=TODAY, days=-1)
    with pytest.raises(ValueError, match="contract_parcels lacks the column"):
        expiring(frame.drop(columns="expires_on"), zones(), today=TODAY)
    bad = parcels(f.parcel("P-9", expires_on="next spring"))
    with pytest.raises(ValueError, match="contract P-9: expires_on 'next spring' is not a date"):
        expiring(bad, zones(), today=TODAY)


def test_empty_layers_give_empty_tables_with_the_columns() -> None:
    assert list(expiring(parcels(), zones(), today=TODAY).columns) == EXPIRING_COLUMNS
    assert list(overdue_contracts(parcels(), today=TODAY).columns) == OVERDUE_COLUMNS
    assert list(pipeline(lcs(), today=TODAY, limits=LIMITS).columns) == PIPELINE_COLUMNS


# ----------------------------------------------------------------------------------- overdue


def test_overdue_contracts_lists_open_contracts_past_their_end() -> None:
    table = overdue_contracts(
        parcels(
            f.parcel("P-active", status="active", expires_on=dt.date(2026, 2, 20)),
            f.parcel("P-suspended", status="suspended", expires_on=dt.date(2025, 12, 31)),
            f.parcel("P-expired", status="expired", expires_on=dt.date(2025, 12, 31)),
            f.parcel("P-running", status="active", expires_on=IN_10),
        ),
        today=TODAY,
    )
    assert list(table.columns) == OVERDUE_COLUMNS
    # longest overdue first: 31 Dec 2025 -> 1 Mar 2026 is 31 + 28 + 1 = 60 days
    assert table["id"].tolist() == ["P-suspended", "P-active"]
    assert table["days_overdue"].tolist() == [60, 9]
    rows = by_id(table)
    assert rows["P-active"]["reason_en"] == (
        "The contract ended on 2026-02-20 (9 days ago) but is still recorded as 'Active'"
    )
    assert "Хүчинтэй" in rows["P-active"]["reason_mn"]
    assert "Түдгэлзүүлсэн" in rows["P-suspended"]["reason_mn"]


# ---------------------------------------------------------------------------------- pipeline


def test_issued_land_conclusion_days_per_step() -> None:
    # 1 Mar -> 10 Apr 2024: 30 + 10 = 40; 10 Apr -> 2 May: 20 + 2 = 22;
    # 2 May -> 20 Sep: 29 (May) + 30 + 31 + 31 + 20 = 141; total 203
    table = pipeline(lcs(f.land_conclusion("LC-1")), today=TODAY, limits=LIMITS)
    [row] = table.to_dict("records")
    assert row["days_proposed"] == 40
    assert row["days_khural_approved"] == 22
    assert row["days_submitted"] == 141
    assert row["total_days"] == 203
    assert row["current_step"] is None
    assert row["waiting_since"] is None
    assert pd.isna(row["days_in_step"])
    assert pd.isna(row["limit_days"])
    assert not row["delayed"]
    assert row["data_problems"] == []
    assert row["problems_en"] == ""
    assert row["submitted_on"] == dt.date(2024, 5, 2)


def waiting(fid: str, status: str, since: dt.date, **kw: Any) -> dict[str, Any]:
    """A Land Conclusion that reached ``status`` on ``since``: 20 + 10 days of earlier steps."""
    approved = since - dt.timedelta(days=10)
    return f.land_conclusion(
        fid,
        status=status,
        proposed_on=approved - dt.timedelta(days=20),
        khural_approved_on=approved,
        submitted_on=since,
        decided_on=None,
        valid_until=None,
        decision_ref=None,
        **kw,
    )


def test_land_conclusion_waiting_in_submitted_past_its_limit_is_delayed() -> None:
    # 15 Jan -> 1 Mar 2026: 16 + 28 + 1 = 45 days; 30 Jan -> 1 Mar: 1 + 28 + 1 = 30 days
    table = pipeline(
        lcs(
            waiting("LC-late", "submitted", dt.date(2026, 1, 15)),
            waiting("LC-on-time", "submitted", dt.date(2026, 1, 30)),
            waiting("LC-review", "under_review", dt.date(2026, 1, 15)),
        ),
        today=TODAY,
        limits=LIMITS,
    )
    rows = by_id(table)
    late = rows["LC-late"]
    assert late["current_step"] == "submitted"
    assert late["waiting_since"] == dt.date(2026, 1, 15)
    assert late["days_proposed"] == 20
    assert late["days_khural_approved"] == 10
    assert late["days_submitted"] == 45
    assert late["days_in_step"] == 45
    assert late["total_days"] == 75
    assert late["limit_days"] == 30
    assert late["delayed"]
    # exactly at the limit is not over it
    assert rows["LC-on-time"]["days_in_step"] == 30
    assert not rows["LC-on-time"]["delayed"]
    # under review counts from submission too, against its own limit of 60
    assert rows["LC-review"]["days_in_step"] == 45
    assert rows["LC-review"]["limit_days"] == 60
    assert not rows["LC-review"]["delayed"]
    for row in rows.values():
        assert row["data_problems"] == []


def test_a_status_without_a_limit_is_never_delayed() -> None:
    table = pipeline(
        lcs(waiting("LC-1", "submitted", dt.date(2025, 1, 1))),
        today=TODAY,
        limits={"proposed": 10},
    )
    assert table["days_in_step"].tolist() == [424]  # 365 + 31 + 28
    assert table["limit_days"].isna().all()
    assert not table["delayed"].any()


def test_misordered_dates_are_a_data_problem() -> None:
    table = pipeline(
        lcs(
            f.land_conclusion(
                "LC-1",
                khural_approved_on=dt.date(2024, 5, 10),
                submitted_on=dt.date(2024, 5, 2),  # before the Khural approved it
            )
        ),
        today=TODAY,
        limits=LIMITS,
    )
    [row] = table.to_dict("records")
    assert row["data_problems"] == ["dates_out_of_order"]
    assert row["problems_en"] == (
        "dates out of order: submission date (2024-05-02) before Khural approval date (2024-05-10)"
    )
    assert "огнооны дараалал буруу" in row["problems_mn"]
    assert row["days_khural_approved"] == -8  # shown as it is, not hidden
    summary = pipeline_summary(table).set_index("step")
    assert summary.loc["khural_approved", "count"] == 0  # left out of the statistics


def test_requester_not_allowed_is_a_data_problem() -> None:
    table = pipeline(
        lcs(
            f.land_conclusion("LC-soum", requested_by="soum"),
            f.land_conclusion("LC-aimag", requested_by="aimag"),
        ),
        today=TODAY,
        limits=LIMITS,
        allowed_requesters=("soum",),
    )
    rows = by_id(table)
    assert rows["LC-soum"]["data_problems"] == []
    assert rows["LC-aimag"]["data_problems"] == ["requester_not_allowed"]
    assert rows["LC-aimag"]["problems_en"] == (
        "requested by 'Aimag', which is not allowed (allowed: Soum)"
    )
    assert "'Аймаг' зөвшөөрөгдөөгүй" in rows["LC-aimag"]["problems_mn"]


def test_missing_extra_and_future_dates_are_data_problems() -> None:
    table = pipeline(
        lcs(
            # issued without a submission date
            f.land_conclusion("LC-missing", submitted_on=None),
            # still proposed, yet a Khural date is filled in
            f.proposed_land_conclusion(
                "LC-extra", proposed_on=dt.date(2026, 2, 1), khural_approved_on=dt.date(2026, 2, 10)
            ),
            # proposed tomorrow
            f.proposed_land_conclusion("LC-future", proposed_on=dt.date(2026, 3, 2)),
        ),
        today=TODAY,
        limits=LIMITS,
    )
    rows = by_id(table)
    missing = rows["LC-missing"]
    assert missing["data_problems"] == ["missing_date"]
    assert missing["problems_en"] == "submission date missing"
    assert pd.isna(missing["days_khural_approved"])
    assert pd.isna(missing["days_submitted"])
    assert missing["total_days"] == 203  # still measurable from proposal to decision
    extra = rows["LC-extra"]
    assert extra["data_problems"] == ["date_beyond_status"]
    assert extra["problems_en"] == (
        "Khural approval date (2026-02-10) is filled in but the status is 'Proposed'"
    )
    assert extra["days_in_step"] == 28  # proposed on 1 Feb, still proposed on 1 Mar
    future = rows["LC-future"]
    assert future["data_problems"] == ["future_date"]
    assert future["problems_en"] == "proposal date (2026-03-02) is in the future"
    assert future["days_in_step"] == -1


def test_pipeline_summary_per_step() -> None:
    frame = pipeline(
        lcs(
            f.land_conclusion("LC-1"),  # 40, 22, 141; total 203
            waiting("LC-late", "submitted", dt.date(2026, 1, 15)),  # 20, 10, 45 so far
            waiting("LC-review", "under_review", dt.date(2025, 12, 1)),  # 20, 10, 90 so far
            # proposed 1 Feb: 28 days so far
            f.proposed_land_conclusion("LC-new", proposed_on=dt.date(2026, 2, 1)),
        ),
        today=TODAY,
        limits=LIMITS,
    )
    summary = pipeline_summary(frame).set_index("step")
    assert summary.index.tolist() == ["proposed", "khural_approved", "submitted", "total"]
    proposed = summary.loc["proposed"]
    assert (proposed["count"], proposed["median_days"], proposed["max_days"]) == (4, 24.0, 40)
    assert (proposed["waiting"], proposed["delayed"]) == (1, 0)
    khural = summary.loc["khural_approved"]
    assert (khural["count"], khural["median_days"], khural["max_days"]) == (3, 10.0, 22)
    assert khural["waiting"] == 0
    at_mrpam = summary.loc["submitted"]
    assert (at_mrpam["count"], at_mrpam["median_days"], at_mrpam["max_days"]) == (3, 90.0, 141)
    # 90 days under review > 60 and 45 days submitted > 30: both delayed
    assert (at_mrpam["waiting"], at_mrpam["delayed"]) == (2, 2)
    total = summary.loc["total"]
    assert (total["count"], total["median_days"], total["max_days"]) == (1, 203.0, 203)
    assert at_mrpam["label_en"] == "At MRPAM (submitted, under review)"
    assert proposed["label_mn"] == "Санал болгосон"


def test_pipeline_refuses_bad_limits() -> None:
    frame = lcs(f.land_conclusion())
    with pytest.raises(ValueError, match="unknown status 'reviewing'"):
        pipeline(frame, today=TODAY, limits={"reviewing": 10})
    with pytest.raises(ValueError, match="limit for 'submitted' must be a whole number"):
        pipeline(frame, today=TODAY, limits={"submitted": -5})


def test_default_settings_are_accepted_as_limits() -> None:
    settings = AnalysisSettings()  # type: ignore[call-arg]
    table = pipeline(
        lcs(waiting("LC-late", "submitted", dt.date(2026, 1, 15))),
        today=TODAY,
        limits=settings.pipeline_limit_days,
        allowed_requesters=settings.allowed_requesters,
    )
    assert table["delayed"].tolist() == [True]


# --------------------------------------------------------------------------------------- CLI


@pytest.fixture
def lifecycle_store(store: Store) -> Store:
    """Two Land Conclusions and five contracts whose answers are worked out above."""
    store.write(
        {
            "land_conclusions": lcs(
                f.land_conclusion("LC-1"),
                waiting("LC-2", "submitted", dt.date(2026, 1, 15), requested_by="aimag"),
            ),
            "contract_parcels": parcels(
                f.parcel("P-1", expires_on=IN_10, contract_no="C-1"),
                f.parcel("P-2", expires_on=IN_60, holder="Хас Булаг хоршоо", contract_no="C-2"),
                f.parcel("P-3", expires_on=IN_61, contract_no="C-3"),
                f.parcel("P-4", expires_on=dt.date(2026, 2, 20), contract_no="C-4"),
                f.parcel("P-5", status="expired", expires_on=IN_10, contract_no="C-5"),
            ),
            "rehab_zones": zones(
                f.rehab_zone("R-1", parcel_id="P-1", stage="required", due_on=dt.date(2026, 2, 1)),
                f.rehab_zone(
                    "R-2",
                    parcel_id="P-2",
                    holder="Хас Булаг хоршоо",
                    stage="accepted",
                    accepted_on=dt.date(2025, 12, 1),
                ),
            ),
        }
    )
    return store


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_expiring_json(lifecycle_store: Store) -> None:
    text = cli(
        "expiring", "--db", lifecycle_store.location, "--today", "2026-03-01", "--format", "json"
    )
    data = orjson.loads(text)
    assert data["today"] == "2026-03-01"
    assert data["days"] == 60
    rows = {r["id"]: r for r in data["expiring"]}
    assert list(rows) == ["P-1", "P-2"]
    assert rows["P-1"]["expires_on"] == "2026-03-11"
    assert rows["P-1"]["days_left"] == 10
    assert rows["P-1"]["renewal_eligible"] is False
    assert rows["P-1"]["blocking_zones"] == ["R-1"]
    assert rows["P-1"]["overdue_zones"] == ["R-1"]
    assert "R-1 (Rehabilitation required, overdue, due 2026-02-01)" in rows["P-1"]["reason_en"]
    assert rows["P-2"]["renewal_eligible"] is True
    assert rows["P-2"]["days_left"] == 60
    [late] = data["overdue"]
    assert (late["id"], late["expires_on"], late["days_overdue"]) == ("P-4", "2026-02-20", 9)


def test_cli_expiring_days_option_and_csv(lifecycle_store: Store) -> None:
    text = cli(
        "expiring", "--db", lifecycle_store.location, "--today", "2026-03-01", "--days", "61",
        "--format", "csv",
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["list"], r["id"]) for r in rows] == [
        ("expiring", "P-1"),
        ("expiring", "P-2"),
        ("expiring", "P-3"),
        ("overdue", "P-4"),
    ]
    assert rows[0]["blocking_zones"] == "R-1"
    assert rows[2]["days_left"] == "61"
    assert rows[3]["days_left"] == "-9"


def test_cli_expiring_table_is_bilingual(lifecycle_store: Store) -> None:
    text = cli("expiring", "--db", lifecycle_store.location, "--today", "2026-03-01")
    for words in ("Эзэмшигч", "Holder", "Хүчинтэй", "Active", "Татгалзана / Refused", "P-4"):
        assert words in text


def test_cli_pipeline_json(lifecycle_store: Store) -> None:
    text = cli(
        "pipeline", "--db", lifecycle_store.location, "--today", "2026-03-01", "--format", "json"
    )
    data = orjson.loads(text)
    assert data["today"] == "2026-03-01"
    rows = {r["id"]: r for r in data["land_conclusions"]}
    assert rows["LC-1"]["days_proposed"] == 40
    assert rows["LC-1"]["days_submitted"] == 141
    assert rows["LC-1"]["decided_on"] == "2024-09-20"
    assert rows["LC-1"]["days_in_step"] is None
    assert rows["LC-2"]["current_step"] == "submitted"
    assert rows["LC-2"]["waiting_since"] == "2026-01-15"
    assert rows["LC-2"]["days_in_step"] == 45
    assert rows["LC-2"]["delayed"] is True
    steps = {s["step"]: s for s in data["summary"]}
    assert steps["submitted"]["waiting"] == 1
    assert steps["submitted"]["delayed"] == 1
    assert steps["total"]["median_days"] == 203.0


def test_cli_pipeline_reads_allowed_requesters_from_the_environment(
    lifecycle_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAZAR_ALLOWED_REQUESTERS", '["soum"]')
    text = cli(
        "pipeline", "--db", lifecycle_store.location, "--today", "2026-03-01", "--format", "json"
    )
    rows = {r["id"]: r for r in orjson.loads(text)["land_conclusions"]}
    assert rows["LC-1"]["data_problems"] == []
    assert rows["LC-2"]["data_problems"] == ["requester_not_allowed"]


def test_cli_pipeline_table_is_bilingual(lifecycle_store: Store) -> None:
    text = cli("pipeline", "--db", lifecycle_store.location, "--today", "2026-03-01")
    for words in ("АМГТГ-т илгээсэн", "Submitted to MRPAM", "Хоцорсон / Delayed", "Median days"):
        assert words in text


def test_cli_refuses_a_bad_date(lifecycle_store: Store) -> None:
    result = runner.invoke(
        app, ["pipeline", "--db", lifecycle_store.location, "--today", "2026-02-30"]
    )
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output
