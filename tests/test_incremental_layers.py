"""The layer cache patched from the store's change feed equals a fresh full read.

After inserts, updates, deletes and an id change in every layer (through Gazar's own writes,
through raw SQL on the GeoPackage file as QGIS writes it, and through SQL on PostGIS as a
``psql`` session writes it), the cached frame, its official hectares and its patched spatial
index answer exactly as ones built from a fresh read; the cache re-reads only the changed ids,
and re-reads the whole layer when the feed cannot answer (pruned, a ``replace`` write).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from api.services import layers as layer_cache
from api.services.layers import LayerCache, measured_ha
from geo.index import PatchedIndex
from layers import feed
from layers.demo import build_demo
from layers.geomtypes import to_stored
from layers.gpkg import register_functions, to_blobs
from layers.schema import LAYER_ORDER, REGISTRY, GeometryType
from layers.store import Store, open_store

DAY = dt.date(2025, 6, 1)
_SHIFT = 0.0002  # degrees a changed feature moves (stays inside Mongolia)


def _values(column: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in column.astype(object).tolist()]


def assert_same_as_fresh(cache: LayerCache, store: Store, layer: str) -> None:
    """Frame, hectares and index of ``cache`` equal those built from a fresh read."""
    cached, fresh = cache.get(layer), store.read(layer)
    assert cached["id"].tolist() == fresh["id"].tolist(), layer  # same ids, same order
    assert list(cached.columns) == list(fresh.columns)
    assert cached.dtypes.to_dict() == fresh.dtypes.to_dict(), layer
    for col in REGISTRY[layer].columns:
        assert _values(cached[col]) == _values(fresh[col]), (layer, col)
    geoms = np.asarray(fresh.geometry.array, dtype=object)
    assert (shapely.to_wkb(np.asarray(cached.geometry.array)) == shapely.to_wkb(geoms)).all()
    np.testing.assert_array_equal(cache.official_ha(layer), measured_ha(geoms))
    assert_same_index(cache.index(layer), geoms)


def assert_same_index(index: PatchedIndex, geoms: np.ndarray) -> None:
    tree = shapely.STRtree(geoms)
    probes = np.concatenate([shapely.buffer(geoms, 0.001), [shapely.box(87, 41, 120, 52)]])
    for predicate in (None, "intersects", "contains"):
        want = tree.query(probes, predicate=predicate)
        want = want[:, np.lexsort((want[1], want[0]))]
        np.testing.assert_array_equal(index.query(probes, predicate=predicate), want)
    assert len(index) == len(geoms)


@pytest.fixture
def counted(filled: Store) -> Iterator[tuple[Store, list[dict[str, Any]]]]:
    """The store with its reads recorded (their keyword arguments)."""
    calls: list[dict[str, Any]] = []
    real = filled.read

    def read(layer: str, **query: Any) -> gpd.GeoDataFrame:
        calls.append({"layer": layer, **query})
        return real(layer, **query)

    filled.read = read  # type: ignore[method-assign]
    yield filled, calls
    filled.read = real  # type: ignore[method-assign]


def _warm(cache: LayerCache) -> None:
    for name in LAYER_ORDER:
        cache.get(name)
        cache.official_ha(name)
        cache.index(name)


def _moved(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.set_geometry(frame.geometry.translate(_SHIFT, _SHIFT))


# --- through Gazar's own writes ------------------------------------------------------------


def test_gazar_writes_patch_every_layer(counted: tuple[Store, list[dict[str, Any]]]) -> None:
    store, calls = counted
    cache = LayerCache(store)
    _warm(cache)
    for name in reversed(LAYER_ORDER):  # a layer before those it refers to: references hold
        frame = store.read(name)
        token = cache.token(name)
        added = _moved(frame.iloc[[0]]).assign(id=frame["id"].iloc[0] + "-new")
        changed = _moved(frame.iloc[[1]])  # upsert: a new fid, so it moves to the end
        store.write({name: added})
        store.write({name: changed}, mode="upsert")
        store.delete(name, [frame["id"].iloc[2]])
        calls.clear()
        assert_same_as_fresh(cache, store, name)
        assert cache.last_refresh[name] == "patch"
        patched_reads = [c for c in calls if c["layer"] == name and "ids" in c]
        assert patched_reads == [
            {"layer": name, "ids": sorted([added["id"].iloc[0], changed["id"].iloc[0]])}
        ]
        delta = cache.delta_since(name, token)
        assert delta is not None
        assert set(delta.upserted["id"]) == {added["id"].iloc[0], changed["id"].iloc[0]}
        assert delta.deleted == (frame["id"].iloc[2],)
        assert set(delta.previous["id"]) == {changed["id"].iloc[0], frame["id"].iloc[2]}


def test_a_single_write_rereads_only_its_feature(
    counted: tuple[Store, list[dict[str, Any]]],
) -> None:
    store, calls = counted
    cache = LayerCache(store)
    before = cache.get("contract_parcels")
    token = cache.token("contract_parcels")
    one = _moved(before.iloc[[5]])
    store.write({"contract_parcels": one}, mode="upsert")
    calls.clear()
    after = cache.get("contract_parcels")
    assert calls == [{"layer": "contract_parcels", "ids": [one["id"].iloc[0]]}]
    assert cache.last_refresh["contract_parcels"] == "patch"
    assert after["id"].tolist()[-1] == one["id"].iloc[0]
    calls.clear()
    assert cache.get("contract_parcels") is after  # nothing changed: no read at all
    assert calls == []
    delta = cache.delta_since("contract_parcels", token)
    assert (
        delta is not None
        and delta.size == 1
        and delta.previous["id"].tolist() == [one["id"].iloc[0]]
    )
    assert cache.delta_since("contract_parcels", cache.token("contract_parcels")).empty  # type: ignore[union-attr]
    assert cache.delta_since("contract_parcels", "a token never seen") is None


def test_deltas_of_several_refreshes_compose(filled: Store) -> None:
    cache = LayerCache(filled)
    frame = cache.get("exclusions")
    token = cache.token("exclusions")
    a, b = frame["id"].iloc[0], frame["id"].iloc[1]
    filled.write({"exclusions": _moved(frame.iloc[[0]])}, mode="upsert")
    cache.get("exclusions")
    filled.delete("exclusions", [a, b])
    cache.get("exclusions")
    filled.write({"exclusions": frame.iloc[[1]]})
    cache.get("exclusions")
    delta = cache.delta_since("exclusions", token)
    assert delta is not None
    assert delta.upserted["id"].tolist() == [b]
    assert delta.deleted == (a,)
    previous = delta.previous.set_index("id")
    assert sorted(previous.index) == [a, b]
    assert previous.geometry[a].equals_exact(frame.geometry.iloc[0], 0)  # as it was at first


# --- through raw SQL, as QGIS and psql write ----------------------------------------------


def _raw_sql_changes(store: Store, name: str, frame: gpd.GeoDataFrame) -> None:
    """Insert a copy, move one feature, rename one, delete one, with plain SQL."""
    kind = REGISTRY[name]
    ids = frame["id"].tolist()
    gone = ids[3] if len(ids) > 3 else ids[0]
    cols = ", ".join(f'"{c}"' for c in kind.columns[1:])
    multi = "ST_Multi" if kind.geometry.startswith("Multi") else ""  # a Point stays a Point
    if store.location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store.location, autocommit=True) as conn:
            conn.execute(
                f'INSERT INTO "{name}" (geom, id, {cols}) SELECT {multi}(ST_Translate(geom, '
                f'%s, %s)), id || %s, {cols} FROM "{name}" WHERE id = %s',
                (_SHIFT, _SHIFT, "-sql", ids[0]),
            )
            conn.execute(
                f'UPDATE "{name}" SET geom = {multi}(ST_Translate(geom, %s, 0)) WHERE id = %s',
                (_SHIFT, ids[1]),
            )
            conn.execute(
                f'UPDATE "{name}" SET id = %s WHERE id = %s', (ids[2] + "-renamed", ids[2])
            )
            conn.execute(f'DELETE FROM "{name}" WHERE id = %s', (gone,))
        return
    with sqlite3.connect(store.location) as conn:  # QGIS: its own connection, GPKG functions
        register_functions(conn)
        blob = _blob(_moved(frame.iloc[[0]]), kind.geometry)
        conn.execute(
            f'INSERT INTO "{name}" (geom, id, {cols}) SELECT ?, id || ?, {cols} FROM "{name}" '
            "WHERE id = ?",
            (blob, "-sql", ids[0]),
        )
        conn.execute(
            f'UPDATE "{name}" SET geom = ? WHERE id = ?',
            (_blob(_moved(frame.iloc[[1]]), kind.geometry), ids[1]),
        )
        conn.execute(f'UPDATE "{name}" SET id = ? WHERE id = ?', (ids[2] + "-renamed", ids[2]))
        conn.execute(f'DELETE FROM "{name}" WHERE id = ?', (gone,))


def _blob(one: gpd.GeoDataFrame, declared: GeometryType = "MultiPolygon") -> bytes:
    """The GeoPackage blob of a one-row frame's geometry as the layer's declared type, e.g. a
    MultiPolygon (as QGIS writes)."""
    geoms = to_stored(declared, np.array([one.geometry.iloc[0]], dtype=object))
    return to_blobs(geoms)[0]


def test_raw_sql_writes_are_seen_as_gazar_writes(
    counted: tuple[Store, list[dict[str, Any]]],
) -> None:
    store, calls = counted
    cache = LayerCache(store)
    _warm(cache)
    for name in reversed(LAYER_ORDER):  # a layer before those it refers to: references hold
        frame = cache.get(name)
        ids = frame["id"].tolist()
        gone = ids[3] if len(ids) > 3 else ids[0]
        token = cache.token(name)
        _raw_sql_changes(store, name, frame)
        calls.clear()
        assert_same_as_fresh(cache, store, name)
        assert cache.last_refresh[name] == "patch"
        want = sorted([ids[0] + "-sql", ids[1], ids[2] + "-renamed"])
        assert [c for c in calls if "ids" in c] == [{"layer": name, "ids": want}]
        delta = cache.delta_since(name, token)
        assert delta is not None
        assert sorted(delta.upserted["id"]) == want
        assert sorted(delta.deleted) == sorted([ids[2], gone])
        renamed = cache.get(name)["id"].tolist().index(ids[2] + "-renamed")
        assert renamed == (1 if gone == ids[0] else 2)  # the renamed row kept its place


def test_raw_sql_id_change_gives_old_id_deleted_and_new_upserted(filled: Store) -> None:
    seq = filled.change_seq("soums")
    soum = filled.read("soums")["id"].iloc[0]
    if filled.location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(filled.location, autocommit=True) as conn:
            conn.execute("UPDATE soums SET id = 'NEW' WHERE id = %s", (soum,))
    else:
        with sqlite3.connect(filled.location) as conn:
            register_functions(conn)
            conn.execute("UPDATE soums SET id = 'NEW' WHERE id = ?", (soum,))
    changes = filled.changes("soums", seq)
    assert changes is not None
    upserted, deleted, last = changes
    assert (upserted, deleted) == (("NEW",), (soum,))
    assert last == filled.change_seq("soums") > seq
    assert filled.changes("soums", last) == feed.FeedChanges((), (), last)


# --- when the feed cannot answer -----------------------------------------------------------


def _prune_all(store: Store, layer: str) -> None:
    if store.location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store.location, autocommit=True) as conn, conn.transaction():
            feed.pg_prune(conn, layer, keep=0)
    else:
        with sqlite3.connect(store.location) as conn:
            feed.sqlite_prune(conn, layer, keep=0)


def test_a_pruned_feed_falls_back_to_a_full_read(filled: Store) -> None:
    cache = LayerCache(filled)
    _warm(cache)
    frame = cache.get("contract_parcels")
    filled.delete("contract_parcels", [frame["id"].iloc[3]])
    _prune_all(filled, "contract_parcels")
    assert filled.changes("contract_parcels", 0) is None
    assert_same_as_fresh(cache, filled, "contract_parcels")
    assert cache.last_refresh["contract_parcels"] == "full"
    delta = cache.delta_since("contract_parcels", cache.snapshot("contract_parcels")[1])
    assert delta is not None and delta.empty


def test_a_replace_write_and_a_large_change_fall_back_to_a_full_read(
    filled: Store, demo: dict[str, gpd.GeoDataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layer_cache, "FULL_READ_MIN", 0)
    cache = LayerCache(filled)
    _warm(cache)
    token = cache.token("licences")
    filled.write({"licences": demo["licences"].iloc[1:]}, mode="replace")
    assert filled.changes("licences", 0) is None
    assert_same_as_fresh(cache, filled, "licences")
    assert cache.last_refresh["licences"] == "full"
    delta = cache.delta_since("licences", token)  # found by comparing the frames
    assert delta is not None and delta.deleted == (demo["licences"]["id"].iloc[0],)
    assert delta.upserted.empty
    parcels = cache.get("contract_parcels")
    filled.write({"contract_parcels": _moved(parcels.iloc[: len(parcels) // 3])}, mode="upsert")
    assert_same_as_fresh(cache, filled, "contract_parcels")
    assert cache.last_refresh["contract_parcels"] == "full"


def test_a_store_made_before_the_feed_gets_it_on_open(store_location: str) -> None:
    with open_store(store_location) as s:
        s.write({"exclusions": build_demo(seed=7, scale=1, today=DAY)["exclusions"]})
    if store_location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_location, autocommit=True) as conn:
            conn.execute(f"DROP FUNCTION {feed._PG_FUNCTION}() CASCADE")
            conn.execute(f"DROP TABLE {feed.FEED_TABLE}, {feed.FLOOR_TABLE}")
    else:
        with sqlite3.connect(store_location) as conn:
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'feed%'"
            ).fetchall():
                conn.execute(f'DROP TRIGGER "{name}"')
            conn.execute(f"DROP TABLE {feed.FEED_TABLE}")
            conn.execute(f"DROP TABLE {feed.FLOOR_TABLE}")
    with open_store(store_location) as s:
        cache = LayerCache(s)
        frame = cache.get("exclusions")
        s.delete("exclusions", [frame["id"].iloc[0]])
        assert s.changes("exclusions", 0) == feed.FeedChanges(
            (), (frame["id"].iloc[0],), s.change_seq("exclusions")
        )
        assert_same_as_fresh(cache, s, "exclusions")
        assert cache.last_refresh["exclusions"] == "patch"


def test_gazar_writes_prune_the_feed(
    store: Store, demo: dict[str, gpd.GeoDataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "KEEP", 6)
    rows = demo["exclusions"]  # 8 features: 8 feed rows, pruned to the last 6 by the write
    store.write({"exclusions": rows})
    assert store.changes("exclusions", 0) is None
    seq = store.change_seq("exclusions")
    store.write({"exclusions": _moved(rows.iloc[:1])}, mode="upsert")  # 2 more rows
    changes = store.changes("exclusions", seq)
    assert changes is not None and changes.upserted == (rows["id"].iloc[0],)
    cache = LayerCache(store)
    cache.get("exclusions")
    for i in range(4):  # 8 more rows: the cache's position falls under the floor
        store.write({"exclusions": _moved(rows.iloc[i + 1 : i + 2])}, mode="upsert")
    assert_same_as_fresh(cache, store, "exclusions")
    assert cache.last_refresh["exclusions"] == "full"


# --- the index alone -----------------------------------------------------------------------


def test_patched_index_answers_as_a_fresh_tree_and_folds_a_large_side() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 100, (400, 2))
    geoms = shapely.buffer(shapely.points(xy), rng.uniform(0.5, 3, 400))
    index = PatchedIndex(geoms)
    current = geoms.copy()
    for step in range(30):
        n = len(current)
        drop = rng.choice(n, size=5, replace=False)
        keep = np.setdiff1d(np.arange(n), drop)
        new = shapely.buffer(shapely.points(rng.uniform(0, 100, (7, 2))), 2.0)
        merged = np.concatenate([current[keep], new])
        order = rng.permutation(len(merged)) if step % 3 == 0 else np.arange(len(merged))
        where = np.empty(len(order), dtype=np.intp)
        where[order] = np.arange(len(order))
        old_to_new = np.full(n, -1, dtype=np.intp)
        old_to_new[keep] = where[: len(keep)]
        index = index.patched(old_to_new, new, where[len(keep) :])
        current = merged[order]
        assert_same_index(index, current)
    assert index.side_size <= max(256, 0.05 * len(current))
