"""Column values as a GeoPackage returns them, converted to the frame's types (``Store.read``):
dates as ``datetime.date``, whole numbers as ``Int64``, numbers as ``float64``; a value of the
wrong type (a row written past the check triggers: ``Store.broken_rows`` lists it) reads as
missing. Each distinct value of a column is converted once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

#: the range of a whole-number column (pandas' Int64)
_INT64: Final = (int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max))


def _date_or_none(value: Any) -> dt.date | None:
    """A stored date; None for a missing one or for text that is no date (a row written past
    the check triggers: the store's rules list it, ``Store.broken_rows``)."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _distinct(
    values: list[Any], convert: Callable[[Any], Any]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
    """Each value's code, and ``convert`` of each distinct value by code (the last entry, for
    code -1, is ``convert(None)``): ``convert`` is called once per distinct value (a column
    holds few: dates, member counts). Values equal as Python values (``1`` and ``1.0``) share
    one call: the converters here give them the same answer."""
    codes, distinct = pd.factorize(np.asarray(values, dtype=object))
    table = np.empty(len(distinct) + 1, dtype=object)
    table[:-1] = [convert(v) for v in distinct]
    table[-1] = convert(None)
    return codes, table


def _each_distinct(values: list[Any], convert: Callable[[Any], Any]) -> npt.NDArray[np.object_]:
    """``convert`` of every value (see :func:`_distinct`)."""
    codes, table = _distinct(values, convert)
    return table[codes]


def column_from_sql(values: list[Any], ftype: str) -> pd.Series:
    """A column of ``ftype`` ("date", "int", "float", else text) from its stored values."""
    if ftype == "date":
        return pd.Series(_each_distinct(values, _date_or_none), dtype=object)
    if ftype == "int":
        # the distinct values' integers and which are missing, gathered by code: no object
        # column converted to Int64 value by value (a third of the time of 100k rows)
        codes, table = _distinct(values, lambda v: _number_or_none(v, whole=True))
        known = np.array([w is not None for w in table])
        ints = np.array([0 if w is None else w for w in table], dtype=np.int64)
        return pd.Series(pd.arrays.IntegerArray(ints[codes], ~known[codes]))
    if ftype == "float":
        numbers = _each_distinct(values, lambda v: _number_or_none(v, whole=False))
        out = np.full(len(numbers), np.nan)
        known = pd.notna(numbers)
        out[known] = numbers[known].astype("float64")
        return pd.Series(out)
    return pd.Series(values, dtype=object)


def _number_or_none(value: Any, *, whole: bool) -> int | float | None:
    """A stored number; None for a missing one or for a value of another type (a row written
    past the check triggers: ``Store.broken_rows`` lists it)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if whole:  # a whole number Int64 holds (a REAL of 1e300 is not one)
        if not float(value).is_integer():
            return None
        number = int(value)
        return number if _INT64[0] <= number <= _INT64[1] else None
    return float(value)
