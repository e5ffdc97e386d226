"""Zonal statistics: the pixels of each zone, collected block by block, and their summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from geo.raster.pixels import (
    BoolArray,
    Coverage,
    FloatArray,
    Grid,
    IntArray,
    PixelMode,
    Window,
    pixel_coverage,
)

#: Columns of :func:`zonal_stats` (pixels are counted in pixels, weighted in ``weighted`` mode).
STAT_COLUMNS: Final = ("pixels", "valid_pixels", "valid_share", "mean", "median", "min", "max")


# ------------------------------------------------------------------------------- statistics


@dataclass
class Samples:
    """Covered pixels gathered from the windows of one raster: the valid ones with their
    values, and each zone's total weight (valid or not)."""

    n_zones: int
    zone: list[IntArray]
    value: list[FloatArray]
    weight: list[FloatArray]
    total: FloatArray

    @classmethod
    def empty(cls, n_zones: int) -> Samples:
        return cls(n_zones, [], [], [], np.zeros(n_zones))

    def add(self, cov: Coverage, values: FloatArray, valid: BoolArray) -> None:
        self.total += np.bincount(cov.zone, weights=cov.weight, minlength=self.n_zones)
        self.zone.append(cov.zone[valid])
        self.value.append(values[valid])
        self.weight.append(cov.weight[valid])


def collect(
    blocks: Iterable[tuple[Window, Grid]], n_zones: int, *, mode: PixelMode = "weighted"
) -> Samples:
    """Gather every zone's covered pixels from raster blocks (:func:`plan_windows` windows
    with their values), one block at a time."""
    samples = Samples.empty(n_zones)
    for window, grid in blocks:
        cov = pixel_coverage(window.geoms, mode=mode, zones=window.zones)
        values, valid = grid.sample(cov)
        samples.add(cov, values, valid)
    return samples


def zonal_stats(
    blocks: Iterable[tuple[Window, Grid]] | Samples,
    n_zones: int,
    *,
    mode: PixelMode = "weighted",
) -> pd.DataFrame:
    """Per-zone statistics of a raster read block by block.

    Parameters
    ----------
    blocks : iterable of (Window, Grid), or Samples
        Each window of :func:`plan_windows` with the raster's values over it (the windows of
        one raster: a zone cut into tiles has pieces in several), or samples already
        gathered with :func:`collect`.
    n_zones : int
        The number of zones (rows of the result, in zone order).
    mode : {"weighted", "centre"}
        How pixels are weighted (see the module's description).

    Returns
    -------
    DataFrame
        One row per zone with ``STAT_COLUMNS``: ``pixels`` (the covered pixels, partial ones
        by their fraction), ``valid_pixels`` (those neither nodata nor NaN nor outside the
        raster), ``valid_share``, and over the valid pixels the weighted ``mean``,
        ``median`` (the value where the cumulative weight reaches half; the mean of two
        values when it reaches half exactly — to 1e-9 of the zone's weight — as
        ``numpy.median`` does), ``min`` and ``max``.
        NaN where a zone has no valid pixel.

    Examples
    --------
    A 2 x 2 raster with one nodata pixel; a zone covering the left column and half of the
    right one:

    >>> from shapely import box
    >>> from geo.raster.pixels import plan_windows
    >>> grid = Grid(np.array([[1.0, 3.0], [-9.0, 5.0]]), nodata=-9.0)
    >>> window = plan_windows([box(0, 0, 1.5, 2)])[0]
    >>> zonal_stats([(window, grid)], 1).round(4).to_dict("records")[0]
    {'pixels': 3.0, 'valid_pixels': 2.0, 'valid_share': 0.6667, 'mean': 2.5, 'median': 2.0, \
'min': 1.0, 'max': 5.0}
    """
    samples = blocks if isinstance(blocks, Samples) else collect(blocks, n_zones, mode=mode)
    return summarise(samples)


def summarise(samples: Samples) -> pd.DataFrame:
    """The statistics of :func:`zonal_stats` from gathered samples."""
    n = samples.n_zones
    zone = np.concatenate(samples.zone) if samples.zone else np.zeros(0, dtype=np.int64)
    value = np.concatenate(samples.value) if samples.value else np.zeros(0)
    weight = np.concatenate(samples.weight) if samples.weight else np.zeros(0)
    valid_w = np.bincount(zone, weights=weight, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(zone, weights=weight * value, minlength=n) / valid_w
        share = np.where(samples.total > 0, valid_w / samples.total, np.nan)
    median = np.full(n, np.nan)
    low = np.full(n, np.nan)
    high = np.full(n, np.nan)
    has = np.flatnonzero(valid_w > 0)
    if len(zone):
        order = np.lexsort((value, zone))
        zs, vs, ws = zone[order], value[order], weight[order]
        start = np.searchsorted(zs, has, side="left")
        stop = np.searchsorted(zs, has, side="right")
        low[has], high[has] = vs[start], vs[stop - 1]
        cum = np.cumsum(ws)
        before = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
        half = 0.5 * valid_w[has]
        target = before + half
        # "exactly half" to 1e-9 of the zone's weight: reprojected zones cover pixels to
        # within float noise, which must not move the median by a whole value
        tol = 1e-9 * valid_w[has] + 4e-16 * cum[stop - 1]
        at = np.clip(np.searchsorted(cum, target - tol, side="left"), start, stop - 1)
        exact = (np.abs(cum[at] - target) <= tol) & (at + 1 < stop)
        nxt = np.minimum(at + 1, len(vs) - 1)
        median[has] = np.where(exact, 0.5 * (vs[at] + vs[nxt]), vs[at])
    mean[valid_w <= 0] = np.nan
    return pd.DataFrame(
        {
            "pixels": samples.total,
            "valid_pixels": valid_w,
            "valid_share": share,
            "mean": mean,
            "median": median,
            "min": low,
            "max": high,
        }
    )


def share_above(samples: Samples, limit: float) -> FloatArray:
    """Each zone's weighted share of valid pixels whose value is above ``limit`` (NaN where
    a zone has no valid pixel)."""
    n = samples.n_zones
    zone = np.concatenate(samples.zone) if samples.zone else np.zeros(0, dtype=np.int64)
    value = np.concatenate(samples.value) if samples.value else np.zeros(0)
    weight = np.concatenate(samples.weight) if samples.weight else np.zeros(0)
    valid_w = np.bincount(zone, weights=weight, minlength=n)
    above = np.bincount(zone, weights=weight * (value > limit), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid_w > 0, above / valid_w, np.nan)
