"""Rehabilitation monitoring over the rasters registered beside the store, each answer kept
until the zones or a raster file change (``GET /analysis/rehab`` and the maps' recovery layer).

A client names registered rasters, never gives a path, so it cannot make the server open
another file."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import pandas as pd

from api.services import rasters
from api.services.errors import BadRequest, NotFound
from api.services.layers import LayerCache
from geo import raster as gr
from layers.errors import GazarError

#: the raster kinds a client may name for ``before`` and ``after``
NDVI_KINDS: Final[tuple[str, ...]] = ("ndvi_before", "ndvi_after")
#: the answers kept (each a table of every zone), newest last
_KEEP: Final = 8


class RehabService:
    """The recovery of every rehabilitation zone, computed once per parameters and files."""

    def __init__(self, layers: LayerCache, *, raster_folder: Path | None = None) -> None:
        self.layers = layers
        #: the configured folder of the store's rasters (``GAZAR_RASTERS``); None: beside it
        self.raster_folder = raster_folder
        self._lock = threading.Lock()
        self._cache: dict[Any, tuple[pd.DataFrame, gpd.GeoDataFrame]] = {}

    def recovery_key(self, *, min_recovery: float, mode: gr.PixelMode = "weighted") -> Any:
        """What :meth:`recovery` with every registered pair depends on (the zones' revision,
        the rasters' and the manifest's file stamps), without computing it: a cache key for
        pages built on it; None when no NDVI raster is registered or the manifest is bad."""
        try:
            return self._plan(None, None, min_recovery, mode)[2]
        except (NotFound, BadRequest, GazarError):
            return None

    def _plan(
        self, before: str | None, after: str | None, min_recovery: float, mode: gr.PixelMode
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
        """The registered entries, the ones used and the cache key of an answer."""
        location = self.layers.store.location
        folder = self.raster_folder
        entries = rasters.registered(location, folder=folder)
        ndvi = [e for e in entries if e["kind"] in NDVI_KINDS]
        if not any(e["kind"] == "ndvi_before" for e in ndvi) and before is None:
            raise NotFound(
                "no NDVI rasters are registered beside the store: gazar demo writes some, or "
                "list yours (kind ndvi_before and ndvi_after) in the manifest.json of its "
                ".rasters folder (or of the folder GAZAR_RASTERS names: the only place for a "
                "PostGIS store)"
            )
        if (before is None) != (after is None):
            raise BadRequest("give both before and after (registered raster names), or neither")
        if before is not None and after is not None:
            try:
                used = [rasters.named(entries, n, kinds=NDVI_KINDS) for n in (before, after)]
            except KeyError as exc:
                raise BadRequest(str(exc.args[0])) from None
        else:
            used = ndvi
        manifest = {
            "file": rasters.MANIFEST,
            "path": rasters.raster_dir(location, folder=folder) / rasters.MANIFEST,
        }
        key = (
            before,
            after,
            float(min_recovery),
            mode,
            self.layers.store.revision("rehab_zones"),
            rasters.file_stamps([*used, manifest]),
        )
        return entries, used, key

    def recovery(
        self,
        *,
        before: str | None = None,
        after: str | None = None,
        min_recovery: float,
        mode: gr.PixelMode = "weighted",
    ) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
        """Every zone's recovery (all registered pairs, or the two registered rasters named)
        and the zones.

        Raises
        ------
        NotFound
            When no NDVI raster is registered.
        BadRequest
            For a name the manifest does not list, or only one of ``before`` and ``after``.
        """
        _, used, key = self._plan(before, after, min_recovery, mode)
        location, folder = self.layers.store.location, self.raster_folder
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                return hit
            zones = self.layers.get("rehab_zones")
            if len(used) == 2 and before is not None:
                table = rasters.rehab_recovery(
                    used[0]["path"], used[1]["path"], zones, min_recovery=min_recovery, mode=mode
                )
            else:
                table = rasters.rehab_registered(
                    location, zones, min_recovery=min_recovery, mode=mode, folder=folder
                )
            self._cache[key] = (table, zones)
            while len(self._cache) > _KEEP:
                self._cache.pop(next(iter(self._cache)))
            return table, zones
