"""The Land Conclusion pipeline: days in each step, delays and data problems.

See :mod:`geo.lifecycle`; the labels and problem texts are in
``layers/catalogue/lifecycle.toml``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.lifecycle.common import as_dates, date_stamps, day_of, days_between, iso, join, require
from geo.templates import PairValue, fill_pair
from layers.labels import LABELS, Lang, label, pair, pick

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

#: codes of the data problems ``pipeline`` reports, in the order they are listed
PROBLEMS: Final = (
    "requester_not_allowed",
    "dates_out_of_order",
    "missing_date",
    "date_beyond_status",
    "future_date",
)

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
    >>> lcs = pd.DataFrame({"id": ["LC-1"], "name": ["Baruun am"], "soum_code": ["MN4322"],
    ...     "requested_by": ["soum"], "status": ["submitted"],
    ...     "proposed_on": [dt.date(2026, 1, 1)], "khural_approved_on": [dt.date(2026, 1, 11)],
    ...     "submitted_on": [dt.date(2026, 1, 15)], "decided_on": [None]})
    >>> row = pipeline(lcs, today=dt.date(2026, 3, 1), limits={"submitted": 30}).iloc[0]
    >>> int(row.days_proposed), int(row.days_khural_approved), int(row.days_in_step)
    (10, 4, 45)
    >>> bool(row.delayed)
    True
    """
    day = day_of(today)
    limit_of = _check_limits(limits)
    allowed = set(allowed_requesters)
    require(
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
    dates = pd.DataFrame({c: date_stamps(lcs, c, "Land Conclusion") for c in STEP_DATES})

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
        table[c] = as_dates(dates[c])

    # days per step: closed steps end on the next date, the current one on today
    not_yet = pd.Series(pd.NaT, index=dates.index, dtype="datetime64[s]")
    for k, step in enumerate(STEPS):
        end = dates[STEP_DATES[k + 1]].where(reached > k, not_yet)
        end = end.where(reached != k, now)
        table[f"days_{step}"] = days_between(end, dates[STEP_DATES[k]])
    decided = reached == len(STEPS)
    table["total_days"] = days_between(
        dates["decided_on"].where(decided, now), dates["proposed_on"]
    )

    current = np.minimum(reached, len(STEPS) - 1)
    table["current_step"] = status.astype(object).where(~decided, None)
    since = pd.Series(
        dates.to_numpy()[np.arange(len(dates)), current], index=dates.index, dtype="datetime64[s]"
    ).where(~decided, not_yet)
    table["waiting_since"] = as_dates(since)
    table["days_in_step"] = days_between(
        pd.Series(now, index=dates.index).where(~decided, not_yet), since
    )
    table["limit_days"] = status.map(limit_of).where(~decided).astype("Int64")
    table["delayed"] = (table["days_in_step"] > table["limit_days"]).fillna(False).astype(bool)

    masks, texts_mn, texts_en = _problems(table, dates, reached, allowed=allowed, now=now)
    codes = np.array(PROBLEMS, dtype=object)
    flags = masks.to_numpy(dtype=bool)
    table["data_problems"] = [list(codes[row]) for row in flags]
    table["problems_mn"] = join(texts_mn)
    table["problems_en"] = join(texts_en)
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

    def problem(mask: pd.Series | npt.NDArray[np.bool_], code: str, **values: PairValue) -> None:
        """Explain problem ``code`` (catalogue group ``pipeline_problem``) where ``mask``."""
        say(mask, *fill_pair("pipeline_problem", code, index, **values))

    who = table["requested_by"].astype("string").fillna("")
    not_allowed = ~who.isin(list(allowed))
    allowed_mn = ", ".join(label("requested_by", a, "mn") for a in sorted(allowed)) or "—"
    allowed_en = ", ".join(label("requested_by", a, "en") for a in sorted(allowed)) or "—"
    who_mn = who.map(lambda v: label("requested_by", v, "mn") if v else "—")
    who_en = who.map(lambda v: label("requested_by", v, "en") if v else "—")
    problem(
        not_allowed, "requester_not_allowed", who=(who_mn, who_en), allowed=(allowed_mn, allowed_en)
    )

    out_of_order = pd.Series(False, index=index)
    dates_iso = {c: iso(dates[c]) for c in STEP_DATES}
    for k, later in enumerate(STEP_DATES):
        for earlier in STEP_DATES[:k]:
            bad = (dates[later] < dates[earlier]).fillna(False).astype(bool)
            out_of_order |= bad
            problem(
                bad,
                "dates_out_of_order",
                later=pair("step_date", later),
                later_date=dates_iso[later],
                earlier=pair("step_date", earlier),
                earlier_date=dates_iso[earlier],
            )

    missing = pd.Series(False, index=index)
    beyond = pd.Series(False, index=index)
    status = (
        table["status"].map(lambda s: label("land_conclusion_status", s, "mn")),
        table["status"].map(lambda s: label("land_conclusion_status", s, "en")),
    )
    for k, column in enumerate(STEP_DATES):
        empty = dates[column].isna().to_numpy()
        step = pair("step_date", column)
        gone = (reached >= k) & empty
        extra = (reached < k) & ~empty
        missing |= gone
        beyond |= extra
        problem(gone, "missing_date", step=step)
        problem(extra, "date_beyond_status", step=step, date=dates_iso[column], status=status)

    future = pd.Series(False, index=index)
    for column in STEP_DATES:
        ahead = (dates[column] > now).fillna(False).astype(bool)
        future |= ahead
        problem(ahead, "future_date", step=pair("step_date", column), date=dates_iso[column])

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


def _step_label(step: str, lang: Lang) -> str:
    if step in LABELS["pipeline_step"]:
        return pick(pair("pipeline_step", step), lang)
    return label("land_conclusion_status", step, lang)


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
    require(
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
