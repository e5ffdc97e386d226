"""What a person waits for at the command line, whole processes timed (issue 15).

Each row is one function in :data:`ROWS` (add a row: write a function taking the
:class:`Setup` and returning a :class:`Line`, and list it). The reference of the start-up rows
is ``python -c "import geopandas"`` in the same run: what any command that loads the layers
pays before it does anything.

``gazar --help``
    Goal: at most 0.3 s.
``gazar layers``
    On a GeoPackage of the demo. Goal: at most 0.4 s.
``gazar overlaps --layer contract_parcels``
    The whole process on the same store (read, analyse, print). Goal: at most 1.0 s.

Run alone with ``python -m bench.startup [--scale K]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Setup:
    """What the rows share: the store's path and the runs per figure."""

    db: Path
    repeats: int


@dataclass
class Line:
    """One row: Gazar's median seconds against a goal, and a reference's."""

    task: str
    goal_s: float
    gazar: float | None = None
    reference: float | None = None
    reference_name: str = ""
    note: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.gazar is None else self.gazar <= self.goal_s

    def missed(self) -> str | None:
        if self.met is False:
            return f"{self.task}: {self.gazar:.3f} s > {self.goal_s:g} s"
        return None


def process_s(argv: Sequence[str], repeats: int) -> float:
    """The median wall-clock seconds of running ``argv`` to its end (output discarded)."""
    return processes_s([argv], repeats)[0]


def processes_s(argvs: Sequence[Sequence[str]], repeats: int) -> list[float]:
    """The median wall-clock seconds of each of ``argvs``, run in turn ``repeats`` times
    (interleaved, so a change in the machine's load touches Gazar and its reference alike)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times: list[list[float]] = [[] for _ in argvs]
    for _ in range(max(1, repeats)):
        for argv, spent in zip(argvs, times, strict=True):
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
            spent.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _gazar(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())", *args]


_IMPORT_GEOPANDAS = [sys.executable, "-c", "import geopandas"]


def help_row(setup: Setup) -> Line:
    line = Line("gazar --help", 0.3, reference_name='python -c "import geopandas"')
    line.gazar, line.reference = processes_s([_gazar("--help"), _IMPORT_GEOPANDAS], setup.repeats)
    return line


def layers_row(setup: Setup) -> Line:
    line = Line("gazar layers (GeoPackage)", 0.4, reference_name='python -c "import geopandas"')
    argv = _gazar("layers", "--db", str(setup.db))
    line.gazar, line.reference = processes_s([argv, _IMPORT_GEOPANDAS], setup.repeats)
    return line


def overlaps_row(setup: Setup) -> Line:
    line = Line(
        "gazar overlaps --layer contract_parcels, whole process",
        1.0,
        reference_name='python -c "import geopandas"',
    )
    argv = _gazar("overlaps", "--layer", "contract_parcels", "--db", str(setup.db))
    line.gazar, line.reference = processes_s([argv, _IMPORT_GEOPANDAS], setup.repeats)
    return line


#: the rows, in the order they are printed
ROWS: list[Callable[[Setup], Line]] = [help_row, layers_row, overlaps_row]


def run(layers: Mapping[str, gpd.GeoDataFrame], *, repeats: int, full: bool) -> list[Line]:
    """Write ``layers`` to a temporary GeoPackage, time every row, print the table."""
    from layers.schema import LAYER_ORDER
    from layers.store import open_store

    lines: list[Line] = []
    with tempfile.TemporaryDirectory(prefix="gazar-bench-cli-") as tmp:
        db = Path(tmp) / "gazar.gpkg"
        with open_store(db) as store:
            store.write({name: layers[name] for name in LAYER_ORDER if name in layers})
        n = len(layers["contract_parcels"])
        print(f"Command line: whole processes on a GeoPackage of {n:,} parcels", flush=True)
        setup = Setup(db, repeats)
        for row in ROWS:
            lines.append(row(setup))
            print(f"  {lines[-1].task}: done", flush=True)
    print_table(lines, full=full)
    return lines


def print_table(lines: Sequence[Line], *, full: bool) -> None:
    header = ("command-line task", "gazar s", "reference s", "ratio", "goal", "met?")
    rows = [header]
    for x in lines:
        ratio = "n/a" if not (x.gazar and x.reference) else f"{x.reference / x.gazar:.1f}x"
        verdict = "n/a" if x.met is None else ("yes" if x.met else "MISSED")
        rows.append(
            (
                x.task,
                "n/a" if x.gazar is None else f"{x.gazar:.3f}",
                "n/a" if x.reference is None else f"{x.reference:.3f} ({x.reference_name})",
                ratio,
                f"<= {x.goal_s:g} s",
                verdict if full else f"{verdict} (small)",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print(line)
    print(line)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.data import DEMO_DAY
    from layers.demo import build_demo

    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--scale", type=int, default=1000, help="parcels / 100 (1000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args(argv)
    layers = build_demo(seed=7, scale=args.scale, today=DEMO_DAY)
    run(layers, repeats=args.repeats, full=args.scale >= 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
