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
from layers.ledger.sessions import SignInRecords
from layers.ledger.users import UserAccounts
from layers.store import ReadQuery, Store, WriteMode

#: the operational table of :meth:`Ledger.count_hit`
RATE_LIMITS = "gazar_rate_limits"


class LedgerTx(ABC):
    """What may be done inside one ledger transaction (the write lock is held)."""

    @abstractmethod
    def now(self) -> dt.datetime:
        """The server time (UTC) of this transaction."""

    @abstractmethod
    def read(self, layer: str, **query: Unpack[ReadQuery]) -> gpd.GeoDataFrame:
        """A layer, or ``applications``, as the transaction sees it (``query``: the filters
        ``bbox``, ``where``, ``ids`` and ``columns`` of :meth:`layers.store.Store.read`)."""

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


class OperationalTx(ABC):
    """One transaction over the operational tables (``layers.ledger.base.OPERATIONAL``:
    sessions, sign-in counters): nothing in it is logged or changes a revision."""

    @abstractmethod
    def rows(
        self, table: str, where: Mapping[str, object] | None = None, *, lock: bool = False
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` matching ``where`` (``lock``: held until the end, PostGIS's
        ``FOR UPDATE``; the GeoPackage's transaction holds the whole database already)."""

    @abstractmethod
    def insert(self, table: str, row: Mapping[str, Any], *, if_absent: bool = False) -> None:
        """Add a row (``if_absent``: unless one with its key exists)."""

    @abstractmethod
    def update(self, table: str, where: Mapping[str, object], changes: Mapping[str, Any]) -> int:
        """Change the rows matching ``where``; returns how many."""


class Ledger(Store, UserAccounts, SignInRecords):
    """A store that also keeps the allocation records and the hash-chained log."""

    clock: Callable[[], dt.datetime]

    def __enter__(self) -> Self:
        return self

    @abstractmethod
    def transaction(self, *, actor: str, request: str) -> AbstractContextManager[LedgerTx]:
        """One write transaction by ``actor``: every change in it is logged under that name."""

    def count_hit(self, key: str, *, window_s: int) -> int:
        """Count one hit of ``key`` in the current window of ``window_s`` seconds (server
        time) and return the window's hits so far, this one included.

        Operational data (a rate limit shared by every worker): one row per key in
        ``gazar_rate_limits``, restarted when a new window begins; never logged, never a
        layer's revision. The row is locked while it is counted, so that concurrent workers
        never lose a hit.
        """
        bucket = int(self.clock().timestamp() // window_s)
        with self.operational() as tx:
            tx.insert(RATE_LIMITS, {"key": key, "bucket": bucket, "hits": 0}, if_absent=True)
            (row,) = tx.rows(RATE_LIMITS, {"key": key}, lock=True)
            hits = int(row["hits"]) + 1 if int(row["bucket"]) == bucket else 1
            tx.update(RATE_LIMITS, {"key": key}, {"bucket": bucket, "hits": hits})
        return hits

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
    def last_event(self) -> Event | None:
        """The log's last sealed event (its head), None for an empty log."""

    @abstractmethod
    def log_event(
        self,
        *,
        actor: str | None,
        request: str,
        action: str,
        obj: str,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        """Log one event that is not a row change (a sign-in, sign-out, lockout, the end of a
        user's sessions) in the hash chain at once: ``action`` names it, ``obj`` is what it is
        about (``gazar_users/ID``), ``after`` what is to be kept of it (never a secret)."""

    @abstractmethod
    def operational_rows(
        self, table: str, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        """Rows of an operational table, read outside any transaction."""

    @abstractmethod
    def operational(self) -> AbstractContextManager[OperationalTx]:
        """One transaction over the operational tables (see :class:`OperationalTx`)."""

    @abstractmethod
    def seal(self) -> int:
        """Seal waiting changes into the log; returns how many."""

    @abstractmethod
    def verify_chain(self) -> ChainCheck:
        """Recompute the hash chain from the first event."""
