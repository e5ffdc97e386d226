"""The same store on each backend: what reading the layers costs before an analysis runs.

The demo (``data.demo``: every layer, ``scale`` x 100 parcels) is written once to a temporary
GeoPackage and once to a PostGIS store in a new database of the benchmark's cluster
(``GAZAR_BENCH_PG``; dropped afterwards), each through ``layers.store.open_store`` as Gazar
uses them. Then, for each backend, the median of ``repeats`` runs of:

``write``
    every layer in one transaction (timed once; the PostGIS side loads with ``COPY``);
``read parcels``
    ``store.read("contract_parcels")``: the whole layer as a GeoDataFrame;
``bbox read``
    the parcels whose bounding box meets a 0.05 degree square around the middle parcel;
``availability``
    the five layers ``geo.availability`` needs read from the store, then the analysis: what a
    request costs when the layers are not cached.

Both backends' reads are compared feature by feature (``layers.transfer.difference``); the run
fails when they differ. Run alone with ``python -m bench.backends [--scale K]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd

from layers.schema import LAYER_ORDER
from layers.store import Store, open_store
from layers.transfer import difference

_AVAILABILITY_LAYERS = (
    "land_conclusions",
    "contract_parcels",
    "rehab_zones",
    "exclusions",
    "licences",
)


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextmanager
def _postgis_database(dsn: str) -> Iterator[str]:
    """A new database in the benchmark's cluster (its URL), dropped on the way out."""
    import psycopg

    name = f"gazar_bench_{uuid.uuid4().hex[:8]}"
    url = urlsplit(dsn)._replace(path=f"/{name}").geturl()
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _measure(
    store: Store, demo: Mapping[str, gpd.GeoDataFrame], *, today: dt.date, repeats: int
) -> tuple[dict[str, float], gpd.GeoDataFrame]:
    from geo.availability import availability

    start = time.perf_counter()
    store.write({name: demo[name] for name in LAYER_ORDER})
    figures = {"write": time.perf_counter() - start}
    parcels = demo["contract_parcels"]
    x, y = parcels.geometry.iloc[len(parcels) // 2].centroid.coords[0]
    window = (x - 0.025, y - 0.025, x + 0.025, y + 0.025)
    figures["read parcels"] = _median_s(lambda: store.read("contract_parcels"), repeats)
    figures["bbox read"] = _median_s(lambda: store.read("contract_parcels", bbox=window), repeats)

    def analysis() -> None:
        layers = [store.read(name) for name in _AVAILABILITY_LAYERS]
        availability(*layers, today=today)

    figures["availability"] = _median_s(analysis, repeats)
    figures["bbox count"] = len(store.read("contract_parcels", bbox=window))
    return figures, store.read("contract_parcels")


def run(
    demo: Mapping[str, gpd.GeoDataFrame],
    *,
    dsn: str | None,
    repeats: int,
    today: dt.date,
) -> bool:
    """Print the table; returns False when the backends' reads disagree."""
    n = len(demo["contract_parcels"])
    print(f"Store backends: the demo's layers ({n:,} parcels) read through open_store", flush=True)
    results: dict[str, dict[str, float]] = {}
    frames: dict[str, gpd.GeoDataFrame] = {}
    with (
        tempfile.TemporaryDirectory(prefix="gazar-bench-store-") as tmp,
        open_store(Path(tmp) / "gazar.gpkg") as store,
    ):
        results["GeoPackage"], frames["GeoPackage"] = _measure(
            store, demo, today=today, repeats=repeats
        )
    if dsn and dsn.startswith(("postgresql://", "postgres://")):
        with _postgis_database(dsn) as url, open_store(url) as store:
            results["PostGIS"], frames["PostGIS"] = _measure(
                store, demo, today=today, repeats=repeats
            )
    else:
        print("  PostGIS: n/a (GAZAR_BENCH_PG is not a postgresql:// URL)")
    _print(results)
    if len(frames) < 2:
        return True
    why = difference(frames["GeoPackage"], frames["PostGIS"], layer="contract_parcels")
    if why:
        print(f"  BACKENDS DISAGREE on contract_parcels: {why}", file=sys.stderr)
        return False
    print(f"  both backends read the same {n:,} parcels (ids, values, exact geometries)")
    return True


def _print(results: Mapping[str, Mapping[str, float]]) -> None:
    names = list(results)
    rows: list[Sequence[Any]] = [("", *names)]
    for key in ("write", "read parcels", "bbox read", "availability"):
        label = key
        if key == "bbox read":
            label = f"bbox read ({int(next(iter(results.values()))['bbox count']):,} parcels)"
        rows.append((f"{label} s", *(f"{results[b][key]:.3f}" for b in names)))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


def main(argv: Sequence[str] | None = None) -> int:
    import os

    from bench.data import DEMO_DAY, build

    parser = argparse.ArgumentParser(prog="python -m bench.backends", description=__doc__)
    parser.add_argument("--scale", type=int, default=1000, help="parcels / 100")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    args = parser.parse_args(argv)
    data = build(scale=args.scale)
    ok = run(data.demo, dsn=os.environ.get("GAZAR_BENCH_PG"), repeats=args.repeats, today=DEMO_DAY)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
