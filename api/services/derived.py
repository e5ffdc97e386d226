"""The findings and the available land of a day, kept per store revision and updated by the
change (:class:`geo.incremental.DerivedState`), shared by the OGC collections, the JSON API
and the pages."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from api.services.layers import LayerCache
from geo.incremental import DerivedState
from geo.settings import AnalysisSettings
from layers.changes import LayerDelta
from layers.schema import AREA_LAYERS

#: Days kept at once (today and one other, e.g. a page asked about another day).
DAYS_KEPT = 2


@dataclass
class _Kept:
    #: the layer cache's token of each layer (``AREA_LAYERS`` order) the state is at
    tokens: tuple[str, ...]
    state: DerivedState


class DerivedCache:
    """Per day: the derived answers at the layer tokens they were computed at.

    When layers changed since, the change of each (a :class:`layers.changes.LayerDelta`) is
    taken from the layer cache's change feed (:meth:`LayerCache.delta_and_token`) and given to
    :meth:`DerivedState.advance`: no layer is made whole for it. When the cache cannot say
    what changed (a token older than its history), the state is computed whole again.
    """

    def __init__(self, layers: LayerCache, settings: AnalysisSettings) -> None:
        self.layers = layers
        self.settings = settings
        self._lock = threading.Lock()
        self._days: dict[dt.date, _Kept] = {}

    def state(self, day: dt.date) -> DerivedState:
        """The state of ``day`` at the store's current revisions."""
        with self._lock:
            kept = self._days.get(day)
            if kept is None:
                tokens = tuple(self.layers.token(name) for name in AREA_LAYERS)
                state = DerivedState(
                    self.layers.all(AREA_LAYERS), today=day, settings=self.settings
                )
                while len(self._days) >= DAYS_KEPT:
                    self._days.pop(next(iter(self._days)))
                self._days[day] = _Kept(tokens, state)
                return state
            state = kept.state
            deltas: dict[str, LayerDelta] = {}
            known = True
            tokens_now = []
            for name, token in zip(AREA_LAYERS, kept.tokens, strict=True):
                delta, now = self.layers.delta_and_token(name, token)
                tokens_now.append(now)
                if now == token:
                    continue
                if delta is None:
                    known = False
                else:
                    deltas[name] = delta
            tokens = tuple(tokens_now)
            if tokens == kept.tokens:
                return state
            if known:
                state.advance(
                    deltas,
                    frames=lambda: self.layers.all(AREA_LAYERS),
                    lc_order=lambda: self.layers.ids("land_conclusions").tolist(),
                )
            else:
                state.rebuild(self.layers.all(AREA_LAYERS))
            self._days[day] = _Kept(tokens, state)
            return state


__all__ = ["DAYS_KEPT", "DerivedCache"]
