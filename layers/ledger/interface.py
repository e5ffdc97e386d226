"""The ledger's interfaces: :class:`Ledger` (a store with the records and the log) and
:class:`LedgerTx` (what one ledger transaction may do)."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Self, Unpack

import geopandas as gpd

from layers.ledger.base import ACTOR, APPLICATIONS
from layers.ledger.chain import ChainCheck, Event
from layers.ledger.users import UserAccounts
from layers.store import ReadQuery, Store, WriteMode


class LedgerTx(ABC):
    """What may be done inside one ledger transaction (the write lock is held)."""

    @abstractmethod
    def now(self) -> dt.datetime:
        """The server time (UTC) of this transaction."""

    @abstractmethod
    def read(self, layer: str, **query: Unpack[ReadQuery]) -> gpd.GeoDataFrame:
        """A layer, or ``applications``, as the transaction sees it (``query``: the filters
        ``bbox``, ``where`` and ``ids`` of :meth:`layers.store.Store.read`)."""

    @abstractmethod
    def records(
        self, table: str, *, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        """Rows of a record table (``objections``, ``decisions``, ``draws``)."""

    @abstractmethod
    def count(self, table: str, *, prefix: str | None = None) -> int:
        """Rows of a table (whose ``id`` starts with ``prefix``)."""

    @abstractmethod
    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add rows to a record table."""

    @abstractmethod
    def update(self, table: str, row_id: str, changes: Mapping[str, Any]) -> None:
        """Change columns of one row of a table (a layer, ``applications`` or a record table)."""

    @abstractmethod
    def write(self, batches: Mapping[str, gpd.GeoDataFrame], *, mode: WriteMode = "append") -> None:
        """Write features of layers or ``applications``."""


class Ledger(Store, UserAccounts):
    """A store that also keeps the allocation records and the hash-chained log."""

    clock: Callable[[], dt.datetime]

    def __enter__(self) -> Self:
        return self

    @abstractmethod
    def transaction(self, *, actor: str, request: str) -> AbstractContextManager[LedgerTx]:
        """One write transaction by ``actor``: every change in it is logged under that name."""

    @abstractmethod
    def count_hit(self, key: str, *, window_s: int) -> int:
        """Count one hit of ``key`` in the current window of ``window_s`` seconds (server
        time) and return the window's hits so far, this one included.

        Operational data (a rate limit shared by every worker): kept in ``gazar_rate_limits``,
        never logged, never a layer's revision; older windows of ``key`` are dropped.
        """

    @contextmanager
    def acting_as(self, actor: str, request: str) -> Iterator[None]:
        """Store writes (``write``, ``delete``) inside the block are logged as ``actor``'s."""
        token = ACTOR.set((actor, request))
        try:
            yield
        finally:
            ACTOR.reset(token)

    def applications(
        self,
        *,
        where: Mapping[str, object] | None = None,
        ids: list[str] | None = None,
    ) -> gpd.GeoDataFrame:
        """Applications (EPSG:4326), oldest first: ``read("applications", ...)``."""
        return self.read(APPLICATIONS.name, where=where, ids=ids)

    @abstractmethod
    def records(
        self, table: str, *, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        """Rows of ``objections``, ``decisions`` or ``draws``, in the order written."""

    @abstractmethod
    def events(self, *, after: int = 0, limit: int | None = None) -> list[Event]:
        """Sealed events with ``seq`` greater than ``after``."""

    @abstractmethod
    def seal(self) -> int:
        """Seal waiting changes into the log; returns how many."""

    @abstractmethod
    def verify_chain(self) -> ChainCheck:
        """Recompute the hash chain from the first event."""
