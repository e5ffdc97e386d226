"""What allocation says: application statuses, reasons, eligibility results and local days.

The labels and message templates are in ``layers/catalogue/allocation.toml`` (groups
``application_status``, ``reason_title``, ``reason_message``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd

from geo.rules import RULES
from layers.labels import LABELS, messages

#: Application statuses.
APPLICATION_STATUSES: Final = ("pending", "ineligible", "approved", "rejected")

#: Application statuses as a person reads them (Mongolian, English).
STATUS_LABELS: Final[dict[str, tuple[str, str]]] = {
    s: LABELS["application_status"][s] for s in APPLICATION_STATUSES
}

#: Decision outcomes.
OUTCOMES: Final = ("approve", "reject")

#: The reasons allocation gives (the review's rule codes are used as they are).
REASON_TITLES: Final[dict[str, tuple[str, str]]] = dict(LABELS["reason_title"])


@dataclass(frozen=True)
class Reason:
    """One reason an application is refused (or a note about it), in both languages."""

    code: str
    message_mn: str
    message_en: str
    #: the other features or applications the reason names
    ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, code: str, ids: tuple[str, ...] = (), /, **values: Any) -> Reason:
        """The reason ``code`` with its catalogue message (``reason_message``) filled in."""
        return cls(code, *messages("reason_message", code, **values), ids)

    def as_dict(self) -> dict[str, Any]:
        title = REASON_TITLES.get(self.code)
        if title is None and self.code in RULES:
            title = (RULES[self.code].title_mn, RULES[self.code].title_en)
        return {
            "code": self.code,
            "title_mn": title[0] if title else None,
            "title_en": title[1] if title else None,
            "message_mn": self.message_mn,
            "message_en": self.message_en,
            "ids": list(self.ids),
        }

    def __str__(self) -> str:
        return f"{self.message_mn} / {self.message_en}"


@dataclass(frozen=True)
class Eligibility:
    """The result of :func:`geo.allocation.checks`."""

    eligible: bool
    #: every failed check (empty when eligible)
    reasons: tuple[Reason, ...]
    #: warnings and information that do not refuse the application
    notes: tuple[Reason, ...] = ()
    #: pending applications this one competes with (same window, overlapping land)
    competing: tuple[str, ...] = ()
    official_ha: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "eligible": self.eligible,
            "reasons": [r.as_dict() for r in self.reasons],
            "notes": [r.as_dict() for r in self.notes],
            "competing": list(self.competing),
            "official_ha": self.official_ha,
        }


# ------------------------------------------------------------------------------------ time


def local_day(stamp: dt.datetime, *, utc_offset_hours: float) -> dt.date:
    """The local calendar day of a server timestamp (naive timestamps are read as UTC).

    Examples
    --------
    >>> local_day(dt.datetime(2026, 5, 1, 17, 30, tzinfo=dt.UTC), utc_offset_hours=8)
    datetime.date(2026, 5, 2)
    """
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return (stamp.astimezone(dt.UTC) + dt.timedelta(hours=utc_offset_hours)).date()


def objection_until(filed_on: dt.date, *, days: int) -> dt.date:
    """The last local day objections may be filed for an application filed on ``filed_on``.

    Examples
    --------
    >>> objection_until(dt.date(2026, 5, 1), days=21)
    datetime.date(2026, 5, 22)
    """
    return filed_on + dt.timedelta(days=days)


def add_years(day: dt.date, years: int) -> dt.date:
    """``day`` plus whole years (29 February becomes 28 February in a common year).

    Examples
    --------
    >>> add_years(dt.date(2024, 2, 29), 3)
    datetime.date(2027, 2, 28)
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def stamps(values: pd.Series) -> pd.Series:
    """ISO timestamps as UTC datetime64 (NaT where unreadable)."""
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def local_days(values: pd.Series, utc_offset_hours: float) -> pd.Series:
    """The local calendar day (midnight, naive) of each ISO timestamp."""
    local = stamps(values) + pd.Timedelta(hours=utc_offset_hours)
    return local.dt.tz_localize(None).dt.normalize()
