"""What a long-lived server answers after each write equals what a fresh server answers on the
same store: ``GET /analysis/availability?soum=MN4322`` and the ``overlaps`` collection's pages
(the first page of 10 and every item), on both backends.

The writes are Gazar's (``Store.write`` / ``Store.delete``) and an outside tool's (sqlite3 with
the GeoPackage functions of ``layers.gpkg.register_functions``, as QGIS writes the file; a
psql session on PostGIS): inserts, updates (a parcel moved from one Land Conclusion to
another, a Land Conclusion's shape and status) and deletes in every layer the availability and
the findings depend on. The long-lived server sees each write through the change feed and
catches its kept answers up (``geo.incremental``); the fresh one computes them whole.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import load_settings
from layers.gpkg import register_functions, to_blobs
from layers.schema import REGISTRY
from layers.store import Store, open_store
from tests import factories as f
from tests.test_incremental_derived import DAY, _base

AVAILABILITY = f"/analysis/availability?soum=MN4322&today={DAY.isoformat()}"
PAGES = ("/collections/overlaps/items?limit=10", "/collections/overlaps/items?limit=1000")

Change = Callable[[Store], None]


# ------------------------------------------------------------------------------ writers


def _gazar_upsert(layer: str, row: dict[str, Any]) -> Change:
    return lambda s: s.write({layer: f.frame(layer, [row])}, mode="upsert")


def _gazar_delete(layer: str, fid: str) -> Change:
    def run(store: Store) -> None:
        store.delete(layer, [fid])

    return run


def _value(value: Any, *, postgis: bool) -> Any:
    if isinstance(value, dt.date):
        return value if postgis else value.isoformat()
    return value


def _outside(statements: Callable[[bool], list[tuple[str, tuple[Any, ...]]]]) -> Change:
    """A change made by an outside tool on its own connection: sqlite3 on the GeoPackage
    (with its functions registered, as QGIS has them), psycopg (a psql session) on PostGIS."""

    def run(store: Store) -> None:
        postgis = store.location.startswith("postgresql")
        if postgis:
            import psycopg

            with psycopg.connect(store.location, autocommit=True) as pg:
                for sql, params in statements(True):
                    pg.execute(sql.replace("?", "%s"), params)
        else:
            with sqlite3.connect(store.location) as conn:
                register_functions(conn)
                for sql, params in statements(False):
                    conn.execute(sql, params)

    return run


def _outside_upsert(layer: str, row: dict[str, Any], *, insert: bool) -> Change:
    """An ``INSERT`` (``insert``) or an ``UPDATE`` of every column of ``row`` by id."""
    columns = [c for c in REGISTRY[layer].columns if c != "id"]

    def statements(postgis: bool) -> list[tuple[str, tuple[Any, ...]]]:
        geom = shapely.MultiPolygon([row["geometry"]])
        if postgis:
            geom_sql, geom_value = "ST_GeomFromWKB(?, 4326)", shapely.to_wkb(geom)
        else:
            geom_sql, geom_value = "?", to_blobs(np.array([geom], dtype=object))[0]
        values = tuple(_value(row.get(c), postgis=postgis) for c in columns)
        if insert:
            names = ", ".join(["id", *columns, "geom"])
            marks = ", ".join(["?"] * (len(columns) + 1) + [geom_sql])
            return [(f"INSERT INTO {layer} ({names}) VALUES ({marks})", (row["id"], *values,
                                                                         geom_value))]  # fmt: skip
        sets = ", ".join([*(f"{c} = ?" for c in columns), f"geom = {geom_sql}"])
        return [(f"UPDATE {layer} SET {sets} WHERE id = ?", (*values, geom_value, row["id"]))]

    return _outside(statements)


def _outside_delete(layer: str, fid: str) -> Change:
    return _outside(lambda _: [(f"DELETE FROM {layer} WHERE id = ?", (fid,))])


# ------------------------------------------------------------------------------ steps

lc, parcel = f.land_conclusion, f.parcel


def _steps(outside: bool) -> list[tuple[str, Change]]:
    """The same story written by Gazar or by an outside tool (ids differ where a row is new)."""
    upsert = (
        (lambda layer, row, new: _outside_upsert(layer, row, insert=new))
        if outside
        else (lambda layer, row, new: _gazar_upsert(layer, row))
    )
    delete = _outside_delete if outside else _gazar_delete
    s = "o" if outside else "g"
    return [
        ("a parcel over P-1", upsert("contract_parcels", parcel(
            f"P-8{s}", holder="H", geometry=f.utm_box(150, 150, 200, 200)), True)),
        ("move P-3 from LC-2 to LC-1", upsert("contract_parcels", parcel(
            "P-3", holder="C", land_conclusion_id="LC-1",
            geometry=f.utm_box(600, 500, 200, 200)), False)),
        ("move P-3 back into LC-2", upsert("contract_parcels", parcel(
            "P-3", holder="C", land_conclusion_id="LC-2",
            geometry=f.utm_box(3100, 100, 200, 200)), False)),
        ("LC-2: new shape, expired", upsert("land_conclusions", lc(
            "LC-2", status="expired", geometry=f.utm_box(3000, 0, 2500, 1200)), False)),
        ("issue LC-3", upsert("land_conclusions", lc(
            "LC-3", geometry=f.utm_box(0, 1900, 1200, 1100)), False)),
        ("a new Land Conclusion over LC-1", upsert("land_conclusions", lc(
            f"LC-5{s}", geometry=f.utm_box(1500, 0, 600, 400)), True)),
        ("delete LC-4", delete("land_conclusions", "LC-4")),
        ("a rehabilitation zone over P-2", upsert("rehab_zones", f.rehab_zone(
            f"R-3{s}", parcel_id="P-2", holder="B", geometry=f.utm_box(260, 110, 50, 50)),
            True)),
        ("accept R-2", upsert("rehab_zones", f.rehab_zone(
            "R-2", parcel_id=None, holder="Z", stage="accepted",
            accepted_on=dt.date(2026, 5, 1), due_on=dt.date(2026, 1, 1),
            geometry=f.utm_box(3250, 100, 100, 100)), False)),
        ("delete R-1", delete("rehab_zones", "R-1")),
        ("a new exclusion in LC-3", upsert("exclusions", f.exclusion(
            f"X-2{s}", kind="water_protection", geometry=f.utm_box(100, 2000, 300, 300)), True)),
        ("move the exclusion into LC-1", upsert("exclusions", f.exclusion(
            "X-1", geometry=f.utm_box(1700, 0, 400, 300)), False)),
        ("delete the exclusion X-1", delete("exclusions", "X-1")),
        ("a licence over P-1", upsert("licences", f.licence(
            f"MV-2{s}", geometry=f.utm_box(50, 50, 120, 120)), True)),
        ("move the licence MV-1", upsert("licences", f.licence(
            "MV-1", geometry=f.utm_box(2500, 100, 800, 800)), False)),
        ("delete the licence MV-1", delete("licences", "MV-1")),
        ("suspend P-1, shrink it", upsert("contract_parcels", parcel(
            "P-1", status="suspended", geometry=f.utm_box(100, 100, 150, 150)), False)),
        ("delete P-2 (its zone names nothing)", delete("contract_parcels", "P-2")),
    ]  # fmt: skip


# ------------------------------------------------------------------------------ comparing


def _same(got: Any, want: Any, where: str) -> None:
    """Equal documents; numbers (hectares, coordinates) within 1e-9."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key, value in want.items():
            if key != "timeStamp":
                _same(got[key], value, f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool) and isinstance(got, int | float):
        assert math.isclose(got, want, rel_tol=0, abs_tol=1e-9), (where, got, want)
    else:
        assert got == want, (where, got, want)


def _answers(client: TestClient) -> dict[str, Any]:
    out = {}
    for url in (AVAILABILITY, *PAGES):
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:300])
        out[url] = r.json()
    return out


@pytest.fixture
def kept_server(store_location: str) -> Iterator[tuple[TestClient, str]]:
    with open_store(store_location) as store:
        _base(store)
    with TestClient(create_app(load_settings(db=store_location))) as client:
        yield client, store_location


@pytest.mark.parametrize("writer", ["gazar", "outside"])
def test_served_answers_after_each_write_equal_a_fresh_server(
    kept_server: tuple[TestClient, str], writer: str
) -> None:
    client, location = kept_server
    _answers(client)  # the day's answers computed whole, then kept
    services = client.app.state.services  # type: ignore[attr-defined]
    seen_overlaps = set()
    for what, change in _steps(outside=writer == "outside"):
        with open_store(location) as store:
            change(store)
        got = _answers(client)
        with TestClient(create_app(load_settings(db=location))) as fresh:
            want = _answers(fresh)
        for url in want:
            _same(got[url], want[url], f"{what}: {url}")
        seen_overlaps |= {feat["id"] for feat in want[PAGES[1]]["features"]}
        for day in (DAY, dt.date.today()):
            assert services.derived.state(day).full_builds == 1, f"{what}: computed whole"
    assert len(seen_overlaps) >= 5  # the story makes and unmakes overlaps
