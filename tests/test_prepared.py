"""Prepared geometry and threads: no prepared polygon is used by two threads at once, and the
analyses never prepare a layer's own geometry objects (the server's caches share them).

GEOS builds a prepared geometry's indexes on first use without a lock; two threads doing it at
once crashed a test worker (``test_quads``, Land Conclusions with split edges). These tests do
not rely on a crash happening: they check the two rules that prevent it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict

import geopandas as gpd
import numpy as np
import shapely

from geo.availability import availability
from geo.overlaps import overlaps_between, overlaps_within
from geo.prepared import map_grouped, prepared_large
from tests import factories as f


def big_and_small(n_big: int, n_small: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    centres = rng.uniform((106.0, 47.0), (107.0, 48.0), (n_big, 2))
    big = np.asarray(shapely.buffer(shapely.points(centres), 0.2, quad_segs=32))
    spots = rng.uniform((106.0, 47.0), (107.0, 48.0), (n_small, 2))
    small = np.asarray(shapely.buffer(shapely.points(spots), 0.002, quad_segs=2))
    return big, small


def test_every_row_of_one_owner_runs_in_one_thread_and_answers_keep_their_order() -> None:
    big, small = big_and_small(7, 40_000)
    owner = np.random.default_rng(4).integers(0, 7, 40_000)  # owners interleaved, unsorted
    seen: dict[int, set[int]] = defaultdict(set)
    lock = threading.Lock()

    def op(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        mine = {
            next(k for k in range(7) if shapely.equals_exact(big[k], g, 0)) for g in set(a.tolist())
        }
        assert shapely.is_prepared(a).all()  # the big polygons, through their copies
        with lock:
            for k in mine:
                seen[k].add(threading.get_ident())
        return np.asarray(shapely.intersects(a, b))

    got = map_grouped(op, owner, prepared_large(big[owner], owner), small, workers=2)
    assert all(len(threads) == 1 for threads in seen.values()), seen
    assert len(set().union(*seen.values())) == 2  # and the work was shared out
    np.testing.assert_array_equal(got, shapely.intersects(big[owner], small))


def test_large_polygons_are_tested_through_prepared_copies_small_ones_as_they_are() -> None:
    big, small = big_and_small(3, 4)
    geoms = np.concatenate([big, small, big[:1]])
    positions = np.array([0, 1, 2, 10, 11, 12, 13, 0])
    rows = prepared_large(geoms, positions)
    assert shapely.is_prepared(rows).tolist() == [True] * 3 + [False] * 4 + [True]
    assert rows[0] is rows[7]  # one copy per feature
    assert not any(rows[k] is geoms[k] for k in range(3))
    assert all(rows[k] is geoms[k] for k in range(3, 7))
    assert shapely.equals_exact(rows, geoms, 0).all()
    assert not shapely.is_prepared(geoms).any()


def layer(prefix: str, geoms: np.ndarray) -> gpd.GeoDataFrame:
    ids = [f"{prefix}{k:05d}" for k in range(len(geoms))]
    return gpd.GeoDataFrame({"id": ids}, geometry=list(geoms), crs=4326)


def test_the_analyses_leave_the_layers_geometry_unprepared() -> None:
    # the layer caches hand the same geometry objects to every request's analysis
    big, small = big_and_small(40, 12_000)
    lcs, parcels = layer("lc", big), layer("p", small)
    between = overlaps_between(lcs, parcels, a_layer="land_conclusions", b_layer="parcels")
    within = overlaps_within(lcs, layer="land_conclusions")
    assert len(between.records) > 0 and len(within.records) > 0
    lc_rows = [f.land_conclusion(f"LC-{k}", geometry=g) for k, g in enumerate(big)]
    parcel_rows = [f.parcel(f"P-{k}", geometry=g) for k, g in enumerate(small)]
    free = availability(
        f.frame("land_conclusions", lc_rows),
        f.frame("contract_parcels", parcel_rows),
        f.frame("rehab_zones", []),
        f.frame("exclusions", []),
        f.frame("licences", []),
        today=dt.date(2026, 1, 1),
    )
    assert len(free) == 40
    for geoms in (lcs.geometry.values, parcels.geometry.values, big, small):
        assert not shapely.is_prepared(np.asarray(geoms)).any()
