"""Small helpers over layer frames shared by the analyses: a missing layer is an empty one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from geopandas.array import from_shapely

from layers.schema import REGISTRY, STORE_CRS


def geo_frame(columns: Mapping[str, object], geoms: object) -> gpd.GeoDataFrame:
    """A GeoDataFrame of ``columns`` and the geometries ``geoms`` (EPSG:4326, column
    ``geometry``): the frame ``GeoDataFrame(columns, geometry=GeoSeries(geoms, crs=...),
    crs=...)`` gives, built in a third less time (the analyses build one per call).

    Examples
    --------
    >>> from shapely import box
    >>> frame = geo_frame({"id": ["a"]}, [box(0, 0, 1, 1)])
    >>> frame.geometry.name, frame.crs.to_epsg(), frame["id"].tolist()
    ('geometry', 4326, ['a'])
    """
    array = from_shapely(np.asarray(geoms, dtype=object), crs=STORE_CRS)
    return gpd.GeoDataFrame(pd.DataFrame({**columns, "geometry": array}), geometry="geometry")


def empty_layer(name: str) -> gpd.GeoDataFrame:
    """An empty frame of layer ``name`` with its schema columns (EPSG:4326).

    Examples
    --------
    >>> frame = empty_layer("rehab_zones")
    >>> len(frame), "stage" in frame.columns, frame.crs.to_epsg()
    (0, True, 4326)
    """
    return gpd.GeoDataFrame(
        {c: pd.Series([], dtype=object) for c in REGISTRY[name].columns},
        geometry=gpd.GeoSeries([], crs=STORE_CRS),
        crs=STORE_CRS,
    )


def layer_or_empty(layers: Mapping[str, gpd.GeoDataFrame], name: str) -> gpd.GeoDataFrame:
    """``layers[name]``, or :func:`empty_layer` when the store has no such layer."""
    frame = layers.get(name)
    return empty_layer(name) if frame is None else frame


def as_day(today: dt.date) -> dt.date:
    """The day of ``today`` (a datetime gives its date); ValueError for anything else.

    Examples
    --------
    >>> as_day(dt.datetime(2026, 5, 1, 23, 30))
    datetime.date(2026, 5, 1)
    """
    if isinstance(today, dt.datetime):
        return today.date()
    if not isinstance(today, dt.date):
        raise ValueError(f"today must be a date, not {today!r}")
    return today
