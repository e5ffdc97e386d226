"""Validation of a batch of features against its layer kind, before anything is written.

``validate_layer`` checks every feature and field and reports every problem it finds (up to a
cap) in one list, each naming the file, the feature's position and id, the field and the reason.
It returns a clean GeoDataFrame (typed values, defaults filled, repairable geometry repaired)
ready for ``Store.write``, with warnings for what it repaired.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import Problem, ValidationFailed
from layers.geomtypes import ACCEPTED, NEEDS
from layers.labels import LABELS
from layers.schema import MONGOLIA_BOUNDS, Field, GeometryType, LayerKind

DEFAULT_CAP = 200

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%d.%m.%Y", "%Y%m%d")
_POLYGONAL = {"Polygon", "MultiPolygon"}


@dataclass
class Validated:
    """A batch that passed validation."""

    frame: gpd.GeoDataFrame
    warnings: list[Problem] = field(default_factory=list)


class _Collector:
    def __init__(self, file: str, ids: list[str | None], cap: int) -> None:
        self.file = file
        self.ids = ids
        self.cap = cap
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.dropped = 0

    def add(self, index: int | None, fld: str | None, reason: str) -> None:
        if len(self.problems) >= self.cap:
            self.dropped += 1
            return
        fid = self.ids[index] if index is not None and index < len(self.ids) else None
        self.problems.append(Problem(self.file, index, fid, fld, reason))

    def warn(self, index: int, fld: str | None, reason: str) -> None:
        self.warnings.append(Problem(self.file, index, self.ids[index], fld, reason, "warning"))


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip() == ""


def parse_date(value: Any) -> dt.date:
    """A date from ISO text, common day-first/slashed forms, or date/datetime objects.

    Raises
    ------
    ValueError
        quoting the value.
    """
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if "T" in text or " " in text:
        text = text.replace("T", " ").split(" ")[0]
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"'{value}' is not a date (write it as YYYY-MM-DD, e.g. 2025-06-30)")


def _enum_lookup(group: str) -> dict[str, str]:
    """Accepted spellings (value, Mongolian label, English label; any case) -> value."""
    table: dict[str, str] = {}
    for value, (mn, en) in LABELS[group].items():
        for spelling in (value, mn, en, value.replace("_", " ")):
            table[spelling.strip().lower()] = value
    return table


def _convert(f: Field, value: Any, enum_table: Mapping[str, str]) -> Any:
    """The stored value of one cell, or ValueError with a reason a person can act on."""
    if f.type == "str":
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()
    if f.type == "enum":
        key = str(value).strip().lower()
        if key in enum_table:
            return enum_table[key]
        allowed = ", ".join(f.choices)
        raise ValueError(f"unknown value '{value}'; allowed: {allowed}")
    if f.type == "date":
        return parse_date(value)
    if f.type in ("int", "float"):
        try:
            number = float(str(value).strip().replace(",", "."))
        except ValueError:
            raise ValueError(f"'{value}' is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"'{value}' is not a finite number")
        if f.type == "int":
            if not number.is_integer():
                raise ValueError(f"'{value}' is not a whole number")
            if abs(number) >= 2**63:
                raise ValueError(f"{value} is too large")
            number = int(number)
        if f.minimum is not None and number < f.minimum:
            raise ValueError(f"{value} is below the minimum {f.minimum:g}")
        return number
    raise AssertionError(f.type)  # pragma: no cover - the schema's types are closed


def _check_geometry(
    col: _Collector, geoms: np.ndarray, declared: GeometryType = "MultiPolygon"
) -> np.ndarray:
    """Refuse unusable geometry (a type other than ``declared``'s, NaN, outside Mongolia),
    repair the repairable polygons; returns the geometry to store."""
    out = shapely.force_2d(geoms.copy())
    n = len(out)
    missing = shapely.is_missing(out)
    empty = ~missing & shapely.is_empty(out)
    for i in np.flatnonzero(missing | empty):
        col.add(int(i), "geometry", "empty geometry (the feature has no shape)")
    present = ~(missing | empty)

    types = np.array(shapely.get_type_id(out))
    accepted = np.isin(types, ACCEPTED[declared])
    for i in np.flatnonzero(present & ~accepted):
        col.add(
            int(i),
            "geometry",
            f"geometry is a {out[i].geom_type}; this layer needs {NEEDS[declared]}",
        )
    check = present & accepted

    coords, index = shapely.get_coordinates(out[check], return_index=True)
    where = np.flatnonzero(check)
    bad_coord = np.zeros(n, dtype=bool)
    if len(coords):
        nonfinite = ~np.isfinite(coords).all(axis=1)
        for i in np.unique(where[index[nonfinite]]):
            col.add(int(i), "geometry", "coordinates contain NaN or Infinity")
            bad_coord[i] = True
        # a ring crossing the antimeridian jumps by more than 180 degrees between two corners
        jumps = np.zeros(len(coords), dtype=bool)
        same = index[1:] == index[:-1]
        jumps[1:] = same & (np.abs(np.diff(coords[:, 0])) > 180)
        for i in np.unique(where[index[jumps]]):
            if not bad_coord[i]:
                what = "a ring" if declared == "MultiPolygon" else "a line"
                col.add(int(i), "geometry", f"{what} crosses the antimeridian (180° longitude)")
                bad_coord[i] = True

    minx, miny, maxx, maxy = MONGOLIA_BOUNDS
    for i in np.flatnonzero(check & ~bad_coord):
        x0, y0, x1, y1 = shapely.bounds(out[i])
        if x0 >= minx and x1 <= maxx and y0 >= miny and y1 <= maxy:
            continue
        reason = (
            f"coordinates outside Mongolia (bounds {x0:.6f}, {y0:.6f}, {x1:.6f}, {y1:.6f}; "
            f"Mongolia is lon {minx}–{maxx}, lat {miny}–{maxy})"
        )
        if y0 >= minx and y1 <= maxx and x0 >= miny and x1 <= maxy:
            reason += ": latitude and longitude look swapped (x must be the longitude)"
        elif max(abs(x0), abs(x1)) > 360 or max(abs(y0), abs(y1)) > 90:
            reason += ": these look like projected metres; give the file's CRS with --crs"
        col.add(int(i), "geometry", reason)
        bad_coord[i] = True

    usable = check & ~bad_coord
    invalid = usable & ~shapely.is_valid(out)
    if declared != "MultiPolygon":  # a line of one point, repeated: nothing to repair
        for i in np.flatnonzero(invalid):
            reason = shapely.is_valid_reason(out[i])
            col.add(int(i), "geometry", f"invalid geometry ({reason})")
        return out
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(out[i])
        repaired = shapely.make_valid(out[i])
        parts = [p for p in shapely.get_parts(repaired) if p.geom_type in _POLYGONAL]
        fixed = shapely.union_all(parts) if parts else None
        if fixed is None or fixed.is_empty or fixed.geom_type not in _POLYGONAL:
            col.add(int(i), "geometry", f"invalid geometry that cannot be repaired ({reason})")
            continue
        out[i] = fixed
        col.warn(int(i), "geometry", f"invalid geometry ({reason}) was repaired with make_valid")
    return out


def validate_layer(
    gdf: gpd.GeoDataFrame,
    kind: LayerKind,
    *,
    file: str,
    existing_ids: set[str] | frozenset[str] = frozenset(),
    reference_ids: Mapping[str, set[str]] | None = None,
    cap: int = DEFAULT_CAP,
) -> Validated:
    """Check a batch for ``kind``; raise ``ValidationFailed`` listing every problem.

    Parameters
    ----------
    gdf
        Features with columns already named as the layer's fields, in EPSG:4326.
    existing_ids
        Ids already in the store that the batch must not repeat (empty when replacing).
    reference_ids
        For fields that reference another layer: that layer's ids (``{"land_conclusions": {...}}``).
    cap
        Stop listing problems after this many (the count of the rest is still reported).
    """
    n = len(gdf)
    raw_ids = gdf["id"].tolist() if "id" in gdf.columns else [None] * n
    ids: list[str | None] = [
        None if _is_missing(v) else _convert(Field("id", "str"), v, {}) for v in raw_ids
    ]
    col = _Collector(file, ids, cap)

    if n == 0:
        col.add(None, None, "the file has no features")
    if gdf.crs is None or not gdf.crs.equals("EPSG:4326"):
        col.add(None, None, f"geometry must be in EPSG:4326 (got {gdf.crs})")

    present_cols = set(gdf.columns)
    if "id" not in present_cols:
        col.add(None, "id", _missing_column_reason("id", gdf))
    for f in kind.fields:
        if f.required and f.name not in present_cols and f.default is None:
            col.add(None, f.name, _missing_column_reason(f.name, gdf))

    out = pd.DataFrame(index=range(n))
    # ids: present, unique in the file, new to the store
    if "id" in present_cols:
        first_seen: dict[str, int] = {}
        for i, fid in enumerate(ids):
            if fid is None:
                col.add(i, "id", "id is missing")
            elif fid in first_seen:
                col.add(
                    i,
                    "id",
                    f"duplicate id '{fid}' (also feature #{first_seen[fid]}); if the file repeats "
                    "features, import with --duplicate-ids drop-identical",
                )
            else:
                first_seen[fid] = i
                if fid in existing_ids:
                    col.add(
                        i, "id", f"id '{fid}' is already in the store (use --replace to replace it)"
                    )
    out["id"] = pd.Series(ids, dtype=object)

    for f in kind.fields:
        table = _enum_lookup(f.enum) if f.enum else {}
        values = gdf[f.name].tolist() if f.name in present_cols else [None] * n
        converted: list[Any] = []
        for i, v in enumerate(values):
            if _is_missing(v):
                if f.default is not None:
                    converted.append(f.default)
                    continue
                if f.required and f.name in present_cols:
                    col.add(i, f.name, f"required value '{f.name}' is empty")
                converted.append(None)
                continue
            try:
                converted.append(_convert(f, v, table))
            except ValueError as exc:
                col.add(i, f.name, str(exc))
                converted.append(None)
        if f.references and reference_ids is not None:
            known = reference_ids.get(f.references, set())
            for i, v in enumerate(converted):
                if v is not None and v not in known:
                    col.add(
                        i,
                        f.name,
                        f"refers to {f.references} '{v}', which does not exist in the store",
                    )
        if f.type == "int":
            out[f.name] = pd.array(converted, dtype="Int64")
        elif f.type == "float":
            out[f.name] = pd.array(converted, dtype="Float64").astype("float64")
        else:
            out[f.name] = pd.Series(converted, dtype=object)

    geoms = np.asarray(gdf.geometry.array, dtype=object) if n else np.array([], dtype=object)
    fixed = _check_geometry(col, geoms, kind.geometry)

    if col.problems:
        raise ValidationFailed(col.problems, truncated=col.dropped, warnings=col.warnings)
    frame = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(fixed), crs="EPSG:4326")
    return Validated(frame, col.warnings)


def _missing_column_reason(name: str, gdf: gpd.GeoDataFrame) -> str:
    have = [c for c in gdf.columns if c != gdf.geometry.name]
    return (
        f"required column '{name}' is missing; the file's columns are: "
        f"{', '.join(map(str, have)) or '(none)'} — name the source column with "
        f"--map {name}=SOURCE_COLUMN"
    )
