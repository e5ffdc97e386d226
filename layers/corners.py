"""Corner lists: tables with one row per polygon corner, turned into polygons.

Licence and parcel boundaries are often published as lists of corners: feature id, point
order, longitude, latitude (decimal degrees or DMS, see :mod:`layers.dms`), plus the
feature's attributes repeated (or only filled in) on its rows.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.dms import parse_series
from layers.errors import InputFileError, Problem
from layers.schema import STORE_CRS

#: Header names recognised for each role, best first (compared after :func:`_normalise_name`).
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "id": (
        "id",
        "feature_id",
        "parcel_id",
        "licence_id",
        "license_id",
        "dugaar",
        "дугаар",
        "талбайн_дугаар",
        "parcel",
        "parcel_no",
        "licence_number",
        "license_number",
        "name",
        "нэр",
        "№",
    ),
    "order": (
        "order",
        "point_no",
        "point_number",
        "point",
        "pt",
        "seq",
        "sequence",
        "vertex",
        "vertex_no",
        "corner",
        "corner_no",
        "№_цэг",
        "цэг_№",
        "цэгийн_дугаар",
        "цэгийн_№",
        "цэг",
    ),
    "lon": ("lon", "long", "longitude", "lng", "x", "east", "уртраг"),
    "lat": ("lat", "latitude", "y", "north", "өргөрөг"),
}
# Resolved in this order, so that e.g. "№ цэг" is taken as the order before "№" as the id.
_ROLE_ORDER = ("lat", "lon", "order", "id")

#: Longitude and latitude ranges of Mongolia (with a margin) used to spot swapped columns.
_MONGOLIA_LON = (87.0, 120.0)
_MONGOLIA_LAT = (41.0, 53.0)
_MAX_VALUES_SHOWN = 3


def detect_corner_columns(columns: list[str]) -> dict[str, str] | None:
    """Find the id, order, longitude and latitude columns of a corner list.

    Header names are compared case-insensitively, ignoring text in brackets and treating
    spaces, dots, hyphens and underscores alike (``"Point No."`` is ``point_no``,
    ``"Longitude (DMS)"`` is ``longitude``).

    Parameters
    ----------
    columns : list of str
        The table's header.

    Returns
    -------
    dict or None
        ``{"id": ..., "order": ..., "lon": ..., "lat": ...}`` naming the table's columns,
        or ``None`` when one of the four is missing (the table is not a corner list).

    Examples
    --------
    >>> detect_corner_columns(["Parcel_ID", "Point No.", "Longitude", "Latitude", "holder"])
    {'id': 'Parcel_ID', 'order': 'Point No.', 'lon': 'Longitude', 'lat': 'Latitude'}
    >>> detect_corner_columns(["id", "name", "geometry"]) is None
    True
    """
    normalised = [(_normalise_name(c), c) for c in columns]
    used: set[str] = set()
    found: dict[str, str] = {}
    for role in _ROLE_ORDER:
        rank = {name: i for i, name in enumerate(COLUMN_NAMES[role])}
        candidates = [
            (rank[norm], i, col)
            for i, (norm, col) in enumerate(normalised)
            if norm in rank and col not in used
        ]
        if not candidates:
            return None
        col = min(candidates)[2]
        found[role] = col
        used.add(col)
    return {role: found[role] for role in ("id", "order", "lon", "lat")}


def corners_to_polygons(
    df: pd.DataFrame,
    *,
    file: str,
    id_col: str,
    order_col: str,
    lon_col: str,
    lat_col: str,
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Build one polygon per feature id from a table of corners.

    Each feature's corners are sorted by their order number and joined into a ring, closed
    if the last corner is not the first. The other columns keep their first non-empty value
    per feature; a column whose values differ across a feature's rows is reported (as a
    warning: the first value is kept).

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read from the file, one row per corner, in file order.
    file : str
        The file name, for the problems reported.
    id_col, order_col, lon_col, lat_col : str
        The columns holding the feature id, the corner's order number, its longitude and
        its latitude (decimal degrees or DMS, see :func:`layers.dms.parse_coordinate`).

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, one row per feature in order of first appearance, with ``id``, the
        other columns and the Polygon geometry. Features with an error are left out.
    list of Problem
        Everything wrong, each naming the feature (``index`` is the 0-based position of the
        feature's first row) and, for a row's problem, the row as a spreadsheet numbers it
        (the header is row 1, the first corner row 2): unreadable coordinates, missing ids,
        order numbers that are not numbers or are repeated within a feature, features with
        fewer than 3 distinct corners, longitude and latitude columns that look swapped.

    Raises
    ------
    InputFileError
        If a named column is missing, or the four columns are not distinct.

    Examples
    --------
    >>> table = pd.DataFrame({
    ...     "parcel": ["A", "A", "A"], "pt": [3, 1, 2],
    ...     "lon": ["106 27 30", "106 27 00", "106 28 00"], "lat": [47.51, 47.5, 47.5],
    ... })
    >>> gdf, problems = corners_to_polygons(
    ...     table, file="a.csv", id_col="parcel", order_col="pt", lon_col="lon", lat_col="lat"
    ... )
    >>> gdf.geometry[0].exterior.coords[0], len(gdf.geometry[0].exterior.coords), problems
    ((106.45, 47.5), 4, [])
    """
    corner_cols = [id_col, order_col, lon_col, lat_col]
    missing = [c for c in corner_cols if c not in df.columns]
    if missing:
        raise InputFileError(
            file,
            f"no column {', '.join(repr(c) for c in missing)}; "
            f"the columns are: {', '.join(map(str, df.columns))}",
        )
    if len(set(corner_cols)) < len(corner_cols):
        raise InputFileError(
            file, f"the id, order, longitude and latitude columns must differ, got {corner_cols}"
        )
    others = [c for c in df.columns if c not in corner_cols]
    if "id" in others:
        raise InputFileError(
            file, f"the column 'id' clashes with the feature id taken from '{id_col}'"
        )

    problems: list[Problem] = []
    table = df.reset_index(drop=True)
    n = len(table)
    ids, id_missing = _id_texts(table[id_col])
    for row in np.flatnonzero(id_missing).tolist():
        problems.append(
            Problem(file, row, None, id_col, f"row {row + 2}: the feature id is missing")
        )

    keep = np.flatnonzero(~id_missing)
    codes_full = np.full(n, -1)
    codes, uniques = pd.factorize(ids[keep])
    feature_ids = np.asarray(uniques, dtype=object)
    codes_full[keep] = codes
    n_features = len(feature_ids)
    first_row = np.full(n_features, n)
    np.minimum.at(first_row, codes, keep)
    bad = np.zeros(n_features, dtype=bool)

    def feature_problem(code: int, field: str | None, reason: str) -> None:
        """Refuse feature ``code``, reported at its first row."""
        bad[code] = True
        problems.append(Problem(file, int(first_row[code]), str(feature_ids[code]), field, reason))

    def row_problem(pos: int, field: str, reason: str) -> None:
        code = codes_full[pos]
        if code < 0:  # the id is missing: already reported
            return
        feature_problem(code, field, reason)

    lon, lon_errors = parse_series(table[lon_col], axis="lon")
    lat, lat_errors = parse_series(table[lat_col], axis="lat")
    swapped = _swapped_columns(lon, table[lon_col], table[lat_col])
    if swapped is not None:
        # every row's range or hemisphere error follows from the swap: report it once, and
        # only what is wrong besides it; no polygon is built in the wrong place
        lon_errors, lat_errors = swapped
        bad[:] = True
        problems.append(
            Problem(
                file,
                None,
                None,
                lon_col,
                f"the longitude and latitude columns look swapped: every value in '{lon_col}' "
                f"is between {_MONGOLIA_LAT[0]:g} and {_MONGOLIA_LAT[1]:g} (a latitude in "
                f"Mongolia) and every value in '{lat_col}' between {_MONGOLIA_LON[0]:g} and "
                f"{_MONGOLIA_LON[1]:g} (a longitude); is '{lon_col}' the latitude and "
                f"'{lat_col}' the longitude?",
            )
        )
    for errors, col in ((lon_errors, lon_col), (lat_errors, lat_col)):
        for pos, message in errors.items():
            row_problem(pos, col, f"row {pos + 2}: {message}")

    order, order_problems = _order_numbers(table[order_col])
    for pos, message in order_problems.items():
        row_problem(pos, order_col, f"row {pos + 2}: {message}")

    corners = pd.DataFrame({"code": codes_full, "order": order, "lon": lon, "lat": lat})
    numbered = corners[(corners["code"] >= 0) & np.isfinite(order)]
    repeated = numbered[numbered.duplicated(["code", "order"], keep=False)]
    for (code, number), rows in repeated.groupby(["code", "order"], sort=False).groups.items():
        listed = ", ".join(str(r + 2) for r in rows)
        feature_problem(code, order_col, f"point order {number:g} is repeated (rows {listed})")

    good_rows = (corners["code"] >= 0).to_numpy() & ~bad[np.maximum(codes_full, 0)]
    usable = corners[good_rows]
    distinct = usable.drop_duplicates(["code", "lon", "lat"]).groupby("code").size()
    for code, count in distinct[distinct < 3].items():
        feature_problem(code, None, f"only {count} distinct corner(s); a polygon needs at least 3")

    good = ~bad
    usable = usable[good[usable["code"].to_numpy()]]
    new_code = np.cumsum(good) - 1  # contiguous codes for the features kept
    ring_index = new_code[usable["code"].to_numpy()]
    sort = np.lexsort((usable["order"].to_numpy(), ring_index))
    coords = np.column_stack([usable["lon"].to_numpy(), usable["lat"].to_numpy()])[sort]
    if len(coords):
        rings = shapely.linearrings(coords, indices=ring_index[sort])  # closes open rings
        polygons = shapely.polygons(rings)
    else:
        polygons = np.empty(0, dtype=object)

    attributes, conflicts = _attributes(
        table.loc[keep, others], codes, file=file, first_row=first_row, feature_ids=feature_ids
    )
    problems.extend(conflicts)
    out = pd.DataFrame({"id": feature_ids[good]})
    for col in others:
        out[col] = attributes[col].to_numpy()[good]
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(polygons), crs=STORE_CRS)
    problems.sort(key=lambda p: -1 if p.index is None else p.index)
    return gdf, problems


def _normalise_name(name: str) -> str:
    text = re.sub(r"\(.*?\)|\[.*?\]", " ", str(name).strip().lower())
    return re.sub(r"[\s_.\-]+", "_", text).strip("_")


def _id_texts(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Feature ids as text (``12.0`` read from a CSV becomes ``"12"``), and where missing."""
    missing = values.isna().to_numpy().copy()
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        texts = values.astype("Int64").astype(str)
    else:
        texts = values.astype(str).str.strip()
    out = np.array(texts.to_numpy(dtype=object), dtype=object)  # a writable copy
    missing |= out == ""
    out[missing] = None
    return out, missing


def _order_numbers(values: pd.Series) -> tuple[np.ndarray, dict[int, str]]:
    """Corner order numbers as floats (NaN where unusable) and the problem per row."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(  # strips spaces itself
        dtype=float, na_value=np.nan, copy=True
    )
    numbers[~np.isfinite(numbers)] = np.nan
    problems: dict[int, str] = {}
    raw = values.to_numpy(dtype=object)
    for pos in np.flatnonzero(np.isnan(numbers)).tolist():
        value = raw[pos]
        problems[pos] = (
            "the point order is missing"
            if pd.isna(value) or not str(value).strip()
            else f"point order '{value}' is not a number"
        )
    return numbers, problems


def _swapped_columns(
    lon: np.ndarray, lon_values: pd.Series, lat_values: pd.Series
) -> tuple[dict[int, str], dict[int, str]] | None:
    """Whether the columns hold Mongolian latitudes and longitudes the wrong way round.

    ``lon`` is the longitude column as read for a longitude. The values are read again
    without an axis, so that a longitude in the latitude column is read (not refused as
    beyond 90 degrees) and a hemisphere letter counts for its own axis. Returns ``None``,
    or, when swapped, the errors of that axis-free reading (what is wrong besides the swap).
    """
    low, high = _MONGOLIA_LAT
    read = lon[np.isfinite(lon)]
    if ((read < low) | (read > high)).any():  # a real longitude: not swapped (the usual case)
        return None
    free_lon, lon_errors = parse_series(lon_values)
    free_lat, lat_errors = parse_series(lat_values)
    both = np.isfinite(free_lon) & np.isfinite(free_lat)
    x, y = free_lon[both], free_lat[both]
    if not both.any() or ((x < low) | (x > high)).any():
        return None
    if ((y < _MONGOLIA_LON[0]) | (y > _MONGOLIA_LON[1])).any():
        return None
    return lon_errors, lat_errors


def _attributes(
    table: pd.DataFrame,
    codes: np.ndarray,
    *,
    file: str,
    first_row: np.ndarray,
    feature_ids: np.ndarray,
) -> tuple[pd.DataFrame, list[Problem]]:
    """First non-empty value of each column per feature; warn where a feature's values differ."""
    problems: list[Problem] = []
    if table.shape[1] == 0:
        return pd.DataFrame(index=range(len(feature_ids))), problems
    grouped = table.groupby(codes, sort=True)
    first = grouped.first().reindex(range(len(feature_ids)))
    counts = grouped.nunique(dropna=True)
    for col in table.columns:
        differ = counts.index[counts[col] > 1].to_numpy()
        if not len(differ):
            continue
        rows = np.isin(codes, differ)
        values = table[col][rows].groupby(codes[rows], sort=True).unique()
        for code, unique in zip(values.index.to_numpy(), values.to_numpy(), strict=True):
            seen = [v for v in unique if not pd.isna(v)]
            shown = ", ".join(f"'{v}'" for v in seen[:_MAX_VALUES_SHOWN])
            more = len(seen) - _MAX_VALUES_SHOWN
            problems.append(
                Problem(
                    file,
                    int(first_row[code]),
                    str(feature_ids[code]),
                    str(col),
                    f"the value differs across the feature's corners "
                    f"({shown}{f' and {more} more' if more > 0 else ''}); "
                    f"the first, '{seen[0]}', was kept",
                    severity="warning",
                )
            )
    return first, problems
