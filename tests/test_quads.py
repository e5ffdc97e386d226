"""Four-corner parcels: recognised exactly, clipped like GEOS, and the overlaps they give equal
to the general (GEOS) path's."""

from __future__ import annotations

import doctest
import functools
from collections.abc import Callable
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pytest
import shapely

import geo.overlaps
import geo.quads
from geo.area import LOCAL_MAX_DEG, official_ha, small_official_ha
from geo.overlaps import overlaps_between, overlaps_within
from geo.quads import (
    clip_quads,
    convex_quads,
    find_quads,
    quad_corners,
    ring_measures,
    ring_polygons,
)
from geo.repair import repair_polygons
from layers.errors import InvalidGeometry

T = TypeVar("T")
GeosOnly = Callable[[Callable[[], T]], T]


def random_quads(rng: np.random.Generator, n: int, *, spread: float, size: float) -> np.ndarray:
    """``n`` random convex quadrilaterals (corners on an ellipse), as (n, 4, 2) corners.

    Four sorted angles on a circle give a convex quadrilateral; a random linear map of the
    circle (an ellipse, sheared and turned) keeps it convex.
    """
    angles = np.sort(rng.uniform(0, 2 * np.pi, (n, 4)), axis=1)
    unit = np.stack((np.cos(angles), np.sin(angles)), axis=2)
    linear = rng.normal(0, 1, (n, 2, 2)) * size
    centre = np.array([106.5, 47.5]) + rng.uniform(-spread, spread, (n, 1, 2))
    corners = np.einsum("nij,nkj->nki", linear, unit) + centre
    # some clockwise, some counter-clockwise, starting at any corner
    flip = rng.random(n) < 0.5
    corners[flip] = corners[flip, ::-1]
    return np.stack(
        [np.roll(c, k, axis=0) for c, k in zip(corners, rng.integers(0, 4, n), strict=True)]
    )


def polygons(corners: np.ndarray) -> np.ndarray:
    return np.asarray(shapely.polygons(np.concatenate((corners, corners[:, :1]), axis=1)))


@pytest.fixture
def geos_only(monkeypatch: pytest.MonkeyPatch) -> GeosOnly:
    """Run a function with no feature recognised as a quadrilateral: all pairs through GEOS."""

    def run(f: Callable[[], T]) -> T:
        with monkeypatch.context() as m:
            m.setattr(
                geo.overlaps,
                "find_quads",
                lambda geoms, **_: (np.zeros(len(geoms), dtype=bool), np.zeros((0, 4, 2))),
            )
            return f()

    return run


def with_extra_vertex(geoms: np.ndarray) -> np.ndarray:
    """The same polygons with one more vertex, in the middle of their first edge.

    The shape is unchanged, but a five-corner ring is not a quadrilateral: the analyses take
    the GEOS path for it.
    """
    coords = shapely.get_coordinates(geoms).reshape(len(geoms), -1, 2)
    middle = (coords[:, :1] + coords[:, 1:2]) / 2
    return np.asarray(
        shapely.polygons(np.concatenate((coords[:, :1], middle, coords[:, 1:]), axis=1))
    )


def layer(prefix: str, geoms: np.ndarray) -> gpd.GeoDataFrame:
    ids = [f"{prefix}{k:05d}" for k in range(len(geoms))]
    return gpd.GeoDataFrame({"id": ids}, geometry=list(geoms), crs=4326)


# recognising quadrilaterals


def test_boxes_and_turned_rectangles_are_quads_whichever_way_they_run() -> None:
    box = shapely.box(106.0, 47.0, 106.01, 47.01)
    turned = shapely.affinity.rotate(box, 17.0)
    clockwise = shapely.reverse(turned)
    kite = shapely.Polygon([(0, 0), (2, 1), (0, 5), (-2, 1)])
    assert convex_quads([box, turned, clockwise, kite]).tolist() == [True] * 4


@pytest.mark.parametrize(
    "geom",
    [
        shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]),  # bow-tie
        shapely.Polygon([(0, 0), (2, 0), (1, 0.2), (1, 2)]),  # concave (a dart)
        shapely.Polygon([(0, 0), (1, 0), (2, 0), (2, 1)]),  # three corners in a line
        shapely.Polygon([(0, 0), (1, 0), (2, 0), (2, 1), (0, 1)]),  # a fifth corner
        shapely.Polygon([(0, 0), (1, 0), (1, 1)]),  # a triangle
        shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)])
        .buffer(0)
        .union(shapely.box(2, 0, 3, 1)),  # a MultiPolygon of two squares
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]),  # one square, as a MultiPolygon
        shapely.box(0, 0, 4, 4).difference(shapely.box(1, 1, 2, 2)),  # a square with a hole
        shapely.Polygon(),
        shapely.LineString([(0, 0), (1, 1)]),
        None,
    ],
    ids=lambda g: "None" if g is None else g.geom_type + ("-empty" if g.is_empty else ""),
)
def test_anything_else_is_not_a_quad(geom: shapely.Geometry | None) -> None:
    assert convex_quads(np.array([geom], dtype=object)).tolist() == [False]


def test_a_corner_straight_to_within_rounding_is_left_to_geos() -> None:
    """A turn no larger than the rounding of its own products could have its sign wrong in
    float arithmetic: such a corner is not trusted to be convex (GEOS decides), while a tiny
    turn of the same exact coordinates computed well above the rounding still is a quad."""
    ulp = float(np.spacing(47.25))
    nearly = shapely.Polygon([(106.0, 47.0), (106.5, 47.25 - ulp), (107.0, 47.5), (106.0, 47.5)])
    clear = shapely.Polygon(
        [(106.0, 47.0), (106.5, 47.25 - 64 * ulp), (107.0, 47.5), (106.0, 47.5)]
    )
    assert convex_quads([nearly, clear]).tolist() == [False, True]
    assert shapely.is_valid(nearly)  # and GEOS measures it on the general path


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_a_nan_or_infinite_corner_is_not_a_quad_and_is_still_refused() -> None:
    nan = shapely.Polygon([(106.0, 47.0), (106.01, 47.0), (106.01, np.nan), (106.0, 47.01)])
    inf = shapely.Polygon([(106.0, 47.0), (np.inf, 47.0), (106.01, 47.01), (106.0, 47.01)])
    assert convex_quads([nan, inf]).tolist() == [False, False]
    good = shapely.box(106.0, 47.0, 106.01, 47.01)
    for bad in (nan, inf):
        with pytest.raises(InvalidGeometry, match=r"layer 'p', feature #1 \(id=p00001\)"):
            overlaps_within(layer("p", np.array([good, bad])), layer="p")


def test_corners_come_counter_clockwise_from_either_orientation() -> None:
    rng = np.random.default_rng(3)
    corners = random_quads(rng, 500, spread=0.1, size=0.001)
    mask, found = find_quads(polygons(corners))
    assert mask.all()
    local = found - found[:, :1]
    twice_area = (
        local[:, :, 0] * np.roll(local[:, :, 1], -1, axis=1)
        - np.roll(local[:, :, 0], -1, axis=1) * local[:, :, 1]
    ).sum(axis=1)
    assert (twice_area > 0).all()
    with pytest.raises(ValueError, match="#1 is not a convex quadrilateral"):
        quad_corners([shapely.box(0, 0, 1, 1), shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])])


# clipping


def geos_shared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(shapely.intersection(polygons(a), polygons(b)))


def test_clipping_agrees_with_geos_on_random_convex_quads() -> None:
    rng = np.random.default_rng(11)
    n = 4_000
    a = quad_corners(polygons(random_quads(rng, n, spread=0.002, size=0.001)))
    b = quad_corners(polygons(random_quads(rng, n, spread=0.002, size=0.001)))
    origin = a[:, :1]
    verts, count = clip_quads(a - origin, b - origin)
    area, _, _ = ring_measures(verts, count)
    mine = ring_polygons(verts + origin, count)
    geos = geos_shared(a, b)
    expected = shapely.area(geos)
    assert 0.2 < (expected > 0).mean() < 0.9  # both overlapping and disjoint pairs are tried
    # 1e-16 square degrees is about 1e-6 m² here: GEOS works on the absolute coordinates
    np.testing.assert_allclose(area, expected, rtol=1e-9, atol=1e-16)
    differ = shapely.area(shapely.symmetric_difference(mine, geos))
    assert (differ <= 1e-9 * expected + 1e-16).all()
    assert shapely.is_valid(mine[area > 0]).all()
    # the centroid too: the Jacobian is taken there
    _, cx, cy = ring_measures(verts, count)
    some = expected > 1e-12
    centre = shapely.centroid(geos[some])
    np.testing.assert_allclose(cx[some] + origin[some, 0, 0], shapely.get_x(centre), atol=1e-12)
    np.testing.assert_allclose(cy[some] + origin[some, 0, 1], shapely.get_y(centre), atol=1e-12)


def test_clipping_degenerate_pairs() -> None:
    square = np.array([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]])
    east, north_east, far, half = (np.array(v) for v in ([1.0, 0], [1.0, 1.0], [5.0, 0], [0.5, 0]))
    cases = {
        "identical": (square, square, 1.0),
        "sharing an edge": (square, square + east, 0.0),
        "touching at a corner": (square, square + north_east, 0.0),
        "inside": (square, square * 3 - 1, 1.0),
        "around": (square * 3 - 1, square, 1.0),
        "apart": (square, square + far, 0.0),
        "half": (square, square + half, 0.5),
        "turned, bounding boxes overlap, shapes apart": (
            square,
            np.array([[[1.5, 0.5], [2.6, 1.6], [1.6, 2.6], [0.5, 1.5]]]) + 0.3,
            0.0,
        ),
    }
    for name, (a, b, expected) in cases.items():
        verts, count = clip_quads(a, b)
        area, _, _ = ring_measures(verts, count)
        assert area[0] == pytest.approx(expected, abs=1e-15), name
        assert ring_polygons(verts, count)[0].area == pytest.approx(expected, abs=1e-15), name


# overlaps: the quadrilateral path gives what the GEOS path gives


def assert_same_overlaps(fast: gpd.GeoDataFrame, slow: gpd.GeoDataFrame) -> None:
    assert len(fast) > 0
    assert fast[["a_id", "b_id"]].values.tolist() == slow[["a_id", "b_id"]].values.tolist()
    # to 1e-7 per pair (a few square centimetres on a hectare), 1e-9 in total
    np.testing.assert_allclose(fast["overlap_ha"], slow["overlap_ha"], rtol=1e-7)
    assert fast["overlap_ha"].sum() == pytest.approx(slow["overlap_ha"].sum(), rel=1e-9)
    slow_area = shapely.area(slow.geometry.values)
    differ = shapely.area(shapely.symmetric_difference(fast.geometry.values, slow.geometry.values))
    assert (differ <= 1e-9 * slow_area + 1e-16).all()
    assert shapely.is_valid(fast.geometry.values).all()


@pytest.mark.parametrize(
    ("size", "what"),
    [(0.001, "parcels (measured through the Jacobian)"), (0.05, "Land Conclusions (split edges)")],
)
def test_overlaps_between_quads_equal_the_geos_path(
    size: float, what: str, geos_only: GeosOnly
) -> None:
    rng = np.random.default_rng(5)
    n = 3_000
    a = layer("a", polygons(random_quads(rng, n, spread=40 * size, size=size)))
    b = layer("b", polygons(random_quads(rng, n, spread=40 * size, size=size)))
    width = a.bounds["maxx"] - a.bounds["minx"]
    assert ((width <= LOCAL_MAX_DEG).mean() > 0.5) == (size <= LOCAL_MAX_DEG), what
    fast = overlaps_between(a, b, a_layer="a", b_layer="b")
    slow = geos_only(lambda: overlaps_between(a, b, a_layer="a", b_layer="b"))
    assert_same_overlaps(fast.records, slow.records)


def test_overlaps_between_quads_and_other_polygons_mix_both_paths(geos_only: GeosOnly) -> None:
    rng = np.random.default_rng(8)
    a = polygons(random_quads(rng, 2_000, spread=0.04, size=0.001))
    b = polygons(random_quads(rng, 2_000, spread=0.04, size=0.001))
    a[::2] = with_extra_vertex(a[::2])  # five corners: GEOS
    b[1::3] = shapely.buffer(b[1::3], 0.0001, quad_segs=2)  # rounded: GEOS
    fast = overlaps_between(layer("a", a), layer("b", b), a_layer="a", b_layer="b")
    slow = geos_only(
        lambda: overlaps_between(layer("a", a), layer("b", b), a_layer="a", b_layer="b")
    )
    assert_same_overlaps(fast.records, slow.records)
    # and a parcel drawn with an extra vertex on an edge overlaps as it did with four
    plain = overlaps_between(
        layer(
            "a", polygons(random_quads(np.random.default_rng(8), 2_000, spread=0.04, size=0.001))
        ),
        layer("b", b),
        a_layer="a",
        b_layer="b",
    )
    assert (
        plain.records[["a_id", "b_id"]].values.tolist()
        == fast.records[["a_id", "b_id"]].values.tolist()
    )
    np.testing.assert_allclose(plain.records["overlap_ha"], fast.records["overlap_ha"], rtol=1e-7)


def test_overlaps_within_quads_equal_the_geos_path(geos_only: GeosOnly) -> None:
    rng = np.random.default_rng(9)
    parcels = layer("p", polygons(random_quads(rng, 3_000, spread=0.05, size=0.001)))
    fast = overlaps_within(parcels, layer="p")
    slow = geos_only(lambda: overlaps_within(parcels, layer="p"))
    assert_same_overlaps(fast.records, slow.records)


def test_neighbours_sharing_edges_do_not_overlap(geos_only: GeosOnly) -> None:
    # a grid of 0.001-degree cells: every cell shares its edges with its neighbours exactly
    x, y = np.meshgrid(np.arange(20) * 0.001 + 106.0, np.arange(20) * 0.001 + 47.0)
    cells = np.asarray(shapely.box(x.ravel(), y.ravel(), x.ravel() + 0.001, y.ravel() + 0.001))
    angle = np.radians(20.0)
    turned = np.asarray(
        shapely.affinity.rotate(shapely.MultiPolygon(list(cells)), angle, use_radians=True).geoms
    )
    for grid, along in ((cells, [1.0, 0.0]), (turned, [np.cos(angle), np.sin(angle)])):
        assert convex_quads(grid).all()
        assert len(overlaps_within(layer("c", grid), layer="c").records) == 0
        # moved half a cell along a row: each lies half on its own cell and half on the next
        # one, except in the last column
        step = 0.0005 * np.array(along)
        moved = np.asarray(shapely.transform(grid, lambda c, step=step: c + step))
        a, b = layer("c", grid), layer("m", moved)
        fast = overlaps_between(a, b, a_layer="c", b_layer="m")
        assert len(fast.records) == len(grid) * 2 - 20
        slow = geos_only(functools.partial(overlaps_between, a, b, a_layer="c", b_layer="m"))
        assert_same_overlaps(fast.records, slow.records)


def test_small_official_ha_is_official_ha() -> None:
    rng = np.random.default_rng(2)
    geoms = polygons(random_quads(rng, 500, spread=6.0, size=0.002))  # zones 47 to 49
    centre = shapely.centroid(geoms)
    ha = small_official_ha(shapely.area(geoms), shapely.get_x(centre), shapely.get_y(centre))
    np.testing.assert_allclose(ha, official_ha(geoms), rtol=1e-12)
    assert small_official_ha([0.0], [106.0], [47.0]).tolist() == [0.0]


def test_known_valid_skips_only_the_geometries_it_names() -> None:
    bowtie = shapely.Polygon([(106.0, 47.0), (106.01, 47.01), (106.01, 47.0), (106.0, 47.01)])
    square = shapely.box(106.0, 47.0, 106.01, 47.01)
    geoms = np.array([square, bowtie])
    fixed, repaired = repair_polygons(
        geoms, layer="p", ids=["a", "b"], known_valid=convex_quads(geoms)
    )
    assert [r.feature_id for r in repaired] == ["b"]
    assert fixed[0] is square
    with pytest.raises(ValueError, match="known_valid has 1 flags for 2 geometries"):
        repair_polygons(geoms, layer="p", ids=["a", "b"], known_valid=np.array([True]))


def test_docstring_examples() -> None:
    failed, tried = doctest.testmod(geo.quads, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failed == 0
