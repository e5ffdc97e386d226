"""Rasters on arrays: zonal statistics with exact partial pixels, slope, recovery, rasterising.

Pure computation on numpy arrays, affine transforms and polygons; reading and writing raster
files is :mod:`layers.rasters`, and :mod:`api.services.rasters` feeds these functions one
window at a time. By job: :mod:`~geo.raster.pixels` (pixel space, coverage, windows),
:mod:`~geo.raster.zonal` (zonal statistics), :mod:`~geo.raster.slope` (slope, the DEM),
:mod:`~geo.raster.rehab` (recovery), :mod:`~geo.raster.grid` (rasterising).

Zones are worked on in *pixel space*, with two ways of weighting pixels
(:data:`PixelMode`: ``"weighted"``, exact partial pixels, and ``"centre"``, as GDAL
rasterises): see :mod:`geo.raster.pixels`.
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
