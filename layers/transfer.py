"""Copy a whole store to another (GeoPackage <-> PostGIS, either way), then prove it arrived.

Used by ``gazar copy --from SRC --to DST``: every registered layer is read from the source and
written to the destination in one transaction (``replace`` mode, so the destination ends up
holding exactly the source's features), then read back and compared with the source: the same
ids, the same attribute values, and geometries equal coordinate for coordinate.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import StoreError
from layers.schema import LAYER_ORDER, layer_kind
from layers.store import Store


def shown(location: str) -> str:
    """A store location fit to print: a PostgreSQL URL loses its password."""
    if location.startswith(("postgresql://", "postgres://")):
        from layers.postgis import display_location

        return display_location(location)
    return location


@dataclass(frozen=True)
class CopiedLayer:
    layer: str
    count: int


def copy_store(source: Store, dest: Store, *, replace: bool = False) -> list[CopiedLayer]:
    """Copy every layer of ``source`` into ``dest`` and verify the copy.

    ``dest`` must hold no features unless ``replace`` is given; then its layers are emptied
    (in the same transaction that writes the copy).

    Raises
    ------
    StoreError
        when source and destination are the same store, the destination is not empty and
        ``replace`` is not given, the write fails (nothing is written then), or the copy read
        back differs from the source (naming each layer and what differs).
    """
    if source.location == dest.location:
        raise StoreError(f"{shown(source.location)}: the source and destination are the same")
    if not replace:
        full = [f"{i.layer} ({i.count})" for i in dest.layers() if i.count]
        if full:
            raise StoreError(
                f"{shown(dest.location)} is not empty: {', '.join(full)}; "
                "give --replace to overwrite it"
            )
    frames = {name: source.read(name) for name in LAYER_ORDER}
    dest.write(frames, mode="replace")
    problems = [
        f"{name}: {why}"
        for name, frame in frames.items()
        if (why := difference(frame, dest.read(name), layer=name))
    ]
    if problems:
        raise StoreError(
            f"the copy in {shown(dest.location)} differs from {shown(source.location)}: "
            + "; ".join(problems)
        )
    return [CopiedLayer(name, len(frame)) for name, frame in frames.items()]


def difference(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, *, layer: str) -> str | None:
    """Why two frames of ``layer`` differ (ids, a column, geometries), or None if they do not.

    Rows are matched by id; geometries must be equal coordinate for coordinate
    (``equals_exact`` with no tolerance), attributes equal value for value.
    """
    if len(a) != len(b):
        return f"{len(a)} feature(s) in the source, {len(b)} in the copy"
    a = a.sort_values("id", kind="stable").reset_index(drop=True)
    b = b.sort_values("id", kind="stable").reset_index(drop=True)
    if a["id"].tolist() != b["id"].tolist():
        return "the ids differ"
    for col in layer_kind(layer).columns[1:]:
        if _values(a[col]) != _values(b[col]):
            return f"the values of '{col}' differ"
    ga = np.asarray(a.geometry.array, dtype=object)
    gb = np.asarray(b.geometry.array, dtype=object)
    same = shapely.equals_exact(ga, gb, tolerance=0) | (pd.isna(ga) & pd.isna(gb))
    if not same.all():
        first = a["id"].iloc[int(np.flatnonzero(~same)[0])]
        return f"{int((~same).sum())} geometr(y/ies) differ, e.g. id '{first}'"
    return None


def _values(column: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in column.astype(object).tolist()]
