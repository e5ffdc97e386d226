"""The desk review of a proposal, as ``POST /analysis/check``, the ``/check`` page and its
report give it: the review layers indexed once per set of their revisions, the registered DEM
under the proposal, and :func:`api.services.views.check_view`."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Literal

import geopandas as gpd

from api.services import rasters
from api.services.errors import NotFound
from api.services.layers import LayerCache
from api.services.views import check_view
from geo.raster import Dem
from geo.review import KIND_LAYER, REVIEW_LAYERS, Review, ReviewContext
from geo.review_input import ReviewLayer, review_layer
from geo.settings import AnalysisSettings

Kind = Literal["land_conclusion", "parcel"]


class ReviewService:
    """Reviews against the store's layers, with their index kept per revision."""

    def __init__(
        self,
        layers: LayerCache,
        settings: AnalysisSettings,
        *,
        raster_folder: Path | None = None,
    ) -> None:
        self.layers = layers
        self.settings = settings
        #: the configured folder of the store's rasters (``GAZAR_RASTERS``); None: beside it
        self.raster_folder = raster_folder
        self._lock = threading.Lock()
        self._context: tuple[tuple[str, ...], ReviewContext] | None = None
        #: each review layer indexed for a review, with the revision token it was read at
        self._layers: dict[str, tuple[str, ReviewLayer]] = {}

    def context(self) -> ReviewContext:
        """The review layers indexed, kept per layer revision: after a write only the layers
        it changed are taken again, with the layer cache's spatial index (patched for a small
        change, not rebuilt)."""
        with self._lock:
            layers: dict[str, ReviewLayer] = {}
            for name in REVIEW_LAYERS:
                kept = self._layers.get(name)
                if kept is not None and kept[0] == self.layers.token(name):
                    layers[name] = kept[1]
                    continue
                frame, token, index = self.layers.indexed(name)
                layers[name] = review_layer(frame, name, index)
                self._layers[name] = (token, layers[name])
            key = tuple(self._layers[name][0] for name in REVIEW_LAYERS)
            if self._context is None or self._context[0] != key:
                self._context = (key, ReviewContext.of_layers(layers))
            return self._context[1]

    def dem(self, proposal: gpd.GeoDataFrame) -> tuple[str, Dem] | None:
        """The registered DEM's name and its elevations under ``proposal`` (only that window
        is read), or None when no DEM registered beside the store holds it."""
        found = rasters.proposal_dem(
            self.layers.store.location, proposal, folder=self.raster_folder
        )
        return None if found is None else (str(found[0]["file"]), found[1])

    def check(
        self,
        proposal: gpd.GeoDataFrame,
        *,
        kind: Kind,
        today: dt.date,
        soum: str | None = None,
    ) -> Review:
        """The review of ``proposal`` (its ``as_json()`` is what ``gazar check --format json``
        prints)."""
        return check_view(
            proposal,
            kind=kind,
            context=self.context(),
            today=today,
            settings=self.settings,
            soum=soum or None,
            dem=self.dem(proposal),
        )

    def check_stored(
        self, feature_id: str, *, kind: Kind = "land_conclusion", today: dt.date
    ) -> tuple[gpd.GeoDataFrame, Review]:
        """The review of a stored Land Conclusion (or parcel) against the rest of the store:
        the feature itself is left out of the layers it is checked against. Returns the
        stored feature (one row) and its review (for a Land Conclusion, in its own soum).

        Raises
        ------
        NotFound
            When the layer has no feature ``feature_id``.
        """
        layer = KIND_LAYER[kind]
        frame = self.layers.get(layer)
        row = frame[frame["id"].astype(str) == feature_id]
        if row.empty:
            raise NotFound(f"{layer}: no feature has the id {feature_id!r}")
        row = row.iloc[:1].reset_index(drop=True)
        proposal = row[[c for c in ("id", "soum_code", "land_conclusion_id", "holder")
                        if c in row.columns] + ["geometry"]]  # fmt: skip
        soum = str(row["soum_code"].iloc[0]) if "soum_code" in row.columns else None
        result = check_view(
            proposal,
            kind=kind,
            context=self.context().without(layer, [feature_id]),
            today=today,
            settings=self.settings,
            soum=soum or None,
            dem=self.dem(proposal),
        )
        return row, result
