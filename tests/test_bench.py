"""The benchmark's machinery at a tiny size: its data, the naive engine, the agreement check.

PostGIS is not needed here (``scripts/bench`` runs it); these tests check that the generated
layers are deterministic and shaped as documented, that naive geopandas ``overlay`` finds the
same pairs and areas as Gazar on hand-built boxes and on the generated layers, and that a
disagreement is detected and makes the run fail.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import box

from bench import run
from bench.data import BenchData, applications, build, resurvey
from geo.area import official_ha
from geo.overlaps import overlaps_between, overlaps_within
from tests.factories import utm_box


def _layer(ids: list[str], geoms: list[shapely.Geometry]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ids}, geometry=geoms, crs="EPSG:4326")


@pytest.fixture(scope="module")
def tiny() -> BenchData:
    return build(scale=2)


def test_build_is_deterministic(tiny: BenchData) -> None:
    again = build(scale=2)
    for name in ("parcels", "resurvey", "applications"):
        a, b = getattr(tiny, name), getattr(again, name)
        assert a["id"].tolist() == b["id"].tolist()
        assert shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=0).all()
    assert len(tiny.parcels) == len(tiny.resurvey) == len(tiny.applications) == 200


def test_resurvey_moves_each_parcel_but_keeps_it_on_its_original(tiny: BenchData) -> None:
    moved = np.asarray(tiny.resurvey.geometry.array)
    original = np.asarray(tiny.parcels.geometry.array)
    assert shapely.intersects(moved, original).all()
    assert not shapely.equals(moved, original).any()
    # a translation: the same official area to within the change of scale over ~12 m
    np.testing.assert_allclose(official_ha(moved), official_ha(original), rtol=1e-5)


def test_five_corner_copies_are_the_same_shapes_and_overlap_the_same(tiny: BenchData) -> None:
    from geo.quads import convex_quads

    four = np.asarray(tiny.parcels.geometry.array)
    five = np.asarray(tiny.parcels_5.geometry.array)
    assert convex_quads(four).all() and not convex_quads(five).any()
    # the midpoint of a slanted edge is on it to floating-point rounding
    differ = shapely.area(shapely.symmetric_difference(four, five))
    assert (differ <= 1e-10 * shapely.area(four)).all()
    assert (shapely.get_num_coordinates(five) == 6).all()
    assert tiny.parcels_5["id"].tolist() == tiny.parcels["id"].tolist()
    quads = overlaps_between(tiny.parcels, tiny.resurvey, a_layer="p", b_layer="r").records
    geos = overlaps_between(tiny.parcels_5, tiny.resurvey_5, a_layer="p", b_layer="r").records
    assert len(quads) >= len(tiny.parcels)
    assert quads[["a_id", "b_id"]].values.tolist() == geos[["a_id", "b_id"]].values.tolist()
    np.testing.assert_allclose(quads["overlap_ha"], geos["overlap_ha"], rtol=1e-7)


def _scaled(layer: gpd.GeoDataFrame, factors: np.ndarray, prefix: str) -> gpd.GeoDataFrame:
    """Each feature scaled about its centroid by its own factor (ids ``prefix-k``)."""
    geoms = np.asarray(layer.geometry.array)
    centre = shapely.get_coordinates(shapely.centroid(geoms))
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    moved = centre[owner] + (coords - centre[owner]) * factors[owner, None]
    out = shapely.set_coordinates(shapely.from_wkb(shapely.to_wkb(geoms)), moved)
    return _layer([f"{prefix}-{k}" for k in range(len(out))], list(out))


def test_contains_skip_gives_the_same_pairs_and_areas_as_the_plain_overlay(
    tiny: BenchData, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geo.overlaps

    # five-corner copies (the GEOS path) shrunk inside, grown around, or the re-drawn ones
    five = tiny.parcels_5
    rng = np.random.default_rng(3)
    factors = rng.choice([0.5, 0.9, 1.3], size=len(five))
    others = pd.concat([_scaled(five, factors, "S"), tiny.resurvey_5], ignore_index=True)
    others = gpd.GeoDataFrame(others, geometry="geometry", crs="EPSG:4326")

    def run_both() -> tuple[pd.DataFrame, pd.DataFrame]:
        between = overlaps_between(five, others, a_layer="p", b_layer="o").records
        within = overlaps_within(others, layer="o").records
        return between, within

    skipped = run_both()
    monkeypatch.setattr(geo.overlaps, "CONTAINS_SKIP", False)
    plain = run_both()
    a = np.asarray(five.geometry.array)
    assert shapely.contains_properly(a, np.asarray(others.geometry.array)[: len(a)]).sum() > 10
    for got, want in zip(skipped, plain, strict=True):
        assert got[["a_id", "b_id"]].values.tolist() == want[["a_id", "b_id"]].values.tolist()
        # the same polygon in GEOS's vertex order: the official measure's rounding (the
        # projection's local scale at the centroid, by differences) moves by ~1e-9 per pair
        np.testing.assert_allclose(got["overlap_ha"], want["overlap_ha"], rtol=1e-8, atol=0)
        total, expected = got["overlap_ha"].sum(), want["overlap_ha"].sum()
        assert abs(total - expected) <= 1e-9 * expected
        assert (shapely.area(shapely.symmetric_difference(got.geometry.values,
                want.geometry.values)) <= 1e-12).all()  # fmt: skip


def test_resurvey_offsets_are_metres() -> None:
    # a 200 m x 200 m box moved by sigma 0 stays; by sigma 10 it keeps (200-|dx|)(200-|dy|) m²
    p = _layer(["p"], [utm_box(0, 0, 200, 200)])
    assert shapely.equals_exact(
        resurvey(p, sigma_m=0.0).geometry.iloc[0], p.geometry.iloc[0], 1e-12
    )
    moved = resurvey(p, sigma_m=10.0, seed=5).geometry.iloc[0]
    rng = np.random.default_rng(5)
    east, north = abs(rng.normal(0.0, 10.0)), abs(rng.normal(0.0, 10.0))
    assert 1.0 < max(east, north) < 40.0  # the offsets drawn are metres
    shared = official_ha([moved.intersection(p.geometry.iloc[0])])[0]
    # offsets are converted with a local metres-per-degree figure: right to ~0.5% of a few m
    assert shared == pytest.approx((200 - east) * (200 - north) / 10_000, rel=1e-3)


def test_applications_lie_in_the_region_with_documented_sizes() -> None:
    region = box(106.0, 47.0, 106.5, 47.5)
    apps = applications(region, n=500)
    centres = shapely.centroid(np.asarray(apps.geometry.array))
    assert shapely.contains(region, centres).all()
    ha = official_ha(apps.geometry)
    assert ha.min() > 90 * 110 / 10_000 * 0.999  # at least 90 m x 110 m
    assert ha.max() < 220 * 220 / 10_000 * 1.001  # at most 220 m x 220 m
    assert apps["id"].iloc[-1] == "AP-000500"


def test_overlay_matches_hand_computed_overlaps() -> None:
    a = _layer(["a1", "a2"], [utm_box(0, 0, 100, 100), utm_box(300, 0, 100, 100)])
    b = _layer(
        ["b1", "b2", "b3"],
        [
            utm_box(50, 0, 100, 100),  # half of a1: 0.5 ha
            utm_box(400, 0, 100, 100),  # touches a2 along an edge: no overlap
            utm_box(320, 20, 10, 10),  # inside a2: 0.01 ha
        ],
    )
    got = run.overlay_overlaps(a, b).sort_values("b_id")
    assert got[["a_id", "b_id"]].to_numpy().tolist() == [["a1", "b1"], ["a2", "b3"]]
    # boxes drawn in UTM metres, stored with straight lon/lat edges: areas agree to ~1e-6
    np.testing.assert_allclose(got["ha"], [0.5, 0.01], rtol=1e-5)
    gazar = overlaps_between(a, b, a_layer="a", b_layer="b").records
    np.testing.assert_allclose(gazar["overlap_ha"], got["ha"], rtol=1e-12)


def test_overlay_within_drops_self_pairs_and_mirrors() -> None:
    t = _layer(
        ["p1", "p2", "p3"],
        [utm_box(0, 0, 100, 100), utm_box(60, 0, 100, 100), utm_box(500, 0, 10, 10)],
    )
    got = run.overlay_overlaps(t, None)
    assert got[["a_id", "b_id"]].to_numpy().tolist() == [["p1", "p2"]]
    np.testing.assert_allclose(got["ha"], [0.4], rtol=1e-5)


def test_compare_flags_missing_pairs_and_area_differences() -> None:
    ref = {("a", "b"): 1.0, ("a", "c"): 2.0}
    assert run.compare("x", "t", ref, {("a", "b"): 1.0, ("a", "c"): 2.0 + 1e-9}).ok
    missing = run.compare("x", "t", ref, {("a", "b"): 1.0})
    assert not missing.ok and missing.missing == (("a", "c"),)
    extra = run.compare("x", "t", ref, {**ref, ("b", "c"): 1e-3})
    assert not extra.ok and extra.extra == (("b", "c"),)
    off = run.compare("x", "t", ref, {("a", "b"): 1.0, ("a", "c"): 2.0 + 1e-4})
    assert not off.ok and off.rel_diff == pytest.approx(1e-4 / 3)


def test_engines_agree_on_the_tiny_layers(tiny: BenchData) -> None:
    bench = run.Bench(tiny, repeats=1, conn=None, run_overlay=True)
    bench.overlaps(run.Row("between", "between", run.Goal(1.0, 4)), "parcels", "resurvey")
    bench.overlaps(run.Row("within", "within", run.Goal(0.6, 10)), "resurvey", None)
    assert [a.ok for a in bench.agreements] == [True, True]
    between, within = bench.agreements
    assert between.count >= 200  # every re-drawn parcel overlaps its original
    assert within.count == len(overlaps_within(tiny.resurvey, layer="resurvey"))
    assert bench.rows[0].gazar.seconds is not None and bench.rows[0].postgis.note == "n/a"


def test_main_exits_non_zero_when_engines_disagree(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--scale", "2", "--repeats", "1", "--no-postgis"]
    assert run.main(argv) == 0
    out = capsys.readouterr().out
    assert "postgis/gazar" in out and "DISAGREE" not in out

    honest = run.overlay_overlaps

    def drops_a_pair(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame | None) -> pd.DataFrame:
        return honest(a, b).iloc[1:]

    monkeypatch.setattr(run, "overlay_overlaps", drops_a_pair)
    # the engines' rows alone: the disagreement is theirs (the rest ran above)
    engines_only = [*argv, "--no-api", "--no-backends", "--no-cli", "--no-tiles"]
    assert run.main(engines_only) == 1
    assert "overlay DISAGREE" in capsys.readouterr().out


def test_the_tile_figures_run_without_postgis(tiny: BenchData) -> None:
    from bench import tiles

    figures = tiles.run(tiny.parcels, None, repeats=1, full=False)
    assert [f.task.split(" (")[0] for f in figures] == [f"vector tile z{z}" for z in tiles.ZOOMS]
    for f in figures:
        assert f.gazar is not None and f.gazar > 0
        assert f.reference is None and "n/a" in f.reference_name
        # the densest tile holds parcels, every one of them counted
        assert "standing for 0 parcels" not in f.note
    assert tiles.missed(figures) == []
