"""Message templates filled column-wise: one text per row, without a loop over rows.

The templates come from the labels catalogue (``layers.labels``); each ``{name}`` is filled
with one text shared by every row or a sequence of texts, one per row.

Examples
--------
>>> fill("{a} and {b}", {"a": ["x", "y"], "b": "z"}, 2).tolist()
['x and z', 'y and z']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from string import Formatter
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from layers.labels import pair

Values = Mapping[str, Any]


def fill(template: str, values: Values, n: int) -> npt.NDArray[np.object_]:
    """``n`` copies of ``template`` with each ``{name}`` replaced by ``values[name]``.

    A value is a text shared by all rows or a sequence (array, Series) of ``n`` texts.

    Raises
    ------
    KeyError
        For a placeholder without a value.
    """
    out = np.full(n, "", dtype=object)
    for literal, name, _, _ in Formatter().parse(template):
        out = out + literal
        if name:
            if name not in values:
                raise KeyError(f"no value for the placeholder {{{name}}} of '{template}'")
            value = values[name]
            if isinstance(value, str):
                out = out + value
            else:
                out = out + np.asarray(value, dtype=object).astype(str).astype(object)
    return out


Value = str | Sequence[str] | pd.Series
#: one value for both languages, or a ``(Mongolian, English)`` pair of them
PairValue = Value | tuple[Value, Value]


def fill_pair(
    group: str, code: str, index: pd.Index, /, **values: PairValue
) -> tuple[pd.Series, pd.Series]:
    """The catalogue template ``group.code`` filled per row in Mongolian and English.

    A value may be one text, a sequence, or a ``(mn, en)`` tuple of two of those (for values
    that are themselves labels).

    Examples
    --------
    >>> mn, en = fill_pair("rule_why", "ended", pd.RangeIndex(1), date=["2025-01-01"])
    >>> en.tolist()
    ['valid until 2025-01-01']
    """
    out = []
    for k, template in enumerate(pair(group, code)):
        side = {name: (v[k] if isinstance(v, tuple) else v) for name, v in values.items()}
        side = {
            name: (v.to_numpy(dtype=object) if isinstance(v, pd.Series) else v)
            for name, v in side.items()
        }
        out.append(pd.Series(fill(template, side, len(index)), index=index, dtype=object))
    return out[0], out[1]
