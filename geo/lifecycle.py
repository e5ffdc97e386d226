"""Contract lifecycle and the Land Conclusion pipeline: what expires, what is late, what waits.

Contracts for ASM parcels are short (often a year) and must be renewed; renewal is refused while
the holder's rehabilitation is outstanding. Land Conclusions pass through steps (proposal, Khural
approval, submission to MRPAM, decision) whose delays are a known pain point. The functions here
take layer frames (``contract_parcels``, ``rehab_zones``, ``land_conclusions`` as the store returns
them: date columns hold ``datetime.date`` or ``None``) and return plain DataFrames. No I/O.

Rules chosen where the brief left a choice (see ``../shared/domain.md``):

* A contract is *open* while its status is ``active`` or ``suspended``: a suspension pauses work,
  not the term, so a suspended contract still expires and still needs renewing.
* A rehabilitation zone belongs to a contract when its ``parcel_id`` is the contract's ``id``, or,
  for a legacy zone with no ``parcel_id``, when its ``holder`` is the contract's holder (compared
  after trimming, collapsing white space and ignoring case). A zone on the holder's *other*
  parcel blocks the renewal of that other contract, not of this one.
* Every zone not yet ``accepted`` by the commission blocks renewal; those past ``due_on`` are
  called overdue in the reason.
* The Land Conclusion dates do not include the start of MRPAM's review, so the ``submitted`` and
  ``under_review`` statuses share one step, from ``submitted_on`` to ``decided_on``; each status
  still has its own waiting limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from layers.labels import LABELS, label

#: contract statuses whose term is still running (suspended contracts keep their end date)
OPEN_CONTRACT: Final = ("active", "suspended")

#: Land Conclusion steps in order, each with the date it starts on
STEPS: Final = ("proposed", "khural_approved", "submitted")
STEP_DATES: Final = ("proposed_on", "khural_approved_on", "submitted_on", "decided_on")

#: how many steps a Land Conclusion of each status has reached (3: decided)
_REACHED: Final[dict[str, int]] = {
    "proposed": 0,
    "khural_approved": 1,
    "submitted": 2,
    "under_review": 2,
    "issued": 3,
    "rejected": 3,
    "revoked": 3,
    "expired": 3,
}

#: the step dates as a person reads them
_DATE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "proposed_on": ("Санал болгосон огноо", "proposal date"),
    "khural_approved_on": ("Хурлаар баталсан огноо", "Khural approval date"),
    "submitted_on": ("АМГТГ-т илгээсэн огноо", "submission date"),
    "decided_on": ("Шийдвэрийн огноо", "decision date"),
}

#: codes of the data problems ``pipeline`` reports, in the order they are listed
PROBLEMS: Final = (
    "requester_not_allowed",
    "dates_out_of_order",
    "missing_date",
    "date_beyond_status",
    "future_date",
)

EXPIRING_COLUMNS: Final = [
    "id",
    "holder",
    "contract_no",
    "land_conclusion_id",
    "status",
    "expires_on",
    "days_left",
    "renewal_eligible",
    "blocking_zones",
    "overdue_zones",
    "reason_mn",
    "reason_en",
]

OVERDUE_COLUMNS: Final = [
    "id",
    "holder",
    "contract_no",
    "land_conclusion_id",
    "status",
    "expires_on",
    "days_overdue",
    "reason_mn",
    "reason_en",
]

PIPELINE_COLUMNS: Final = [
    "id",
    "name",
    "soum_code",
    "requested_by",
    "status",
    *STEP_DATES,
    "days_proposed",
    "days_khural_approved",
    "days_submitted",
    "total_days",
    "current_step",
    "waiting_since",
    "days_in_step",
    "limit_days",
    "delayed",
    "data_problems",
    "problems_mn",
    "problems_en",
]

SUMMARY_COLUMNS: Final = [
    "step",
    "label_mn",
    "label_en",
    "count",
    "median_days",
    "max_days",
    "waiting",
    "delayed",
]


# ----------------------------------------------------------------------------------- helpers


def _require(frame: pd.DataFrame, columns: Collection[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {', '.join(missing)}")


def _day(today: dt.date) -> dt.date:
    if isinstance(today, dt.datetime):
        return today.date()
    if not isinstance(today, dt.date):
        raise ValueError(f"today must be a date, not {today!r}")
    return today


def _stamps(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """A date column as datetime64 (NaT where empty); a value that is no date is refused."""
    values = frame[column]
    stamps = pd.to_datetime(values, errors="coerce")
    empty = values.isna() | values.astype("string").str.strip().eq("").fillna(False)
    bad = stamps.isna() & ~empty
    if bad.any():
        at = int(np.flatnonzero(bad.to_numpy())[0])
        fid = frame["id"].iloc[at] if "id" in frame.columns else at
        raise ValueError(f"{what} {fid}: {column} {values.iloc[at]!r} is not a date")
    return stamps.astype("datetime64[s]")


def _days_between(later: pd.Series, earlier: pd.Series | pd.Timestamp) -> pd.Series:
    return (later - earlier).dt.days.astype("Int64")


def _as_dates(stamps: pd.Series) -> pd.Series:
    """datetime64 back to ``datetime.date`` objects, ``None`` where empty."""
    dates = stamps.dt.date.astype(object)
    return dates.where(stamps.notna(), None)


def _iso(stamps: pd.Series) -> pd.Series:
    return stamps.dt.strftime("%Y-%m-%d").fillna("")


def _holder_key(names: pd.Series) -> pd.Series:
    """Holder names compared as a person would: trimmed, single-spaced, case ignored."""
    text = names.astype("string").str.strip().str.replace(r"\s+", " ", regex=True)
    return text.str.casefold()


def _empty_text(values: pd.Series) -> pd.Series:
    return values.isna() | values.astype("string").str.strip().eq("").fillna(True)


def _join(parts: list[pd.Series], sep: str = "; ") -> pd.Series:
    """Row-wise join of the non-empty strings of several Series (vectorised)."""
    if not parts:
        return pd.Series(dtype=object)
    acc = pd.Series("", index=parts[0].index, dtype=object)
    for part in parts:
        text = part.fillna("").astype(str)
        glue = np.where((acc != "") & (text != ""), sep, "")
        acc = acc + glue + text
    return acc


def _open_contracts(parcels: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    _require(
        parcels,
        ["id", "holder", "contract_no", "land_conclusion_id", "status", "expires_on"],
        "contract_parcels",
    )
    open_ = parcels[parcels["status"].isin(OPEN_CONTRACT)]
    table = pd.DataFrame(
        {
            "id": open_["id"].astype(str).to_numpy(),
            "holder": open_["holder"].to_numpy(),
            "contract_no": open_["contract_no"].to_numpy(),
            "land_conclusion_id": open_["land_conclusion_id"].to_numpy(),
            "status": open_["status"].astype(str).to_numpy(),
            "ends": _stamps(open_, "expires_on", "contract").to_numpy(),
        }
    )
    table["days_left"] = _days_between(table["ends"], pd.Timestamp(today))
    return table


# ----------------------------------------------------------------------------------- contracts


def _blocking(contracts: pd.DataFrame, zones: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """One row per (contract, zone not accepted): the zones that block each contract's renewal."""
    _require(zones, ["id", "parcel_id", "holder", "stage", "due_on"], "rehab_zones")
    open_ = zones[zones["stage"].astype("string").fillna("") != "accepted"]
    z = pd.DataFrame(
        {
            "zone": open_["id"].astype(str).to_numpy(),
            "parcel_id": open_["parcel_id"].astype("string").str.strip().to_numpy(),
            "holder_key": _holder_key(open_["holder"]).to_numpy(),
            "stage": open_["stage"].astype(str).to_numpy(),
            "due": _stamps(open_, "due_on", "rehab zone").to_numpy(),
            "legacy": _empty_text(open_["parcel_id"]).to_numpy(),
        }
    )
    c = pd.DataFrame({"id": contracts["id"], "holder_key": _holder_key(contracts["holder"])})
    by_parcel = c[["id"]].merge(z[~z["legacy"]], left_on="id", right_on="parcel_id")
    named = z["holder_key"].fillna("") != ""  # a nameless legacy zone belongs to nobody
    by_holder = c.merge(z[z["legacy"] & named], on="holder_key")
    keep = ["id", "zone", "stage", "due", "legacy"]
    pairs = pd.concat([by_parcel[keep], by_holder[keep]], ignore_index=True)
    pairs = pairs.drop_duplicates(["id", "zone"])
    pairs["overdue"] = (pairs["due"] < pd.Timestamp(today)).fillna(False).astype(bool)
    return pairs.sort_values(["id", "due", "zone"], na_position="last", ignore_index=True)


def _zone_notes(pairs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each blocking zone named with its stage and due date, in Mongolian and in English."""
    due = _iso(pairs["due"])
    stage_mn = pairs["stage"].map(lambda s: label("rehab_stage", s, "mn"))
    stage_en = pairs["stage"].map(lambda s: label("rehab_stage", s, "en"))
    undated = pairs["due"].isna().to_numpy()
    overdue = pairs["overdue"].to_numpy(dtype=bool)
    legacy = pairs["legacy"].to_numpy(dtype=bool)

    def text(values: npt.NDArray[np.str_]) -> pd.Series:
        return pd.Series(values, index=pairs.index, dtype=object)

    deadline_mn = "эцсийн хугацаа " + due
    when_mn = text(
        np.where(
            undated,
            "эцсийн хугацаагүй",
            np.where(overdue, "хугацаа хэтэрсэн, " + deadline_mn, deadline_mn),
        )
    )
    when_en = text(
        np.where(undated, "no due date", np.where(overdue, "overdue, due " + due, "due " + due))
    )
    legacy_mn = text(np.where(legacy, ", эзэмшигчийн хуучин бүс", ""))
    legacy_en = text(np.where(legacy, ", legacy zone of the holder", ""))
    mn = pairs["zone"] + " (" + stage_mn + ", " + when_mn + legacy_mn + ")"
    en = pairs["zone"] + " (" + stage_en + ", " + when_en + legacy_en + ")"
    return mn, en


def expiring(
    parcels: pd.DataFrame,
    rehab_zones: pd.DataFrame,
    *,
    today: dt.date,
    days: int = 60,
) -> pd.DataFrame:
    """Open contracts ending within ``days`` of ``today``, each with whether it may be renewed.

    A contract is listed when its status is ``active`` or ``suspended`` and ``expires_on`` lies
    in ``[today, today + days]`` (both ends included). Renewal is refused while any
    rehabilitation zone of the contract is not accepted by the commission; the zones are those
    whose ``parcel_id`` is the contract's id, plus the holder's legacy zones (no ``parcel_id``)
    matched by holder name. The reason names each blocking zone with its stage label and due
    date, and says which are overdue (``due_on`` before ``today``).

    Parameters
    ----------
    parcels
        The ``contract_parcels`` layer (geometry not used).
    rehab_zones
        The ``rehab_zones`` layer (geometry not used).
    today
        The day the window starts on.
    days
        Length of the window in days (``AnalysisSettings.expiring_days``), at least 0.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, holder, contract_no, land_conclusion_id, status, expires_on`` (a date),
        ``days_left`` (Int64), ``renewal_eligible`` (bool), ``blocking_zones`` and
        ``overdue_zones`` (lists of zone ids), ``reason_mn``, ``reason_en``; soonest first.

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> parcels = pd.DataFrame({"id": ["P-1"], "holder": ["Хас"], "contract_no": ["C-1"],
    ...     "land_conclusion_id": ["LC-1"], "status": ["active"],
    ...     "expires_on": [dt.date(2026, 3, 11)]})
    >>> zones = pd.DataFrame({"id": ["R-1"], "parcel_id": ["P-1"], "holder": ["Хас"],
    ...     "stage": ["required"], "due_on": [dt.date(2026, 2, 1)]})
    >>> row = expiring(parcels, zones, today=dt.date(2026, 3, 1)).iloc[0]
    >>> int(row.days_left), bool(row.renewal_eligible), row.blocking_zones
    (10, False, ['R-1'])
    >>> row.reason_en
    'Renewal refused: rehabilitation not accepted in 1 zone(s): R-1 (Rehabilitation required, overdue, due 2026-02-01)'
    """  # noqa: E501
    day = _day(today)
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 0:
        raise ValueError(f"days must be a whole number >= 0, not {days!r}")
    contracts = _open_contracts(parcels, day)
    soon = contracts[contracts["days_left"].between(0, int(days)).fillna(False).astype(bool)]
    soon = soon.sort_values(["ends", "id"], ignore_index=True)

    pairs = _blocking(soon, rehab_zones, day)
    pairs["note_mn"], pairs["note_en"] = _zone_notes(pairs)
    grouped = pairs.groupby("id", sort=False)
    blocking = grouped["zone"].agg(list)
    overdue = pairs[pairs["overdue"]].groupby("id", sort=False)["zone"].agg(list)
    notes_mn = grouped["note_mn"].agg(", ".join)
    notes_en = grouped["note_en"].agg(", ".join)

    table = soon[["id", "holder", "contract_no", "land_conclusion_id", "status"]].copy()
    table["expires_on"] = _as_dates(soon["ends"])
    table["days_left"] = soon["days_left"]
    zones_of = table["id"].map(blocking)
    table["blocking_zones"] = [z if isinstance(z, list) else [] for z in zones_of]
    table["overdue_zones"] = [z if isinstance(z, list) else [] for z in table["id"].map(overdue)]
    count = table["blocking_zones"].map(len)
    table["renewal_eligible"] = (count == 0).astype(bool)
    n = count.astype(str)
    table["reason_mn"] = np.where(
        table["renewal_eligible"],
        "Сунгах боломжтой: хүлээн аваагүй нөхөн сэргээлтийн бүс байхгүй",
        "Сунгахаас татгалзана: "
        + n
        + " бүсийн нөхөн сэргээлтийг комисс хүлээн аваагүй: "
        + table["id"].map(notes_mn).astype(object).fillna(""),
    )
    table["reason_en"] = np.where(
        table["renewal_eligible"],
        "Renewal possible: no rehabilitation zone awaits acceptance",
        "Renewal refused: rehabilitation not accepted in "
        + n
        + " zone(s): "
        + table["id"].map(notes_en).astype(object).fillna(""),
    )
    return table[EXPIRING_COLUMNS].reset_index(drop=True)


def overdue_contracts(parcels: pd.DataFrame, *, today: dt.date) -> pd.DataFrame:
    """Contracts whose record is still open (``active``/``suspended``) after ``expires_on``.

    The term ended but nobody recorded the expiry or the renewal: the register needs updating
    and the holder may be working without a valid contract. ``expires_on`` is the last valid
    day, so a contract ending today is not overdue (``expiring`` lists it with 0 days left).

    Returns
    -------
    pandas.DataFrame
        Columns ``id, holder, contract_no, land_conclusion_id, status, expires_on``,
        ``days_overdue`` (Int64, at least 1), ``reason_mn``, ``reason_en``; longest overdue first.

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> parcels = pd.DataFrame({"id": ["P-1"], "holder": ["Хас"], "contract_no": ["C-1"],
    ...     "land_conclusion_id": ["LC-1"], "status": ["active"],
    ...     "expires_on": [dt.date(2026, 2, 20)]})
    >>> int(overdue_contracts(parcels, today=dt.date(2026, 3, 1)).days_overdue.iloc[0])
    9
    """
    day = _day(today)
    contracts = _open_contracts(parcels, day)
    late = contracts[(contracts["days_left"] < 0).fillna(False).astype(bool)]
    late = late.sort_values(["ends", "id"], ignore_index=True)
    table = late[["id", "holder", "contract_no", "land_conclusion_id", "status"]].copy()
    table["expires_on"] = _as_dates(late["ends"])
    table["days_overdue"] = -late["days_left"]
    ends = _iso(late["ends"])
    n = table["days_overdue"].astype(str)
    status_mn = table["status"].map(lambda s: label("contract_status", s, "mn"))
    status_en = table["status"].map(lambda s: label("contract_status", s, "en"))
    table["reason_mn"] = (
        "Гэрээний хугацаа "
        + ends
        + "-нд дууссан ("
        + n
        + " хоногийн өмнө) боловч төлөв нь '"
        + status_mn
        + "' хэвээр байна"
    )
    table["reason_en"] = (
        "The contract ended on "
        + ends
        + " ("
        + n
        + " days ago) but is still recorded as '"
        + status_en
        + "'"
    )
    return table[OVERDUE_COLUMNS].reset_index(drop=True)


# ----------------------------------------------------------------------------------- pipeline


def _check_limits(limits: Mapping[str, int]) -> dict[str, int]:
    known = set(_REACHED)
    checked: dict[str, int] = {}
    for status, limit in limits.items():
        if status not in known:
            raise ValueError(
                f"pipeline limit for unknown status {status!r}; "
                f"the statuses are: {', '.join(_REACHED)}"
            )
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
            raise ValueError(f"pipeline limit for {status!r} must be a whole number >= 0")
        checked[status] = int(limit)
    return checked


def pipeline(
    land_conclusions: pd.DataFrame,
    *,
    today: dt.date,
    limits: Mapping[str, int],
    allowed_requesters: Collection[str] = tuple(LABELS["requested_by"]),
) -> pd.DataFrame:
    """Days each Land Conclusion spent in each step, the delayed ones and the data problems.

    Steps and the dates that bound them: ``proposed`` (``proposed_on`` to
    ``khural_approved_on``), ``khural_approved`` (to ``submitted_on``) and ``submitted`` — at
    MRPAM, submitted or under review — (to ``decided_on``). The step a Land Conclusion is in
    (from its status) runs until ``today``; steps it has not reached are empty. A Land
    Conclusion is ``delayed`` when it has waited in its current step longer than
    ``limits[status]`` days (a status without a limit is never delayed).

    ``data_problems`` lists codes from ``PROBLEMS``: ``requested_by`` not in
    ``allowed_requesters``; a later step dated before an earlier one; the date of a step the
    status has reached missing; a date for a step the status has not reached; a step date after
    ``today``. ``problems_mn``/``problems_en`` explain them. Durations are computed from the
    dates as they are, so a step with misordered dates shows negative days.

    Parameters
    ----------
    land_conclusions
        The ``land_conclusions`` layer (geometry not used).
    today
        The day undecided steps run until.
    limits
        Days allowed per status (``AnalysisSettings.pipeline_limit_days``).
    allowed_requesters
        Who may submit (``AnalysisSettings.allowed_requesters``); default: soum and aimag.

    Returns
    -------
    pandas.DataFrame
        One row per Land Conclusion with ``PIPELINE_COLUMNS``: the identity columns, the four
        step dates (``datetime.date`` or ``None``), ``days_proposed``, ``days_khural_approved``,
        ``days_submitted``, ``total_days`` (proposal to decision or today), ``days_in_step``,
        ``limit_days`` (all Int64), ``current_step`` (the status, ``None`` once decided),
        ``waiting_since``, ``delayed`` (bool), ``data_problems`` (list), ``problems_mn``,
        ``problems_en``.

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> lcs = pd.DataFrame({"id": ["LC-1"], "name": ["Баруун ам"], "soum_code": ["MN4322"],
    ...     "requested_by": ["soum"], "status": ["submitted"],
    ...     "proposed_on": [dt.date(2026, 1, 1)], "khural_approved_on": [dt.date(2026, 1, 11)],
    ...     "submitted_on": [dt.date(2026, 1, 15)], "decided_on": [None]})
    >>> row = pipeline(lcs, today=dt.date(2026, 3, 1), limits={"submitted": 30}).iloc[0]
    >>> int(row.days_proposed), int(row.days_khural_approved), int(row.days_in_step)
    (10, 4, 45)
    >>> bool(row.delayed)
    True
    """
    day = _day(today)
    limit_of = _check_limits(limits)
    allowed = set(allowed_requesters)
    _require(
        land_conclusions,
        ["id", "name", "soum_code", "requested_by", "status", *STEP_DATES],
        "land_conclusions",
    )
    lcs = land_conclusions.reset_index(drop=True)
    status = lcs["status"].astype("string").fillna("")
    unknown = ~status.isin(list(_REACHED))
    if unknown.any():
        at = int(np.flatnonzero(unknown.to_numpy())[0])
        raise ValueError(
            f"Land Conclusion {lcs['id'].iloc[at]}: unknown status {status.iloc[at]!r}; "
            f"the statuses are: {', '.join(_REACHED)}"
        )
    reached = status.map(_REACHED).astype(int).to_numpy()
    now = pd.Timestamp(day)
    dates = pd.DataFrame({c: _stamps(lcs, c, "Land Conclusion") for c in STEP_DATES})

    table = pd.DataFrame(
        {
            "id": lcs["id"].astype(str),
            "name": lcs["name"],
            "soum_code": lcs["soum_code"],
            "requested_by": lcs["requested_by"],
            "status": status.astype(object),
        }
    )
    for c in STEP_DATES:
        table[c] = _as_dates(dates[c])

    # days per step: closed steps end on the next date, the current one on today
    not_yet = pd.Series(pd.NaT, index=dates.index, dtype="datetime64[s]")
    for k, step in enumerate(STEPS):
        end = dates[STEP_DATES[k + 1]].where(reached > k, not_yet)
        end = end.where(reached != k, now)
        table[f"days_{step}"] = _days_between(end, dates[STEP_DATES[k]])
    decided = reached == len(STEPS)
    table["total_days"] = _days_between(
        dates["decided_on"].where(decided, now), dates["proposed_on"]
    )

    current = np.minimum(reached, len(STEPS) - 1)
    table["current_step"] = status.astype(object).where(~decided, None)
    since = pd.Series(
        dates.to_numpy()[np.arange(len(dates)), current], index=dates.index, dtype="datetime64[s]"
    ).where(~decided, not_yet)
    table["waiting_since"] = _as_dates(since)
    table["days_in_step"] = _days_between(
        pd.Series(now, index=dates.index).where(~decided, not_yet), since
    )
    table["limit_days"] = status.map(limit_of).where(~decided).astype("Int64")
    table["delayed"] = (table["days_in_step"] > table["limit_days"]).fillna(False).astype(bool)

    masks, texts_mn, texts_en = _problems(table, dates, reached, allowed=allowed, now=now)
    codes = np.array(PROBLEMS, dtype=object)
    flags = masks.to_numpy(dtype=bool)
    table["data_problems"] = [list(codes[row]) for row in flags]
    table["problems_mn"] = _join(texts_mn)
    table["problems_en"] = _join(texts_en)
    return table[PIPELINE_COLUMNS]


def _problems(
    table: pd.DataFrame,
    dates: pd.DataFrame,
    reached: npt.NDArray[np.integer[Any]],
    *,
    allowed: set[str],
    now: pd.Timestamp,
) -> tuple[pd.DataFrame, list[pd.Series], list[pd.Series]]:
    """Masks per problem code, and the explanations in Mongolian and English."""
    mn: list[pd.Series] = []
    en: list[pd.Series] = []
    index = table.index
    blank = pd.Series("", index=index, dtype=object)

    def say(mask: pd.Series | npt.NDArray[np.bool_], text_mn: object, text_en: object) -> None:
        mn.append(blank.where(~np.asarray(mask, dtype=bool), text_mn))
        en.append(blank.where(~np.asarray(mask, dtype=bool), text_en))

    who = table["requested_by"].astype("string").fillna("")
    not_allowed = ~who.isin(list(allowed))
    allowed_mn = ", ".join(label("requested_by", a, "mn") for a in sorted(allowed)) or "—"
    allowed_en = ", ".join(label("requested_by", a, "en") for a in sorted(allowed)) or "—"
    who_mn = who.map(lambda v: label("requested_by", v, "mn") if v else "—")
    who_en = who.map(lambda v: label("requested_by", v, "en") if v else "—")
    say(
        not_allowed,
        "хүсэлт гаргагч '" + who_mn + "' зөвшөөрөгдөөгүй (зөвшөөрөгдсөн: " + allowed_mn + ")",
        "requested by '" + who_en + "', which is not allowed (allowed: " + allowed_en + ")",
    )

    out_of_order = pd.Series(False, index=index)
    iso = {c: _iso(dates[c]) for c in STEP_DATES}
    for k, later in enumerate(STEP_DATES):
        for earlier in STEP_DATES[:k]:
            bad = (dates[later] < dates[earlier]).fillna(False).astype(bool)
            out_of_order |= bad
            lm, le = _DATE_LABELS[later]
            em, ee = _DATE_LABELS[earlier]
            say(
                bad,
                f"огнооны дараалал буруу: {lm} ("
                + iso[later]
                + f") нь {em} ("
                + iso[earlier]
                + ")-аас өмнө",
                f"dates out of order: {le} ("
                + iso[later]
                + f") before {ee} ("
                + iso[earlier]
                + ")",
            )

    missing = pd.Series(False, index=index)
    beyond = pd.Series(False, index=index)
    status_mn = table["status"].map(lambda s: label("land_conclusion_status", s, "mn"))
    status_en = table["status"].map(lambda s: label("land_conclusion_status", s, "en"))
    for k, column in enumerate(STEP_DATES):
        empty = dates[column].isna().to_numpy()
        lm, le = _DATE_LABELS[column]
        gone = (reached >= k) & empty
        extra = (reached < k) & ~empty
        missing |= gone
        beyond |= extra
        say(gone, f"{lm} байхгүй", f"{le} missing")
        say(
            extra,
            f"{lm} (" + iso[column] + ") бөглөгдсөн боловч төлөв нь '" + status_mn + "'",
            f"{le} (" + iso[column] + ") is filled in but the status is '" + status_en + "'",
        )

    future = pd.Series(False, index=index)
    for column in STEP_DATES:
        ahead = (dates[column] > now).fillna(False).astype(bool)
        future |= ahead
        lm, le = _DATE_LABELS[column]
        say(
            ahead,
            f"{lm} (" + iso[column] + ") ирээдүйд байна",
            f"{le} (" + iso[column] + ") is in the future",
        )

    masks = pd.DataFrame(
        {
            "requester_not_allowed": not_allowed.to_numpy(dtype=bool),
            "dates_out_of_order": out_of_order.to_numpy(dtype=bool),
            "missing_date": missing.to_numpy(dtype=bool),
            "date_beyond_status": beyond.to_numpy(dtype=bool),
            "future_date": future.to_numpy(dtype=bool),
        },
        index=index,
    )[list(PROBLEMS)]
    return masks, mn, en


def _step_label(step: str, lang: str) -> str:
    if step == "submitted":
        if lang == "mn":
            return "АМГТГ-т (илгээсэн, хянагдаж буй)"
        return "At MRPAM (submitted, under review)"
    if step == "total":
        return "Нийт (санал → шийдвэр)" if lang == "mn" else "Total (proposal → decision)"
    return label("land_conclusion_status", step, "mn" if lang == "mn" else "en")


def pipeline_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per step: how many Land Conclusions spent time in it, the median and longest days.

    ``count``, ``median_days`` and ``max_days`` cover every Land Conclusion with a duration for
    the step — finished, or still waiting (its days so far) — leaving out negative durations
    (misordered dates, reported by ``pipeline``). ``waiting`` counts those in the step now and
    ``delayed`` those of them past their limit. The last row, ``total``, measures proposal to
    decision over the decided Land Conclusions.

    Parameters
    ----------
    frame
        The result of ``pipeline``.

    Returns
    -------
    pandas.DataFrame
        Columns ``SUMMARY_COLUMNS``; ``median_days`` is a float (NaN for an empty step).

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> lcs = pd.DataFrame({"id": ["A", "B"], "name": ["", ""], "soum_code": ["", ""],
    ...     "requested_by": ["soum", "soum"], "status": ["khural_approved", "issued"],
    ...     "proposed_on": [dt.date(2026, 1, 1), dt.date(2025, 1, 1)],
    ...     "khural_approved_on": [dt.date(2026, 1, 21), dt.date(2025, 1, 31)],
    ...     "submitted_on": [None, dt.date(2025, 2, 10)],
    ...     "decided_on": [None, dt.date(2025, 6, 10)]})
    >>> frame = pipeline(lcs, today=dt.date(2026, 3, 1), limits={})
    >>> row = pipeline_summary(frame).set_index("step").loc["proposed"]
    >>> int(row["count"]), float(row["median_days"]), int(row["max_days"]), int(row["waiting"])
    (2, 25.0, 30, 0)
    """
    _require(
        frame,
        ["status", "current_step", "delayed", "total_days", *(f"days_{s}" for s in STEPS)],
        "pipeline frame",
    )
    at_mrpam = {"submitted": ("submitted", "under_review")}
    rows = []
    current = frame["current_step"].astype("string")
    for step in (*STEPS, "total"):
        if step == "total":
            days = frame["total_days"][frame["current_step"].isna()]
            here = pd.Series(False, index=frame.index)
        else:
            days = frame[f"days_{step}"]
            here = current.isin(list(at_mrpam.get(step, (step,)))).fillna(False)
        days = days[(days >= 0).fillna(False)].astype("Int64")
        rows.append(
            {
                "step": step,
                "label_mn": _step_label(step, "mn"),
                "label_en": _step_label(step, "en"),
                "count": len(days),
                "median_days": float(days.median()) if len(days) else float("nan"),
                "max_days": days.max() if len(days) else pd.NA,
                "waiting": int(here.sum()),
                "delayed": int((here & frame["delayed"].astype(bool)).sum()),
            }
        )
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    summary["max_days"] = summary["max_days"].astype("Int64")
    return summary
