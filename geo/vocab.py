"""The vocabulary of Gazar: which features count, each idea defined once.

Every analysis asks the same few questions of the store's layers, and they must all answer
them the same way. This module is the one place they are answered:

``holds_land`` (:data:`HOLDS_LAND`)
    A contract parcel holds its land while its status is ``applied``, ``active`` or
    ``suspended``. A **suspended** contract still holds its land (it may be reinstated): it
    counts as allocated in ``geo.availability``, takes part in the overlap rules of
    ``geo.rules`` and the review of ``geo.review``, and blocks new applications in
    ``geo.allocation``. Expired and terminated contracts do not.
``open_contract`` (:data:`OPEN_CONTRACT`)
    A contract's term is running while its status is ``active`` or ``suspended`` (a
    suspension pauses work, not the term): it expires, needs renewing and is overdue once
    past ``expires_on`` (``geo.lifecycle``, ``CONTRACT_ACTIVE_PAST_EXPIRY``).
``in_force`` (:data:`IN_FORCE`)
    A Land Conclusion is in force while its status is ``issued`` and ``valid_until`` (the last
    valid day) is empty or not before ``today``. Parcels must lie in one; availability is
    computed inside each.
``lc_standing`` (:data:`LC_STANDING`)
    A Land Conclusion takes part in the overlap rules unless rejected, revoked or expired, or
    past ``valid_until`` (a proposal in progress already claims its land).
``rehab_accepted`` (:data:`REHAB_ACCEPTED`)
    A rehabilitation zone is done once its stage is ``accepted`` by the commission; every
    other zone blocks its land and the holder's renewals and applications.
``holder_key`` / ``holder_keys``
    Holder names compare trimmed, with runs of white space made one space and case ignored
    (``str.casefold``). A missing or blank name is ``""``, and ``""`` never matches anything:
    callers test ``key != ""`` before comparing (two nameless holders are not the same one).

Each predicate is a :class:`Live` (the values of one column kept or dropped, and an end-date
column), so the rule tables of ``geo.rules`` are built from the same objects.

Examples
--------
>>> import datetime as dt
>>> import pandas as pd
>>> parcels = pd.DataFrame({"status": ["active", "suspended", "expired", "applied"]})
>>> holds_land(parcels).tolist()
[True, True, False, True]
>>> holder_key("  Altan   Shijir ")
'altan shijir'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

#: Contract statuses whose parcels hold their land (allocated, overlap rules, applications).
HOLDING_STATUSES: Final = ("applied", "active", "suspended")
#: Contract statuses whose term is running (they expire and need renewing).
OPEN_STATUSES: Final = ("active", "suspended")
#: Contract statuses of a contract that has ended.
ENDED_STATUSES: Final = ("expired", "terminated")
#: The Land Conclusion status of one in force (with ``valid_until`` not past).
IN_FORCE_STATUS: Final = "issued"
#: Land Conclusion statuses that no longer claim land in the overlap rules.
LC_DEAD_STATUSES: Final = ("rejected", "revoked", "expired")
#: The rehabilitation stage the commission's acceptance ends with.
ACCEPTED_STAGE: Final = "accepted"

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Live:
    """Which features of a layer count: by the values of one column and an end date.

    ``keep``: the values of ``column`` kept (``None``: any); ``drop``: values left out;
    ``until``: a date column, features whose date is before ``today`` are left out (an empty
    date never ends).
    """

    column: str | None = None
    keep: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    until: str | None = None

    def mask(self, frame: pd.DataFrame, today: dt.date | None = None) -> BoolArray:
        """True for the rows of ``frame`` that count on ``today``.

        ``today`` may be left out only when there is no ``until`` column.

        Examples
        --------
        >>> parcels = pd.DataFrame({"status": ["active", "expired", "applied"]})
        >>> HOLDS_LAND.mask(parcels).tolist()
        [True, False, True]
        """
        ok = np.ones(len(frame), dtype=bool)
        if self.column is not None:
            values = text_values(column_of(frame, self.column))
            if self.keep is not None:
                ok &= np.isin(values, self.keep)
            if self.drop:
                ok &= ~np.isin(values, self.drop)
        if self.until is not None:
            if today is None:
                raise ValueError(f"a date is needed to compare '{self.until}' with")
            ok &= ~before(column_of(frame, self.until), today)
        return ok


#: Contract parcels that hold their land.
HOLDS_LAND: Final = Live("status", keep=HOLDING_STATUSES)
#: Contracts whose term is running.
OPEN_CONTRACT: Final = Live("status", keep=OPEN_STATUSES)
#: Land Conclusions in force.
IN_FORCE: Final = Live("status", keep=(IN_FORCE_STATUS,), until="valid_until")
#: Land Conclusions that take part in the overlap rules.
LC_STANDING: Final = Live("status", drop=LC_DEAD_STATUSES, until="valid_until")
#: Rehabilitation zones not yet accepted by the commission.
REHAB_OPEN: Final = Live("stage", drop=(ACCEPTED_STAGE,))
#: Licences not past ``expires_on``.
LICENCE_IN_FORCE: Final = Live(until="expires_on")


def holds_land(parcels: pd.DataFrame) -> BoolArray:
    """Which contract parcels hold their land (status applied, active or suspended).

    Parameters
    ----------
    parcels : DataFrame
        ``contract_parcels`` rows with a ``status`` column.

    Returns
    -------
    numpy.ndarray of bool
        One value per row, in order.

    Examples
    --------
    >>> holds_land(pd.DataFrame({"status": ["suspended", "terminated", None]})).tolist()
    [True, False, False]
    """
    return HOLDS_LAND.mask(parcels)


def open_contract(parcels: pd.DataFrame) -> BoolArray:
    """Which contracts' terms are running (status active or suspended).

    Examples
    --------
    >>> open_contract(pd.DataFrame({"status": ["applied", "active", "suspended"]})).tolist()
    [False, True, True]
    """
    return OPEN_CONTRACT.mask(parcels)


def in_force(land_conclusions: pd.DataFrame, today: dt.date) -> BoolArray:
    """Which Land Conclusions are in force on ``today``: issued, ``valid_until`` not past.

    Parameters
    ----------
    land_conclusions : DataFrame
        Rows with ``status`` and ``valid_until`` (dates, empty for no end).
    today : datetime.date
        ``valid_until`` is the last valid day: a Land Conclusion ending today is in force.

    Returns
    -------
    numpy.ndarray of bool

    Raises
    ------
    ValueError
        For a missing column or a ``valid_until`` that is not a date.

    Examples
    --------
    >>> lcs = pd.DataFrame({"status": ["issued", "issued", "rejected"],
    ...                     "valid_until": [None, dt.date(2020, 1, 1), None]})
    >>> in_force(lcs, dt.date(2025, 1, 1)).tolist()
    [True, False, False]
    """
    return IN_FORCE.mask(land_conclusions, today)


def rehab_accepted(zones: pd.DataFrame) -> BoolArray:
    """Which rehabilitation zones the commission has accepted (stage ``accepted``).

    Examples
    --------
    >>> rehab_accepted(pd.DataFrame({"stage": ["accepted", "technical_done", None]})).tolist()
    [True, False, False]
    """
    return ~REHAB_OPEN.mask(zones)


def holder_key(name: object) -> str:
    """A holder's name for comparison: trimmed, white space collapsed, case ignored.

    A missing or blank name is ``""``, which callers never treat as a match.

    Examples
    --------
    >>> holder_key("  Altan   SHIJIR ")
    'altan shijir'
    >>> holder_key(None), holder_key(float("nan")), holder_key("   ")
    ('', '', '')
    """
    if not isinstance(name, str):
        if is_missing(name):
            return ""
        name = str(name)
    return " ".join(name.split()).casefold()


def is_missing(value: object) -> bool:
    """Whether one value is missing: None, or a scalar NaN, NA or NaT (a list is a value).

    Examples
    --------
    >>> is_missing(None), is_missing(pd.NA), is_missing(float("nan")), is_missing([1])
    (True, True, True, False)
    """
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))  # type: ignore[call-overload]


def holder_keys(names: pd.Series) -> pd.Series:
    """:func:`holder_key` of every name, vectorised (an object Series, same index).

    Examples
    --------
    >>> holder_keys(pd.Series([" Altan  Shijir", None, "ALTAN SHIJIR"])).tolist()
    ['altan shijir', '', 'altan shijir']
    """
    # a comprehension over the values: pandas' .str chain costs ~250 µs for one name (a
    # review asks for a few) and is slower for 100,000 too (77 ms against 28)
    keys = [holder_key(name) for name in names.tolist()]
    return pd.Series(keys, index=names.index, dtype=object)


# --------------------------------------------------------------------- shared date helpers


def column_of(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column ``name`` of ``frame``; ValueError naming the columns it has if missing."""
    if name not in frame.columns:
        raise ValueError(
            f"the rules need a '{name}' column; the layer has: {', '.join(map(str, frame.columns))}"
        )
    return frame[name]


def text_values(values: pd.Series) -> npt.NDArray[np.object_]:
    """A column's values as an object array for comparing with code-list values: an empty
    one (None, NaN, NA) is ``""``, any other value is kept as it is (a ``str`` in a store's
    layer). Membership of a tuple of strings is then what it is for ``astype("string")``,
    which costs ~90 µs even for one row (a review asks a dozen times).

    Examples
    --------
    >>> text_values(pd.Series(["issued", None, float("nan")], dtype=object)).tolist()
    ['issued', '', '']
    """
    raw = values.to_numpy(dtype=object)
    return np.where(pd.isna(raw), "", raw).astype(object)


def plain_dates(values: pd.Series) -> npt.NDArray[np.object_] | None:
    """The values as an object array when each is a ``datetime.date`` (not a datetime) or
    None, as the store's date columns hold them; None otherwise (a caller then parses them
    with :func:`stamps`)."""
    raw = values.to_numpy(dtype=object)
    if all(v is None or type(v) is dt.date for v in raw.tolist()):
        return raw
    return None


def stamps(values: pd.Series) -> pd.Series:
    """Dates as datetime64 (NaT for empty ones); a value that is no date is refused."""
    raw = pd.Series(values.to_numpy(dtype=object))
    out = pd.to_datetime(raw, errors="coerce")
    bad = out.isna() & raw.notna()
    if bad.any():
        raise ValueError(f"'{values.name}' holds {raw[bad].iloc[0]!r}, which is not a date")
    return out


def before(values: pd.Series, today: dt.date) -> BoolArray:
    """True where the date is before ``today`` (False for an empty date).

    Examples
    --------
    >>> before(pd.Series([dt.date(2024, 12, 31), None, dt.date(2025, 1, 1)]),
    ...        dt.date(2025, 1, 1)).tolist()
    [True, False, False]
    """
    dates = plain_dates(values) if type(today) is dt.date else None
    if dates is not None:  # the store's own dates, compared as they are (~50× pd.to_datetime)
        return np.fromiter((d is not None and d < today for d in dates.tolist()), bool, len(dates))
    return (stamps(values) < pd.Timestamp(today)).to_numpy(dtype=bool)
