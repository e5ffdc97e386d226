"""Terrain: the slope of a DEM and how much of each zone is steeper than a limit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from affine import Affine

from geo.raster.pixels import (
    FloatArray,
    Grid,
    PixelMode,
    check_transform,
    pixel_space,
    plan_windows,
)
from geo.raster.zonal import Samples, collect, share_above, summarise
from geo.rules import Rule
from layers.labels import pair

# ------------------------------------------------------------------------------- terrain

#: WGS84 ellipsoid: semi-major axis (m) and first eccentricity squared.
_WGS84_A: Final = 6_378_137.0
_WGS84_E2: Final = 6.69437999014e-3


def lonlat_pixel_metres(
    transform: Affine, *, row_off: int, height: int
) -> tuple[FloatArray, FloatArray]:
    """The size in metres of the pixels of each row of a lon/lat raster (WGS84).

    East-west: the degree width times the parallel's radius (``N cos φ``); north-south: the
    degree height times the meridian's radius of curvature ``M`` — the local scale of a
    conformal projection at the row's latitude, so a slope computed with them is the slope
    in a projected CRS without resampling the DEM.

    Examples
    --------
    >>> t = Affine(1 / 3600, 0, 106, 0, -1 / 3600, 48)  # 1 arc-second
    >>> x, y = lonlat_pixel_metres(t, row_off=0, height=1)
    >>> round(float(x[0]), 2), round(float(y[0]), 2)
    (20.73, 30.89)
    """
    check_transform(transform)
    rows = np.arange(row_off, row_off + height) + 0.5
    lat = np.radians(transform.f + transform.e * rows)
    s2 = np.sin(lat) ** 2
    n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * s2)
    m = _WGS84_A * (1 - _WGS84_E2) / (1 - _WGS84_E2 * s2) ** 1.5
    deg = math.pi / 180
    return abs(transform.a) * deg * n * np.cos(lat), np.full(height, abs(transform.e) * deg) * m


def slope_degrees(
    dem: npt.ArrayLike,
    *,
    xres: float | npt.ArrayLike,
    yres: float | npt.ArrayLike,
    nodata: float | None = None,
) -> FloatArray:
    """Slope in degrees by Horn's method (as ``gdaldem slope``), elevations in metres.

    Parameters
    ----------
    dem : 2-D array
        Elevations (metres).
    xres, yres : float or array of one value per row
        Pixel width and height in metres (:func:`lonlat_pixel_metres` for a lon/lat DEM).
    nodata : float, optional
        Elevation that marks no data (NaN always does).

    Returns
    -------
    numpy.ndarray
        Same shape; NaN on the outer rows and columns, at missing elevations and next to
        them (where the 3 x 3 neighbourhood is incomplete).

    Examples
    --------
    A plane rising 1 m per 1 m pixel eastwards is 45°:

    >>> dem = np.tile(np.arange(4.0), (3, 1))
    >>> slope_degrees(dem, xres=1.0, yres=1.0)[1, 1:3].tolist()
    [45.0, 45.0]
    """
    z = np.array(dem, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"a DEM is a 2-D array, not {z.ndim}-D")
    if nodata is not None and not np.isnan(nodata):
        z[z == nodata] = np.nan
    out = np.full(z.shape, np.nan)
    if z.shape[0] < 3 or z.shape[1] < 3:
        return out
    xr = np.broadcast_to(np.asarray(xres, dtype=np.float64), (z.shape[0],))[1:-1, None]
    yr = np.broadcast_to(np.asarray(yres, dtype=np.float64), (z.shape[0],))[1:-1, None]
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * xr)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * yr)
    out[1:-1, 1:-1] = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    out[np.isnan(z)] = np.nan  # Horn's window skips its centre, which may be missing itself
    return out


#: The terrain finding of a review (``warn``: steep land is for the reviewer to weigh).
SLOPE_RULE: Final = Rule(
    "SLOPE_OVER_LIMIT", "warn", *pair("slope_rule", "title"), *pair("slope_rule", "message")
)

#: Columns of :func:`terrain_table`.
TERRAIN_COLUMNS: Final = ("mean_slope_deg", "steep_share", "steep_ha", "valid_share", "over")


def terrain_table(
    samples: Samples,
    area_ha: npt.ArrayLike,
    *,
    slope_limit_deg: float,
    share_limit: float,
) -> pd.DataFrame:
    """Each zone's slope: mean, share steeper than the limit, and whether that is too much.

    Parameters
    ----------
    samples : Samples
        Slope values (degrees) gathered over the zones (:func:`collect`).
    area_ha : array-like
        Each zone's official hectares (the steep hectares are this times the share).
    slope_limit_deg : float
        Land steeper than this is steep.
    share_limit : float
        A zone is ``over`` when its steep share is above this.

    Returns
    -------
    DataFrame
        One row per zone with ``TERRAIN_COLUMNS``; NaN shares (``over`` False) where the
        DEM has no valid pixel over the zone.

    Examples
    --------
    >>> from shapely import box
    >>> grid = Grid(np.array([[5.0, 25.0, 30.0, 2.0]]))
    >>> window = plan_windows([box(0, 0, 4, 1)])[0]
    >>> t = terrain_table(collect([(window, grid)], 1), [8.0], slope_limit_deg=15,
    ...                   share_limit=0.25)
    >>> t.loc[0, ["steep_share", "steep_ha"]].tolist(), bool(t.loc[0, "over"])
    ([0.5, 4.0], True)
    """
    stats = summarise(samples)
    share = share_above(samples, slope_limit_deg)
    ha = np.asarray(area_ha, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        over = np.nan_to_num(share, nan=0.0) > share_limit
    return pd.DataFrame(
        {
            "mean_slope_deg": stats["mean"].to_numpy(),
            "steep_share": share,
            "steep_ha": share * ha,
            "valid_share": stats["valid_share"].to_numpy(),
            "over": over,
        }
    )


def terrain_findings(
    ids: npt.ArrayLike,
    table: pd.DataFrame,
    *,
    layer: str,
    slope_limit_deg: float,
    share_limit: float,
) -> pd.DataFrame:
    """``SLOPE_OVER_LIMIT`` findings (``geo.rules`` layout) for the zones ``over`` the limit."""
    sel = np.flatnonzero(table["over"].to_numpy(dtype=bool))
    ident = np.asarray(ids, dtype=object)[sel]
    share = table["steep_share"].to_numpy()[sel]
    ha = table["steep_ha"].to_numpy()[sel]
    pct = np.array([f"{100 * s:.1f}" for s in share], dtype=object)
    limit, most = f"{slope_limit_deg:g}", f"{100 * share_limit:g}"
    why_mn, why_en = pair("slope_rule", "why")
    values = {
        "a_id": ident,
        "ha": np.array([f"{h:.2f}" for h in ha], dtype=object),
        "why_mn": pct + why_mn.format(limit=limit, most=most),
        "why_en": pct + why_en.format(limit=limit, most=most),
    }
    n = len(sel)
    mn, en = SLOPE_RULE.render(values, n) if n else (np.zeros(0, object), np.zeros(0, object))
    return pd.DataFrame(
        {
            "rule": np.full(n, SLOPE_RULE.code, dtype=object),
            "severity": np.full(n, SLOPE_RULE.severity, dtype=object),
            "a_layer": np.full(n, layer, dtype=object),
            "a_id": ident,
            "b_layer": np.full(n, None, dtype=object),
            "b_id": np.full(n, None, dtype=object),
            "overlap_ha": ha.astype(np.float64),
            "message_mn": mn,
            "message_en": en,
            "geometry": np.full(n, None, dtype=object),
        }
    )


# ------------------------------------------------------------------------------- DEM blocks


@dataclass(frozen=True)
class Dem:
    """Elevations (metres) over a block of a DEM whose whole grid has ``transform``.

    ``crs`` is anything :class:`pyproj.CRS` accepts. In a projected CRS the pixel size is
    converted to metres with the CRS's unit; in lon/lat with :func:`lonlat_pixel_metres`.
    """

    values: npt.NDArray[Any]
    transform: Affine
    crs: Any
    row_off: int = 0
    col_off: int = 0
    nodata: float | None = None

    def slope(self) -> Grid:
        """The slope (degrees) of the block, NaN on its edges (see :func:`slope_degrees`)."""
        from pyproj import CRS

        crs = CRS.from_user_input(self.crs)
        height = self.values.shape[0]
        if crs.is_geographic:
            xres, yres = lonlat_pixel_metres(self.transform, row_off=self.row_off, height=height)
            slope = slope_degrees(self.values, xres=xres, yres=yres, nodata=self.nodata)
        else:
            unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
            slope = slope_degrees(
                self.values,
                xres=abs(self.transform.a) * unit,
                yres=abs(self.transform.e) * unit,
                nodata=self.nodata,
            )
        return Grid(slope, self.row_off, self.col_off)


def terrain(
    zones: Any,
    dem: Dem,
    *,
    slope_limit_deg: float,
    share_limit: float,
    mode: PixelMode = "weighted",
) -> pd.DataFrame:
    """The slope over each zone from a DEM block that covers them (e.g. a proposal).

    Parameters
    ----------
    zones : GeoDataFrame or GeoSeries
        Polygons with a CRS (reprojected to the DEM's, never the DEM to theirs).
    dem : Dem
        Elevations covering the zones and one pixel around them.
    slope_limit_deg, share_limit : float
        As in :func:`terrain_table`.

    Returns
    -------
    DataFrame
        :func:`terrain_table`, one row per zone in order.

    Examples
    --------
    A 45° ramp (1 m up per 1 m pixel) under a zone in metres:

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> dem = Dem(np.tile(np.arange(10.0), (10, 1)), Affine(1, 0, 500_000, 0, -1, 5_300_000),
    ...           "EPSG:32648")
    >>> zone = gpd.GeoSeries([box(500_002, 5_299_992, 500_008, 5_299_998)], crs=32648)
    >>> terrain(zone, dem, slope_limit_deg=30, share_limit=0.5)[["mean_slope_deg", "over"]]\
.to_dict("records")
    [{'mean_slope_deg': 45.0, 'over': True}]
    """
    from geo.area import official_ha

    geoms = zones.geometry if hasattr(zones, "geometry") else zones
    if geoms.crs is None:
        raise ValueError("the zones have no CRS; say which (EPSG:4326 for lon/lat)")
    local = np.asarray(geoms.to_crs(dem.crs).array, dtype=object)
    px = pixel_space(local, dem.transform)
    windows = plan_windows(px, max_pixels=max(int(dem.values.size), 1) * 4 + 16, pad=1)
    slope = dem.slope()
    samples = collect(((w, slope) for w in windows), len(px), mode=mode)
    area = official_ha(geoms.to_crs("EPSG:4326")) if len(geoms) else np.zeros(0)
    return terrain_table(samples, area, slope_limit_deg=slope_limit_deg, share_limit=share_limit)
