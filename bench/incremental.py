"""The layer cache after one write: patched from the change feed, against a full read.

The demo (``layers.demo.build_demo``, ``scale`` x 100 parcels, built once) is written to a
temporary GeoPackage and, with ``GAZAR_BENCH_PG``, to a PostGIS store in a new database of the
benchmark's cluster. For each backend:

``write with the feed``
    writing every layer, whose triggers fill the change feed (``layers.feed``), once; reference:
    the same write into a store whose feed triggers were dropped (what the feed costs a bulk
    write; the ratio is < 1 when it costs anything).
``LayerCache.get after one write``
    the median of ``RUNS`` x ``repeats`` rounds of: upsert one parcel (moved a little), then
    time ``LayerCache.get("contract_parcels")`` (the revision, the feed, the one parcel read,
    the patched frame) and, apart, with its official hectares and spatial index patched too;
    reference: ``store.read("contract_parcels")``, the whole layer, in the same rounds.
    Goal: at most 50 ms (the bbox page's budget after a write, issue 15).

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


def measure(
    backend: str, with_feed: str, without: str, layers: Mapping[str, gpd.GeoDataFrame], runs: int
) -> list[Figure]:
    from api.services.layers import LayerCache

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
    with open_store(with_feed) as store:
        write.gazar = 1000 * _write_s(store, layers)
        get = Figure(
            f"{backend}: LayerCache.get after one parcel written, {n:,} parcels",
            "ms",
            Goal("<= 50 ms", maximum=50.0),
            reference_name="full store.read",
        )
        full = Figure(
            f"{backend}: ... with official ha and spatial index patched",
            "ms",
            Goal("<= 50 ms", maximum=50.0),
            reference_name="full store.read",
        )
        cache = LayerCache(store)
        frame = cache.get(_LAYER)
        cache.official_ha(_LAYER)
        cache.index(_LAYER)
        plain = LayerCache(store)
        plain.get(_LAYER)
        times: dict[str, list[float]] = {"get": [], "all": [], "read": []}
        for k in range(runs):
            one = frame.iloc[[(k * 7919) % n]]
            one = one.set_geometry(one.geometry.translate(1e-5 * (k + 1), 0))
            store.write({_LAYER: one}, mode="upsert")
            start = time.perf_counter()
            plain.get(_LAYER)
            times["get"].append(time.perf_counter() - start)
            start = time.perf_counter()
            cache.get(_LAYER)
            cache.official_ha(_LAYER)
            cache.index(_LAYER)
            times["all"].append(time.perf_counter() - start)
            start = time.perf_counter()
            store.read(_LAYER)
            times["read"].append(time.perf_counter() - start)
        if {plain.last_refresh[_LAYER], cache.last_refresh[_LAYER]} != {"patch"}:
            get.note = "the cache read the layer whole: the feed did not answer"
        ref = 1000 * statistics.median(times["read"])
        get.gazar, get.reference = 1000 * statistics.median(times["get"]), ref
        full.gazar, full.reference = 1000 * statistics.median(times["all"]), ref
    return [write, get, full]


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
