"""Whole store layers in memory for the analyses, patched with just the rows that changed.

Per layer the cache keeps a :class:`LayerView` of the store's current revision: a
:class:`LayerBase` (a frame as read whole, in the order a full read gives: by the store's
``fid``, with what is derived from every row once — official hectares, the spatial index, the
id lookup) less the base rows deleted or replaced since, plus a small overlay of the rows
inserted or replaced, and the change feed position (``layers.feed``). When the revision moves,
:meth:`LayerCache.get` asks ``store.changes`` what changed since its position, reads only the
upserted ids and makes a new view: the base shared, a copy of its per-row "still current" flags,
the overlay with the fresh rows (only they are measured). Nothing copies the whole frame then:
a reader of a few rows (a bbox page, one feature) asks :meth:`LayerCache.view`; the whole frame
(:meth:`LayerCache.get`), every row's hectares and the index are made from base and overlay when
first asked, once per view. The overlay folds into a new base when more than
:data:`FOLD_SHARE` of the rows (and more than :data:`FOLD_MIN`) differ from the base. The cache
re-reads the whole layer when the feed cannot answer (pruned, a ``replace`` write, a table
outside the feed) or the change is large (more than :data:`FULL_READ_SHARE` of the rows, and
more than :data:`FULL_READ_MIN`).

Each refresh leaves a :class:`~layers.changes.LayerDelta` for the caches built on a layer
(:meth:`LayerCache.delta_since`): a cache remembers the token of the frame it was built from
(:meth:`LayerCache.snapshot`) and asks for the delta from it to now.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

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
#: the overlay of changed rows is folded into a new base (the whole frame copied once) when
#: more rows differ from the base than this share of the layer (and than ``FOLD_MIN``)
FOLD_SHARE = 0.02
FOLD_MIN = 256
#: refreshes whose deltas are kept per layer (a dependent cache further behind rebuilds)
HISTORY = 8

_F64 = npt.NDArray[np.float64]


def measured_ha(geoms: npt.NDArray[np.object_]) -> _F64:
    """Official hectares of each geometry; NaN for a missing one, a line or a point (a
    background layer's: no area rule applies to them) or one that cannot be measured (as the
    collections serve them)."""
    out = np.full(len(geoms), np.nan)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6, 7))
    present = np.flatnonzero(~shapely.is_missing(geoms) & polygonal)
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


def _geoms(frame: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    return np.asarray(frame.geometry.array, dtype=object)


def _fids_of(frame: gpd.GeoDataFrame, fids: dict[str, int]) -> npt.NDArray[np.int64]:
    """Each row's fid; a row the fid query missed (deleted meanwhile: the feed says so next
    time) sorts last."""
    got = pd.Series(fids, dtype="int64").reindex(
        frame["id"].astype(str).to_numpy(), fill_value=np.iinfo(np.int64).max
    )
    return cast("npt.NDArray[np.int64]", got.to_numpy(dtype=np.int64))


_T = TypeVar("_T")


class LayerBase:
    """A layer as read whole (or folded from a view): the frame, each row's fid (ascending),
    and what is derived from every row once and shared by the views made on it (the id
    lookup, official hectares, the spatial index, whatever :meth:`memo` keeps). Never changed
    once made."""

    def __init__(self, frame: gpd.GeoDataFrame, fids: npt.NDArray[np.int64]) -> None:
        self.frame = frame
        self.fids = fids
        self.geoms = _geoms(frame)
        self._lock = threading.RLock()
        self._memo: dict[object, object] = {}

    def __len__(self) -> int:
        return len(self.frame)

    def memo(self, key: object, make: Callable[[], _T]) -> _T:
        """``make()``, computed once per base (under its lock) and kept."""
        with self._lock:
            if key not in self._memo:
                self._memo[key] = make()
            return cast("_T", self._memo[key])

    def positions_of(self, ids: list[str]) -> npt.NDArray[np.intp] | None:
        """Each id's row (-1: not in the base); None when the base's ids are not unique."""
        index = self.memo("ids", lambda: pd.Index(self.frame["id"].astype(str).to_numpy(object)))
        if not index.is_unique:
            return None
        return cast("npt.NDArray[np.intp]", index.get_indexer(ids).astype(np.intp))

    def ha(self) -> _F64:
        return self.memo("ha", lambda: measured_ha(self.geoms))

    def index(self) -> PatchedIndex:
        return self.memo("index", lambda: PatchedIndex(self.geoms))


class LayerView:
    """One layer at one revision: a shared :class:`LayerBase` less its rows deleted or
    replaced since, plus a small overlay of the rows inserted or replaced (in ``fid`` order).

    Its rows ("positions") are those of a full read: base and overlay merged by ``fid``. Made
    whole at each change, never changed after, so a reader on another thread sees one
    revision or the next, never half of a change. What needs every row (:meth:`frame`,
    :meth:`ha`, :meth:`index`) is made when first asked, once per view, from the base's shared
    parts and the overlay: a change copies only per-row positions, not the frame.
    """

    def __init__(
        self,
        base: LayerBase,
        live: npt.NDArray[np.bool_],
        overlay: gpd.GeoDataFrame,
        overlay_fids: npt.NDArray[np.int64],
        overlay_ha: _F64 | None = None,
    ) -> None:
        self.base = base
        #: base rows still current
        self.live = live
        #: rows inserted or replaced since the base (index 0..m-1, by fid)
        self.overlay = overlay
        self.overlay_fids = overlay_fids
        self.overlay_ids = overlay["id"].astype(str).to_numpy(dtype=object)
        self.overlay_geoms = _geoms(overlay)
        self._overlay_ha = overlay_ha
        n, m = len(base), len(overlay)
        cum = np.cumsum(live, dtype=np.intp)
        at = np.searchsorted(base.fids, overlay_fids)
        #: each overlay row's position
        self.overlay_pos = (np.where(at > 0, cum[np.maximum(at - 1, 0)], 0) if n else
                            np.zeros(m, dtype=np.intp)) + np.arange(m, dtype=np.intp)  # fmt: skip
        before = np.cumsum(np.bincount(at, minlength=n + 1)[:n]) if m else 0
        #: each base row's position (-1: deleted or replaced)
        self.base_pos = np.where(live, cum - 1 + before, -1).astype(np.intp)
        self.dead = n - int(cum[-1] if n else 0)
        self._len = n - self.dead + m
        self._lock = threading.RLock()  # frame() asks source() while holding it
        self._frame: gpd.GeoDataFrame | None = None
        self._ha: _F64 | None = None
        self._index: PatchedIndex | None = None
        self._source: npt.NDArray[np.intp] | None = None

    @classmethod
    def whole(cls, base: LayerBase) -> LayerView:
        view = cls(base, np.ones(len(base), dtype=bool), base.frame.iloc[:0], base.fids[:0])
        view._frame = base.frame
        return view

    def __len__(self) -> int:
        return self._len

    @property
    def changed(self) -> int:
        """How many rows differ from the base (overlay rows and base rows gone)."""
        return self.dead + len(self.overlay)

    def merge(self, base_values: np.ndarray, overlay_values: np.ndarray) -> np.ndarray:
        """One value per position from one per base row and one per overlay row."""
        out = np.empty(self._len, dtype=np.result_type(base_values, overlay_values))
        out[self.base_pos[self.live]] = base_values[self.live]
        out[self.overlay_pos] = overlay_values
        return out

    def source(self) -> npt.NDArray[np.intp]:
        """For each position its base row, or ``-1 - k`` for overlay row ``k``."""
        with self._lock:
            if self._source is None:
                self._source = self.merge(
                    np.arange(len(self.base), dtype=np.intp),
                    -1 - np.arange(len(self.overlay), dtype=np.intp),
                )
            return self._source

    def take(self, positions: npt.ArrayLike) -> gpd.GeoDataFrame:
        """The rows at ``positions`` (in that order, index 0..k-1), copying only those."""
        src = self.source()[np.asarray(positions, dtype=np.intp)]
        from_overlay = src < 0
        if not from_overlay.any():
            return self.base.frame.iloc[src].reset_index(drop=True)
        if from_overlay.all():
            return self.overlay.iloc[-1 - src].reset_index(drop=True)
        parts = pd.concat(
            [self.base.frame.iloc[src[~from_overlay]], self.overlay.iloc[-1 - src[from_overlay]]],
            ignore_index=True,
        )
        order = np.empty(len(src), dtype=np.intp)
        order[np.concatenate([np.flatnonzero(~from_overlay), np.flatnonzero(from_overlay)])] = (
            np.arange(len(src))
        )
        return cast("gpd.GeoDataFrame", parts.take(order).reset_index(drop=True))

    def frame(self) -> gpd.GeoDataFrame:
        """The whole layer as a full read gives it (made once per view, when first asked)."""
        with self._lock:
            if self._frame is None:
                self._frame = self._materialise()
            return self._frame

    def _materialise(self) -> gpd.GeoDataFrame:
        # two copies of the layer at most (the overlay laid after the base, then the rows
        # taken in position order, the dead left out): each copy of 100k rows of a dozen
        # columns costs ~20 ms, and filtering the live rows first would be a third
        base = self.base.frame
        if not len(self.overlay):
            return (base[self.live] if self.dead else base).reset_index(drop=True)
        merged = pd.concat([base, self.overlay], ignore_index=True)
        src = self.source()
        rows = np.where(src >= 0, src, len(base) - 1 - src)
        if not self.dead and bool((rows == np.arange(len(rows))).all()):
            return cast("gpd.GeoDataFrame", merged)  # rows added after every base row
        return cast("gpd.GeoDataFrame", merged.take(rows).reset_index(drop=True))

    def geoms(self) -> npt.NDArray[np.object_]:
        return cast("npt.NDArray[np.object_]", self.merge(self.base.geoms, self.overlay_geoms))

    def overlay_ha(self) -> _F64:
        with self._lock:
            if self._overlay_ha is None:
                self._overlay_ha = measured_ha(self.overlay_geoms)
            return self._overlay_ha

    def ha(self) -> _F64:
        """Official hectares of each position (NaN: unmeasurable); a base's rows are measured
        once for every view on it, an overlay's rows once when they come in."""
        overlay = self.overlay_ha()
        base = self.base.ha()
        with self._lock:
            if self._ha is None:
                self._ha = cast("_F64", self.merge(base, overlay))
            return self._ha

    def ha_at(self, positions: npt.ArrayLike) -> _F64:
        """Official hectares of the rows at ``positions`` only."""
        src = self.source()[np.asarray(positions, dtype=np.intp)]
        out = np.empty(len(src))
        from_overlay = src < 0
        if (~from_overlay).any():
            out[~from_overlay] = self.base.ha()[src[~from_overlay]]
        if from_overlay.any():
            out[from_overlay] = self.overlay_ha()[-1 - src[from_overlay]]
        return out

    def index(self) -> PatchedIndex:
        """The spatial index of the positions: the base's tree (built once per base) under
        this view's map, and a tree of the overlay's few rows."""
        base = self.base.index()
        with self._lock:
            if self._index is None:
                self._index = base.overlaid(
                    self.base_pos, self.overlay_geoms, self.overlay_pos, None
                )
            return self._index

    def position(self, feature_id: str) -> int | None:
        """The position of the row with id ``feature_id``; None when there is none."""
        hit = np.flatnonzero(self.overlay_ids == feature_id)
        if hit.size:
            return int(self.overlay_pos[hit[0]])
        at = self.base.positions_of([feature_id])
        if at is None:  # ids not unique in the base: the first current one
            rows = np.flatnonzero((self.base.frame["id"].astype(str) == feature_id).to_numpy())
            rows = rows[self.live[rows]]
            return int(self.base_pos[rows[0]]) if rows.size else None
        row = int(at[0])
        return int(self.base_pos[row]) if row >= 0 and self.live[row] else None

    def patched(
        self,
        fresh: gpd.GeoDataFrame,
        fresh_fids: npt.NDArray[np.int64],
        deleted: Sequence[str],
    ) -> tuple[LayerView, gpd.GeoDataFrame] | None:
        """This view after ``fresh`` (rows read now, index 0..k-1) were upserted and the ids
        ``deleted`` deleted, and the touched rows as they were; None when the base cannot say
        where an id is (ids not unique): read the layer whole."""
        up_ids = fresh["id"].astype(str).tolist()
        touched = [*up_ids, *deleted]
        at = self.base.positions_of(touched)
        if at is None:
            return None
        rows = at[at >= 0]
        rows = np.unique(rows[self.live[rows]])
        in_overlay = np.isin(self.overlay_ids, np.asarray(touched, dtype=object))
        before = [self.base.frame.iloc[rows], self.overlay[in_overlay]]
        previous = pd.concat(before, ignore_index=True) if in_overlay.any() else (
            before[0].reset_index(drop=True))  # fmt: skip
        live = self.live.copy()
        live[rows] = False
        kept = ~in_overlay
        overlay = self.overlay[kept]
        fids = np.concatenate([self.overlay_fids[kept], fresh_fids])
        ha = self._overlay_ha
        if ha is not None:
            ha = np.concatenate([ha[kept], measured_ha(_geoms(fresh))])
        if len(fresh):
            overlay = pd.concat([overlay, fresh], ignore_index=True) if len(overlay) else fresh
        order = np.argsort(fids, kind="stable")
        if (order != np.arange(len(order))).any():
            overlay = overlay.take(order)
            fids = fids[order]
            ha = ha[order] if ha is not None else None
        view = LayerView(self.base, live, overlay.reset_index(drop=True), fids, ha)
        return view, cast("gpd.GeoDataFrame", previous)

    def folded(self) -> LayerView:
        """The same rows as a view on a new base (no overlay): the whole frame copied once,
        the hectares carried, the spatial index rebuilt when next asked."""
        frame = self.frame()
        fids = self.merge(self.base.fids, self.overlay_fids)
        base = LayerBase(frame, fids)
        if "ha" in self.base._memo:  # measured already: carry, do not measure again
            base._memo["ha"] = self.ha()
        return LayerView.whole(base)


@dataclass
class _Entry:
    revision: str
    seq: int
    view: LayerView
    history: list[_Step] = field(default_factory=list)


class LayerCache:
    """Each layer as a GeoDataFrame, kept per store revision and patched from the change feed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        #: how the last refresh of each layer went: "patch" or "full" (for tests, benchmarks)
        self.last_refresh: dict[str, str] = {}

    # -- reading -----------------------------------------------------------------------------

    def view(self, layer: str) -> LayerView:
        """The layer as the store holds it now, as base and overlay (see :class:`LayerView`):
        what a reader of a few rows (a bbox page, one feature) asks for."""
        return self._entry(layer).view

    def get(self, layer: str) -> gpd.GeoDataFrame:
        """The layer as the store holds it now (the same frame object while nothing changed;
        after a change, made whole when first asked)."""
        return self._entry(layer).view.frame()

    def snapshot(self, layer: str) -> tuple[gpd.GeoDataFrame, str]:
        """The layer and its token (the store revision it was read at), taken together: what a
        cache built on the layer remembers, to ask :meth:`delta_since` later."""
        entry = self._entry(layer)
        return entry.view.frame(), entry.revision

    def token(self, layer: str) -> str:
        """The token of the frame :meth:`get` returns now."""
        return self._entry(layer).revision

    def official_ha(self, layer: str) -> _F64:
        """Official hectares of each row of :meth:`get` (NaN where unmeasurable), measured
        once per row: a change measures only the rows it brought."""
        return self._entry(layer).view.ha()

    def index(self, layer: str) -> PatchedIndex:
        """The spatial index of :meth:`get`'s geometries (positions are its rows)."""
        return self._entry(layer).view.index()

    def indexed(self, layer: str) -> tuple[gpd.GeoDataFrame, str, PatchedIndex]:
        """:meth:`get`, :meth:`token` and :meth:`index` taken together (one revision)."""
        with self._lock:
            entry = self._entry(layer)
            return entry.view.frame(), entry.revision, entry.view.index()

    def delta_since(self, layer: str, token: str) -> LayerDelta | None:
        """What changed in ``layer`` from the frame of ``token`` to the one :meth:`get`
        returns now (an empty delta when nothing did); None when the cache does not know (a
        token older than its last :data:`HISTORY` refreshes, or a whole re-read with no
        earlier frame): the caller rebuilds from the whole layer."""
        return self.delta_and_token(layer, token)[0]

    def delta_and_token(self, layer: str, token: str) -> tuple[LayerDelta | None, str]:
        """:meth:`delta_since` and the token of the frame it leads to, taken together (a
        write between two calls cannot slip between them)."""
        with self._lock:
            entry = self._entry(layer)
            if token == entry.revision:
                empty = entry.view.base.frame.iloc[:0]
                return LayerDelta(layer, empty, (), empty), entry.revision
            steps = entry.history
            for start in range(len(steps) - 1, -1, -1):
                if steps[start].before == token:
                    deltas = [s.delta for s in steps[start:]]
                    if any(d is None for d in deltas):
                        return None, entry.revision
                    return _compose(layer, [d for d in deltas if d is not None]), entry.revision
            return None, entry.revision

    def ids(self, layer: str) -> npt.NDArray[np.object_]:
        """The id (as text) of each row of :meth:`get`, without making the whole frame."""
        view = self._entry(layer).view
        base = view.base
        ids = base.memo("id_text", lambda: base.frame["id"].astype(str).to_numpy(dtype=object))
        return cast("npt.NDArray[np.object_]", view.merge(ids, view.overlay_ids))

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
        if (fids[1:] < fids[:-1]).any():  # a row the fid query missed: last, as a patch has it
            order = np.argsort(fids, kind="stable")
            frame, fids = frame.take(order).reset_index(drop=True), fids[order]
        history: list[_Step] = []
        if old is not None:
            delta = diff_frames(layer, old.view.frame(), frame)
            history = [*old.history, _Step(old.revision, rev, delta)][-HISTORY:]
        self.last_refresh[layer] = "full"
        return _Entry(rev, seq, LayerView.whole(LayerBase(frame, fids)), history=history)

    def _patch(self, layer: str, old: _Entry, rev: str) -> _Entry | None:
        """``old`` with the rows the feed lists laid over it; None: read the layer whole."""
        changes = self.store.changes(layer, old.seq)
        view = old.view
        limit = max(FULL_READ_MIN, FULL_READ_SHARE * len(view))
        if changes is None or changes.size > limit:
            return None
        upserted = list(changes.upserted)
        if upserted:
            fresh = self.store.read(layer, ids=upserted).reset_index(drop=True)
            fresh_fids = _fids_of(fresh, self.store.fids(layer, ids=upserted))
        else:
            fresh, fresh_fids = view.base.frame.iloc[:0], view.base.fids[:0]
        got = view.patched(fresh, fresh_fids, list(changes.deleted))
        if got is None:
            return None
        new, previous = got
        if new.changed > max(FOLD_MIN, FOLD_SHARE * len(new)):
            new = new.folded()
        gone = tuple(sorted(set(previous["id"].astype(str)) - set(fresh["id"].astype(str))))
        delta = LayerDelta(layer, fresh, gone, previous)
        history = [*old.history, _Step(old.revision, rev, delta)][-HISTORY:]
        self.last_refresh[layer] = "patch"
        return _Entry(rev, changes.last_seq, new, history)


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
