"""The store interface: where layers live. Callers never see SQL or a backend's dialect.

``open_store(location)`` picks the backend from the location: a ``postgresql://`` URL opens
the PostGIS backend (``layers.postgis``), anything else a GeoPackage file (``layers.gpkg``).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from layers.errors import FeatureNotFound, StoreError
from layers.integrity import BrokenRow
from layers.schema import LayerKind

if TYPE_CHECKING:  # the backends load geopandas; the interface needs it only for its types
    import geopandas as gpd

    from layers.feed import FeedChanges

#: Bump when the tables change; the store refuses files written by a newer Gazar.
SCHEMA_VERSION = 1

DEFAULT_DB = Path("data") / "gazar.gpkg"

WriteMode = Literal["append", "replace", "upsert"]


class ReadQuery(TypedDict, total=False):
    """The filters of :meth:`Store.read` as keyword arguments (each optional, None for none):
    the backends' readers take them as ``**query: Unpack[ReadQuery]`` and pass them on."""

    bbox: tuple[float, float, float, float] | None
    where: Mapping[str, object] | None
    ids: list[str] | None
    columns: Sequence[str] | None


@dataclass(frozen=True)
class LayerInfo:
    layer: str
    count: int
    #: (minx, miny, maxx, maxy) in EPSG:4326, None for an empty layer
    bbox: tuple[float, float, float, float] | None

    def as_dict(self) -> dict[str, object]:
        return {"layer": self.layer, "count": self.count, "bbox": self.bbox}


class Store(ABC):
    """A set of layers (see ``layers.schema.REGISTRY``) in one database."""

    location: str

    @abstractmethod
    def schema_version(self) -> int:
        """The schema version the store was written with."""

    @abstractmethod
    def layers(self) -> list[LayerInfo]:
        """Every registered layer with its feature count and bbox (empty layers included)."""

    @abstractmethod
    def read(
        self,
        layer: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        where: Mapping[str, object] | None = None,
        ids: list[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> gpd.GeoDataFrame:
        """A layer as a GeoDataFrame in EPSG:4326 with the schema's columns in order.

        ``bbox`` keeps features whose bounding box intersects it (spatial index);
        ``where`` keeps features whose columns equal the given values; ``ids`` keeps those ids.
        ``columns`` reads only those attribute columns (``id`` and the geometry always come,
        the columns in table order, decoded as in a whole read; KeyError naming an unknown
        one): a caller that needs four of twelve columns does not decode the other eight.
        Date columns hold ``datetime.date`` objects or ``None``.
        """

    @abstractmethod
    def revision(self, layer: str) -> str:
        """A token that changes whenever the layer changes (for caches); cheap to ask."""

    def changes(self, layer: str, since: int) -> FeedChanges | None:
        """What changed in ``layer`` after the change feed position ``since`` (``layers.feed``):
        ``(ids_upserted, ids_deleted, last_seq)``, whoever wrote (Gazar, QGIS, psql). None when
        the feed does not reach back to ``since`` (pruned, the layer rewritten wholesale, a
        table outside the feed): the caller re-reads the layer."""
        return None

    def change_seq(self, layer: str) -> int:
        """The layer's change feed position now: remember it *before* reading the layer, then
        ask :meth:`changes` from it."""
        return 0

    def fids(self, layer: str, ids: list[str] | None = None) -> dict[str, int]:
        """The storage key (``fid``) of each feature (of ``ids``, or all): ``read`` returns
        rows in ``fid`` order, so a cache patching a layer keeps the order a full read has."""
        raise NotImplementedError

    def get(self, layer: str, feature_id: str) -> gpd.GeoDataFrame:
        """One feature as a one-row GeoDataFrame; ``FeatureNotFound`` if there is none."""
        frame = self.read(layer, where={"id": feature_id})
        if frame.empty:
            raise FeatureNotFound(layer, feature_id)
        return frame

    @abstractmethod
    def ids(self, layer: str) -> set[str]:
        """Every feature id of a layer."""

    @abstractmethod
    def write(
        self,
        batches: Mapping[str, gpd.GeoDataFrame],
        *,
        mode: WriteMode = "append",
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Write one or more layers in one transaction: all of it lands, or none of it.

        ``append`` refuses ids that exist already; ``replace`` empties each named layer first;
        ``upsert`` replaces features with the same id and adds the rest. ``progress`` is called
        with the number of features written since the last call.
        """

    @abstractmethod
    def delete(self, layer: str, ids: list[str]) -> int:
        """Delete features by id in one transaction; returns how many were deleted."""

    @abstractmethod
    def broken_rows(self) -> list[BrokenRow]:
        """Rows already in the store that break its rules (``layers.integrity``): written
        before the store checked them, or past its checks. Nothing is changed."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release the backend's resources."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def field_value(value: Any, ftype: str) -> Any:
    """A value for a column of schema type ``ftype``, as both backends write it: None for a
    missing value (None, NaT or NaN), a ``datetime.date`` for a date, else an int, a float or
    a text."""
    if value is None:
        return None
    # pandas is imported only by whoever made a pandas value (``gazar layers`` never does)
    pd = sys.modules.get("pandas")
    if pd is not None and value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if ftype == "date":
        if isinstance(value, dt.datetime) or (pd is not None and isinstance(value, pd.Timestamp)):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value)[:10])
    if ftype == "int":
        return int(value)
    if ftype == "float":
        return float(value)
    return str(value)


def check_batch(kind: LayerKind, gdf: gpd.GeoDataFrame) -> None:
    """Refuse (``StoreError``) a batch to write that is not in EPSG:4326 or lacks a column of
    ``kind``."""
    if gdf.crs is None or not gdf.crs.equals("EPSG:4326"):
        raise StoreError(f"layer '{kind.name}': geometry must be in EPSG:4326, got {gdf.crs}")
    missing = [c for c in kind.columns if c not in gdf.columns]
    if missing:
        raise StoreError(f"layer '{kind.name}': columns missing from the batch: {missing}")


def default_location() -> str:
    """``data/gazar.gpkg``: the store when none is named (the front doors read ``GAZAR_DB``
    through ``api.settings`` and name it)."""
    return str(DEFAULT_DB)


def open_store(location: str | os.PathLike[str] | None = None, *, create: bool = True) -> Store:
    """Open (with ``create``: make) the store at ``location`` (default: ``default_location()``)."""
    loc = str(location) if location is not None else default_location()
    if loc.startswith(("postgresql://", "postgres://")):
        from layers.postgis import PostGISStore

        return PostGISStore(loc, create=create)
    from layers.gpkg import GeoPackageStore

    return GeoPackageStore(Path(loc), create=create)
