"""The HTTP API's speed goals, measured in one run against a reference in the same run.

The demo (``layers.demo.build_demo``, ``scale`` x 100 parcels) is written to a temporary
GeoPackage and served in-process by FastAPI's ``TestClient`` (no network: what is measured is
the app, from request to response bytes).

``GeoJSON serialisation``
    ``layers.geojson.features_to_geojson_bytes`` over the whole parcel layer with its
    ``official_ha``, in features per second; reference ``GeoDataFrame.to_json`` on the same
    frame. Goal: at least 100,000 features/s.
``POST /analysis/check``
    The median of ``CHECK_RUNS`` x ``repeats`` requests reviewing one proposed parcel (the
    re-drawn middle parcel, 12 m off: it overlaps the original), after a first request that
    indexes the layers (reported apart); reference ``geo.review.review`` called directly with
    an index of the same layers read from the store, i.e. the analysis without HTTP.
    Goal: at most 30 ms (issue 15).
``bbox page``
    The median of ``PAGE_RUNS`` x ``repeats`` requests of
    ``/collections/contract_parcels/items?bbox=...&limit=1000`` for a bbox around the middle
    parcel holding more than 1,000 parcels; reference: the store's bbox read of the same
    features and ``GeoDataFrame.to_json``. Goal: at most 100 ms.
``GET /map``
    The median of ``MAP_RUNS`` x ``repeats`` requests of the overview map with nothing
    changed (the map kept per store state, ``services.pages``), and of ``MAP_RUNS`` x
    ``repeats`` rounds of one parcel upserted (moved a little) then ``GET /map``; reference:
    the same page with the kept map dropped before each request (rebuilt from the warm layer
    and derived caches and each layer's kept GeoJSON: what a page costs without
    ``services.pages``). Goals: at most 150 ms, and 300 ms after a write (issue 15). The
    first, cold request is reported apart.

Run alone with ``python -m bench.api [--scale K]``; ``python -m bench.run`` runs it after the
engine comparison (``--no-api`` skips it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import shapely

from layers.schema import LAYER_ORDER

#: requests timed per figure and per ``--repeats`` (their median is reported)
CHECK_RUNS, PAGE_RUNS, MAP_RUNS = 10, 7, 3
#: features on the bbox page
PAGE = 1_000
#: the offset of the proposed parcel from the one it re-draws, in degrees (~12 m at 48° N)
OFFSET_DEG = 0.00015
FULL_SCALE = 1000


@dataclass(frozen=True)
class Goal:
    """At least ``minimum`` or at most ``maximum`` of the figure's unit, at full size."""

    text: str
    minimum: float | None = None
    maximum: float | None = None

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)


@dataclass
class Figure:
    """One line of the table: Gazar's figure, the reference's, and how many times better."""

    task: str
    unit: str
    goal: Goal
    gazar: float | None = None
    reference: float | None = None
    reference_name: str = ""
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.gazar or not self.reference:
            return None
        if self.higher_is_better:
            return self.gazar / self.reference
        return self.reference / self.gazar

    def cells(self, *, full: bool) -> tuple[str, ...]:
        met = self.goal.met(self.gazar)
        verdict = "n/a" if met is None else ("yes" if met else "MISSED")
        if met is not None and not full:
            verdict = "(small)"
        return (
            self.task,
            _number(self.gazar, self.unit),
            f"{_number(self.reference, self.unit)} ({self.reference_name})",
            "n/a" if self.ratio is None else f"{self.ratio:.1f}x",
            self.goal.text,
            verdict,
        )


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:,.0f} {unit}"


def medians_ms(fns: Sequence[Callable[[], object]], runs: int) -> list[float]:
    """The median milliseconds of each of ``fns``, run in turn ``runs`` times (interleaved, so
    a change in the machine's load touches them alike)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, spent in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [1000 * statistics.median(t) for t in times]


def best_s(fn: Callable[[], object], runs: int) -> float:
    """The fastest of ``runs`` runs, in seconds (throughput: the least disturbed run)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# ------------------------------------------------------------------------------------ figures


def serialisation(parcels: gpd.GeoDataFrame, *, repeats: int) -> Figure:
    """GeoJSON bytes of every parcel with its ``official_ha``, in features per second."""
    from geo.area import official_ha

    figure = Figure(
        f"GeoJSON serialisation, {len(parcels):,} parcels",
        "features/s",
        Goal(">= 100,000 features/s", minimum=100_000),
        reference_name="GeoDataFrame.to_json",
        higher_is_better=True,
    )
    frame = parcels.assign(official_ha=official_ha(np.asarray(parcels.geometry.array)))
    try:
        from layers.geojson import features_to_geojson_bytes
    except ImportError as exc:  # pragma: no cover - the serialiser is part of Gazar
        figure.note = f"layers.geojson: {exc}"
        return figure
    n = len(frame)
    body = features_to_geojson_bytes(frame)
    if len(orjson.loads(body)["features"]) != n:
        raise RuntimeError("the serialiser dropped features")
    figure.gazar = n / best_s(lambda: features_to_geojson_bytes(frame), repeats)
    figure.reference = n / best_s(lambda: frame.to_json(default=str), max(1, repeats // 2))
    return figure


def _proposal(parcels: gpd.GeoDataFrame) -> dict[str, Any]:
    middle = parcels.iloc[len(parcels) // 2]
    moved = shapely.transform(middle.geometry, lambda xy: xy + OFFSET_DEG)
    feature: dict[str, Any] = {
        "type": "Feature",
        "properties": {
            "id": "PROPOSAL-1",
            "land_conclusion_id": middle["land_conclusion_id"],
            "holder": "Benchmark partnership",
        },
        "geometry": orjson.loads(shapely.to_geojson(moved)),
    }
    return feature


def check(
    client: Any,
    store: Any,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    today: dt.date,
    runs: int,
) -> Figure:
    """``POST /analysis/check`` of one proposed parcel against the whole store."""
    from geo.review import REVIEW_LAYERS, ReviewContext, review
    from geo.settings import AnalysisSettings

    parcels = layers["contract_parcels"]
    figure = Figure(
        f"POST /analysis/check, {len(parcels):,} parcels",
        "ms",
        Goal("<= 30 ms", maximum=30.0),
        reference_name="geo.review in-process",
    )
    body = orjson.dumps(_proposal(parcels))
    url = f"/analysis/check?kind=parcel&today={today}"
    start = time.perf_counter()
    first = client.post(url, content=body)
    indexing = time.perf_counter() - start
    if first.status_code != 200:
        figure.note = f"{first.status_code}: {first.text[:200]}"
        return figure
    result = first.json()
    context = ReviewContext({name: store.read(name) for name in REVIEW_LAYERS})
    proposal = gpd.GeoDataFrame.from_features([_proposal(parcels)], crs="EPSG:4326")
    settings = AnalysisSettings()
    figure.gazar, figure.reference = medians_ms(
        [
            lambda: client.post(url, content=body),
            lambda: review(proposal, kind="parcel", layers=context, today=today, settings=settings),
        ],
        runs,
    )
    figure.note = (
        f"verdict {result['verdict']}, {len(result['findings'])} finding(s); the first request "
        f"read and indexed the layers in {indexing:.2f} s"
    )
    return figure


def _page_bbox(parcels: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """A bbox around the middle parcel holding a little more than ``PAGE`` parcels."""
    centres = shapely.centroid(np.asarray(parcels.geometry.array))
    xy = shapely.get_coordinates(centres)
    mid = xy[len(xy) // 2]
    nearest = np.argsort(((xy - mid) ** 2).sum(axis=1))[: int(PAGE * 1.2)]
    x0, y0, x1, y1 = shapely.total_bounds(np.asarray(parcels.geometry.array)[nearest])
    return float(x0), float(y0), float(x1), float(y1)


def bbox_page(client: Any, store: Any, parcels: gpd.GeoDataFrame, *, runs: int) -> Figure:
    """One page of 1,000 parcels in a bbox, through the OGC API items endpoint."""
    figure = Figure(
        f"bbox page of {PAGE:,} of {len(parcels):,} parcels",
        "ms",
        Goal("<= 100 ms", maximum=100.0),
        reference_name="store bbox read + to_json",
    )
    bbox = _page_bbox(parcels)
    url = f"/collections/contract_parcels/items?bbox={','.join(map(str, bbox))}&limit={PAGE}"
    first = client.get(url)
    if first.status_code != 200:
        figure.note = f"n/a: {url} answered {first.status_code}"
        return figure
    returned = len(first.json()["features"])
    if returned != PAGE:
        figure.note = f"the page held {returned} features, not {PAGE}"

    def naive() -> str:
        frame = store.read("contract_parcels", bbox=bbox).iloc[:PAGE]
        text: str = frame.to_json(default=str)
        return text

    figure.gazar, figure.reference = medians_ms([lambda: client.get(url), naive], runs)
    figure.note = figure.note or f"{returned} features, {len(first.content):,} bytes"
    return figure


def map_pages(client: Any, store: Any, *, runs: int) -> list[Figure]:
    """``GET /map``: with nothing changed, and after one parcel is written."""
    url = "/map"
    services = client.app.state.services
    start = time.perf_counter()
    first = client.get(url)
    cold_ms = 1000 * (time.perf_counter() - start)
    warm = Figure(
        "GET /map, nothing changed", "ms", Goal("<= 150 ms", maximum=150.0),
        reference_name="map rebuilt, layer JSON kept",
    )  # fmt: skip
    written = Figure(
        "GET /map after one parcel written", "ms", Goal("<= 300 ms", maximum=300.0),
        reference_name="map rebuilt, layer JSON kept",
    )  # fmt: skip
    if first.status_code != 200:
        warm.note = written.note = f"n/a: {url} answered {first.status_code}"
        return [warm, written]

    def rebuilt() -> object:
        services.pages.clear()
        return client.get(url)

    warm.gazar, warm.reference = medians_ms([lambda: client.get(url), rebuilt], runs)
    warm.note = f"{len(first.content):,} bytes; the first, cold request took {cold_ms:,.0f} ms"
    parcels = services.layers.get("contract_parcels")
    times: list[float] = []
    for k in range(runs):
        one = parcels.iloc[[(k * 7919) % len(parcels)]]
        one = one.set_geometry(one.geometry.translate(1e-5 * (k + 1), 0))
        store.write({"contract_parcels": one}, mode="upsert")
        start = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - start)
    written.gazar = 1000 * statistics.median(times)
    written.reference = warm.reference
    written.note = "the reference is the rebuild with nothing changed"
    return [warm, written]


# ---------------------------------------------------------------------------------------- run


def run(
    layers: Mapping[str, gpd.GeoDataFrame], *, today: dt.date, repeats: int = 3, full: bool = True
) -> list[Figure]:
    """Write ``layers`` to a temporary store, serve it in-process, measure, print the table."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiSettings
    from layers.store import open_store

    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="gazar-bench-api-") as tmp:
        db = Path(tmp) / "bench.gpkg"
        start = time.perf_counter()
        with open_store(db) as store:
            store.write({name: layers[name] for name in LAYER_ORDER if name in layers})
        print(
            f"API: wrote {len(layers['contract_parcels']):,} parcels to a GeoPackage in "
            f"{time.perf_counter() - start:.1f} s; load average {_load()} on "
            f"{os.cpu_count()} cores",
            flush=True,
        )
        figures.append(serialisation(layers["contract_parcels"], repeats=repeats))
        print(f"  {figures[-1].task}: done", flush=True)
        with TestClient(create_app(ApiSettings(db=str(db)))) as client, open_store(db) as store:
            figures.append(check(client, store, layers, today=today, runs=CHECK_RUNS * repeats))
            print(f"  {figures[-1].task}: done", flush=True)
            figures.append(
                bbox_page(client, store, layers["contract_parcels"], runs=PAGE_RUNS * repeats)
            )
            print(f"  {figures[-1].task}: done", flush=True)
            figures.extend(map_pages(client, store, runs=MAP_RUNS * repeats))
            print(f"  {figures[-1].task}: done", flush=True)
    print_table(figures, full=full)
    print(f"load average after the run: {_load()} (figures measured on a busy machine are slower)")
    return figures


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def print_table(figures: Sequence[Figure], *, full: bool) -> None:
    header = ("API task", "gazar", "reference", "ratio", "goal", "met?")
    rows = [header, *(f.cells(full=full) for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print(line)
    print(line)
    for f in figures:
        if f.note:
            print(f"{f.task}: {f.note}")
    if not full:
        print("(goals are for 100k parcels: not judged on a small run)")


def main(argv: Sequence[str] | None = None) -> int:
    from bench.data import DEMO_DAY
    from layers.demo import build_demo

    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=FULL_SCALE, help="parcels / 100 (1000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per throughput figure")
    args = parser.parse_args(argv)
    layers = build_demo(seed=7, scale=args.scale, today=DEMO_DAY)
    run(layers, today=DEMO_DAY, repeats=args.repeats, full=args.scale >= FULL_SCALE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
