"""Overlaps within and between layers, areas outside a container, repairs reported."""

from __future__ import annotations

import doctest
import functools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

import geo.outside
import geo.overlaps
import geo.repair
from geo.area import official_ha
from geo.outside import OUTSIDE_COLUMNS, outside_area
from geo.overlaps import OVERLAP_COLUMNS, overlaps_between, overlaps_within
from geo.repair import MIN_PER_THREAD, polygonal_parts, repair_polygons
from layers.errors import InvalidGeometry

M_PER_DEG_LAT = 111_200.0
TO_LONLAT = Transformer.from_crs(32648, 4326, always_xy=True)

# a UTM 48N origin near Ulaanbaatar (about 106.3 E, 47.0 N); squares are built in metres from it
X0, Y0 = 600_000.0, 5_210_000.0

# Corners built in UTM are exact, but a stored edge is straight in lon/lat, so in UTM it bows
# by about 1e-4 m over 100 m and 2 cm over 1 km: hand-computed areas hold to this relative
# precision (measured: 1e-6 for 100 m squares, 3e-5 for a 1 ha corner of a 1 km square).
REL = 1e-4


def utm(coords: list[tuple[float, float]]) -> shapely.Polygon:
    """A polygon with corners in metres from (X0, Y0) in UTM 48N, stored in lon/lat."""
    xy = np.asarray(coords, dtype=float) + np.array([X0, Y0])
    lon, lat = TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    return shapely.Polygon(np.column_stack([lon, lat]))


def square(x: float, y: float, size: float) -> shapely.Polygon:
    return utm([(x, y), (x + size, y), (x + size, y + size), (x, y + size)])


def layer(ids: list[str], geoms: list[shapely.Geometry | None]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ids}, geometry=geoms, crs=4326)


def pairs(result: geo.overlaps.OverlapResult) -> list[tuple[str, str]]:
    return list(zip(result.records["a_id"], result.records["b_id"], strict=True))


def random_parcels(
    n: int,
    *,
    overlap_share: float = 0.015,
    seed: int = 0,
    lon0: float = 105.0,
    lat0: float = 46.0,
    extent_m: float = 200_000.0,
) -> tuple[
    gpd.GeoDataFrame,
    gpd.GeoDataFrame,
    gpd.GeoDataFrame,
    set[tuple[str, str]],
    set[tuple[str, str]],
]:
    """Random 1-5 ha rectangles over ``extent_m`` x ``extent_m``, with known overlaps.

    The area is a grid of about ``n`` cells. Layer ``a`` has one rectangle in the western
    half of each cell and layer ``b`` one in the eastern half, so nothing overlaps except
    what is made to: about ``overlap_share`` of the ``b`` rectangles are moved onto the
    ``a`` rectangle of their cell, and in a copy of ``a`` (``within``) some rectangles of
    odd columns are moved onto the rectangle of the previous column.

    Returns ``a, b, within`` and the expected overlapping id pairs between ``a`` and ``b``
    and within ``within``.
    """
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    cell = extent_m / side
    half = cell / 2
    k = np.arange(n)
    col, row = k % side, k // side

    def sizes() -> tuple[np.ndarray, np.ndarray]:
        area = rng.uniform(10_000, 50_000, n)
        ratio = rng.uniform(0.7, 1.4, n)
        return np.sqrt(area * ratio), np.sqrt(area / ratio)

    aw, ah = sizes()
    bw, bh = sizes()
    ax = col * cell + rng.uniform(0, 1, n) * (half - aw)
    ay = row * cell + rng.uniform(0, 1, n) * (cell - ah)
    bx = col * cell + half + rng.uniform(0, 1, n) * (half - bw)
    by = row * cell + rng.uniform(0, 1, n) * (cell - bh)
    hit_b = rng.random(n) < overlap_share
    bx[hit_b] = ax[hit_b] + 0.5 * aw[hit_b]
    by[hit_b] = np.minimum(ay[hit_b], (row[hit_b] + 1) * cell - bh[hit_b])  # stay in the row
    cx, cy = ax.copy(), ay.copy()
    hit_w = (col % 2 == 1) & (rng.random(n) < 2 * overlap_share)
    prev = k[hit_w] - 1
    cx[hit_w] = ax[prev] + 0.3 * aw[prev]
    cy[hit_w] = np.minimum(ay[prev], (row[hit_w] + 1) * cell - ah[hit_w])
    # one lon scale per grid row, so the halves of a cell stay apart in lon/lat too
    m_per_deg_lon = M_PER_DEG_LAT * np.cos(np.radians(lat0 + row * cell / M_PER_DEG_LAT))

    def to_gdf(x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, prefix: str):
        lon = lon0 + x / m_per_deg_lon
        lat = lat0 + y / M_PER_DEG_LAT
        boxes = shapely.box(lon, lat, lon + w / m_per_deg_lon, lat + h / M_PER_DEG_LAT)
        return layer([f"{prefix}{i:06d}" for i in range(n)], list(boxes))

    between = {(f"a{i:06d}", f"b{i:06d}") for i in np.flatnonzero(hit_b)}
    within = {(f"a{p:06d}", f"a{i:06d}") for p, i in zip(prev, np.flatnonzero(hit_w), strict=True)}
    return (
        to_gdf(ax, ay, aw, ah, "a"),
        to_gdf(bx, by, bw, bh, "b"),
        to_gdf(cx, cy, aw, ah, "a"),
        between,
        within,
    )


# --- hand-computable overlaps ----------------------------------------------------------------


def test_two_100m_squares_sharing_half_overlap_by_half_a_hectare() -> None:
    parcels = layer(["p1", "p2"], [square(0, 0, 100), square(50, 0, 100)])
    result = overlaps_within(parcels, layer="contract_parcels")
    assert list(result.records.columns) == list(OVERLAP_COLUMNS)
    assert result.records.crs.to_epsg() == 4326
    assert pairs(result) == [("p1", "p2")]
    row = result.records.iloc[0]
    assert row["a_layer"] == row["b_layer"] == "contract_parcels"
    assert row["overlap_ha"] == pytest.approx(0.5, rel=REL)
    # the geometry is the shared 50 m x 100 m rectangle, to within the bow of its edges
    shared = utm([(50, 0), (100, 0), (100, 100), (50, 100)])
    assert official_ha([shapely.symmetric_difference(row.geometry, shared)])[0] * 1e4 < 0.05
    assert result.repaired == ()


def test_touching_squares_do_not_overlap() -> None:
    parcels = layer(
        ["left", "right", "corner"],
        [square(0, 0, 100), square(100, 0, 100), square(200, 100, 100)],
    )
    result = overlaps_within(parcels, layer="contract_parcels")
    assert len(result) == 0
    assert list(result.records.columns) == list(OVERLAP_COLUMNS)
    assert result.records.crs.to_epsg() == 4326
    # no records, but the same column types as when there are some
    some = overlaps_within(layer(["a", "b"], [square(0, 0, 100), square(50, 0, 100)]), layer="p")
    assert result.records.dtypes.tolist() == some.records.dtypes.tolist()


def test_a_square_inside_another_overlaps_by_its_whole_area() -> None:
    inner = square(30, 30, 40)
    parcels = layer(["big", "small"], [square(0, 0, 100), inner])
    result = overlaps_within(parcels, layer="contract_parcels")
    assert pairs(result) == [("big", "small")]
    assert result.records["overlap_ha"].iloc[0] == pytest.approx(official_ha([inner])[0], 1e-9)
    assert result.records["overlap_ha"].iloc[0] == pytest.approx(0.16, rel=REL)


def test_a_sliver_under_the_tolerance_is_not_an_overlap() -> None:
    # 100 m x 0.005 m = 0.5 m² shared
    parcels = layer(["a", "b"], [square(0, 0, 100), square(99.995, 0, 100)])
    assert len(overlaps_within(parcels, layer="contract_parcels")) == 0
    finer = overlaps_within(parcels, layer="contract_parcels", tolerance_m2=0.1)
    assert finer.records["overlap_ha"].iloc[0] * 10_000 == pytest.approx(0.5, rel=1e-3)


def test_a_self_intersecting_bow_tie_is_repaired_and_reported() -> None:
    bow_tie = utm([(0, 0), (100, 100), (100, 0), (0, 100)])  # two 50 m triangles
    assert not bow_tie.is_valid
    parcels = layer(["bow", "field"], [bow_tie, square(0, 0, 100)])
    result = overlaps_within(parcels, layer="contract_parcels")
    assert result.repaired_ids("contract_parcels") == ["bow"]
    fixed = result.repaired[0]
    assert (fixed.layer, fixed.feature_id, fixed.index) == ("contract_parcels", "bow", 0)
    assert fixed.reason.startswith("Self-intersection")
    problem = fixed.as_problem()
    assert problem.severity == "warning"
    assert "id=bow" in str(problem) and "repaired" in str(problem)
    # the repaired bow-tie (2 triangles of 0.25 ha) lies wholly inside the field
    assert pairs(result) == [("bow", "field")]
    assert result.records["overlap_ha"].iloc[0] == pytest.approx(0.5, rel=REL)


def test_each_pair_once_with_the_smaller_id_first() -> None:
    # three squares overlapping each other; ids in reverse order of position
    parcels = layer(["z", "m", "a"], [square(0, 0, 100), square(20, 0, 100), square(40, 0, 100)])
    result = overlaps_within(parcels, layer="contract_parcels")
    assert pairs(result) == [("a", "m"), ("a", "z"), ("m", "z")]
    assert (result.records["a_id"] < result.records["b_id"]).all()
    expected = {("a", "m"): 0.8, ("a", "z"): 0.6, ("m", "z"): 0.8}
    for (a_id, b_id), ha in zip(pairs(result), result.records["overlap_ha"], strict=True):
        assert ha == pytest.approx(expected[(a_id, b_id)], rel=REL)


def test_overlaps_between_two_layers() -> None:
    conclusions = layer(["lc1", "lc2"], [square(0, 0, 1000), square(2000, 0, 1000)])
    licences = layer(
        ["MV-2", "MV-1", "XV-9"],
        [square(900, 900, 200), square(-100, -100, 200), square(1000, 0, 1000)],  # XV-9 touches
    )
    result = overlaps_between(conclusions, licences, a_layer="land_conclusions", b_layer="licences")
    assert pairs(result) == [("lc1", "MV-1"), ("lc1", "MV-2")]
    assert set(result.records["a_layer"]) == {"land_conclusions"}
    assert set(result.records["b_layer"]) == {"licences"}
    assert result.records["overlap_ha"].tolist() == pytest.approx([1.0, 1.0], rel=REL)


def test_the_overlap_is_measured_in_the_zone_of_its_own_centroid() -> None:
    # a (zone 47) and b (centroid in zone 48) share a strip west of 102 E: zone 47
    a = layer(["a"], [shapely.box(101.0, 47.0, 101.99, 47.1)])
    b = layer(["b"], [shapely.box(101.9, 47.0, 103.5, 47.1)])
    result = overlaps_between(a, b, a_layer="a", b_layer="b")
    strip = shapely.box(101.9, 47.0, 101.99, 47.1)
    got = result.records["overlap_ha"].iloc[0]
    assert got == pytest.approx(official_ha([strip])[0], rel=1e-12)
    to_48 = Transformer.from_crs(4326, 32648, always_xy=True)
    in_48 = shapely.transform(
        shapely.segmentize(strip, 0.001), lambda c: np.column_stack(to_48.transform(*c.T))
    )
    assert abs(got - in_48.area / 10_000) > 0.5  # ~8 ha apart: the zone matters


def test_multipolygons_missing_and_empty_geometries() -> None:
    two_parts = shapely.MultiPolygon([square(0, 0, 100), square(500, 0, 100)])
    parcels = layer(
        ["multi", "west", "east", "nothing", "empty"],
        [two_parts, square(50, 0, 100), square(550, 50, 100), None, shapely.Polygon()],
    )
    result = overlaps_within(parcels, layer="contract_parcels")
    assert pairs(result) == [("east", "multi"), ("multi", "west")]
    assert result.records["overlap_ha"].tolist() == pytest.approx([0.25, 0.5], rel=REL)


def test_records_are_sorted_and_indexed_from_zero() -> None:
    parcels = layer(["d", "c", "b", "a"], [square(i * 80, 0, 100) for i in range(4)])
    records = overlaps_within(parcels, layer="p").records
    assert pairs_list(records) == [("a", "b"), ("b", "c"), ("c", "d")]
    assert records.index.tolist() == [0, 1, 2]


def pairs_list(records: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    return list(zip(records["a_id"], records["b_id"], strict=True))


# --- refused input ---------------------------------------------------------------------------


def test_unusable_input_is_refused_with_the_layer_and_feature_named() -> None:
    good = square(0, 0, 100)
    line = shapely.LineString([(106.0, 47.0), (106.1, 47.1)])
    with pytest.raises(InvalidGeometry, match=r"layer 'parcels', feature #1 \(id=l\).*LineString"):
        overlaps_within(layer(["g", "l"], [good, line]), layer="parcels")
    with np.errstate(invalid="ignore"):
        nan = shapely.Polygon([(106, 47), (106.1, np.nan), (106.1, 47.1)])
    with pytest.raises(InvalidGeometry, match=r"id=n\).*NaN"):
        overlaps_between(layer(["g"], [good]), layer(["n"], [nan]), a_layer="a", b_layer="b")
    swapped = shapely.box(47.0, 106.0, 47.1, 106.1)
    with pytest.raises(InvalidGeometry, match="lat/lon swapped"):
        overlaps_within(layer(["s"], [swapped]), layer="parcels")


def test_bad_arguments_are_refused() -> None:
    parcels = layer(["p1"], [square(0, 0, 100)])
    with pytest.raises(ValueError, match="EPSG:4326"):
        overlaps_within(parcels.to_crs(32648), layer="parcels")
    with pytest.raises(ValueError, match="no 'id' column"):
        overlaps_within(parcels.rename(columns={"id": "name"}), layer="parcels")
    with pytest.raises(ValueError, match="tolerance_m2"):
        overlaps_within(parcels, layer="parcels", tolerance_m2=-1)
    with pytest.raises(ValueError, match="threads"):
        overlaps_within(parcels, layer="parcels", threads=0)


# --- synthetic layers: exact expected pairs, threads or not ----------------------------------


@pytest.fixture(scope="module")
def synthetic() -> tuple:
    # large enough for the work to be split in two threads
    return random_parcels(3 * MIN_PER_THREAD, seed=7)


@pytest.mark.parametrize("threads", [1, 2])
def test_random_parcels_overlap_exactly_where_they_were_made_to(
    synthetic: tuple, threads: int
) -> None:
    a, b, within, expected_between, expected_within = synthetic
    assert 100 < len(expected_between) < 0.03 * len(a)
    assert 100 < len(expected_within) < 0.03 * len(a)
    between = overlaps_between(a, b, a_layer="a", b_layer="b", threads=threads)
    assert set(pairs(between)) == expected_between
    assert len(between) == len(expected_between)
    inside = overlaps_within(within, layer="a", threads=threads)
    assert set(pairs(inside)) == expected_within
    assert len(inside) == len(expected_within)
    assert (inside.records["overlap_ha"] > 0).all()
    assert (between.records["overlap_ha"] <= 5.0).all()  # never more than a 5 ha parcel


def test_threads_give_the_same_records(synthetic: tuple) -> None:
    a, b, *_ = synthetic
    one = overlaps_between(a, b, a_layer="a", b_layer="b", threads=1).records
    two = overlaps_between(a, b, a_layer="a", b_layer="b", threads=2).records
    assert one[["a_id", "b_id"]].equals(two[["a_id", "b_id"]])
    assert np.array_equal(one["overlap_ha"].to_numpy(), two["overlap_ha"].to_numpy())
    assert shapely.equals_exact(one.geometry.values, two.geometry.values, 0).all()


# --- outside a container ---------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2])
def test_outside_area_on_many_parcels(synthetic: tuple, threads: int) -> None:
    a = synthetic[0]
    geoms = a.geometry.to_numpy()
    x0, y0, x1, y1 = shapely.bounds(geoms).T
    w, h = x1 - x0, y1 - y0
    # each parcel's container is its box grown by half its size on every side; every tenth
    # parcel is moved east by its own width, so that half of it sticks out
    containers = shapely.box(x0 - w / 2, y0 - h / 2, x1 + w / 2, y1 + h / 2)
    moved = np.arange(len(a)) % 10 == 0
    parts = a.copy()
    parts["geometry"] = np.where(moved, shapely.box(x0 + w, y0, x1 + w, y1), geoms)
    result = outside_area(
        parts,
        gpd.GeoSeries(containers, index=a["id"], crs=4326),
        part_layer="contract_parcels",
        container_layer="land_conclusions",
        threads=threads,
    )
    rec = result.records
    assert (rec["outside_ha"] > 0).tolist() == moved.tolist()
    ratio = rec.loc[moved, "outside_ha"] / rec.loc[moved, "part_ha"]
    assert ratio.to_numpy() == pytest.approx(0.5, rel=REL)
    assert rec["container_id"].tolist() == a["id"].tolist()


def test_the_part_of_a_parcel_outside_its_land_conclusion() -> None:
    conclusions = layer(["lc1", "lc2"], [square(0, 0, 1000), square(5000, 0, 1000)])
    parcels = layer(
        ["half-out", "inside", "orphan", "other-lc"],
        [square(950, 0, 100), square(100, 100, 100), square(3000, 0, 100), square(0, 0, 100)],
    )
    parcels["land_conclusion_id"] = ["lc1", "lc1", "lc9", "lc2"]
    containers = conclusions.set_index("id").geometry.reindex(parcels["land_conclusion_id"])
    result = outside_area(
        parcels, containers, part_layer="contract_parcels", container_layer="land_conclusions"
    )
    rec = result.records
    assert list(rec.columns) == list(OUTSIDE_COLUMNS)
    assert rec.index.equals(parcels.index)
    assert rec["id"].tolist() == ["half-out", "inside", "orphan", "other-lc"]
    assert rec["container_id"].iloc[[0, 1, 3]].tolist() == ["lc1", "lc1", "lc2"]
    assert pd.isna(rec["container_id"].iloc[2])  # lc9 does not exist
    assert rec["part_ha"].tolist() == pytest.approx([1.0] * 4, rel=REL)
    assert rec["outside_ha"].tolist() == pytest.approx([0.5, 0.0, 1.0, 1.0], rel=REL)
    assert rec.geometry.is_empty.tolist() == [False, True, False, False]
    assert rec.geometry.iloc[2].equals(parcels.geometry.iloc[2])  # no container: all outside
    assert result.repaired == ()


def test_outside_under_the_tolerance_counts_as_none() -> None:
    # 100.004² - 100² = 0.8 m² beyond the 100 m container
    parcels = layer(["p"], [square(0, 0, 100.004)])
    containers = layer(["lc"], [square(0, 0, 100)])
    outside = functools.partial(
        outside_area, part_layer="contract_parcels", container_layer="land_conclusions"
    )
    rec = outside(parcels, containers).records
    assert rec["outside_ha"].iloc[0] == 0.0
    assert rec.geometry.iloc[0].is_empty
    assert rec["container_id"].iloc[0] == "lc"
    fine = outside(parcels, containers, tolerance_m2=0.1).records
    assert fine["outside_ha"].iloc[0] * 10_000 == pytest.approx(0.8, rel=1e-2)


def test_a_shared_invalid_container_is_repaired_and_reported_once() -> None:
    bow_tie = utm([(0, 0), (100, 100), (100, 0), (0, 100)])
    containers = gpd.GeoSeries([bow_tie, bow_tie], index=["lc1", "lc1"], crs=4326)
    parcels = layer(["p1", "p2"], [square(0, 0, 100), square(40, 40, 20)])
    result = outside_area(
        parcels, containers, part_layer="contract_parcels", container_layer="land_conclusions"
    )
    assert [(r.layer, r.feature_id) for r in result.repaired] == [("land_conclusions", "lc1")]
    # the bow-tie (|y - 50| <= |x - 50|) covers half of the 100 m square, and half of the
    # 20 m square centred on its pinch point
    assert result.records["outside_ha"].tolist() == pytest.approx([0.5, 0.02], rel=REL)


def test_parts_and_containers_must_align() -> None:
    parcels = layer(["p1", "p2"], [square(0, 0, 100), square(200, 0, 100)])
    with pytest.raises(ValueError, match="aligned one to one"):
        outside_area(
            parcels, layer(["lc"], [square(0, 0, 500)]), part_layer="p", container_layer="lc"
        )


def test_known_part_hectares_give_the_answer_measuring_gives() -> None:
    conclusions = layer(["lc1"], [square(0, 0, 1000)])
    bow_tie = utm([(900, 0), (1100, 200), (1100, 0), (900, 200)])
    parcels = layer(["half-out", "inside", "empty"], [square(950, 0, 100), square(100, 100, 100),
                                                     shapely.Polygon()])  # fmt: skip
    containers = conclusions.set_index("id").geometry.reindex(["lc1"] * 3)
    outside = functools.partial(
        outside_area, part_layer="contract_parcels", container_layer="land_conclusions"
    )
    measured = outside(parcels, containers).records
    given = outside(parcels, containers, part_ha=official_ha(parcels.geometry)).records
    pd.testing.assert_frame_equal(given, measured, check_exact=True)
    # a part that needs repair is measured as repaired, whatever was given for it
    broken = layer(["bow-tie"], [bow_tie])
    wrong = np.array([123.0])
    repaired = outside(broken, containers.iloc[:1], part_ha=wrong).records
    assert (
        repaired["part_ha"].tolist()
        == outside(broken, containers.iloc[:1]).records["part_ha"].tolist()
    )
    assert repaired["part_ha"].iloc[0] == pytest.approx(2.0, rel=REL)  # half of 200 m x 200 m
    with pytest.raises(ValueError, match="2 areas for 3 parts"):
        outside(parcels, containers, part_ha=np.array([1.0, 1.0]))


# --- repair helpers --------------------------------------------------------------------------


def test_polygonal_parts_drop_lines_and_points() -> None:
    mixed = shapely.GeometryCollection(
        [square(0, 0, 100), shapely.LineString([(106, 47), (106.1, 47.1)]), shapely.Point(106, 47)]
    )
    kept = polygonal_parts(np.array([mixed, square(0, 0, 50), None], dtype=object))
    assert kept[0].geom_type == "MultiPolygon" and kept[0].equals(square(0, 0, 100))
    assert kept[1].geom_type == "Polygon"
    assert kept[2] is None


def test_a_polygon_collapsing_to_a_line_becomes_empty_and_is_reported() -> None:
    spike = shapely.Polygon([(106.0, 47.0), (106.1, 47.1), (106.0, 47.0), (106.1, 47.1)])
    fixed, repaired = repair_polygons(np.array([spike], dtype=object), layer="p", ids=["s"])
    assert fixed[0].is_empty
    assert [r.feature_id for r in repaired] == ["s"]


def test_docstring_examples() -> None:
    for module in (geo.overlaps, geo.outside, geo.repair):
        result = doctest.testmod(module)
        assert result.attempted >= 1
        assert result.failed == 0
