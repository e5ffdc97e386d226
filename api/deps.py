"""Things opened once in the app's lifespan and handed to routes (``Annotated`` aliases)."""

from __future__ import annotations

import threading
from typing import Annotated

import geopandas as gpd
from fastapi import Depends, Request

from api.settings import ApiSettings
from layers.store import Store


class LayerCache:
    """Whole layers in memory for the analyses, re-read only when the store says they changed."""

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

    def all(self, names: list[str] | tuple[str, ...]) -> dict[str, gpd.GeoDataFrame]:
        return {name: self.get(name) for name in names}


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_layers(request: Request) -> LayerCache:
    cache: LayerCache = request.app.state.layers
    return cache


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
LayersDep = Annotated[LayerCache, Depends(get_layers)]
