"""Gazar's analysis engine against PostGIS and naive geopandas ``overlay``, in one run.

Run through ``./scripts/bench`` (which starts a throwaway PostGIS cluster and passes its
address in ``GAZAR_BENCH_PG``), or directly with ``python -m bench.run --no-postgis``.

Each timing is the median of ``--repeats`` runs (a single run when the first one takes longer
than ``SLOW_S``). Every engine's answer is checked against Gazar's: the same overlapping pairs
(shared area above the tolerance) and the same total area to a relative ``AGREE_REL``. The
exit status is 1 when engines disagree, 0 otherwise: a missed speed goal is printed, not fatal.
A vector tile of the parcels at zoom 6, 9 and 12 is measured against PostGIS ``ST_AsMVT`` on
the same table (:mod:`bench.tiles`; ``--no-tiles`` skips it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench.data import DEMO_DAY, BenchData, build
from geo.area import M2_PER_HA, official_ha
from geo.overlaps import overlaps_between, overlaps_within

#: shared area (official m²) at or below which two polygons do not overlap (Gazar's default)
TOLERANCE_M2 = 1.0
#: engines agree when their total areas differ by at most this fraction
AGREE_REL = 1e-6
#: a run slower than this (s) is not repeated
SLOW_S = 20.0
#: reviews per repeat: one takes ~20 ms, so the median of a few would be mostly noise
REVIEW_RUNS = 10
#: parcels per ``scale`` of the demo; full size is 100k parcels
FULL_SCALE, SMALL_SCALE = 1000, 10

T = TypeVar("T")
#: overlapping pairs: (a_id, b_id) -> official hectares (within a layer: a_id < b_id)
Pairs = dict[tuple[str, str], float]
Kind = Literal["between", "within", "availability", "review"]


@dataclass(frozen=True)
class Goal:
    """A speed goal at full size: Gazar at most ``seconds``, and ``ratio`` x faster than PostGIS."""

    seconds: float
    ratio: float | None = None

    def describe(self) -> str:
        ratio = f">={self.ratio:g}x PostGIS, " if self.ratio else ""
        return f"{ratio}<={self.seconds:g} s"


@dataclass
class Timing:
    """The median seconds of ``runs`` runs, or why there is none."""

    seconds: float | None = None
    runs: int = 0
    note: str = ""

    def cell(self) -> str:
        if self.seconds is None:
            return self.note or "n/a"
        return f"{self.seconds:.3f}"


@dataclass(frozen=True)
class Agreement:
    """How one engine's overlapping pairs and areas compare with Gazar's."""

    engine: str
    task: str
    #: what is compared: "pairs" of overlapping features, or "Land Conclusions"
    unit: str
    count: int
    missing: tuple[tuple[str, str], ...]
    extra: tuple[tuple[str, str], ...]
    total_ha: float
    reference_ha: float
    max_pair_diff_ha: float

    @property
    def rel_diff(self) -> float:
        if self.reference_ha == 0:
            return 0.0 if self.total_ha == 0 else float("inf")
        return abs(self.total_ha - self.reference_ha) / abs(self.reference_ha)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra and self.rel_diff <= AGREE_REL

    def describe(self) -> str:
        state = "agree" if self.ok else "DISAGREE"
        text = (
            f"{self.task}: {self.engine} {state} with gazar: {self.count:,} {self.unit}, "
            f"total {self.total_ha:,.6f} ha vs {self.reference_ha:,.6f} ha "
            f"(relative difference {self.rel_diff:.1e}, "
            f"largest per pair {self.max_pair_diff_ha:.1e} ha)"
        )
        if self.missing:
            text += (
                f"; {len(self.missing)} of gazar's {self.unit} missing, "
                f"e.g. {list(self.missing[:3])}"
            )
        if self.extra:
            text += (
                f"; {len(self.extra)} {self.unit} gazar does not have, e.g. {list(self.extra[:3])}"
            )
        return text


@dataclass
class Row:
    """One task of the table."""

    task: str
    kind: Kind
    #: None: a row for comparison, with no goal of its own
    goal: Goal | None
    gazar: Timing = field(default_factory=Timing)
    postgis: Timing = field(default_factory=Timing)
    overlay: Timing = field(default_factory=Timing)
    found: str = ""

    def ratio(self, other: Timing) -> float | None:
        if self.gazar.seconds is None or other.seconds is None or self.gazar.seconds == 0:
            return None
        return other.seconds / self.gazar.seconds

    def verdict(self, *, full: bool) -> str:
        if self.gazar.seconds is None:
            return "n/a"
        if not full:
            return "(small)"
        if self.goal is None:
            return "-"
        missed = []
        if self.gazar.seconds > self.goal.seconds:
            missed.append(f"{self.gazar.seconds:.2f} s > {self.goal.seconds:g} s")
        if self.goal.ratio is not None:
            ratio = self.ratio(self.postgis)
            if ratio is None:
                missed.append("no PostGIS time")
            elif ratio < self.goal.ratio:
                missed.append(f"{ratio:.1f}x < {self.goal.ratio:g}x")
        return "yes" if not missed else "MISSED: " + "; ".join(missed)


# ------------------------------------------------------------------------------------- timing


def timed(fn: Callable[[], T], *, repeats: int, label: str) -> tuple[Timing, T]:
    """Run ``fn`` ``repeats`` times (once if the first run is slower than ``SLOW_S``)."""
    times: list[float] = []
    result: T
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if times[0] > SLOW_S:
            break
    shown = ", ".join(f"{t:.3f}" for t in times)
    print(f"  {label:<9} {statistics.median(times):8.3f} s  (runs: {shown})", flush=True)
    return Timing(statistics.median(times), len(times)), result


# ------------------------------------------------------------------------------------ engines


def _records_pairs(records: pd.DataFrame, *, a: str, b: str, ha: str, within: bool) -> Pairs:
    a_ids = records[a].astype(str).to_numpy()
    b_ids = records[b].astype(str).to_numpy()
    areas = records[ha].to_numpy(dtype="float64")
    return _pairs(zip(a_ids, b_ids, areas, strict=True), within=within)


def _pairs(rows: Iterator[tuple[str, str, float]] | Sequence[Any], *, within: bool) -> Pairs:
    out: Pairs = {}
    for a, b, ha in rows:
        key = (min(a, b), max(a, b)) if within else (a, b)
        out[key] = out.get(key, 0.0) + float(ha)
    return out


def overlay_overlaps(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """Naive geopandas: ``overlay(how="intersection")``, then official areas of every piece.

    With ``b`` None, the layer against itself: pairs of a feature with itself and the second
    of each symmetric pair are dropped before measuring.
    """
    left = a[["id", "geometry"]]
    right = left if b is None else b[["id", "geometry"]]
    pieces = gpd.overlay(left, right, how="intersection", keep_geom_type=True)
    if b is None:
        pieces = pieces[pieces["id_1"].astype(str) < pieces["id_2"].astype(str)]
    ha = official_ha(pieces.geometry)
    keep = ha * M2_PER_HA > TOLERANCE_M2
    return pd.DataFrame(
        {
            "a_id": pieces["id_1"].to_numpy()[keep],
            "b_id": pieces["id_2"].to_numpy()[keep],
            "ha": ha[keep],
        }
    )


def compare(
    engine: str, task: str, reference: Pairs, other: Pairs, *, unit: str = "pairs"
) -> Agreement:
    """``other`` engine's pairs (or per-feature areas) against Gazar's ``reference``."""
    common = reference.keys() & other.keys()
    diffs = [abs(reference[k] - other[k]) for k in common]
    return Agreement(
        engine=engine,
        task=task,
        unit=unit,
        count=len(other),
        missing=tuple(sorted(reference.keys() - other.keys())),
        extra=tuple(sorted(other.keys() - reference.keys())),
        total_ha=float(np.sum(sorted(other.values()))),
        reference_ha=float(np.sum(sorted(reference.values()))),
        max_pair_diff_ha=max(diffs, default=0.0),
    )


def _optional(module: str) -> Any | None:
    """The module if it can be imported (it may not be written yet), else None, saying why."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        print(f"  gazar     n/a ({module} cannot be imported: {exc})", flush=True)
        return None


# ------------------------------------------------------------------------------------ PostGIS


@contextmanager
def _postgis(dsn: str | None, data: BenchData) -> Iterator[Any | None]:
    """A connection with every benchmark layer loaded (None without a cluster)."""
    if not dsn:
        yield None
        return
    from bench import postgis

    with postgis.connect(dsn) as conn:
        print(f"{postgis.versions(conn)}; loading the layers with COPY and GiST indexes ...")
        demo = data.demo
        loads = {
            "parcels": (data.parcels, [("status", "text")]),
            "resurvey": (data.resurvey, []),
            "applications": (data.applications, []),
            "parcels_5": (data.parcels_5, []),
            "resurvey_5": (data.resurvey_5, []),
            "land_conclusions": (
                demo["land_conclusions"],
                [("status", "text"), ("valid_until", "date")],
            ),
            "rehab_zones": (demo["rehab_zones"], [("stage", "text")]),
            "exclusions": (demo["exclusions"], []),
            "licences": (demo["licences"], [("expires_on", "date")]),
        }
        took = {t: postgis.load(conn, t, layer, columns=cols) for t, (layer, cols) in loads.items()}
        print("  " + ", ".join(f"{t} {s:.1f} s" for t, s in took.items()), flush=True)
        yield conn


# --------------------------------------------------------------------------------------- run


@dataclass
class Bench:
    data: BenchData
    repeats: int
    conn: Any | None
    run_overlay: bool
    explain: bool = False
    agreements: list[Agreement] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    def overlaps(self, row: Row, a: str, b: str | None) -> None:
        """Between ``a`` and ``b`` (layer names of the data), or within ``a`` if ``b`` is None."""
        print(f"{row.task}", flush=True)
        layer_a = getattr(self.data, a)
        layer_b = None if b is None else getattr(self.data, b)
        within = layer_b is None
        if layer_b is None:
            row.gazar, res = timed(
                lambda: overlaps_within(layer_a, layer=a, tolerance_m2=TOLERANCE_M2),
                repeats=self.repeats,
                label="gazar",
            )
        else:
            row.gazar, res = timed(
                lambda: overlaps_between(
                    layer_a, layer_b, a_layer=a, b_layer=str(b), tolerance_m2=TOLERANCE_M2
                ),
                repeats=self.repeats,
                label="gazar",
            )
        ref = _records_pairs(res.records, a="a_id", b="b_id", ha="overlap_ha", within=within)
        if layer_b is None:
            involved = len({x for k in ref for x in k}) / max(len(layer_a), 1)
            row.found = f"{len(ref):,} pairs, {involved:.2%} of {a} overlap another"
        else:
            share_a = len({k[0] for k in ref}) / max(len(layer_a), 1)
            share_b = len({k[1] for k in ref}) / max(len(layer_b), 1)
            row.found = f"{len(ref):,} pairs, touching {share_a:.2%} of {a}, {share_b:.2%} of {b}"
        print(f"  found     {row.found}", flush=True)

        conn = self.conn
        if conn is not None:
            from bench import postgis

            if self.explain:
                query = postgis.within_query(a) if b is None else postgis.between_query(a, b)
                self._plan(query, {"step": 0.001, "tol": TOLERANCE_M2})
            if layer_b is None:
                row.postgis, rows = timed(
                    lambda: postgis.overlaps_within(conn, table=a, tolerance_m2=TOLERANCE_M2),
                    repeats=self.repeats,
                    label="postgis",
                )
            else:
                row.postgis, rows = timed(
                    lambda: postgis.overlaps_between(
                        conn, a=a, b=str(b), tolerance_m2=TOLERANCE_M2
                    ),
                    repeats=self.repeats,
                    label="postgis",
                )
            self.agreements.append(compare("postgis", row.task, ref, _pairs(rows, within=within)))
        else:
            row.postgis.note = "n/a"

        if self.run_overlay:
            row.overlay, pieces = timed(
                lambda: overlay_overlaps(layer_a, layer_b),
                repeats=self.repeats,
                label="overlay",
            )
            got = _records_pairs(pieces, a="a_id", b="b_id", ha="ha", within=within)
            self.agreements.append(compare("overlay", row.task, ref, got))
        else:
            row.overlay.note = "skipped"
        self.rows.append(row)

    def _plan(self, query: Any, params: dict[str, Any]) -> None:
        from bench import postgis

        if self.conn is None:
            return
        plan = postgis.explain(self.conn, query, params)
        print("  " + plan.replace("\n", "\n  "), flush=True)

    def availability(self, row: Row) -> None:
        print(row.task, flush=True)
        self.rows.append(row)
        module = _optional("geo.availability")
        if module is None:
            row.gazar.note = row.postgis.note = row.overlay.note = "n/a"
            return
        demo = self.data.demo
        args = (
            demo["land_conclusions"],
            demo["contract_parcels"],
            demo["rehab_zones"],
            demo["exclusions"],
            demo["licences"],
        )
        row.gazar, frame = timed(
            lambda: module.availability(*args, today=DEMO_DAY),
            repeats=self.repeats,
            label="gazar",
        )
        ref = {
            (str(i), "available"): float(v)
            for i, v in zip(frame["id"], frame["available_ha"], strict=True)
        }
        row.found = (
            f"{len(frame):,} Land Conclusions in force, "
            f"{frame['available_ha'].sum():,.1f} ha of {frame['area_ha'].sum():,.1f} ha available"
        )
        print(f"  found     {row.found}", flush=True)
        row.overlay.note = "n/a"
        conn = self.conn
        if conn is None:
            row.postgis.note = "n/a"
            return
        from bench import postgis

        tables = {
            "lcs": "land_conclusions",
            "parcels": "parcels",
            "rehab": "rehab_zones",
            "exclusions": "exclusions",
            "licences": "licences",
        }
        if self.explain:
            self._plan(postgis.availability_query(tables), {"step": 0.001, "today": DEMO_DAY})
        row.postgis, rows = timed(
            lambda: postgis.availability(conn, today=DEMO_DAY, tables=tables),
            repeats=self.repeats,
            label="postgis",
        )
        got = {(lc, "available"): free for lc, _area, free in rows}
        self.agreements.append(compare("postgis", row.task, ref, got, unit="Land Conclusions"))

    def review(self, row: Row) -> None:
        """``geo.review.review`` of one proposed parcel, the layers indexed beforehand."""
        print(row.task, flush=True)
        self.rows.append(row)
        row.postgis.note = row.overlay.note = "n/a"
        module = _optional("geo.review")
        if module is None:
            row.gazar.note = "n/a"
            return
        from geo.settings import AnalysisSettings

        settings = AnalysisSettings()
        start = time.perf_counter()
        context = module.ReviewContext(self.data.demo)
        indexing = time.perf_counter() - start
        proposal = _proposal(self.data)

        def one() -> Any:
            return module.review(
                proposal, kind="parcel", layers=context, today=DEMO_DAY, settings=settings
            )

        start = time.perf_counter()
        one()  # the first review after indexing, reported apart (as the API's first check)
        first = time.perf_counter() - start
        row.gazar, result = timed(one, repeats=REVIEW_RUNS * max(self.repeats, 1), label="gazar")
        row.found = (
            f"verdict {result['verdict']}, findings: {len(result['findings'])}; "
            f"indexing the layers once took {indexing:.2f} s, the first review "
            f"{first * 1000:.0f} ms"
        )
        print(f"  found     {row.found}", flush=True)


def _proposal(data: BenchData) -> gpd.GeoDataFrame:
    """A proposed parcel: the re-drawn copy of the middle parcel (it overlaps the original)."""
    k = len(data.parcels) // 2
    original = data.parcels.iloc[k]
    return gpd.GeoDataFrame(
        {
            "id": ["PROPOSAL-1"],
            "land_conclusion_id": [original["land_conclusion_id"]],
            "holder": ["Benchmark partnership"],
        },
        geometry=[data.resurvey.geometry.iloc[k]],
        crs=data.parcels.crs,
    )


def _print_table(rows: Sequence[Row], *, full: bool) -> None:
    header = (
        "task",
        "gazar s",
        "postgis s",
        "overlay s",
        "postgis/gazar",
        "overlay/gazar",
        "goal",
        "met?",
    )
    cells = []
    for r in rows:
        ratios = [r.ratio(r.postgis), r.ratio(r.overlay)]
        cells.append(
            (
                r.task,
                r.gazar.cell(),
                r.postgis.cell(),
                r.overlay.cell(),
                *(f"{x:.1f}x" if x is not None else "n/a" for x in ratios),
                r.goal.describe() if r.goal else "none (comparison)",
                r.verdict(full=full),
            )
        )
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for c in cells:
        print("  ".join(str(x).ljust(w) for x, w in zip(c, widths, strict=True)))
    print(line)


def print_table(figures: Sequence[Any], *, full: bool) -> None:
    from bench.api import print_table as table

    table(figures, full=full)


def _number(figure: Any) -> str:
    """An API figure's value as the table prints it."""
    from bench.api import _number as number

    return number(figure.gazar, figure.unit)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="1k parcels instead of 100k")
    parser.add_argument("--scale", type=int, help="parcels / 100 (default 1000; --small: 10)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--no-postgis", action="store_true", help="skip PostGIS")
    parser.add_argument("--no-overlay", action="store_true", help="skip geopandas overlay")
    parser.add_argument("--explain", action="store_true", help="print PostGIS query plans")
    parser.add_argument("--no-api", action="store_true", help="skip the HTTP API figures")
    parser.add_argument(
        "--no-backends", action="store_true", help="skip reading the store from each backend"
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line processes")
    parser.add_argument("--no-tiles", action="store_true", help="skip the vector tiles")
    args = parser.parse_args(argv)
    scale = args.scale or (SMALL_SCALE if args.small else FULL_SCALE)
    full = scale >= FULL_SCALE
    dsn = None if args.no_postgis else os.environ.get("GAZAR_BENCH_PG")
    if not args.no_postgis and not dsn:
        print("PostGIS: n/a (no GAZAR_BENCH_PG; ./scripts/bench starts a cluster)")

    start = time.perf_counter()
    data = build(scale=scale)
    lcs = data.demo["land_conclusions"]
    print(
        f"data: {len(data.parcels):,} parcels, {len(data.resurvey):,} re-drawn, "
        f"{len(data.applications):,} applications, {len(lcs):,} Land Conclusions "
        f"({time.perf_counter() - start:.1f} s); {os.cpu_count()} cores; "
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}); "
        f"median of {args.repeats} runs (1 when slower than {SLOW_S:g} s)",
        flush=True,
    )
    n = f"{len(data.parcels) // 1000}k" if len(data.parcels) >= 1000 else str(len(data.parcels))
    with _postgis(dsn, data) as conn:
        bench = Bench(
            data, args.repeats, conn, run_overlay=not args.no_overlay, explain=args.explain
        )
        bench.overlaps(
            Row(f"between: {n} parcels x {n} re-drawn", "between", Goal(1.0, 4)),
            "parcels",
            "resurvey",
        )
        bench.overlaps(
            Row(f"between: {n} parcels x {n} applications", "between", Goal(1.0, 4)),
            "parcels",
            "applications",
        )
        bench.overlaps(
            Row(f"within: {n} re-drawn parcels", "within", Goal(0.6, 10)), "resurvey", None
        )
        # the same shapes with a fifth corner: every pair through GEOS, not the four-corner
        # clipping (geo.quads), to show the general path against the same PostGIS queries
        bench.overlaps(
            Row(
                f"between, dense, general polygons (5-corner copies): {n} x {n} re-drawn",
                "between",
                Goal(1.0, 3),
            ),
            "parcels_5",
            "resurvey_5",
        )
        bench.overlaps(
            Row(f"within, 5-corner copies: {n} re-drawn", "within", None), "resurvey_5", None
        )
        bench.availability(
            Row(f"availability: {len(lcs):,} LCs x {n} parcels", "availability", Goal(1.5))
        )
        bench.review(Row(f"proposal review vs {n} parcels", "review", Goal(0.03)))
        tile_figures = []
        if not args.no_tiles:  # needs the PostGIS tables of this run: inside the block
            from bench import tiles

            print("\nvector tiles (OGC API – Tiles) against PostGIS ST_AsMVT", flush=True)
            tile_figures = tiles.run(
                data.parcels, conn, repeats=args.repeats, full=full, table=False
            )

    print()
    _print_table(bench.rows, full=full)
    if not full:
        print("(goals are for 100k parcels: not judged on a --small run)")
    print()
    for agreement in bench.agreements:
        print(agreement.describe())
    missed = [
        f"{r.task}: {r.verdict(full=full)}" for r in bench.rows if "MISSED" in r.verdict(full=full)
    ]
    if tile_figures:
        from bench import tiles

        print()
        print_table(tile_figures, full=full)
        missed += tiles.missed(tile_figures) if full else []
    if not args.no_api:
        from bench import api

        print()
        figures = api.run(data.demo, today=DEMO_DAY, repeats=args.repeats, full=full)
        missed += [
            f"{f.task}: {_number(f)} ({f.goal.text})"
            for f in figures
            if f.goal.met(f.gazar) is False
        ]
        from bench import incremental

        print()
        figures = incremental.run(data.demo, dsn=dsn, repeats=args.repeats, full=full)
        missed += [
            f"{f.task}: {_number(f)} ({f.goal.text})"
            for f in figures
            if f.goal.met(f.gazar) is False
        ]
    if not args.no_cli:
        from bench import startup

        print()
        lines = startup.run(data.demo, repeats=args.repeats, full=full)
        missed += [m for m in (x.missed() for x in lines) if m]
    same_reads = True
    if not args.no_backends:
        from bench import backends

        print()
        same_reads = backends.run(data.demo, dsn=dsn, repeats=args.repeats, today=DEMO_DAY)
    bad = [a for a in bench.agreements if not a.ok]
    print()
    if not full:
        print(f"goals not judged: a small run ({len(data.parcels):,} parcels, goals are for 100k)")
    elif missed:
        print(f"GOALS MISSED ({len(missed)}):")
    else:
        print("every goal measured in this run was met")
    for m in missed:
        print(f"  - {m}")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if bad:
        print(f"ENGINES DISAGREE on {len(bad)} comparison(s): see above", file=sys.stderr)
        return 1
    return 0 if same_reads else 1


if __name__ == "__main__":
    sys.exit(main())
