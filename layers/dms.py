"""Read one coordinate written as decimal degrees or degrees-minutes-seconds (DMS).

Licence and parcel corners are published in many hand-typed forms; all of these are read::

    106.4585        106,4585        -106.4585       106 27.5        106°27.5'
    106 27 30.52    106°27'30.52"   106°27′30″E     E 106° 27' 30"  106d27m30.5s
    -106 27 30      47°30'15" N     хойд өргөрөг 47°30'15"         106°27'30" з.у.

Rules (each broken rule is a ``ValueError`` quoting the text):

* the parts are degrees, then minutes, then seconds; a unit mark (``° ' "``, the unicode
  prime ``′`` and double prime ``″``, typographic quotes, ``d m s``) may follow each part;
  only the last part may have decimals, written with a point or a comma;
* minutes and seconds must be below 60;
* a minus sign applies to the whole value (``-106 27 30`` is -106.4583...);
* the hemisphere is ``N S E W`` before or after the number (upper case; lower case ``n e w``
  too, but a lower-case ``s`` is always the seconds mark), or its Mongolian form:
  ``хойд`` / ``х.ө.`` (north), ``өмнөд`` / ``ө.ө.`` (south), ``зүүн`` / ``з.у.`` (east),
  ``баруун`` / ``б.у.`` (west). ``S`` and ``W`` give a negative value. A hemisphere that
  contradicts ``axis`` (``N`` on a longitude) is refused, and so is a hemisphere together
  with a minus sign. Single Cyrillic letters are refused: ``З`` is east in Mongolian
  (зүүн) but west in Russian (запад);
* degrees beyond 180 (90 for a latitude) are refused. Whether the point lies in Mongolia is
  checked elsewhere.
"""

from __future__ import annotations

import math
import re
from numbers import Real
from typing import Literal

import numpy as np
import pandas as pd

Axis = Literal["lon", "lat"]

_AXIS_NAME: dict[Axis | None, str] = {"lon": "longitude", "lat": "latitude", None: "coordinate"}
_AXIS_LIMIT: dict[Axis | None, float] = {"lon": 180.0, "lat": 90.0, None: 180.0}
# hemisphere -> (sign, the axis it belongs to)
_HEMISPHERES: dict[str, tuple[int, Axis]] = {
    "N": (1, "lat"),
    "S": (-1, "lat"),
    "E": (1, "lon"),
    "W": (-1, "lon"),
}

# Mongolian hemisphere words and abbreviations (хойд өргөрөг = north latitude, зүүн уртраг =
# east longitude, ...); the Latin letters; the Cyrillic Е, which a Cyrillic keyboard types for E.
_MN_HEMISPHERE = (
    r"(?P<{g}_n>хойд(?:\s+өргөрөг)?|х\.\s*ө\.?)"
    r"|(?P<{g}_s>өмнөд?(?:\s+өргөрөг)?|ө\.\s*ө\.?)"
    r"|(?P<{g}_e>зүүн(?:\s+уртраг)?|з\.\s*у\.?)"
    r"|(?P<{g}_w>баруун(?:\s+уртраг)?|б\.\s*у\.?)"
)
_LEADING = re.compile(
    r"^\s*(?:" + _MN_HEMISPHERE.format(g="l") + r"|(?P<l_x>[NSEWnsewЕе]))(?![^\W\d_])",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"(?<![^\W\d_])(?:"
    + _MN_HEMISPHERE.format(g="t")
    + r"|(?P<t_y>(?-i:[newе])))\s*$|(?P<t_x>(?-i:[NSEWЕ]))\s*$",
    re.IGNORECASE,
)
_CYRILLIC_LETTER = re.compile(r"^\s*([СВЮЗсвюз])(?![^\W\d_])|(?<![^\W\d_])([СВЮЗсвюз])\s*$")

_RUSSIAN = {"С": "север, north", "Ю": "юг, south", "В": "восток, east", "З": "запад, west"}

_SIGN = re.compile(r"\s*(?P<sign>[-+−‒–])?")
# One part: a number, then an optional unit mark. Longer marks are tried first.
_PART = re.compile(
    r"\s*(?P<num>\d+(?:[.,]\d+)?)\s*"
    r"(?:(?P<deg>deg|[°º˚d])|(?P<sec>sec|''|′′|’’|‘‘|[\"″”“˝s])|(?P<min>min|['′’‘´`m]))?"
)
_POSITION = ("degrees", "minutes", "seconds")


def parse_coordinate(text: str | float | int, *, axis: Axis | None = None) -> float:
    """Read one longitude or latitude written in decimal degrees or DMS.

    Parameters
    ----------
    text : str or float or int
        The value as written (see the module docstring for the forms read), or a number.
    axis : {"lon", "lat"}, optional
        What the value is; used to refuse a contradicting hemisphere (``N`` on a longitude)
        and to pick the range limit (180 or 90 degrees).

    Returns
    -------
    float
        Decimal degrees; negative for a minus sign or the S/W hemisphere.

    Raises
    ------
    ValueError
        Quoting the text and saying what is wrong with it.

    Examples
    --------
    >>> parse_coordinate("106 27 30.52")  # 106 + 27/60 + 30.52/3600
    106.45847777777777
    >>> parse_coordinate("E 106° 27' 30\\"", axis="lon")
    106.45833333333333
    >>> parse_coordinate("47,5 N", axis="lat")
    47.5
    """
    if isinstance(text, bool) or not isinstance(text, str | Real):
        raise ValueError(f"not a coordinate: {text!r}")
    if isinstance(text, Real):
        return _check_range(float(text), axis=axis, text=str(text))
    return _parse_text(text, axis=axis)


def parse_series(
    values: pd.Series, *, axis: Axis | None = None
) -> tuple[np.ndarray, dict[int, str]]:
    """Read a column of coordinates.

    Plain numbers (and numeric strings with a decimal point) are converted in one vectorised
    step; every other distinct text is read once with :func:`parse_coordinate`.

    Parameters
    ----------
    values : pandas.Series
        The column as read from a file (strings, numbers, missing values).
    axis : {"lon", "lat"}, optional
        As in :func:`parse_coordinate`.

    Returns
    -------
    numpy.ndarray
        Decimal degrees, ``NaN`` where the value could not be read.
    dict of int to str
        The error message for each row that could not be read, by row position (0-based).

    Examples
    --------
    >>> out, errors = parse_series(pd.Series(["106 30", 106.25, "x"]), axis="lon")
    >>> out[:2].tolist(), errors
    ([106.5, 106.25], {2: "not a coordinate: 'x' is not degrees, minutes and seconds"})
    """
    n = len(values)
    result = np.full(n, np.nan)
    errors: dict[int, str] = {}
    raw = values.to_numpy(dtype=object)
    numeric = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce").to_numpy(float)
    kind = pd.api.types.infer_dtype(raw, skipna=True)
    if kind in ("boolean", "mixed", "mixed-integer"):  # True would pass as 1.0
        is_bool = np.fromiter((isinstance(v, bool | np.bool_) for v in raw), bool, count=n)
    else:
        is_bool = np.zeros(n, dtype=bool)
    fast = np.isfinite(numeric) & ~is_bool
    limit = _AXIS_LIMIT[axis]
    fast_ok = fast & (np.abs(numeric) <= limit)
    result[fast_ok] = numeric[fast_ok]

    slow = np.flatnonzero(~fast_ok)
    # each distinct text is read once; factorize marks missing values with -1
    codes, uniques = pd.factorize(pd.Series(raw[slow], dtype=object), use_na_sentinel=True)
    read = np.full(len(uniques), np.nan)
    messages: list[str | None] = [None] * len(uniques)
    for i, value in enumerate(uniques):
        try:
            read[i] = parse_coordinate(value, axis=axis)
        except ValueError as exc:
            messages[i] = str(exc)
    ok = codes >= 0
    result[slow[ok]] = read[codes[ok]]
    failed = np.array([m is not None for m in messages] + [True], dtype=bool)  # [-1]: missing
    messages.append(f"{_AXIS_NAME[axis]} is missing")
    bad = failed[codes]
    for pos, code in zip(slow[bad].tolist(), codes[bad].tolist(), strict=True):
        errors[pos] = str(messages[code])
    return result, errors


def _parse_text(text: str, *, axis: Axis | None) -> float:
    quoted = f"'{text}'"
    s = text.strip()
    if not s:
        raise ValueError(f"{_AXIS_NAME[axis]} is empty")

    hemisphere: str | None = None
    if m := _LEADING.match(s):
        hemisphere = _hemisphere_of(m)
        s = s[m.end() :]
    if m := _TRAILING.search(s):
        if hemisphere is not None:
            raise ValueError(f"two hemisphere marks in {quoted}")
        hemisphere = _hemisphere_of(m)
        s = s[: m.start()]
    if hemisphere is None and (m := _CYRILLIC_LETTER.search(s)):
        letter = m.group(1) or m.group(2)
        why = (
            "east in Mongolian (зүүн) but west in Russian (запад)"
            if letter in "Зз"
            else f"Russian ({_RUSSIAN[letter.upper()]})"
        )
        raise ValueError(f"hemisphere letter '{letter}' in {quoted} is {why}: write N, S, E or W")

    sign_match = _SIGN.match(s)  # always matches: the sign is optional
    negative = sign_match is not None and sign_match.group("sign") not in (None, "+")
    pos = sign_match.end() if sign_match else 0

    parts: list[float] = []
    texts: list[str] = []
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None or m.end() == pos:
            if not s[pos:].strip():
                break
            raise ValueError(
                f"not a coordinate: {quoted} is not degrees, minutes and seconds"
                + (f" (cannot read '{s[pos:].strip()}')" if parts else "")
            )
        unit = next((u for u in ("deg", "min", "sec") if m.group(u)), None)
        index = len(parts)
        if index > 2:
            raise ValueError(f"too many numbers in {quoted}: expected degrees, minutes, seconds")
        if unit is not None and ("deg", "min", "sec").index(unit) != index:
            expected = _POSITION[index]
            raise ValueError(
                f"the {_POSITION[('deg', 'min', 'sec').index(unit)]} mark in {quoted} stands "
                f"where the {expected} should be"
            )
        number = m.group("num")
        if texts and any(c in texts[-1] for c in ".,"):
            raise ValueError(
                f"only the last part may have decimals in {quoted} "
                f"(the {_POSITION[index - 1]} are '{texts[-1]}')"
            )
        texts.append(number)
        parts.append(float(number.replace(",", ".")))
        pos = m.end()
    if not parts:
        raise ValueError(f"not a coordinate: {quoted} has no number")

    if hemisphere is not None:
        h_sign, h_axis = _HEMISPHERES[hemisphere]
        if axis is not None and h_axis != axis:
            raise ValueError(
                f"hemisphere {hemisphere} in {quoted} is for a {_AXIS_NAME[h_axis]}, "
                f"not a {_AXIS_NAME[axis]}"
            )
        if negative:
            raise ValueError(
                f"both a minus sign and hemisphere {hemisphere} in {quoted}: write one of them"
            )
        negative = h_sign < 0
        if axis is None:
            axis = h_axis

    for name, value in zip(_POSITION[1:], parts[1:], strict=False):
        if value >= 60:
            raise ValueError(f"{name} must be below 60 in {quoted}")
    degrees = parts[0] + sum(v / 60**i for i, v in enumerate(parts[1:], start=1))
    return _check_range(-degrees if negative else degrees, axis=axis, text=text)


def _hemisphere_of(m: re.Match[str]) -> str:
    for name, value in m.groupdict().items():
        if value is None:
            continue
        letter = name[-1]
        if letter in "xy":
            return "E" if value in "Ее" else value.upper()
        return letter.upper()
    raise AssertionError("a hemisphere pattern matched nothing")  # pragma: no cover


def _check_range(value: float, *, axis: Axis | None, text: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"not a coordinate: '{text}' is not a finite number")
    limit = _AXIS_LIMIT[axis]
    if abs(value) > limit:
        raise ValueError(
            f"{_AXIS_NAME[axis]} must be within -{limit:g}..{limit:g} degrees, got '{text}'"
        )
    return value


def format_dms(value: float, *, axis: Axis, decimals: int = 2) -> str:
    """A coordinate in degrees, minutes and seconds with its hemisphere, as corner lists
    print it (``106°27′30.52″ E``); :func:`parse_coordinate` reads it back.

    Seconds are rounded to ``decimals`` first, so they never show as 60 (the trap of
    rounding 59.999″).

    Examples
    --------
    >>> format_dms(106.458478, axis="lon")
    '106°27′30.52″ E'
    >>> format_dms(47.999999, axis="lat")
    '48°00′00.00″ N'
    >>> round(parse_coordinate(format_dms(-0.5, axis="lon"), axis="lon"), 6)
    -0.5
    """
    if not math.isfinite(value):
        raise ValueError(f"not a coordinate: {value!r}")
    hemisphere = ("E" if value >= 0 else "W") if axis == "lon" else ("N" if value >= 0 else "S")
    unit = 10**decimals
    total = round(abs(value) * 3600 * unit)  # whole units of the last decimal of a second
    degrees, rest = divmod(total, 3600 * unit)
    minutes, seconds = divmod(rest, 60 * unit)
    width = 3 + decimals if decimals else 2
    sec = f"{seconds / unit:0{width}.{decimals}f}"
    return f"{degrees}°{minutes:02d}′{sec}″ {hemisphere}"
