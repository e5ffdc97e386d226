"""Helpers shared by the contract and pipeline reports of :mod:`geo.lifecycle`."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from geo.frames import as_day


def require(frame: pd.DataFrame, columns: Collection[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {', '.join(missing)}")


day_of = as_day


def date_stamps(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
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


def days_between(later: pd.Series, earlier: pd.Series | pd.Timestamp) -> pd.Series:
    return (later - earlier).dt.days.astype("Int64")


def as_dates(stamps: pd.Series) -> pd.Series:
    """datetime64 back to ``datetime.date`` objects, ``None`` where empty."""
    dates = stamps.dt.date.astype(object)
    return dates.where(stamps.notna(), None)


def iso(stamps: pd.Series) -> pd.Series:
    return stamps.dt.strftime("%Y-%m-%d").fillna("")


def empty_text(values: pd.Series) -> pd.Series:
    return values.isna() | values.astype("string").str.strip().eq("").fillna(True)


def join(parts: list[pd.Series], sep: str = "; ") -> pd.Series:
    """Row-wise join of the non-empty strings of several Series (vectorised)."""
    if not parts:
        return pd.Series(dtype=object)
    acc = pd.Series("", index=parts[0].index, dtype=object)
    for part in parts:
        text = part.fillna("").astype(str)
        glue = np.where((acc != "") & (text != ""), sep, "")
        acc = acc + glue + text
    return acc
