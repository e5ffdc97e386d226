"""One layer as the incremental analyses keep it: its rows, which are usable, a spatial index.

A :class:`LayerIndex` holds every row of a layer (as :func:`geo.records.usable_records`
locates them: geometry that cannot be used is None) and whether the analysis may use each one
(broken rows are reported, not analysed). It takes a :class:`layers.changes.LayerDelta` by
marking the replaced and deleted rows dead in its base and keeping the upserted rows in a
small side table; the base (frame and ``STRtree``) is rebuilt only when the side table grows
large. Queries answer the current rows: the base's live hits and the side table's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

ObjArray = npt.NDArray[np.object_]
BoolArray = npt.NDArray[np.bool_]

#: Side rows above which the base is rebuilt (and at least this share of the base).
SIDE_LIMIT = 2_000
SIDE_SHARE = 0.05


class LayerIndex:
    """The current rows of one layer, with their usability and a spatial index."""

    def __init__(self, layer: str, frame: gpd.GeoDataFrame, usable: BoolArray) -> None:
        self.layer = layer
        self._set_base(frame.reset_index(drop=True), np.asarray(usable, dtype=bool))
        self._side = frame.iloc[:0].reset_index(drop=True)
        self._side_usable = np.zeros(0, dtype=bool)

    def _set_base(self, frame: gpd.GeoDataFrame, usable: BoolArray) -> None:
        self._base = frame
        self._base_usable = usable
        self._base_ids = frame["id"].astype(str).to_numpy(dtype=object)
        self._pos = {fid: i for i, fid in enumerate(self._base_ids.tolist())}
        self._dead = np.zeros(len(frame), dtype=bool)
        #: per column: each value (as text) and the base rows holding it (see :meth:`where`)
        self._groups: dict[str, dict[str, npt.NDArray[np.intp]]] = {}
        geoms = np.asarray(frame.geometry.array, dtype=object)
        self._tree = shapely.STRtree(geoms)

    # ----------------------------------------------------------------------------- change

    def apply(self, upserted: gpd.GeoDataFrame, usable: BoolArray, deleted: Iterable[str]) -> None:
        """Take a change: ``upserted`` rows (as now, located) with their usability, and the
        ids of the rows ``deleted``."""
        gone = set(map(str, deleted)) | set(upserted["id"].astype(str))
        at = [self._pos[i] for i in gone if i in self._pos]
        self._dead[at] = True
        side_ids = self._side["id"].astype(str)
        keep = ~side_ids.isin(list(gone)).to_numpy(dtype=bool)
        parts = [p for p in (self._side[keep], upserted) if len(p)]
        side = pd.concat(parts, ignore_index=True) if parts else self._side.iloc[:0]
        self._side = gpd.GeoDataFrame(side, geometry=side.geometry.name, crs=self._base.crs)
        self._side_usable = np.concatenate([self._side_usable[keep], np.asarray(usable, bool)])
        if len(self._side) > max(SIDE_LIMIT, SIDE_SHARE * len(self._base)):
            frame, ok = self.current()
            self._set_base(frame, ok)
            self._side = frame.iloc[:0]
            self._side_usable = np.zeros(0, dtype=bool)

    # ----------------------------------------------------------------------------- reading

    def current(self) -> tuple[gpd.GeoDataFrame, BoolArray]:
        """Every current row (base order, then the side rows) and its usability."""
        live = ~self._dead
        return self._pick(np.flatnonzero(live), np.arange(len(self._side)))

    def _pick(
        self, base: npt.NDArray[np.intp], side: npt.NDArray[np.intp]
    ) -> tuple[gpd.GeoDataFrame, BoolArray]:
        parts = [self._base.iloc[base], self._side.iloc[side]]
        usable = np.concatenate([self._base_usable[base], self._side_usable[side]])
        if len(side) == 0:
            return parts[0].reset_index(drop=True), usable
        frame = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
        frame = gpd.GeoDataFrame(frame, geometry=self._base.geometry.name, crs=self._base.crs)
        return frame, usable

    def near(
        self, geoms: ObjArray | gpd.GeoSeries, *, predicate: str | None = None
    ) -> tuple[gpd.GeoDataFrame, BoolArray]:
        """The current rows whose geometry meets ``geoms`` (their boxes, or ``predicate``)."""
        query = np.asarray(getattr(geoms, "array", geoms), dtype=object)
        query = query[~(shapely.is_missing(query) | shapely.is_empty(query))]
        if len(query) == 0:
            return self._pick(np.zeros(0, np.intp), np.zeros(0, np.intp))
        hits = np.unique(self._tree.query(query, predicate=predicate)[1])
        base = hits[~self._dead[hits]]
        side = np.zeros(0, dtype=np.intp)
        if len(self._side):
            side_geoms = np.asarray(self._side.geometry.array, dtype=object)
            side = np.unique(shapely.STRtree(side_geoms).query(query, predicate=predicate)[1])
        return self._pick(base, side)

    def rows(self, ids: Iterable[str]) -> tuple[gpd.GeoDataFrame, BoolArray]:
        """The current rows with these ids."""
        wanted = set(map(str, ids))
        base = np.array(sorted(self._pos[i] for i in wanted if i in self._pos), dtype=np.intp)
        base = base[~self._dead[base]] if base.size else base
        side = np.flatnonzero(self._side["id"].astype(str).isin(list(wanted)).to_numpy(bool))
        return self._pick(base, side)

    def where(self, column: str, values: Iterable[object]) -> tuple[gpd.GeoDataFrame, BoolArray]:
        """The current rows whose ``column`` is one of ``values`` (as text)."""
        accepted = list({str(v) for v in values})
        if not accepted or column not in self._base.columns:
            return self._pick(np.zeros(0, np.intp), np.zeros(0, np.intp))
        groups = self._groups.get(column)
        if groups is None:  # once per base and column: each value's rows
            values_of = self._base[column]
            present = values_of.notna().to_numpy(bool)
            text = pd.Series(values_of[present].astype(str).to_numpy(object))
            groups = self._groups[column] = {
                str(k): np.flatnonzero(present)[v] for k, v in text.groupby(text).indices.items()
            }
        hit = [groups[v] for v in accepted if v in groups]
        base = np.unique(np.concatenate(hit)) if hit else np.zeros(0, np.intp)
        base = base[~self._dead[base]]
        col = self._side[column]
        side = np.flatnonzero(col.astype(str).isin(accepted).to_numpy(bool) & col.notna())
        return self._pick(base, side)

    def __contains__(self, feature_id: object) -> bool:
        fid = str(feature_id)
        at = self._pos.get(fid)
        if at is not None and not self._dead[at]:
            return True
        return bool((self._side["id"].astype(str) == fid).any())

    def __len__(self) -> int:
        return int((~self._dead).sum()) + len(self._side)

    def __iter__(self) -> Iterator[str]:
        yield from self._base_ids[~self._dead].tolist()
        yield from self._side["id"].astype(str).tolist()


__all__ = ["LayerIndex"]
