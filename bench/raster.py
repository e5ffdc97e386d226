"""Zonal statistics: Gazar (``api.services.rasters.zonal_stats``) against rasterstats, in one run.

Run through ``./scripts/bench raster [--small]`` or ``python -m bench.raster``.

A ``--size`` x ``--size`` int16 GeoTIFF (NDVI x 10,000, 10 m pixels in UTM 48N, nodata
-32768 in a few patches) is written to a temporary folder, with ``--zones`` rehabilitation-zone
shapes (24-vertex blobs of 0.03-7 ha). Both engines compute count, mean and median of every
zone with whole pixels whose centre is inside (rasterstats ``all_touched=False``, Gazar
``mode="centre"``): the counts must be equal and the means and medians agree to ``AGREE``.
Gazar's ``weighted`` mode (partial pixels by their covered fraction) is timed and reported
separately, with how far its means are from the centre ones. The exit status is 1 when the
engines disagree; a missed speed goal is printed, not fatal.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine

from api.services import rasters
from geo import raster as gr

AGREE = 1e-9
GOAL_RATIO = 3.0
CRS = "EPSG:32648"
TRANSFORM = Affine(10, 0, 400_000, 0, -10, 5_500_000)
NODATA = -32768


def write_raster(path: Path, size: int, rng: np.random.Generator) -> None:
    """Smooth NDVI-like values with noise and nodata patches, written in strips."""
    profile = {
        "driver": "GTiff",
        "height": size,
        "width": size,
        "count": 1,
        "dtype": "int16",
        "crs": CRS,
        "transform": TRANSFORM,
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
    }
    cols = np.arange(size, dtype=np.float32)
    strip = 1024
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, strip):
            h = min(strip, size - row)
            rows = np.arange(row, row + h, dtype=np.float32)[:, None]
            smooth = 0.3 + 0.15 * np.sin(cols / 700.0) * np.cos(rows / 900.0)
            noise = rng.normal(0, 0.05, (h, size)).astype(np.float32)
            values = np.clip((smooth + noise) * 10_000, -10_000, 10_000).astype(np.int16)
            # clouds: nodata squares on a coarse lattice
            cloud = ((rows // 400) % 7 == 3) & ((cols // 400) % 5 == 1)
            values[np.broadcast_to(cloud, values.shape)] = NODATA
            dst.write(values, 1, window=rasterio.windows.Window(0, row, size, h))


def make_zones(n: int, size: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """``n`` 24-vertex blobs of 1-15 pixels' radius inside the raster, in its CRS."""
    cx, cy = rng.uniform(20, size - 20, (2, n))
    r = rng.uniform(1.0, 15.0, n)
    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    rad = r[:, None] * rng.uniform(0.6, 1.0, (n, 24))
    xy = np.stack((cx[:, None] + rad * np.cos(ang), cy[:, None] + rad * np.sin(ang)), axis=-1)
    world = gr.pixel_space(shapely.polygons(xy), ~TRANSFORM)
    return gpd.GeoDataFrame({"id": [f"RZ-{i:05d}" for i in range(n)]}, geometry=world, crs=CRS)


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<44} {seconds:8.2f} s", flush=True)
    return result, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="raster side in pixels")
    parser.add_argument("--zones", type=int, default=10_000, help="number of zones")
    parser.add_argument("--small", action="store_true", help="2,000 x 2,000, 1,000 zones")
    parser.add_argument("--max-pixels", type=int, default=rasters.MAX_PIXELS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    size, n = (2000, 1000) if args.small else (args.size, args.zones)
    rng = np.random.default_rng(args.seed)
    try:
        import rasterstats
    except ImportError:  # pragma: no cover
        print("rasterstats is not installed: pip install -e '.[dev]'", file=sys.stderr)
        return 1
    print(f"Zonal statistics: {n:,} zones on a {size:,} x {size:,} int16 raster")
    with tempfile.TemporaryDirectory(prefix="gazar-bench-raster-") as tmp:
        path = Path(tmp) / "ndvi.tif"
        timed(
            f"write the raster ({size * size * 2 / 2**20:,.0f} MiB)",
            lambda: write_raster(path, size, rng),
        )
        zones = make_zones(n, size, rng)
        largest = [0]

        def note(window: rasterio.windows.Window) -> None:
            largest[0] = max(largest[0], int(window.width * window.height))

        centre, t_centre = timed(
            "Gazar, centre pixels",
            lambda: rasters.zonal_stats(
                path, zones, mode="centre", max_pixels=args.max_pixels, on_read=note
            ),
        )
        weighted, t_weighted = timed(
            "Gazar, partial pixels weighted",
            lambda: rasters.zonal_stats(path, zones, mode="weighted", max_pixels=args.max_pixels),
        )
        geoms = list(zones.geometry)
        ref, t_ref = timed(
            "rasterstats (all_touched=False)",
            lambda: rasterstats.zonal_stats(
                geoms, str(path), stats=["count", "mean", "median"], all_touched=False
            ),
        )
    count = np.array([r["count"] for r in ref], dtype=np.float64)
    mean = np.array([np.nan if r["mean"] is None else r["mean"] for r in ref])
    median = np.array([np.nan if r["median"] is None else r["median"] for r in ref])
    has = count > 0
    same_count = bool((centre["valid_pixels"].to_numpy() == count).all())
    d_mean = float(np.nanmax(np.abs(centre["mean"].to_numpy()[has] - mean[has]), initial=0))
    d_median = float(np.nanmax(np.abs(centre["median"].to_numpy()[has] - median[has]), initial=0))
    agree = same_count and d_mean <= AGREE and d_median <= AGREE
    ratio = t_ref / t_centre
    both = has & (weighted["valid_pixels"].to_numpy() > 0)
    shift = np.abs(weighted["mean"].to_numpy()[both] - centre["mean"].to_numpy()[both])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(
        f"  counts equal: {same_count}; largest |Δ mean| {d_mean:.2e}, |Δ median| "
        f"{d_median:.2e} (agree to {AGREE:g}: {'yes' if agree else 'NO'})"
    )
    print(
        f"  Gazar centre is {ratio:.1f}x faster than rasterstats (goal >= {GOAL_RATIO:g}x: "
        f"{'met' if ratio >= GOAL_RATIO else 'MISSED'}); weighted mode "
        f"{t_ref / t_weighted:.1f}x"
    )
    print(
        f"  weighted vs centre means (NDVI x 10,000): median |Δ| {np.median(shift):.1f}, "
        f"largest {shift.max():.1f} over {int(both.sum()):,} zones"
    )
    print(f"  largest block read: {largest[0]:,} pixels; peak RSS {rss:,.0f} MiB")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
