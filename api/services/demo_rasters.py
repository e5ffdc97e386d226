"""The demo's rasters: synthetic NDVI (before, after) and DEM files over the demo soums,
registered beside the store (``gazar demo``)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from affine import Affine

from geo import raster as gr
from layers.rasters import register, write_cog

# ------------------------------------------------------------------------------- demo rasters

#: NDVI change of a demo zone, by rehabilitation stage (before → after).
_DEMO_RECOVERY: Final = {
    "required": -0.02,
    "technical_done": 0.05,
    "biological_done": 0.16,
    "accepted": 0.3,
}
#: Demo terrain relief per soum (metres): Altai in Khovd is mountainous.
_DEMO_RELIEF: Final = {"MN8404": 900.0, "MN8201": 300.0, "MN4310": 60.0, "MN4322": 120.0}
_NDVI_RES, _DEM_RES_DEG = 20.0, 1 / 3600


def write_demo_rasters(
    layers: Mapping[str, gpd.GeoDataFrame],
    folder: str | os.PathLike[str],
    *,
    seed: int,
    today: dt.date,
) -> list[dict[str, Any]]:
    """Synthetic NDVI (before, after) and DEM rasters over each demo soum's Land Conclusions,
    registered in ``folder`` (see the module's description).

    NDVI is ``float32`` at 20 m in the soum's UTM zone, nodata -9999: smooth steppe values,
    rehabilitation zones bare before and recovered after by their stage (accepted most,
    required not at all, with noise), and a cloud (nodata) over one zone of each soum
    after. The DEM is ``float32`` at 1 arc-second in EPSG:4326 (as SRTM is), rolling hills
    whose relief differs by soum. Deterministic for a seed.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.tif"):
        old.unlink()
    rng = np.random.default_rng(seed + 8)
    lcs, zones = layers["land_conclusions"], layers["rehab_zones"]
    before_day = today.replace(year=today.year - 2).isoformat()
    entries: list[dict[str, Any]] = []
    for soum, group in lcs.groupby("soum_code", sort=True):
        code = str(soum)
        area = group.geometry
        lon = float(shapely.union_all(np.asarray(area.array)).centroid.x)
        utm = f"EPSG:{gr.utm_epsg(lon)}"
        bounds = tuple(float(v) for v in area.to_crs(utm).total_bounds)
        grown = (bounds[0] - 200, bounds[1] - 200, bounds[2] + 200, bounds[3] + 200)
        transform, height, width = gr.aligned_grid(grown, _NDVI_RES)
        extent = gpd.GeoSeries([shapely.box(*grown)], crs=utm).to_crs(zones.crs).iloc[0]
        mine = zones[np.asarray(zones.intersects(extent), dtype=bool)]
        before, after = _demo_ndvi(mine, utm, transform, height, width, rng)
        for kind, values, day in (
            ("ndvi_before", before, before_day),
            ("ndvi_after", after, today.isoformat()),
        ):
            name = f"{kind}_{code}.tif"
            write_cog(
                out / name,
                [(0, 0, values)],
                height=height,
                width=width,
                transform=transform,
                crs=utm,
                dtype="float32",
                nodata=-9999.0,
                resampling="AVERAGE",
                predictor=3,
            )
            entries.append(
                {
                    "kind": kind,
                    "area": code,
                    "file": name,
                    "date": day,
                    "crs": utm,
                    "description": f"synthetic NDVI, {_NDVI_RES:g} m",
                }
            )
        lonlat = tuple(float(v) for v in area.total_bounds)
        pad = 0.01
        dem_t, dh, dw = gr.aligned_grid(
            (lonlat[0] - pad, lonlat[1] - pad, lonlat[2] + pad, lonlat[3] + pad), _DEM_RES_DEG
        )
        dem = _demo_dem(dem_t, dh, dw, _DEMO_RELIEF.get(code, 100.0), rng)
        name = f"dem_{code}.tif"
        write_cog(
            out / name,
            [(0, 0, dem)],
            height=dh,
            width=dw,
            transform=dem_t,
            crs="EPSG:4326",
            dtype="float32",
            nodata=-9999.0,
            resampling="AVERAGE",
            predictor=3,
        )
        entries.append(
            {
                "kind": "dem",
                "area": code,
                "file": name,
                "date": None,
                "crs": "EPSG:4326",
                "description": "synthetic DEM, 1 arc-second",
            }
        )
    register(out, entries)
    return entries


def _smooth(
    height: int,
    width: int,
    rng: np.random.Generator,
    waves: int = 4,
    k: tuple[float, float] = (0.004, 0.02),
) -> Any:
    """A smooth field in [-1, 1]: a few random plane waves (``k`` radians per pixel)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    field = np.zeros((height, width), dtype=np.float32)
    for _ in range(waves):
        kk = rng.uniform(*k)
        a = rng.uniform(0, 2 * np.pi)
        field += np.sin(kk * (np.cos(a) * xx + np.sin(a) * yy) + rng.uniform(0, 2 * np.pi))
    return field / waves


def _demo_ndvi(
    zones: gpd.GeoDataFrame,
    crs: str,
    transform: Affine,
    height: int,
    width: int,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    base = (0.32 + 0.08 * _smooth(height, width, rng)).astype(np.float32)
    before, after = base.copy(), base.copy()
    if len(zones):
        px = gr.pixel_space(np.asarray(zones.geometry.to_crs(crs).array), transform)
        cov = gr.pixel_coverage(px)
        inside = (cov.row >= 0) & (cov.row < height) & (cov.col >= 0) & (cov.col < width)
        zone, row, col, f = cov.zone[inside], cov.row[inside], cov.col[inside], cov.weight[inside]
        bare = rng.uniform(0.05, 0.1, len(zones)).astype(np.float32)
        gain = zones["stage"].map(_DEMO_RECOVERY).fillna(0.0).to_numpy(np.float32)
        gain = gain + rng.normal(0, 0.02, len(zones)).astype(np.float32)
        now = base[row, col]
        before[row, col] = now * (1 - f) + bare[zone] * f
        after[row, col] = now * (1 - f) + (bare[zone] + gain[zone]) * f
        # a cloud over the first zone's north-west corner: part of it has no value after
        if (zone == 0).any():
            r0, c0 = int(row[zone == 0].min()), int(col[zone == 0].min())
            after[max(r0 - 3, 0) : r0 + 2, max(c0 - 3, 0) : c0 + 2] = -9999.0
    # two decimals, as NDVI products are read: the files compress far better
    return np.round(before, 2), np.round(after, 2)


def _demo_dem(
    transform: Affine, height: int, width: int, relief: float, rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    hills = _smooth(height, width, rng, waves=5, k=(0.02, 0.05))
    return np.round(1300.0 + relief * hills).astype(np.float32)
