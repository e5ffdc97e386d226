"""Whole store layers in memory for the analyses, re-read only when the store says they changed."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import geopandas as gpd

from layers.store import Store


class LayerCache:
    """Each layer as a GeoDataFrame, kept per store revision of that layer."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._frames: dict[str, tuple[str, gpd.GeoDataFrame]] = {}

    def get(self, layer: str) -> gpd.GeoDataFrame:
        with self._lock:
            rev = self.store.revision(layer)
            hit = self._frames.get(layer)
            if hit is not None and hit[0] == rev:
                return hit[1]
            frame = self.store.read(layer)
            self._frames[layer] = (rev, frame)
            return frame

    def all(self, names: Iterable[str]) -> dict[str, gpd.GeoDataFrame]:
        return {name: self.get(name) for name in names}

    def revisions(self, names: Iterable[str]) -> tuple[str, ...]:
        """The store revision of each layer named, in order: a cache key."""
        return tuple(self.store.revision(name) for name in names)
