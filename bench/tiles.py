"""Vector tiles of the parcels at zoom 6, 9 and 12, against PostGIS in the same run.

For each zoom the tile holding the most parcels (the densest, the worst case) is cut:

``gazar``
    :mod:`api.services.tiles` from the collection's cached data (the parcels, their bounds and
    styling properties kept per revision, the STRtree built once, as the server keeps them
    after the first request): the features found by the index, clipped, simplified, snapped,
    small parcels aggregated, and the Mapbox Vector Tile written by ``mapbox_vector_tile``.
    A tile asked again is a dict lookup in the LRU and is not what is measured here.
``reference``
    PostGIS: ``ST_AsMVT(ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(z, x, y), 4096,
    64))`` over the same parcels in a table with a GiST index (``bench.postgis.load``), the
    rows chosen by ``geom && `` the tile's lon/lat envelope with its 64-unit margin.

Goal (issue 16): every tile at most 50 ms and faster than PostGIS. Each figure is the median of
``TILE_RUNS`` x ``repeats`` runs, the two engines interleaved. Run alone with
``python -m bench.tiles [--scale K]`` (PostGIS from ``GAZAR_BENCH_PG``, skipped without it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import shapely

from bench.api import FULL_SCALE, Figure, Goal, medians_ms, print_table

#: runs per figure and per ``--repeats``
TILE_RUNS = 7
ZOOMS = (6, 9, 12)
#: the goal of every tile, in milliseconds
GOAL_MS = 50.0

MVT_SQL = """
SELECT ST_AsMVT(t, 'contract_parcels', 4096, 'geom') FROM (
    SELECT p.id, p.status,
           ST_AsMVTGeom(ST_Transform(p.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                        4096, 64, true) AS geom
    FROM parcels AS p
    WHERE p.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096),
                                 4326)
) AS t
"""


def densest_tile(parcels: gpd.GeoDataFrame, z: int) -> tuple[int, int]:
    """(row, column) of the zoom-``z`` tile holding the most parcel centres."""
    b = shapely.bounds(np.asarray(parcels.geometry.array, dtype=object))
    lon, lat = (b[:, 0] + b[:, 2]) / 2, np.radians((b[:, 1] + b[:, 3]) / 2)
    n = 2**z
    col = ((lon + 180) / 360 * n).astype(np.int64)
    row = ((1 - np.arcsinh(np.tan(lat)) / np.pi) / 2 * n).astype(np.int64)
    cells, counts = np.unique(np.stack([row, col], axis=1), axis=0, return_counts=True)
    best = cells[counts.argmax()]
    return int(best[0]), int(best[1])


def _describe(body: bytes | None) -> tuple[int, int]:
    """Features in a tile and the parcels they stand for (aggregates carry ``count``)."""
    if not body:
        return 0, 0
    layer = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    feats = next(iter(layer.values()))["features"] if layer else []
    return len(feats), sum(int(f["properties"].get("count", 1)) for f in feats)


def run(
    parcels: gpd.GeoDataFrame,
    conn: Any | None,
    *,
    repeats: int = 3,
    full: bool = True,
    table: bool = True,
) -> list[Figure]:
    """Measure a tile at each of :data:`ZOOMS` (``conn``: PostGIS with the ``parcels`` table
    loaded, or None); ``table``: print their table."""
    from api.services import tiles
    from api.services.collections import FrameData

    data = FrameData(parcels, None)
    source = tiles._source(data)  # what the server keeps per revision
    figures = []
    for z in ZOOMS:
        row, col = densest_tile(parcels, z)
        figure = Figure(
            f"vector tile z{z} ({z}/{row}/{col}), {len(parcels):,} parcels",
            "ms",
            Goal(f"<= {GOAL_MS:g} ms, faster than PostGIS", maximum=GOAL_MS),
            reference_name="PostGIS ST_AsMVT",
        )

        def ours(z: int = z, row: int = row, col: int = col) -> bytes | None:
            return tiles._encode(source, "contract_parcels", z, row, col)

        fns: list[Any] = [ours]
        if conn is not None:

            def theirs(z: int = z, row: int = row, col: int = col) -> bytes:
                got = conn.execute(MVT_SQL, {"z": z, "x": col, "y": row}).fetchone()
                return bytes(got[0]) if got and got[0] is not None else b""

            fns.append(theirs)
        for fn in fns:  # warm: the first query plans, the first cut fills caches
            fn()
        times = medians_ms(fns, TILE_RUNS * repeats)
        figure.gazar = times[0]
        features, stands_for = _describe(ours())
        note = f"gazar: {features:,} features standing for {stands_for:,} parcels"
        if conn is not None:
            figure.reference = times[1]
            theirs_features, _ = _describe(fns[1]())
            note += f"; PostGIS: {theirs_features:,} features"
        else:
            figure.reference_name = "PostGIS: n/a (no GAZAR_BENCH_PG)"
        figure.note = note
        print(f"  {figure.task}: {figure.gazar:.1f} ms", flush=True)
        figures.append(figure)
    if table:
        print_table(figures, full=full)
    return figures


def missed(figures: Sequence[Figure]) -> list[str]:
    """The tiles over the time goal or not faster than PostGIS."""
    out = []
    for f in figures:
        if f.goal.met(f.gazar) is False:
            out.append(f"{f.task}: {f.gazar:.1f} ms (goal {f.goal.text})")
        elif f.ratio is not None and f.ratio < 1:
            out.append(f"{f.task}: slower than PostGIS ({f.ratio:.2f}x)")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from bench import postgis
    from bench.data import DEMO_DAY
    from layers.demo import build_demo

    parser = argparse.ArgumentParser(
        prog="python -m bench.tiles", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scale", type=int, default=FULL_SCALE, help="parcels / 100 (1000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (x 7)")
    args = parser.parse_args(argv)
    parcels = build_demo(seed=7, scale=args.scale, today=DEMO_DAY)["contract_parcels"]
    dsn = os.environ.get("GAZAR_BENCH_PG")
    full = args.scale >= FULL_SCALE
    if not dsn:
        print("PostGIS: n/a (no GAZAR_BENCH_PG)")
        figures = run(parcels, None, repeats=args.repeats, full=full)
    else:
        with postgis.connect(dsn) as conn:
            print(postgis.versions(conn))
            postgis.load(conn, "parcels", parcels, columns=[("status", "text")])
            figures = run(parcels, conn, repeats=args.repeats, full=full)
    for line in missed(figures) if full else []:
        print(f"MISSED: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
