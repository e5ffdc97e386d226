"""Whole store layers in memory for the analyses, patched with just the rows that changed.

Per layer the cache keeps the frame (in the order a full read gives: by the store's ``fid``),
the store's revision token and change feed position (``layers.feed``), and, once asked for,
each row's official hectares and a spatial index (:class:`geo.index.PatchedIndex`). When the
revision moves, :meth:`LayerCache.get` asks ``store.changes`` what changed since its position,
reads only the upserted ids, drops the deleted ones and patches the frame, the hectares (only
changed rows measured) and the index (a small side tree). It re-reads the whole layer when the
feed cannot answer (pruned, a ``replace`` write, a table outside the feed) or the change is
large (more than :data:`FULL_READ_SHARE` of the rows, and more than :data:`FULL_READ_MIN`).

Each refresh leaves a :class:`~layers.changes.LayerDelta` for the caches built on a layer
(:meth:`LayerCache.delta_since`): a cache remembers the token of the frame it was built from
(:meth:`LayerCache.snapshot`) and asks for the delta from it to now.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.area import official_ha
from geo.index import PatchedIndex
from layers.changes import LayerDelta, diff_frames
from layers.errors import InvalidGeometry
from layers.store import Store

#: a change touching more than this share of a layer's rows (and more than ``FULL_READ_MIN``
#: rows) is read whole instead
FULL_READ_SHARE = 0.2
FULL_READ_MIN = 100
#: refreshes whose deltas are kept per layer (a dependent cache further behind rebuilds)
HISTORY = 8

_F64 = npt.NDArray[np.float64]


def measured_ha(geoms: npt.NDArray[np.object_]) -> _F64:
    """Official hectares of each geometry; NaN for a missing one or one that cannot be
    measured (as the collections serve them)."""
    out = np.full(len(geoms), np.nan)
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if present.size == 0:
        return out
    try:
        out[present] = official_ha(geoms[present])
    except InvalidGeometry:  # rare: measure one by one, leaving the bad ones out
        for i in present:
            try:
                out[i] = official_ha(geoms[i : i + 1])[0]
            except InvalidGeometry:
                out[i] = np.nan
    return out


@dataclass(frozen=True)
class _Step:
    """One refresh: from the frame of token ``before`` to that of ``after``."""

    before: str
    after: str
    #: None: not known (the layer was read whole and had no earlier frame)
    delta: LayerDelta | None


@dataclass
class _Entry:
    revision: str
    seq: int
    frame: gpd.GeoDataFrame
    #: ``fid`` of each row (the store's order)
    fids: npt.NDArray[np.int64]
    ha: _F64 | None = None
    index: PatchedIndex | None = None
    history: list[_Step] = field(default_factory=list)


def _geoms(frame: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    return np.asarray(frame.geometry.array, dtype=object)


def _fids_of(frame: gpd.GeoDataFrame, fids: dict[str, int]) -> npt.NDArray[np.int64]:
    """Each row's fid; a row the fid query missed (deleted meanwhile: the feed says so next
    time) sorts last."""
    got = pd.Series(fids, dtype="int64").reindex(
        frame["id"].astype(str).to_numpy(), fill_value=np.iinfo(np.int64).max
    )
    return cast("npt.NDArray[np.int64]", got.to_numpy(dtype=np.int64))


class LayerCache:
    """Each layer as a GeoDataFrame, kept per store revision and patched from the change feed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        #: how the last refresh of each layer went: "patch" or "full" (for tests, benchmarks)
        self.last_refresh: dict[str, str] = {}

    # -- reading -----------------------------------------------------------------------------

    def get(self, layer: str) -> gpd.GeoDataFrame:
        """The layer as the store holds it now (the same frame object while nothing changed)."""
        return self._entry(layer).frame

    def snapshot(self, layer: str) -> tuple[gpd.GeoDataFrame, str]:
        """The layer and its token (the store revision it was read at), taken together: what a
        cache built on the layer remembers, to ask :meth:`delta_since` later."""
        entry = self._entry(layer)
        return entry.frame, entry.revision

    def token(self, layer: str) -> str:
        """The token of the frame :meth:`get` returns now."""
        return self._entry(layer).revision

    def official_ha(self, layer: str) -> _F64:
        """Official hectares of each row of :meth:`get` (NaN where unmeasurable), measured
        once per row: a change measures only the rows it brought."""
        with self._lock:
            entry = self._entry(layer)
            if entry.ha is None:
                entry.ha = measured_ha(_geoms(entry.frame))
            return entry.ha

    def index(self, layer: str) -> PatchedIndex:
        """The spatial index of :meth:`get`'s geometries (positions are its rows)."""
        with self._lock:
            entry = self._entry(layer)
            if entry.index is None:
                entry.index = PatchedIndex(_geoms(entry.frame))
            return entry.index

    def indexed(self, layer: str) -> tuple[gpd.GeoDataFrame, str, PatchedIndex]:
        """:meth:`get`, :meth:`token` and :meth:`index` taken together (one revision)."""
        with self._lock:
            entry = self._entry(layer)
            return entry.frame, entry.revision, self.index(layer)

    def delta_since(self, layer: str, token: str) -> LayerDelta | None:
        """What changed in ``layer`` from the frame of ``token`` to the one :meth:`get`
        returns now (an empty delta when nothing did); None when the cache does not know (a
        token older than its last :data:`HISTORY` refreshes, or a whole re-read with no
        earlier frame): the caller rebuilds from the whole layer."""
        with self._lock:
            entry = self._entry(layer)
            if token == entry.revision:
                empty = entry.frame.iloc[:0]
                return LayerDelta(layer, empty, (), empty)
            steps = entry.history
            for start in range(len(steps) - 1, -1, -1):
                if steps[start].before == token:
                    deltas = [s.delta for s in steps[start:]]
                    if any(d is None for d in deltas):
                        return None
                    return _compose(layer, [d for d in deltas if d is not None])
            return None

    def all(self, names: Iterable[str]) -> dict[str, gpd.GeoDataFrame]:
        return {name: self.get(name) for name in names}

    def revisions(self, names: Iterable[str]) -> tuple[str, ...]:
        """The store revision of each layer named, in order: a cache key."""
        return tuple(self.store.revision(name) for name in names)

    # -- refreshing --------------------------------------------------------------------------

    def _entry(self, layer: str) -> _Entry:
        with self._lock:
            rev = self.store.revision(layer)
            entry = self._entries.get(layer)
            if entry is not None and entry.revision == rev:
                return entry
            new = self._patch(layer, entry, rev) if entry is not None else None
            if new is None:
                new = self._full(layer, entry, rev)
            self._entries[layer] = new
            return new

    def _full(self, layer: str, old: _Entry | None, rev: str) -> _Entry:
        seq = self.store.change_seq(layer)  # before the read: later changes are re-applied
        frame = self.store.read(layer)
        fids = _fids_of(frame, self.store.fids(layer))
        history: list[_Step] = []
        if old is not None:
            delta = diff_frames(layer, old.frame, frame)
            history = [*old.history, _Step(old.revision, rev, delta)][-HISTORY:]
        self.last_refresh[layer] = "full"
        return _Entry(rev, seq, frame, fids, history=history)

    def _patch(self, layer: str, old: _Entry, rev: str) -> _Entry | None:
        """``old`` patched with the rows the feed lists; None: read the layer whole."""
        changes = self.store.changes(layer, old.seq)
        limit = max(FULL_READ_MIN, FULL_READ_SHARE * len(old.frame))
        if changes is None or changes.size > limit:
            return None
        frame = old.frame
        ids = frame["id"].astype(str)
        touched = ids.isin([*changes.upserted, *changes.deleted]).to_numpy()
        fresh = (
            self.store.read(layer, ids=list(changes.upserted))
            if changes.upserted
            else frame.iloc[:0]
        )
        fresh = fresh.reset_index(drop=True)
        fresh_fids = _fids_of(fresh, self.store.fids(layer, ids=list(changes.upserted)))
        keep = ~touched
        n_keep = int(keep.sum())
        fids = np.concatenate([old.fids[keep], fresh_fids])
        order = np.argsort(fids, kind="stable")
        in_order = bool((order == np.arange(len(order))).all())
        merged = pd.concat([frame[keep], fresh], ignore_index=True) if len(fresh) else frame[keep]
        if not in_order:
            merged = merged.take(order)
        merged = merged.reset_index(drop=True)
        # positions: old row -> new row (-1 gone), fresh row -> new row
        where = np.empty(len(order), dtype=np.intp)
        where[order] = np.arange(len(order))
        old_to_new = np.full(len(frame), -1, dtype=np.intp)
        old_to_new[keep] = where[:n_keep]
        fresh_pos = where[n_keep:]
        previous = frame[touched]
        gone = tuple(sorted(set(previous["id"].astype(str)) - set(fresh["id"].astype(str))))
        delta = LayerDelta(layer, fresh, gone, previous)
        new = _Entry(rev, changes.last_seq, merged, fids[order])
        if old.ha is not None:
            ha = np.empty(len(merged))
            ha[old_to_new[keep]] = old.ha[keep]
            ha[fresh_pos] = measured_ha(_geoms(fresh))
            new.ha = ha
        if old.index is not None:
            new.index = old.index.patched(old_to_new, _geoms(fresh), fresh_pos)
        new.history = [*old.history, _Step(old.revision, rev, delta)][-HISTORY:]
        self.last_refresh[layer] = "patch"
        return new


def _compose(layer: str, deltas: list[LayerDelta]) -> LayerDelta:
    """Successive deltas of ``layer`` as one: the last version of each row upserted, the ids
    gone at the end, and each touched row as it was before the first delta."""
    if len(deltas) == 1:
        return deltas[0]
    steps = pd.concat(
        [d.upserted.assign(_step=k) for k, d in enumerate(deltas)], ignore_index=True
    ).drop_duplicates("id", keep="last")
    gone_at = {i: k for k, d in enumerate(deltas) for i in d.deleted}
    up_ids = steps["id"].astype(str).to_numpy()
    up_at = dict(zip(up_ids, steps["_step"].to_numpy(), strict=True))
    after_delete = np.array([gone_at.get(i, -1) < k for i, k in up_at.items()], dtype=bool)
    upserted = steps[after_delete].drop(columns="_step").reset_index(drop=True)
    seen: set[str] = set()
    before = []
    for d in deltas:  # a row's state before the first delta that touched it
        before.append(d.previous[~d.previous["id"].astype(str).isin(list(seen))])
        seen |= set(d.previous["id"].astype(str)) | set(d.upserted["id"].astype(str))
    previous = pd.concat(before, ignore_index=True)
    existed = set(previous["id"].astype(str))
    gone = tuple(sorted(i for i, k in gone_at.items() if up_at.get(i, -1) < k and i in existed))
    return LayerDelta(layer, upserted, gone, previous)
