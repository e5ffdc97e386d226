"""The findings and the available land of a day, kept per store revision and updated by the
change (:class:`geo.incremental.DerivedState`), shared by the OGC collections, the JSON API
and the pages."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd

from api.services.layers import LayerCache
from geo.incremental import DerivedState
from geo.settings import AnalysisSettings
from layers.changes import LayerDelta, diff_frames
from layers.schema import REGISTRY

#: Days kept at once (today and one other, e.g. a page asked about another day).
DAYS_KEPT = 2


@dataclass
class _Kept:
    revisions: tuple[str, ...]
    frames: dict[str, gpd.GeoDataFrame]
    state: DerivedState


class DerivedCache:
    """Per day: the derived answers at the store revisions they were computed at.

    When layers changed since, the change of each (a :class:`layers.changes.LayerDelta`) is
    taken from the layer cache's change feed when it offers one (``delta_since(layer,
    revision)`` returning a delta or None), else found by comparing the frame kept with the
    current one (:func:`layers.changes.diff_frames`: correct, slower).
    """

    def __init__(self, layers: LayerCache, settings: AnalysisSettings) -> None:
        self.layers = layers
        self.settings = settings
        self._lock = threading.Lock()
        self._days: dict[dt.date, _Kept] = {}

    def state(self, day: dt.date) -> DerivedState:
        """The state of ``day`` at the store's current revisions."""
        with self._lock:
            revisions = self.layers.revisions(REGISTRY)
            kept = self._days.get(day)
            if kept is not None and kept.revisions == revisions:
                return kept.state
            frames = self.layers.all(REGISTRY)
            if kept is None:
                state = DerivedState(frames, today=day, settings=self.settings)
                while len(self._days) >= DAYS_KEPT:
                    self._days.pop(next(iter(self._days)))
            else:
                state = kept.state
                deltas = {
                    name: self._delta(name, kept.revisions[i], kept.frames[name], frames[name])
                    for i, name in enumerate(REGISTRY)
                    if kept.revisions[i] != revisions[i]
                }
                lc_order = frames["land_conclusions"]["id"].astype(str).tolist()
                state.advance(deltas, frames=lambda: frames, lc_order=lc_order)
            self._days[day] = _Kept(revisions, frames, state)
            return state

    def _delta(
        self, layer: str, revision: str, old: gpd.GeoDataFrame, new: gpd.GeoDataFrame
    ) -> LayerDelta:
        feed: Callable[[str, str], LayerDelta | None] | None = getattr(
            self.layers, "delta_since", None
        )
        if feed is not None:
            delta = feed(layer, revision)
            if delta is not None:
                return delta
        return diff_frames(layer, old, new)


__all__ = ["DAYS_KEPT", "DerivedCache"]
