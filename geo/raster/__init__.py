"""Rasters on arrays: zonal statistics with exact partial pixels, slope, recovery, rasterising.

Pure computation on numpy arrays, affine transforms and polygons; reading and writing raster
files is :mod:`layers.rasters`, and :mod:`api.services.rasters` feeds these functions one
window at a time. By job: :mod:`~geo.raster.pixels` (pixel space, coverage, windows),
:mod:`~geo.raster.zonal` (zonal statistics), :mod:`~geo.raster.slope` (slope, the DEM),
:mod:`~geo.raster.rehab` (recovery), :mod:`~geo.raster.grid` (rasterising).

Zones are worked on in *pixel space*: a polygon is mapped by the inverse of the raster's
affine transform so that pixel ``(row, col)`` is the unit square ``[col, col+1] x [row,
row+1]`` (an affine map keeps ratios of areas, so a fraction of a pixel in pixel space is the
fraction of its area in the raster's CRS). Pixel indices are those of the whole raster, so
the windows of one raster line up; they may fall outside it (a zone larger than the raster).

Two ways of weighting pixels (:data:`PixelMode`):

``"weighted"``
    every pixel the zone covers, weighted by the covered fraction of its area (interior
    pixels weigh 1). Computed exactly, without clipping a polygon per pixel: by Green's
    theorem the area of a polygon inside pixel ``(r, c)`` is the sum, over the boundary's
    pieces inside row ``r``, of ``∫ clamp(x - c, 0, 1) dy``. Each edge is cut at the grid
    lines it crosses; a piece inside pixel ``(r, c)`` gives ``dy * (x_mid - c)`` to that
    pixel and ``dy`` to every pixel left of it in the row (one cumulative sum per row).
``"centre"``
    every pixel whose centre is inside the zone, weighing 1 — GDAL's rasterisation without
    ``all_touched`` (and so ``rasterstats``): each edge crossing a row's centre line toggles
    "inside" from the first pixel whose centre is at or right of the crossing.

Both are vectorised over all edges of all zones (``numpy.repeat`` to expand crossings, one
``bincount`` and one ``cumsum`` over a buffer holding each zone's bounding box of pixels).
"""

from geo.raster.grid import (
    AVAILABLE,
    NOT_AVAILABLE,
    OUTSIDE,
    aligned_grid,
    as_records,
    availability_block,
    label_of,
    utm_epsg,
)
from geo.raster.pixels import (
    PIXEL_MODES,
    BoolArray,
    Coverage,
    FloatArray,
    Grid,
    IntArray,
    ObjArray,
    PixelMode,
    Window,
    check_transform,
    pixel_coverage,
    pixel_space,
    plan_windows,
)
from geo.raster.rehab import (
    RECOVERY_COLUMNS,
    RECOVERY_LABELS,
    RecoveryStatus,
    recovery_table,
)
from geo.raster.slope import (
    SLOPE_RULE,
    TERRAIN_COLUMNS,
    Dem,
    lonlat_pixel_metres,
    slope_degrees,
    terrain,
    terrain_findings,
    terrain_table,
)
from geo.raster.zonal import (
    STAT_COLUMNS,
    Samples,
    collect,
    share_above,
    summarise,
    zonal_stats,
)

__all__ = [
    "AVAILABLE",
    "NOT_AVAILABLE",
    "OUTSIDE",
    "PIXEL_MODES",
    "RECOVERY_COLUMNS",
    "RECOVERY_LABELS",
    "SLOPE_RULE",
    "STAT_COLUMNS",
    "TERRAIN_COLUMNS",
    "BoolArray",
    "Coverage",
    "Dem",
    "FloatArray",
    "Grid",
    "IntArray",
    "ObjArray",
    "PixelMode",
    "RecoveryStatus",
    "Samples",
    "Window",
    "aligned_grid",
    "as_records",
    "availability_block",
    "check_transform",
    "collect",
    "label_of",
    "lonlat_pixel_metres",
    "pixel_coverage",
    "pixel_space",
    "plan_windows",
    "recovery_table",
    "share_above",
    "slope_degrees",
    "summarise",
    "terrain",
    "terrain_findings",
    "terrain_table",
    "utm_epsg",
    "zonal_stats",
]
