"""Cells of the CSV files Gazar writes, made safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (CSV or formula injection): a holder name such as
``=HYPERLINK("http://…")`` would run when a clerk opens the register. OWASP's rule is applied:
such a text cell gets a leading ``'``, which the spreadsheet shows as text. Numbers stay numbers
(a column of areas keeps its ``-5.2``); only text is changed. Every CSV writer goes through
:func:`safe_cell` (one value) or :func:`safe_frame` (a table's text columns).
"""

from __future__ import annotations

from typing import Any, TypeVar

import pandas as pd

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

F = TypeVar("F", bound=pd.DataFrame)


def safe_cell(value: Any) -> Any:
    """``value`` with a ``'`` in front when it is text starting like a formula; else unchanged.

    >>> safe_cell("=HYPERLINK(1)"), safe_cell("-cmd"), safe_cell("Bat"), safe_cell(-5.2)
    ("'=HYPERLINK(1)", "'-cmd", 'Bat', -5.2)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: F) -> F:
    """A copy of ``frame`` whose text cells are made safe (:func:`safe_cell`).

    Only columns that can hold text (object or string dtype) are looked at, and in them only
    the ``str`` values: numbers, dates, missing values and geometries are left as they are.
    """
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
            out[column] = series.map(safe_cell, na_action="ignore")
    return out


def frame_csv(frame: pd.DataFrame, **options: Any) -> str:
    """CSV text of ``frame`` (pandas' ``to_csv`` with ``options``), its text cells made safe."""
    return str(safe_frame(pd.DataFrame(frame)).to_csv(**options))
