"""Coordinates in decimal degrees and degrees-minutes-seconds."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from layers.dms import Axis, parse_coordinate, parse_series

DMS_106_27_30_52 = 106 + 27 / 60 + 30.52 / 3600
DMS_106_27_30 = 106 + 27 / 60 + 30 / 3600


@pytest.mark.parametrize(
    ("text", "axis", "expected"),
    [
        ("106 27 30.52", "lon", DMS_106_27_30_52),
        ("106°27'30.52\"", "lon", DMS_106_27_30_52),
        ("106° 27' 30.52\"", "lon", DMS_106_27_30_52),
        ("106°27′30″E", "lon", DMS_106_27_30),
        ("106°27’30”", "lon", DMS_106_27_30),  # typographic quotes
        ("106º27´30˝", "lon", DMS_106_27_30),  # ordinal º, acute accent, double acute
        ("106°27'30''", "lon", DMS_106_27_30),  # two apostrophes for seconds
        ("E 106° 27' 30\"", "lon", DMS_106_27_30),  # hemisphere before the number
        ("E106°27'30\"", "lon", DMS_106_27_30),
        ("106d27m30.5s", "lon", 106 + 27 / 60 + 30.5 / 3600),
        ("106deg 27min 30sec", "lon", DMS_106_27_30),
        ("106 27 30", "lon", DMS_106_27_30),  # whole seconds
        ("106\u00a027\u00a030", "lon", DMS_106_27_30),  # non-breaking spaces
        ("106.4585", "lon", 106.4585),
        ("106,4585", "lon", 106.4585),  # decimal comma
        ("  106.4585  ", "lon", 106.4585),
        ("106 27.5", "lon", 106 + 27.5 / 60),  # degrees and decimal minutes
        ("106°27,5'", "lon", 106 + 27.5 / 60),
        ("106 27 30,52", "lon", DMS_106_27_30_52),  # decimal comma in the seconds
        ("47 30 15 N", "lat", 47 + 30 / 60 + 15 / 3600),
        ("47°30'15\"N", "lat", 47 + 30 / 60 + 15 / 3600),
        ("N47.5", "lat", 47.5),
        ("n 47.5", "lat", 47.5),
        ("106.5 e", "lon", 106.5),
        ("47 30 S", "lat", -(47 + 30 / 60)),  # S and W are negative
        ("W 106 30", "lon", -(106 + 30 / 60)),
        ("-106 27 30", "lon", -DMS_106_27_30),  # the minus applies to the whole value
        ("−106°27′30″", "lon", -DMS_106_27_30),  # unicode minus sign
        ("-0 30 0", None, -0.5),  # a minus on zero degrees is not lost
        ("+47.5", "lat", 47.5),
        ("хойд өргөрөг 47°30′", "lat", 47.5),
        ("47°30′ х.ө.", "lat", 47.5),
        ("Зүүн уртраг 106°30′", "lon", 106.5),
        ("106°30′ з.у.", "lon", 106.5),
        ("баруун 106 30", "lon", -106.5),
        ("Е 106.5", "lon", 106.5),  # Cyrillic Е typed for E
        ("106 59 59.9999996", "lon", 106 + 59 / 60 + 59.9999996 / 3600),
        ("180", "lon", 180.0),
        ("47.5", None, 47.5),
    ],
)
def test_parse_coordinate_reads_every_form(text: str, axis: Axis | None, expected: float) -> None:
    assert parse_coordinate(text, axis=axis) == pytest.approx(expected, rel=0, abs=1e-12)


def test_seconds_just_below_60_do_not_overflow_into_the_next_minute() -> None:
    value = parse_coordinate("106 27 59.9999996", axis="lon")
    assert 106 + 27 / 60 < value < 106 + 28 / 60
    assert value == pytest.approx(106 + 28 / 60, abs=1e-9)


@pytest.mark.parametrize(
    ("value", "expected"), [(106.4585, 106.4585), (47, 47.0), (np.float64(-1.5), -1.5)]
)
def test_numbers_pass_through(value: float, expected: float) -> None:
    result = parse_coordinate(value)
    assert result == expected
    assert isinstance(result, float)


@pytest.mark.parametrize(
    ("text", "axis", "message"),
    [
        ("106 61 30", "lon", "minutes must be below 60 in '106 61 30'"),
        ("106 60", "lon", "minutes must be below 60 in '106 60'"),
        ("106 27 60", "lon", "seconds must be below 60 in '106 27 60'"),
        ("106°27'75.5\"", "lon", "seconds must be below 60"),
        ("47 30 N", "lon", "hemisphere N in '47 30 N' is for a latitude, not a longitude"),
        ("E 106", "lat", "hemisphere E in 'E 106' is for a longitude, not a latitude"),
        ("хойд 47", "lon", "is for a latitude"),
        ("-106 30 E", "lon", "both a minus sign and hemisphere E"),
        ("N 47 S", "lat", "two hemisphere marks"),
        ("", "lon", "longitude is empty"),
        ("   ", "lat", "latitude is empty"),
        ("garbage", "lon", "not a coordinate: 'garbage'"),
        ("N", "lat", "has no number"),
        ("106 27 30 12", "lon", "too many numbers in '106 27 30 12'"),
        ("106.5 30", "lon", "only the last part may have decimals in '106.5 30'"),
        ("106 27.5 30", "lon", "only the last part may have decimals"),
        ("106' 27", "lon", "the minutes mark in '106' 27' stands where the degrees should be"),
        ('106° 30"', "lon", "the seconds mark"),
        ("106,27,30", "lon", "cannot read ',30'"),
        ("106 27 30 xyz", "lon", "not a coordinate"),
        ("106 - 27", "lon", "not a coordinate"),
        ("181", "lon", "longitude must be within -180..180 degrees, got '181'"),
        ("91 0 0", "lat", "latitude must be within -90..90"),
        ("47.5 N 0", None, "not a coordinate"),
        ("З 106 30", "lon", "'З' in 'З 106 30' is east in Mongolian (зүүн) but west in Russian"),
        ("47 30 С", "lat", "'С' in '47 30 С' is Russian (север, north)"),
    ],
)
def test_parse_coordinate_refuses_with_a_reason(text: str, axis: Axis | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        parse_coordinate(text, axis=axis)
    if text.strip():
        assert f"'{text}'" in str(err.value)  # the bad text is quoted


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        parse_coordinate(value)


def test_numbers_outside_the_axis_range_are_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("latitude must be within -90..90")):
        parse_coordinate(106.5, axis="lat")


@pytest.mark.parametrize("value", [True, None, [106, 27]])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="not a coordinate"):
        parse_coordinate(value)  # type: ignore[arg-type]


def test_lowercase_s_is_the_seconds_mark_not_south() -> None:
    assert parse_coordinate("47d30m15s", axis="lat") == pytest.approx(47 + 30 / 60 + 15 / 3600)
    assert parse_coordinate("47d30m15sS", axis="lat") == pytest.approx(-(47 + 30 / 60 + 15 / 3600))


def test_parse_series_returns_values_and_errors_by_position() -> None:
    values = pd.Series(
        ["106 27 30", 106.25, "106,5", None, "106 61 0", "106 27 30", "47 N", 200.0],
        index=[10, 11, 12, 13, 14, 15, 16, 17],  # errors are keyed by position, not label
    )
    out, errors = parse_series(values, axis="lon")
    assert out[0] == pytest.approx(DMS_106_27_30)
    assert out[1] == 106.25
    assert out[2] == 106.5
    assert out[5] == pytest.approx(DMS_106_27_30)
    assert np.isnan(out[[3, 4, 6, 7]]).all()
    assert errors == {
        3: "longitude is missing",
        4: "minutes must be below 60 in '106 61 0'",
        6: "hemisphere N in '47 N' is for a latitude, not a longitude",
        7: "longitude must be within -180..180 degrees, got '200.0'",
    }


def test_parse_series_agrees_with_parse_coordinate() -> None:
    texts = ["106 27 30.52", "E 106° 27' 30\"", "-106 27 30", "106.4585", "106 27.5"]
    out, errors = parse_series(pd.Series(texts, dtype="str"), axis="lon")
    assert errors == {}
    assert out.tolist() == [parse_coordinate(t, axis="lon") for t in texts]


def test_parse_series_on_a_nullable_integer_column() -> None:
    out, errors = parse_series(pd.Series([47, None], dtype="Int64"), axis="lat")
    assert out[0] == 47.0
    assert errors == {1: "latitude is missing"}
