"""Rasterising: UTM zones, aligned grids, blocks of the availability raster, and the rows of
the raster tables as JSON-ready records."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from affine import Affine

from geo.raster.pixels import pixel_coverage
from geo.repair import polygonal_parts

#: Availability raster values (``uint8``).
AVAILABLE, NOT_AVAILABLE, OUTSIDE = 1, 0, 255


# ------------------------------------------------------------------------------- rasterising


def utm_epsg(lon: float) -> int:
    """The EPSG code of the northern WGS84 UTM zone of a longitude (Mongolia: 32645-32650).

    Examples
    --------
    >>> utm_epsg(106.5)
    32648
    """
    return 32600 + math.floor((lon + 180) / 6) % 60 + 1


def aligned_grid(bounds: tuple[float, float, float, float], res: float) -> tuple[Affine, int, int]:
    """A north-up grid of ``res`` pixels covering ``bounds``, its edges on multiples of
    ``res`` (so grids of neighbouring areas line up): transform, height, width. Bounds within
    a millionth of a pixel of a grid line count as on it.

    Examples
    --------
    >>> t, h, w = aligned_grid((105.0, 17.0, 131.0, 29.0), 10)
    >>> (t.c, t.f, h, w)
    (100.0, 30.0, 2, 4)
    """
    if not res > 0:
        raise ValueError(f"the resolution must be positive, not {res!r}")
    # bounds within a millionth of a pixel of a grid line are on it (reprojection noise)
    x0, y0 = (math.floor(v / res + 1e-6) * res for v in bounds[:2])
    x1, y1 = (math.ceil(v / res - 1e-6) * res for v in bounds[2:])
    width, height = max(round((x1 - x0) / res), 1), max(round((y1 - y0) / res), 1)
    return Affine(res, 0, x0, 0, -res, y1), height, width


def availability_block(
    land: Any,
    available: Any,
    *,
    row_off: int,
    col_off: int,
    height: int,
    width: int,
) -> npt.NDArray[np.uint8]:
    """One block of the availability raster: ``AVAILABLE`` (1) where the pixel's centre is in
    available land, ``NOT_AVAILABLE`` (0) elsewhere in a Land Conclusion, ``OUTSIDE`` (255).

    ``land`` (the Land Conclusions) and ``available`` (their free land) are in pixel space
    (:func:`pixel_space`); the block is rows ``row_off ...`` and columns ``col_off ...``.

    Examples
    --------
    >>> from shapely import box
    >>> availability_block([box(0, 0, 4, 1)], [box(0, 0, 2, 1)], row_off=0, col_off=0,
    ...                    height=1, width=5).tolist()
    [[1, 1, 0, 0, 255]]
    """
    out = np.full((height, width), OUTSIDE, dtype=np.uint8)
    rect = shapely.box(col_off, row_off, col_off + width, row_off + height)
    for geoms, value in ((land, NOT_AVAILABLE), (available, AVAILABLE)):
        arr = np.asarray(geoms, dtype=object).ravel()
        if not len(arr):
            continue
        near = arr[shapely.intersects(arr, rect)]
        pieces = polygonal_parts(np.asarray(shapely.intersection(near, rect), dtype=object))
        cov = pixel_coverage(pieces, mode="centre")
        out[cov.row - row_off, cov.col - col_off] = value
    return out


def as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NaN becomes None, numpy scalars plain Python values."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]


def label_of(labels: Mapping[str, tuple[str, str]], value: str, lang: Literal["mn", "en"]) -> str:
    """A value's label in a language (the value itself if it has none)."""
    pair = labels.get(value)
    return value if pair is None else pair[0 if lang == "mn" else 1]
