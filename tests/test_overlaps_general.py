"""The general (GEOS) overlap path against the straightforward computation.

``geo.overlaps`` takes shortcuts on pairs that are not two four-corner parcels: a pair of small
polygons goes from the tree's bounding-box match straight to the overlay, a pair where one
polygon lies inside the other is not overlaid, and small one-ring shared parts are measured in
numpy. Here every pair of features is intersected with ``shapely.intersection`` and measured
with the public ``official_ha``, and both must find the same pairs, the same shared parts and
the same areas, on hand-made hostile cases and on random polygons of many shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import Polygon, box

import geo.overlaps
from geo.area import LOCAL_MAX_DEG, official_ha
from geo.overlaps import overlaps_between, overlaps_within
from geo.repair import polygonal_parts, repair_polygons

TOL_M2 = 1.0
X, Y = 106.3, 47.0  # near Ulaanbaatar; every case is built in degrees from here
D = 0.001  # about 75 m east-west, 110 m north-south


def sq(x: float, y: float, w: float, h: float | None = None) -> Polygon:
    return box(X + x * D, Y + y * D, X + (x + w) * D, Y + (y + (w if h is None else h)) * D)


def poly(
    coords: list[tuple[float, float]], holes: Sequence[list[tuple[float, float]]] = ()
) -> Polygon:
    def at(ring: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(X + x * D, Y + y * D) for x, y in ring]

    return Polygon(at(coords), [at(h) for h in holes])


def circle(x: float, y: float, r: float, n: int = 100) -> Polygon:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return poly(list(zip(x + r * np.cos(t), y + r * np.sin(t), strict=True)))


def layer(prefix: str, geoms: list[shapely.Geometry | None]) -> gpd.GeoDataFrame:
    ids = [f"{prefix}{k:03d}" for k in range(len(geoms))]
    return gpd.GeoDataFrame({"id": ids}, geometry=list(geoms), crs=4326)


def plain(
    a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, *, within: bool
) -> dict[tuple[str, str], tuple[float, shapely.Geometry]]:
    """Every pair intersected and measured the obvious way (inputs repaired as documented)."""
    ga, _ = repair_polygons(np.asarray(a.geometry.array), layer="a", ids=list(a["id"]))
    gb, _ = repair_polygons(np.asarray(b.geometry.array), layer="b", ids=list(b["id"]))
    i, j = (k.ravel() for k in np.meshgrid(np.arange(len(ga)), np.arange(len(gb)), indexing="ij"))
    if within:
        i, j = i[i < j], j[i < j]
    usable = ~shapely.is_missing(ga[i]) & ~shapely.is_missing(gb[j])
    i, j = i[usable], j[usable]
    shared = polygonal_parts(shapely.intersection(ga[i], gb[j]))
    ha = official_ha(shared)
    out = {}
    for p, q, h, g in zip(i, j, ha, shared, strict=True):
        if h * 10_000 > TOL_M2:
            key = (str(a["id"].iloc[p]), str(b["id"].iloc[q]))
            out[(min(key), max(key)) if within else key] = (float(h), g)
    return out


def assert_same(
    result: geo.overlaps.OverlapResult,
    expected: dict[tuple[str, str], tuple[float, shapely.Geometry]],
) -> None:
    rec = result.records
    got = list(zip(rec["a_id"], rec["b_id"], strict=True))
    assert got == sorted(expected), "the same pairs, in order"
    want_ha = np.array([expected[k][0] for k in got])
    # the official measure's local scale is taken by differences at the centroid, which GEOS
    # and numpy place ~1e-15 degrees apart: ~1e-9 per pair at most
    np.testing.assert_allclose(rec["overlap_ha"], want_ha, rtol=1e-8, atol=0)
    assert abs(rec["overlap_ha"].sum() - want_ha.sum()) <= 1e-9 * want_ha.sum()
    want_geom = np.array([expected[k][1] for k in got], dtype=object)
    differ = shapely.area(shapely.symmetric_difference(rec.geometry.values, want_geom))
    assert (differ <= 1e-12 * shapely.area(want_geom)).all(), "the same shared parts"


def hostile() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    frame = poly([(0, 0), (10, 0), (10, 10), (0, 10)], [[(3, 3), (7, 3), (7, 7), (3, 7)]])
    bowtie = poly([(40, 0), (44, 4), (44, 0), (40, 4)])  # invalid: repaired to two triangles
    a = [
        sq(0, 20, 10),  # 0: holds b's small square properly
        sq(22, 22, 2),  # 1: lies properly inside b's large square
        sq(40, 20, 4),  # 2: shares its east edge exactly with b's square (touching)
        sq(50, 20, 4),  # 3: meets b's square at a corner only
        frame,  # 4: a square with a hole
        poly([(0, 40), (9, 40), (9, 49), (6, 49), (6, 43), (3, 43), (3, 49), (0, 49)]),  # 5: U
        shapely.MultiPolygon([sq(20, 40, 3), sq(26, 40, 3)]),  # 6: two parts, both on a bar
        circle(150, 150, 30),  # 7: 100 coordinates, 0.06 degrees across
        poly([(100, 0), (106, 0), (106, 1), (101, 1), (101, 6), (100, 6)]),  # 8: an L
        bowtie,  # 9
        sq(60, 60, 2),  # 10: a sliver under the tolerance with b
        sq(80, 60, 3),  # 11: a four-corner parcel (the quadrilateral path) with a general one
        None,  # 12: missing
        Polygon(),  # 13: empty
        sq(0, 60, 2, 1) | sq(1, 60, 2, 1),  # 14: two boxes unioned: a six-corner rectangle
    ]
    b = [
        sq(4, 24, 2),  # 0: properly inside a0
        sq(20, 20, 6),  # 1: holds a1 properly
        sq(44, 20, 4),  # 2: touches a2 along an edge
        sq(54, 24, 4),  # 3: touches a3 at a corner
        sq(4, 4, 2),  # 4: in a4's hole: nothing shared
        sq(2, 2, 6),  # 5: covers a4's hole: a ring shared, with a hole
        sq(-1, 46, 11, 2),  # 6: a bar across the U's arms: two parts shared
        sq(19, 41, 11, 1),  # 7: a bar across a6's two parts
        sq(140, 140, 50),  # 8: much of the circle (more than LOCAL_MAX_DEG shared)
        sq(120.5, 120.5, 1),  # 9: in the circle's box, outside it
        sq(103, 3, 2),  # 10: in the L's box, outside it (a small pair that does not meet)
        sq(42, 1, 4, 2),  # 11: across the repaired bow-tie
        sq(62, 60, 2) | sq(61.999999, 60.5, 0.01),  # 12: a sliver on a10
        poly([(82, 61), (84, 61), (85, 62), (84, 64), (82, 64)]),  # 13: five corners on a11
        sq(1, 60.5, 3),  # 14: on a14
        circle(5, 25, 0.5, n=40),  # 15: small and round, inside a0 and b0's neighbour
    ]
    return layer("a", a), layer("b", b)


@pytest.mark.parametrize("skip", [True, False], ids=["contains-skip", "plain-overlay"])
def test_hostile_pairs_equal_the_straightforward_computation(
    skip: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(geo.overlaps, "CONTAINS_SKIP", skip)
    a, b = hostile()
    expected = plain(a, b, within=False)
    # the cases are what they claim to be
    assert ("a000", "b000") in expected and ("a001", "b001") in expected
    assert not {("a002", "b002"), ("a003", "b003"), ("a004", "b004")} & expected.keys()
    assert not {("a007", "b009"), ("a008", "b010"), ("a010", "b012")} & expected.keys()
    assert expected[("a004", "b005")][1].geom_type == "Polygon"
    assert len(expected[("a004", "b005")][1].interiors) == 1
    assert expected[("a005", "b006")][1].geom_type == "MultiPolygon"
    big = np.ptp(shapely.get_coordinates(expected[("a007", "b008")][1]), axis=0)
    assert (big > LOCAL_MAX_DEG).any()
    assert ("a009", "b011") in expected
    result = overlaps_between(a, b, a_layer="a", b_layer="b", tolerance_m2=TOL_M2)
    assert result.repaired_ids("a") == ["a009"]
    assert_same(result, expected)
    # and every pair of the two layers together, within one layer
    both = layer("f", [*a.geometry, *b.geometry])
    assert_same(
        overlaps_within(both, layer="f", tolerance_m2=TOL_M2), plain(both, both, within=True)
    )


def random_polygons(rng: np.random.Generator, n: int, prefix: str) -> gpd.GeoDataFrame:
    """``n`` polygons of 3-40 corners around random centres: convex and star-shaped (not
    convex), a few with a hole, sizes from a tenth to twice the spacing of the centres."""
    out: list[shapely.Geometry] = []
    for _ in range(n):
        k = int(rng.integers(3, 41))
        t = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(0.1, 2.0)
        radius = r * (rng.uniform(0.4, 1.0, k) if rng.random() < 0.5 else np.ones(k))
        cx, cy = rng.uniform(0, 20, 2)
        ring = list(zip(cx + radius * np.cos(t), cy + radius * np.sin(t), strict=True))
        g = poly(ring)
        if rng.random() < 0.15:
            g = g.difference(circle(cx, cy, 0.3 * r, n=12))
        out.append(g)
    return layer(prefix, out)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_polygons_equal_the_straightforward_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = random_polygons(rng, 120, "a"), random_polygons(rng, 120, "b")
    expected = plain(a, b, within=False)
    assert len(expected) > 200  # plenty of pairs, of every kind
    assert_same(overlaps_between(a, b, a_layer="a", b_layer="b"), expected)
    assert_same(overlaps_within(a, layer="a"), plain(a, a, within=True))
