"""The layer cache after one write: patched from the change feed, against a full read.

The demo (``layers.demo.build_demo``, ``scale`` x 100 parcels, built once) is written to a
temporary GeoPackage and, with ``GAZAR_BENCH_PG``, to a PostGIS store in a new database of the
benchmark's cluster. For each backend:

``write with the feed``
    writing every layer, whose triggers fill the change feed (``layers.feed``), once; reference:
    the same write into a store whose feed triggers were dropped (what the feed costs a bulk
    write; the ratio is < 1 when it costs anything).
``next items page after one parcel written``
    the median of ``RUNS`` x ``repeats`` rounds of: upsert one parcel (moved a little), then
    time ``GET /collections/contract_parcels/items?bbox=...&limit=10`` around it through the
    app (in process: its layer cache refreshed from the feed, the page served from the base
    and the overlay of changed rows); then, each on its own cache, ``LayerCache.view`` (the
    revision, the feed, the one parcel read, the overlay), the same with official hectares
    and the spatial index, and ``LayerCache.get`` (the whole frame made from base and overlay,
    what a consumer of every row pays once per revision); reference: ``store.read``, the
    whole layer, in the same rounds. Goal: at most 50 ms (issue 15); the whole frame has none.

``availability of one soum after one parcel written`` / ``overlaps page after ...``
    the median of ``RUNS`` x ``repeats`` rounds of: upsert one parcel, then time
    ``GET /analysis/availability?soum=MN4322`` (and, after another write,
    ``GET /collections/overlaps/items?limit=10``) through the app, whose kept findings and
    available land catch up with the change (``geo.incremental``); references measured in the
    same run: the full recomputation from the layers in memory (``geo.availability`` over the
    whole store; every rule's findings, ``geo.rules.analyze``), and on PostGIS the benchmark's
    availability query (``bench.postgis.AVAILABILITY_SQL``, limited to the soum's Land
    Conclusions) on the store's own tables with their GiST indexes, right after the same
    write. Goals: at most 100 ms each (issue 15).

Run alone with ``python -m bench.incremental [--scale K]``; ``python -m bench.run`` runs it
after the API figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd

from bench.api import FULL_SCALE, Figure, Goal, print_table
from layers.schema import LAYER_ORDER
from layers.store import Store, open_store

#: single-parcel writes per ``--repeats``
RUNS = 5
_LAYER = "contract_parcels"


@contextmanager
def _stores(dsn: str | None) -> Iterator[list[tuple[str, str, str]]]:
    """(backend, location with the feed, location without) for each backend."""
    with tempfile.TemporaryDirectory(prefix="gazar-bench-inc-") as tmp:
        out = [("GeoPackage", str(Path(tmp) / "feed.gpkg"), str(Path(tmp) / "nofeed.gpkg"))]
        if not dsn:
            yield out
            return
        import psycopg

        names = [f"gazar_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        with psycopg.connect(dsn, autocommit=True) as admin:
            for name in names:
                admin.execute(f'CREATE DATABASE "{name}"')
        urls = [urlsplit(dsn)._replace(path=f"/{n}").geturl() for n in names]
        try:
            yield [*out, ("PostGIS", urls[0], urls[1])]
        finally:
            with psycopg.connect(dsn, autocommit=True) as admin:
                for name in names:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop_feed(store: Store) -> None:
    """Drop the feed triggers of an open store (until it is opened again)."""
    if store.location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store.location, autocommit=True) as conn:
            conn.execute("DROP FUNCTION gazar_feature_feed() CASCADE")
        return
    conn = store._conn  # type: ignore[attr-defined]  # the GeoPackage store's own connection
    with store._lock:  # type: ignore[attr-defined]
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'feed\\_%' "
            "ESCAPE '\\'"
        ).fetchall():
            conn.execute(f'DROP TRIGGER "{name}"')


def _write_s(store: Store, layers: Mapping[str, gpd.GeoDataFrame]) -> float:
    start = time.perf_counter()
    store.write({name: layers[name] for name in LAYER_ORDER if name in layers})
    return time.perf_counter() - start


def _page_ms(client: Any, box: tuple[float, float, float, float]) -> float:
    """One ``/items`` page with ``box`` through the app (checked), in milliseconds."""
    start = time.perf_counter()
    r = client.get(
        f"/collections/{_LAYER}/items", params={"bbox": ",".join(map(str, box)), "limit": 10}
    )
    spent = 1000 * (time.perf_counter() - start)
    if r.status_code != 200 or not r.json()["numberMatched"]:
        raise RuntimeError(f"the bbox page did not answer: {r.status_code} {r.text[:200]}")
    return spent


def measure(
    backend: str, with_feed: str, without: str, layers: Mapping[str, gpd.GeoDataFrame], runs: int
) -> list[Figure]:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.services.layers import LayerCache
    from api.settings import ApiSettings

    n = len(layers[_LAYER])
    write = Figure(
        f"{backend}: write {n:,} parcels (all layers) with the feed",
        "ms",
        Goal("none (cost of the feed)"),
        reference_name="no feed triggers",
        note="ratio < 1: the triggers' share of a bulk write",
    )
    with open_store(without) as bare:
        _drop_feed(bare)
        write.reference = 1000 * _write_s(bare, layers)

    def figure(task: str, goal: Goal) -> Figure:
        return Figure(f"{backend}: {task}", "ms", goal, reference_name="full store.read")

    goal = Goal("<= 50 ms", maximum=50.0)
    page = figure(f"next items page (bbox, limit 10) after one parcel written, {n:,}", goal)
    view = figure("... LayerCache.view (base + overlay) after the write", goal)
    full = figure("... with official ha and spatial index", goal)
    frame = figure("... the whole frame (LayerCache.get, made when asked)", Goal("none"))
    with open_store(with_feed) as store:
        write.gazar = 1000 * _write_s(store, layers)
        parcels = store.read(_LAYER)
        geoms = parcels.geometry.to_numpy()
        caches = {"view": LayerCache(store), "all": LayerCache(store), "get": LayerCache(store)}
        for cache in caches.values():
            cache.get(_LAYER)
        caches["all"].official_ha(_LAYER)
        caches["all"].index(_LAYER)
        times: dict[str, list[float]] = {k: [] for k in ("page", "view", "all", "get", "read")}
        with TestClient(create_app(ApiSettings(db=with_feed))) as client:
            x, y = geoms[0].centroid.x, geoms[0].centroid.y
            _page_ms(client, (x - 0.05, y - 0.05, x + 0.05, y + 0.05))  # warm: the base's parts
            for k in range(runs):
                i = (k * 7919) % n
                one = parcels.iloc[[i]]
                one = one.set_geometry(one.geometry.translate(1e-5 * (k + 1), 0))
                store.write({_LAYER: one}, mode="upsert")
                x, y = geoms[i].centroid.x, geoms[i].centroid.y
                times["page"].append(_page_ms(client, (x - 0.05, y - 0.05, x + 0.05, y + 0.05)))
                start = time.perf_counter()
                caches["view"].view(_LAYER)
                times["view"].append(time.perf_counter() - start)
                start = time.perf_counter()
                caches["all"].view(_LAYER)
                caches["all"].official_ha(_LAYER)
                caches["all"].index(_LAYER)
                times["all"].append(time.perf_counter() - start)
                start = time.perf_counter()
                caches["get"].get(_LAYER)
                times["get"].append(time.perf_counter() - start)
                start = time.perf_counter()
                store.read(_LAYER)
                times["read"].append(time.perf_counter() - start)
            served = client.app.state.services.layers  # type: ignore[attr-defined]
            refreshes = {
                served.last_refresh[_LAYER],
                *(c.last_refresh[_LAYER] for c in caches.values()),
            }
        if refreshes != {"patch"}:
            page.note = "a cache read the layer whole: the feed did not answer"
        ref = 1000 * statistics.median(times["read"])
        page.gazar = statistics.median(times["page"])
        for fig, key in ((view, "view"), (full, "all"), (frame, "get")):
            fig.gazar = 1000 * statistics.median(times[key])
        for fig in (page, view, full, frame):
            fig.reference = ref
        derived = _derived(backend, store, parcels, client_factory=lambda: TestClient(
            create_app(ApiSettings(db=with_feed))), runs=runs)  # fmt: skip
    return [write, page, view, full, frame, *derived]


#: the soum of the availability request (the demo's), as in issue 15
SOUM = "MN4322"


def _soum_sql() -> str:
    """``bench.postgis.AVAILABILITY_SQL`` for the Land Conclusions of one soum."""
    from bench.postgis import AVAILABILITY_SQL

    where = "WHERE status = 'issued'"
    if where not in AVAILABILITY_SQL:
        raise RuntimeError("bench.postgis.AVAILABILITY_SQL changed: its soum filter is lost")
    return AVAILABILITY_SQL.replace(where, "WHERE soum_code = %(soum)s AND status = 'issued'")


def _derived(
    backend: str,
    store: Store,
    parcels: gpd.GeoDataFrame,
    *,
    client_factory: Any,
    runs: int,
) -> list[Figure]:
    """The availability of one soum and the first overlaps page, each after one write."""
    import datetime as dt

    from geo.availability import availability
    from geo.records import usable_records
    from geo.rules import analyze
    from geo.settings import AnalysisSettings
    from layers.schema import REGISTRY

    goal = Goal("<= 100 ms", maximum=100.0)
    avail = Figure(
        f"{backend}: availability?soum={SOUM} after one parcel written, {len(parcels):,}",
        "ms",
        goal,
        reference_name="full recomputation",
    )
    over = Figure(
        f"{backend}: ... overlaps items page (limit 10) after one parcel written",
        "ms",
        goal,
        reference_name="full recomputation (every rule)",
    )
    pg = None
    if store.location.startswith("postgresql"):
        pg = Figure(
            f"{backend}: ... availability?soum={SOUM} vs PostGIS's own query, same write",
            "ms",
            Goal("none (reference)"),
            reference_name="PostGIS availability query",
        )
    urls = {
        "avail": f"/analysis/availability?soum={SOUM}",
        "over": "/collections/overlaps/items?limit=10",
    }
    times: dict[str, list[float]] = {"avail": [], "over": [], "pg": []}
    conn = None
    if pg is not None:
        import psycopg
        from psycopg import sql

        from geo.area import LONLAT_STEP_DEG

        conn = psycopg.connect(store.location, autocommit=True)
        tables = {
            "lcs": "land_conclusions", "parcels": "contract_parcels", "rehab": "rehab_zones",
            "exclusions": "exclusions", "licences": "licences",
        }  # fmt: skip
        query = sql.SQL(_soum_sql()).format(**{k: sql.Identifier(v) for k, v in tables.items()})
        params = {"step": LONLAT_STEP_DEG, "today": dt.date.today(), "soum": SOUM}
    n = len(parcels)
    try:
        with client_factory() as client:
            for url in urls.values():  # warm: the day's findings and available land, whole
                if client.get(url).status_code != 200:
                    raise RuntimeError(f"{url} did not answer")
            for k in range(runs):
                for j, (key, url) in enumerate(urls.items()):
                    i = (k * 7919 + j * 104729) % n
                    one = parcels.iloc[[i]]
                    one = one.set_geometry(one.geometry.translate(2e-5 * (k + 1), 0))
                    store.write({_LAYER: one}, mode="upsert")
                    start = time.perf_counter()
                    r = client.get(url)
                    times[key].append(1000 * (time.perf_counter() - start))
                    if r.status_code != 200:
                        raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
                    if key == "avail" and conn is not None:
                        start = time.perf_counter()
                        conn.execute(query, params).fetchall()
                        times["pg"].append(1000 * (time.perf_counter() - start))
    finally:
        if conn is not None:
            conn.close()
    frames = {name: store.read(name) for name in REGISTRY}
    today = dt.date.today()
    whole_a, whole_f = [], []
    for _ in range(max(1, runs // 5)):
        start = time.perf_counter()
        usable = usable_records(frames).frames
        availability(
            usable["land_conclusions"], usable["contract_parcels"], usable["rehab_zones"],
            usable["exclusions"], usable["licences"], today=today,
        )  # fmt: skip
        whole_a.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        analyze(frames, today=today, settings=AnalysisSettings())
        whole_f.append(1000 * (time.perf_counter() - start))
    avail.gazar = statistics.median(times["avail"])
    avail.reference = statistics.median(whole_a)
    over.gazar = statistics.median(times["over"])
    over.reference = statistics.median(whole_f)
    out = [avail, over]
    if pg is not None:
        pg.gazar = avail.gazar
        pg.reference = statistics.median(times["pg"])
        out.append(pg)
    return out


def run(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    dsn: str | None = None,
    repeats: int = 3,
    full: bool = True,
) -> list[Figure]:
    figures: list[Figure] = []
    with _stores(dsn) as stores:
        for backend, with_feed, without in stores:
            figures += measure(backend, with_feed, without, layers, RUNS * repeats)
            print(f"  {backend}: done (load average {os.getloadavg()[0]:.1f})", flush=True)
    print_table(figures, full=full)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    from bench.data import DEMO_DAY
    from layers.demo import build_demo

    parser = argparse.ArgumentParser(
        prog="python -m bench.incremental", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scale", type=int, default=FULL_SCALE, help="parcels / 100 (1000)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per figure / RUNS")
    parser.add_argument("--no-postgis", action="store_true", help="skip PostGIS")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    layers = build_demo(seed=7, scale=args.scale, today=DEMO_DAY)
    print(f"demo: {len(layers[_LAYER]):,} parcels ({time.perf_counter() - start:.1f} s)")
    dsn = None if args.no_postgis else os.environ.get("GAZAR_BENCH_PG")
    run(layers, dsn=dsn, repeats=args.repeats, full=args.scale >= FULL_SCALE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
