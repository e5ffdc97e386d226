"""The :class:`Services` object (see :mod:`api.services`): imported only by what builds or
uses it, so that a command reaching one service module (``api.services.views``) does not import
every service (accounts, the ledger, rasters) on the way."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd

from api.services.accounts import AccountService
from api.services.allocation import AllocationService, LedgerUnavailable
from api.services.collections import CollectionCache
from api.services.derived import DerivedCache
from api.services.errors import BadRequest, NotFound
from api.services.layers import LayerCache
from api.services.limits import RateLimits
from api.services.pages import PageCache
from api.services.pipeline import PipelineService
from api.services.rehab import RehabService
from api.services.review import ReviewService
from api.services.tiles import TileCache
from api.settings import Settings
from layers.errors import GazarError, StoreError
from layers.ledger import Ledger, open_ledger
from layers.schema import REGISTRY
from layers.store import Store, open_store

_LOG = logging.getLogger("gazar")

__all__ = ["Services"]


class Services:
    """Everything the front doors share, for one store."""

    def __init__(self, settings: Settings, store: Store, ledger: Ledger | None = None) -> None:
        self.settings = settings
        self.store = store
        #: the allocation ledger; None until it can be opened (see :meth:`open_ledger`)
        self.ledger = ledger
        self.layers = LayerCache(store)
        #: the findings and the available land per day, updated by what changed
        self.derived = DerivedCache(self.layers, settings.analysis)
        self.collections = CollectionCache(
            store,
            self.layers.get,
            settings=settings.analysis,
            findings=self.findings,
            available=self._available,
            views=self.layers.view,
            findings_of=self.findings_of,
        )
        #: vector tiles of every collection, per revision (OGC API – Tiles)
        self.tiles = TileCache(self.collections)
        folder = settings.store.rasters
        self.review = ReviewService(self.layers, settings.analysis, raster_folder=folder)
        self.rehab = RehabService(self.layers, raster_folder=folder)
        self.allocation = AllocationService(
            self.open_ledger,
            settings.analysis,
            max_vertices=settings.api.max_vertices,
            required_documents=settings.documents.required_documents,
            max_document_bytes=settings.documents.max_document_bytes,
        )
        self.pipeline = PipelineService(
            self.open_ledger, settings.analysis, max_vertices=settings.api.max_vertices
        )
        #: rate limits shared by every worker (objections per address)
        self.limits = RateLimits(self.open_ledger)
        self.accounts = AccountService(self.open_ledger, settings.api)
        self._ledger_lock = threading.Lock()
        #: map pages (their maps' HTML) per view and :meth:`map_state`
        self.pages: PageCache[Any] = PageCache(settings.web.page_cache)
        self._recovery: tuple[pd.DataFrame, gpd.GeoDataFrame] | None = None

    @classmethod
    def open(cls, settings: Settings) -> Services:
        """Open the store of ``settings`` and its ledger (None, logged, when the ledger cannot
        be added to the store: the maps and the OGC API still serve it)."""
        store = open_store(settings.db)
        try:
            ledger: Ledger | None = open_ledger(settings.db, create=False)
        except StoreError as exc:
            _LOG.warning("the allocation ledger could not be opened: %s", exc)
            ledger = None
        return cls(settings, store, ledger)

    def warm(
        self,
        stop: threading.Event | None = None,
        extra: Sequence[tuple[str, Callable[[], object]]] = (),
    ) -> list[str]:
        """Read every layer and work out today's findings, available land and the review's
        indexes, as the first requests would (each step a cache of its own, kept per
        revision: a request arriving meanwhile waits for the step it needs, or shares it).
        Then the ``extra`` steps (the app adds the overview map's pages). Stops between steps
        once ``stop`` is set. Returns the steps done."""
        day = dt.date.today()
        steps = (
            ("layers", self.frames),
            ("findings", lambda: self.findings(day)),
            ("available_land", lambda: self.available_land(day)),
            ("review", self.review.context),
            *extra,
        )
        done: list[str] = []
        for name, step in steps:
            if stop is not None and stop.is_set():
                break
            step()
            done.append(name)
        return done

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
        self.store.close()

    # ------------------------------------------------------------------------- ledger

    def open_ledger(self) -> Ledger:
        """The ledger of the store: the one opened with the services, or opened now when that
        failed. Raises ``LedgerUnavailable`` (503) when it still cannot be opened."""
        ledger = self.ledger
        if ledger is not None:
            return ledger
        with self._ledger_lock:
            if self.ledger is None:
                try:
                    self.ledger = open_ledger(self.settings.db, create=False)
                except StoreError as exc:
                    raise LedgerUnavailable(str(exc)) from exc
            return self.ledger

    # ------------------------------------------------------------------------- analysis

    def frames(self) -> dict[str, gpd.GeoDataFrame]:
        """Every store layer."""
        return self.layers.all(REGISTRY)

    def findings(self, day: dt.date) -> gpd.GeoDataFrame:
        """The findings of every rule over the whole store on ``day`` (``gazar analyze``'s
        records), computed once per day and updated by each change since
        (:mod:`api.services.derived`); the ``overlaps`` collection and the maps share them."""
        return self.derived.state(day).findings

    def findings_of(self, day: dt.date, rules: Sequence[str]) -> gpd.GeoDataFrame:
        """The rows of :meth:`findings` of ``rules`` (made of only theirs)."""
        return self.derived.state(day).findings_of(rules)

    def _available(self, day: dt.date) -> gpd.GeoDataFrame:
        return self.derived.state(day).available

    def available_land(self, day: dt.date, *, soum: str | None = None) -> gpd.GeoDataFrame:
        """Each Land Conclusion in force with its free land on ``day`` (the ``available_land``
        collection's frame), only ``soum``'s when given.

        Raises
        ------
        BadRequest
            When ``soum`` is the code of no soum.
        """
        frame = self._available(day)
        if soum is None:
            return frame
        if not self._soum_known(soum):
            raise BadRequest(
                f"soum={soum!r}: no soum has this code; the codes are the ids of "
                "/collections/soums/items (e.g. MN4322)"
            )
        keep = (frame["soum_code"] == soum).to_numpy(dtype=bool)
        return frame[keep].reset_index(drop=True)

    def _soum_known(self, soum: str) -> bool:
        """Does a Land Conclusion name ``soum``, or a soum have it as its id (asked of the
        layers' views: no frame is made whole for it)."""
        for layer, column in (("land_conclusions", "soum_code"), ("soums", "id")):
            view = self.layers.view(layer)
            overlay = view.overlay.get(column)
            if overlay is not None and (overlay == soum).any():
                return True
            base = view.base.frame
            if column in base and (base[column] == soum).to_numpy(dtype=bool)[view.live].any():
                return True
        return False

    def recovery_layer(self) -> gpd.GeoDataFrame | None:
        """The rehabilitation zones with their recovery on the registered NDVI rasters (the
        ``GET /analysis/rehab`` answer with the default threshold); None when none are
        registered or they cannot be read (logged: the maps are shown without)."""
        minimum = float(self.settings.analysis.rehab_recovery_min)
        try:
            table, zones = self.rehab.recovery(min_recovery=minimum)
        except NotFound:
            return None
        except GazarError as exc:
            _LOG.warning("the recovery layer is left out: %s", exc)
            return None
        kept = self._recovery  # the same frame (and spatial index) while the answer holds
        if kept is not None and kept[0] is table:
            return kept[1]
        frame = gpd.GeoDataFrame(table, geometry=zones.geometry, crs=zones.crs)
        self._recovery = (table, frame)
        return frame

    def map_state(self) -> Hashable:
        """What the map pages are built from, as a cache key: every layer's revision and the
        registered rasters the recovery layer is measured on (changed by any write, Gazar's
        or an outside tool's: the store's revision tokens follow its change feed)."""
        minimum = float(self.settings.analysis.rehab_recovery_min)
        return (
            self.layers.revisions(REGISTRY),
            self.rehab.recovery_key(min_recovery=minimum),
            self._applications_revision(),
        )

    def _applications_revision(self) -> str | None:
        try:
            return self.open_ledger().revision("applications")
        except (LedgerUnavailable, StoreError):
            return None

    def pending_applications(self) -> gpd.GeoDataFrame | None:
        """The pending applications as the public register shows them (number, holder, Land
        Conclusion, soum, filed at, objections until, official hectares, place in its Land
        Conclusion's queue); None without a ledger. No contact or account is included."""
        from api.services.register import pending_applications

        try:
            return pending_applications(self.open_ledger(), self.settings.analysis)
        except (LedgerUnavailable, StoreError):
            return None
