"""Corner lists (one CSV row per polygon corner) turned into polygons."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.corners import corners_to_polygons, detect_corner_columns
from layers.errors import InputFileError, Problem

COLS = {"id_col": "id", "order_col": "order", "lon_col": "lon", "lat_col": "lat"}


def corners(rows: list[tuple[object, ...]], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "order", "lon", "lat", *extra])


def build(df: pd.DataFrame, **cols: str) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    return corners_to_polygons(df, file="c.csv", **{**COLS, **cols})


def read_corner_csv(path: Path) -> tuple[dict[str, str], gpd.GeoDataFrame, list[Problem]]:
    """A corner-list CSV read as text, its detected columns and the polygons built from them."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    cols = detect_corner_columns(list(table.columns))
    assert cols is not None
    renamed = {f"{role}_col": column for role, column in cols.items()}
    return (cols, *corners_to_polygons(table, file=str(path), **renamed))


# --- column detection -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["id", "order", "lon", "lat"], ("id", "order", "lon", "lat")),
        (
            ["Parcel_ID", "Point No.", "Longitude", "Latitude", "holder"],
            ("Parcel_ID", "Point No.", "Longitude", "Latitude"),
        ),
        (["NAME", "Seq", "X", "Y"], ("NAME", "Seq", "X", "Y")),
        (["dugaar", "vertex", "east", "north"], ("dugaar", "vertex", "east", "north")),
        (["№", "№ цэг", "Уртраг", "Өргөрөг"], ("№", "№ цэг", "Уртраг", "Өргөрөг")),
        (
            ["feature_id", "point", "Longitude (DMS)", "Latitude (DMS)"],
            ("feature_id", "point", "Longitude (DMS)", "Latitude (DMS)"),
        ),
        # "id" is preferred over "name", which then stays an ordinary column
        (["name", "id", "pt", "long", "lat"], ("id", "pt", "long", "lat")),
    ],
)
def test_detect_corner_columns(columns: list[str], expected: tuple[str, str, str, str]) -> None:
    assert detect_corner_columns(columns) == dict(
        zip(("id", "order", "lon", "lat"), expected, strict=True)
    )


@pytest.mark.parametrize(
    "columns",
    [
        ["id", "name", "geometry"],
        ["id", "lon", "lat"],  # no order column
        ["id", "order", "easting", "northing"],  # projected metres, not degrees
        ["order", "lon", "lat"],  # no feature id
        [],
    ],
)
def test_detect_corner_columns_none_when_not_a_corner_list(columns: list[str]) -> None:
    assert detect_corner_columns(columns) is None


# --- building polygons ------------------------------------------------------------------


def test_unordered_rows_are_sorted_by_order_and_the_ring_closed() -> None:
    df = corners(
        [
            ("A", 3, "106 01 00", "47 01 00"),
            ("A", 1, "106 00 00", "47 00 00"),
            ("A", 4, "106 00 00", "47 01 00"),
            ("A", 2, "106 01 00", "47 00 00"),
        ]
    )
    gdf, problems = build(df)
    assert problems == []
    assert gdf.crs == "EPSG:4326"
    assert list(gdf.columns) == ["id", "geometry"]
    assert gdf["id"].tolist() == ["A"]
    one = 1 / 60
    np.testing.assert_allclose(
        np.array(gdf.geometry[0].exterior.coords),
        [(106, 47), (106 + one, 47), (106 + one, 47 + one), (106, 47 + one), (106, 47)],
        rtol=0,
        atol=1e-12,
    )
    assert gdf.geometry[0].is_valid
    assert gdf.geometry[0].area == pytest.approx(one * one)  # in square degrees: shape check


def test_a_ring_already_closed_is_not_closed_twice() -> None:
    df = corners([("A", 1, 106, 47), ("A", 2, 106.1, 47), ("A", 3, 106.1, 47.1), ("A", 4, 106, 47)])
    gdf, problems = build(df)
    assert problems == []
    assert len(gdf.geometry[0].exterior.coords) == 4


def test_two_features_keep_file_order_and_first_attribute_values() -> None:
    df = corners(
        [
            ("B", 1, 107.0, 48.0, "Altan", None),
            ("B", 2, 107.1, 48.0, "Altan", "5"),
            ("B", 3, 107.1, 48.1, None, None),
            ("A", 2, 106.1, 47.0, "Mongol", "2"),
            ("A", 1, 106.0, 47.0, "Mongol", "2"),
            ("A", 3, 106.0, 47.1, "Mongol", "2"),
        ],
        extra=("holder", "members"),
    )
    gdf, problems = build(df)
    assert problems == []
    assert list(gdf.columns) == ["id", "holder", "members", "geometry"]
    assert gdf["id"].tolist() == ["B", "A"]
    assert gdf["holder"].tolist() == ["Altan", "Mongol"]
    assert gdf["members"].tolist() == ["5", "2"]  # the first non-empty value
    triangle = shapely.Polygon([(107.0, 48.0), (107.1, 48.0), (107.1, 48.1)])
    assert shapely.equals(gdf.geometry[0], triangle)
    assert list(gdf.geometry[1].exterior.coords)[:3] == [
        (106.0, 47.0),
        (106.1, 47.0),
        (106.0, 47.1),
    ]


def test_differing_attribute_values_are_a_warning_and_the_first_is_kept() -> None:
    df = corners(
        [
            ("A", 1, 106.0, 47.0, "Altan"),
            ("A", 2, 106.1, 47.0, "Altai"),
            ("A", 3, 106, 47.1, "Altan"),
        ],
        extra=("holder",),
    )
    gdf, problems = build(df)
    assert gdf["holder"].tolist() == ["Altan"]
    assert problems == [
        Problem(
            "c.csv",
            0,
            "A",
            "holder",
            "the value differs across the feature's corners ('Altan', 'Altai'); "
            "the first, 'Altan', was kept",
            severity="warning",
        )
    ]


def test_too_few_distinct_corners() -> None:
    df = corners(
        [
            ("A", 1, 106.0, 47.0),
            ("A", 2, 106.1, 47.0),
            ("A", 3, 106.0, 47.0),  # the closing corner: only 2 distinct
            ("B", 1, 107.0, 48.0),
            ("B", 2, 107.1, 48.0),
            ("B", 3, 107.1, 48.1),
        ]
    )
    gdf, problems = build(df)
    assert gdf["id"].tolist() == ["B"]  # the broken feature is left out
    assert problems == [
        Problem("c.csv", 0, "A", None, "only 2 distinct corner(s); a polygon needs at least 3")
    ]


def test_bad_coordinate_names_the_csv_row(tmp_path: Path) -> None:
    path = tmp_path / "corners.csv"
    path.write_text(
        "parcel,point,longitude,latitude\n"
        "A,1,106 00 00,47 00 00\n"
        "A,2,106 01 00,47 00 00\n"
        "A,3,106 01 00,47 01 00\n"
        "B,1,107 00 00,48 00 00\n"
        "B,2,107 61 00,48 00 00\n"  # line 6 of the file
        "B,3,107 01 00,48 01 00\n",
        encoding="utf-8",
    )
    _, gdf, problems = read_corner_csv(path)
    assert gdf["id"].tolist() == ["A"]
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.index, problem.feature_id, problem.field) == (3, "B", "longitude")
    assert problem.reason == "row 6: minutes must be below 60 in '107 61 00'"
    assert "id=B" in str(problem)


def test_missing_values_and_orders_that_are_not_numbers() -> None:
    df = corners(
        [
            ("A", "1", "106.0", "47.0"),
            ("A", "P2", "106.1", "47.0"),
            ("A", "3", None, "47.1"),
            (None, "4", "106.0", "47.1"),
            ("B", "1", "107.0", "48 N"),
            ("B", "2", "107.1", "48 E"),
            ("B", "3", "107.1", "48.1"),
        ]
    )
    gdf, problems = build(df)
    assert len(gdf) == 0
    assert list(gdf.columns) == ["id", "geometry"]
    reasons = [(p.index, p.feature_id, p.field, p.reason) for p in problems]
    assert reasons == [
        (0, "A", "lon", "row 4: longitude is missing"),
        (0, "A", "order", "row 3: point order 'P2' is not a number"),
        (3, None, "id", "row 5: the feature id is missing"),
        (4, "B", "lat", "row 7: hemisphere E in '48 E' is for a longitude, not a latitude"),
    ]


def test_duplicate_order_numbers() -> None:
    df = corners(
        [("A", 1, 106.0, 47.0), ("A", 2, 106.1, 47.0), ("A", 2, 106.1, 47.1), ("A", 3, 106, 47.1)]
    )
    gdf, problems = build(df)
    assert len(gdf) == 0
    assert [p.reason for p in problems] == ["point order 2 is repeated (rows 3, 4)"]
    assert problems[0].field == "order"


def test_swapped_longitude_and_latitude_columns_are_reported_once() -> None:
    df = corners(
        [
            ("A", 1, "47 00 00", "106 00 00"),
            ("A", 2, "47 00 00", "106 01 00"),
            ("A", 3, "47 01 00", "106 01 00"),
            ("B", 1, 48.0, 107.0),
            ("B", 2, 48.0, 107.1),
            ("B", 3, 48.1, 107.1),
        ]
    )
    _, problems = build(df)
    assert len(problems) == 1
    assert problems[0].index is None
    assert problems[0].severity == "error"
    assert "look swapped" in problems[0].reason
    assert "is 'lon' the latitude and 'lat' the longitude?" in problems[0].reason


def test_swapped_columns_with_hemisphere_letters_and_a_bad_value() -> None:
    df = corners(
        [
            ("A", 1, "47 00 00 N", "106 00 00 E"),
            ("A", 2, "47 00 00 N", "106 01 00 E"),
            ("A", 3, "47 01 00 N", "106 01 xx E"),
        ]
    )
    gdf, problems = build(df)
    assert len(gdf) == 0
    assert [(p.index, p.field) for p in problems] == [(None, "lon"), (0, "lat")]
    assert "look swapped" in problems[0].reason
    # the hemisphere letters are not reported row by row; the unreadable value is
    assert problems[1].reason.startswith("row 4: not a coordinate: '106 01 xx E'")


def test_correct_columns_are_not_reported_as_swapped() -> None:
    # latitudes 47-48 and longitudes 106-107: the right way round
    df = corners([("A", 1, 106.0, 47.0), ("A", 2, 106.1, 47.0), ("A", 3, 106.1, 47.1)])
    assert build(df)[1] == []


def test_other_column_names_are_used_and_id_renamed() -> None:
    df = pd.DataFrame(
        {"parcel": ["7", "7", "7"], "pt": [1, 2, 3], "x": [106, 106.1, 106], "y": [47, 47, 47.1]}
    )
    gdf, problems = build(df, id_col="parcel", order_col="pt", lon_col="x", lat_col="y")
    assert problems == []
    assert list(gdf.columns) == ["id", "geometry"]
    assert gdf["id"].tolist() == ["7"]


def test_float_ids_read_from_a_csv_become_integer_text() -> None:
    df = corners([(12.0, 1, 106, 47), (12.0, 2, 106.1, 47), (12.0, 3, 106, 47.1)])
    gdf, _ = build(df)
    assert gdf["id"].tolist() == ["12"]


def test_missing_or_clashing_columns_are_refused() -> None:
    df = corners([("A", 1, 106, 47)])
    with pytest.raises(InputFileError, match="no column 'longitude'"):
        build(df, lon_col="longitude")
    with pytest.raises(InputFileError, match="must differ"):
        build(df, lat_col="lon")
    clash = df.rename(columns={"id": "parcel"}).assign(id="x")
    with pytest.raises(InputFileError, match="clashes"):
        build(clash, id_col="parcel")


def test_many_features_are_built_without_a_loop_per_feature() -> None:
    n = 20_000
    x0 = 90 + np.arange(n) % 1000 * 0.01
    y0 = 42 + np.arange(n) // 1000 * 0.01
    # 4 corners each, written in reverse order to exercise the sort
    ids = np.repeat(np.arange(n).astype(str), 4)
    order = np.tile([4, 3, 2, 1], n)
    dx = np.tile([0, 0.005, 0.005, 0], n)
    dy = np.tile([0.005, 0.005, 0, 0], n)
    df = pd.DataFrame(
        {"id": ids, "order": order, "lon": np.repeat(x0, 4) + dx, "lat": np.repeat(y0, 4) + dy}
    )
    gdf, problems = build(df)
    assert problems == []
    assert len(gdf) == n
    assert shapely.is_valid(gdf.geometry.values).all()
    bounds = shapely.bounds(gdf.geometry.values)
    np.testing.assert_allclose(bounds[:, 0], x0)
    np.testing.assert_allclose(bounds[:, 3], y0 + 0.005)


DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mongolia"
LICENCES = DATA / "demo_target_soums" / "eiti_licenses_in_target_soums.geojson"


def _dms_text(degrees: np.ndarray, hemisphere: str) -> list[str]:
    """Degrees as DMS text with 4-decimal seconds, rounded in whole units (never 60")."""
    units = np.rint(degrees * 3600 * 10_000).astype(np.int64)
    d, rest = np.divmod(units, 3600 * 10_000)
    m, s = np.divmod(rest, 60 * 10_000)
    return [
        f"{a}°{b:02d}′{c // 10_000:02d}.{c % 10_000:04d}″{hemisphere}"
        for a, b, c in zip(d.tolist(), m.tolist(), s.tolist(), strict=True)
    ]


@pytest.mark.skipif(not LICENCES.exists(), reason="the shared real data is not available")
def test_real_licences_round_trip_through_a_dms_corner_list(tmp_path: Path) -> None:
    licences = gpd.read_file(LICENCES)
    rings = shapely.get_exterior_ring(licences.geometry.values)
    coords, which = shapely.get_coordinates(rings, return_index=True)
    start = np.r_[0, np.flatnonzero(np.diff(which)) + 1]
    order = np.arange(len(which)) - np.repeat(start, np.diff(np.r_[start, len(which)]))
    closing = np.r_[np.diff(which) != 0, True]  # each ring's last (repeated) corner
    keep = ~closing
    numbers = licences["LICENSE_NUMBER"].to_numpy()[which[keep]]
    rows = pd.DataFrame(
        {
            "License_number": numbers,
            "Point No.": order[keep] + 1,
            "Longitude": _dms_text(coords[keep, 0], "E"),
            "Latitude": _dms_text(coords[keep, 1], "N"),
        }
    )
    rows = rows.sample(frac=1, random_state=1)  # shuffled: the order column must be used
    path = tmp_path / "licences.csv"
    rows.to_csv(path, index=False)

    cols, gdf, problems = read_corner_csv(path)
    assert cols == {
        "id": "License_number",
        "order": "Point No.",
        "lon": "Longitude",
        "lat": "Latitude",
    }
    # the real file repeats some licence numbers; those get their corners merged and are
    # reported (repeated point orders), every other licence comes back unchanged
    repeated = licences["LICENSE_NUMBER"].duplicated(keep=False).to_numpy()
    assert {p.feature_id for p in problems} == set(licences["LICENSE_NUMBER"][repeated])
    assert repeated.any()
    assert all("is repeated" in p.reason for p in problems)
    expected = licences[~repeated].set_index("LICENSE_NUMBER").geometry
    got = gdf.set_index("id").geometry
    assert len(expected) > 100
    assert sorted(got.index) == sorted(expected.index)
    # 0.00005" of rounding is 1.4e-8 degrees
    assert shapely.equals_exact(
        got[expected.index].values, expected.values, tolerance=2e-8, normalize=True
    ).all()
