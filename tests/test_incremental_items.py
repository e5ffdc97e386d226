"""The OGC items served from the layer cache's base + overlay equal a fresh read's.

After inserts, updates (geometry moves included) and deletes in a store layer — by Gazar, by an
outside writer on the GeoPackage file (sqlite3 with the GeoPackage functions, as QGIS writes)
and by SQL on PostGIS (as ``psql`` writes) — a server that kept its caches across the changes
answers ``/items`` with a bbox, with filters and dates, a single feature and the collection's
extent exactly as a server started afresh on the same store; its whole frame, hectares and
index equal a fresh read's. Also once the overlay folds into a new base, and while several
changes pile up in the overlay.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import layers as layer_cache
from api.services.layers import LayerCache, LayerView
from api.settings import ApiSettings
from layers.schema import LAYER_ORDER
from layers.store import Store
from tests.test_incremental_layers import _raw_sql_changes, assert_same_as_fresh

DAY = dt.date(2025, 6, 1)
_LAYER = "contract_parcels"
_SHIFT = 0.003  # degrees a moved parcel travels: out of its old small box


@pytest.fixture
def served(filled: Store) -> Iterator[TestClient]:
    """A server on the store whose caches live through the changes (warmed first)."""
    with TestClient(create_app(ApiSettings(db=filled.location))) as client:
        for layer in LAYER_ORDER:
            _get(client, f"/collections/{layer}/items", bbox="87,41,120,52", limit=5)
        yield client


def _get(client: TestClient, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code in (200, 404), r.text
    body = r.json()
    body.pop("timeStamp", None)
    return r.status_code, body


def _boxes(frame: gpd.GeoDataFrame) -> list[str]:
    """Small boxes around some features (the first, the last, moved ones) and the country."""
    bounds = frame.geometry.bounds.to_numpy()
    picks = np.unique(np.r_[0, 1, 2, len(frame) // 2, len(frame) - 2, len(frame) - 1])
    out = ["87,41,120,52"]
    for minx, miny, maxx, maxy in bounds[picks[picks < len(frame)]]:
        out.append(f"{minx - 1e-4},{miny - 1e-4},{maxx + 1e-4},{maxy + 1e-4}")
    return out


def _queries(layer: str, frame: gpd.GeoDataFrame) -> list[tuple[str, dict[str, Any]]]:
    items = f"/collections/{layer}/items"
    out: list[tuple[str, dict[str, Any]]] = [(f"/collections/{layer}", {})]
    out += [(items, {"bbox": box, "limit": 1000}) for box in _boxes(frame)]
    out += [(items, {"limit": 7, "offset": max(len(frame) - 5, 0)}), (items, {"limit": 1000})]
    if layer == _LAYER:
        statuses = sorted(set(frame["status"].dropna().astype(str)))
        out += [
            (items, {"bbox": "87,41,120,52", "status": statuses[0], "limit": 1000}),
            (items, {"holder_type": "partnership", "limit": 1000}),
            (items, {"datetime": "2020-01-01/..", "limit": 1000}),
            (items, {"bbox": _boxes(frame)[-1], "datetime": "../2030-01-01", "limit": 1000}),
        ]
    ids = frame["id"].astype(str).tolist()
    out += [(f"{items}/{fid}", {}) for fid in [ids[0], ids[-1], ids[len(ids) // 2]]]
    return out


def assert_served_as_fresh(
    client: TestClient, store: Store, layer: str, extra_ids: tuple[str, ...] = ()
) -> None:
    """The kept server answers every query as a server started now on ``store``."""
    frame = store.read(layer)
    queries = _queries(layer, frame)
    queries += [(f"/collections/{layer}/items/{fid}", {}) for fid in extra_ids]
    with TestClient(create_app(ApiSettings(db=store.location))) as fresh:
        for path, params in queries:
            assert _get(client, path, **params) == _get(fresh, path, **params), (path, params)
    cache: LayerCache = client.app.state.services.layers  # type: ignore[attr-defined]
    assert_same_as_fresh(cache, store, layer)


def _moved(frame: gpd.GeoDataFrame, dx: float = _SHIFT) -> gpd.GeoDataFrame:
    return frame.set_geometry(frame.geometry.translate(dx, dx))


def _gazar_changes(store: Store, layer: str, round_: int) -> tuple[str, ...]:
    """Insert a copy, move two (one twice over rounds), delete one; the ids gone."""
    frame = store.read(layer)
    n = len(frame)
    k, mid = (3 * round_) % n, (n // 2 + round_) % n
    added = _moved(frame.iloc[[k]]).assign(id=f"{frame['id'].iloc[k]}-new{round_}")
    store.write({layer: added})
    moved = sorted({(k + 1) % n, mid} - {(k + 2) % n})
    store.write({layer: _moved(frame.iloc[moved])}, mode="upsert")
    gone = str(frame["id"].iloc[(k + 2) % n])
    store.delete(layer, [gone])
    return (gone, str(added["id"].iloc[0]))


def test_gazar_writes_are_served_as_a_fresh_read(served: TestClient, filled: Store) -> None:
    for layer in (_LAYER, "land_conclusions", "exclusions"):
        for round_ in range(3):  # the overlay grows over several changes
            extra = _gazar_changes(filled, layer, round_)
            assert_served_as_fresh(served, filled, layer, extra)
        cache: LayerCache = served.app.state.services.layers  # type: ignore[attr-defined]
        assert cache.last_refresh[layer] == "patch"
        assert cache.view(layer).changed > 0  # answered from an overlay, not a new read


def test_outside_writes_are_served_as_a_fresh_read(served: TestClient, filled: Store) -> None:
    """sqlite3 with the GeoPackage functions (QGIS) or psql: insert, move, rename, delete."""
    for layer in (_LAYER, "land_conclusions"):
        frame = filled.read(layer)
        ids = frame["id"].tolist()
        _raw_sql_changes(filled, layer, frame)
        assert_served_as_fresh(served, filled, layer, (ids[2], ids[3], ids[2] + "-renamed"))
        _raw_sql_changes(filled, layer, filled.read(layer).iloc[5:])  # again, over the overlay
        assert_served_as_fresh(served, filled, layer)


def test_a_moved_parcel_is_found_in_its_new_box_only(served: TestClient, filled: Store) -> None:
    frame = filled.read(_LAYER)
    one = frame.iloc[[4]]
    fid = str(one["id"].iloc[0])
    minx, miny, maxx, maxy = one.geometry.iloc[0].bounds
    old_box = f"{minx},{miny},{maxx},{maxy}"
    d = 10 * max(maxx - minx, maxy - miny)
    new_box = f"{minx + d},{miny + d},{maxx + d},{maxy + d}"

    def ids(box: str) -> set[str]:
        _, body = _get(served, f"/collections/{_LAYER}/items", bbox=box, limit=1000)
        return {f["id"] for f in body["features"]}

    assert fid in ids(old_box)
    filled.write({_LAYER: _moved(one, d)}, mode="upsert")
    assert fid not in ids(old_box) and fid in ids(new_box)
    assert_served_as_fresh(served, filled, _LAYER, (fid,))
    filled.delete(_LAYER, [fid])
    assert fid not in ids(new_box)
    assert _get(served, f"/collections/{_LAYER}/items/{fid}")[0] == 404
    assert_served_as_fresh(served, filled, _LAYER)


def test_the_overlay_folds_into_a_new_base_and_keeps_answering(
    served: TestClient, filled: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layer_cache, "FOLD_MIN", 3)
    monkeypatch.setattr(layer_cache, "FOLD_SHARE", 0.0)
    cache: LayerCache = served.app.state.services.layers  # type: ignore[attr-defined]
    base = cache.view(_LAYER).base
    extra = _gazar_changes(filled, _LAYER, 0)  # 4 rows differ: past FOLD_MIN
    view = cache.view(_LAYER)
    assert view.base is not base and view.changed == 0
    assert_served_as_fresh(served, filled, _LAYER, extra)
    filled.delete(_LAYER, [str(filled.read(_LAYER)["id"].iloc[0])])  # a patch on the new base
    assert cache.view(_LAYER).changed == 1
    assert_served_as_fresh(served, filled, _LAYER)


def test_a_view_is_never_changed_by_a_later_write(filled: Store) -> None:
    """A reader holding a view (another request thread) keeps one consistent revision."""
    cache = LayerCache(filled)
    view: LayerView = cache.view(_LAYER)
    frame = view.frame()
    ha, before = view.ha().copy(), frame.copy()
    _gazar_changes(filled, _LAYER, 0)
    after = cache.view(_LAYER)
    assert after is not view and after.base is view.base  # the base is shared, not copied
    assert view.frame() is frame and frame.equals(before)
    np.testing.assert_array_equal(view.ha(), ha)
    assert len(view.index()) == len(before)
    assert_same_as_fresh(cache, filled, _LAYER)


def test_readers_on_other_threads_see_whole_revisions(filled: Store) -> None:
    """Writes land while two threads read views: each view read is whole (its frame, index,
    hectares and pages agree with each other), and the last equals a fresh read."""
    cache = LayerCache(filled)
    cache.view(_LAYER).index()
    stop, problems = threading.Event(), []

    def read() -> None:
        country = shapely.box(87, 41, 120, 52)
        while not stop.is_set():
            view = cache.view(_LAYER)
            frame = view.frame()
            ids = frame["id"].astype(str)
            hits = view.index().query(country)
            page = view.take(hits[-3:])
            if not (
                ids.is_unique
                and len(frame) == len(view) == len(view.ha()) == len(view.index())
                and page["id"].tolist() == ids.iloc[hits[-3:]].tolist()
            ):
                problems.append(len(view))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for round_ in range(6):
            _gazar_changes(filled, _LAYER, round_)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert problems == []
    assert_same_as_fresh(cache, filled, _LAYER)
