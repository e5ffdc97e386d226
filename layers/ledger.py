"""The allocation ledger: applications, objections, decisions, draws, users and the audit log.

A :class:`Ledger` is a :class:`layers.store.Store` (the layers) that also keeps the allocation
records and an append-only, hash-chained log of every change, in the same database so that a
decision, the contract parcel it creates and their log events are one transaction.

The log
    Every insert, update and delete of a layer feature or an allocation record is an event:
    ``seq``, ``time`` (server, UTC), ``actor``, ``request`` (what the actor asked for, e.g.
    ``decide approve MN4322-2026-0001``), ``action`` (``insert``/``update``/``delete``/
    ``baseline``), ``object`` (``table/id``), ``before`` and ``after`` (JSON of the row; the
    geometry as the hex of its stored blob; users without their token hash) and ``hash``::

        hash = SHA-256(json.dumps([seq, time, actor, request, action, object, before, after,
                                   prev_hash], ensure_ascii=False, separators=(",", ":")))

    with ``prev_hash`` the previous event's hash (64 zeros for the first). ``before`` and
    ``after`` are hashed as the stored text. :meth:`Ledger.verify_chain` recomputes the chain
    and names the first event that does not match; the store refuses to update or delete an
    event.

How changes are caught (GeoPackage)
    Triggers on every layer table and allocation table copy each changed row into
    ``gazar_changes`` inside the writer's own transaction, whoever writes: Gazar, ``gazar
    import`` through the plain store, GDAL or QGIS. The actor is read from the one-row
    ``gazar_context`` table, which a ledger transaction fills at its start and empties before
    it commits (writers outside a ledger leave it empty: the actor is recorded as ``NULL``,
    shown as "system"). At the end of every ledger transaction the waiting changes are
    *sealed*: moved into ``gazar_events`` with their hashes. Changes written outside a ledger
    wait in ``gazar_changes`` until the next ledger transaction or :meth:`Ledger.seal`
    (``gazar audit seal``); :meth:`Ledger.verify_chain` counts them. When the ledger is first
    added to a store that already holds features, each feature is logged once as a
    ``baseline`` event.

Never two contracts on the same land
    A ledger transaction takes the database's write lock first (``BEGIN IMMEDIATE``), so
    the checks made inside it (``LedgerTx.read``) see every committed contract and nothing
    can commit between the checks and the write. Threads of one process share the connection
    under a lock.

On PostGIS (``layers/ledger_pg.py``)
    The same tables and the same hash recipe (``gazar audit verify`` runs :func:`check_chain`
    on either); statement-level triggers with transition tables fill ``gazar_changes``, with
    the actor from ``SET LOCAL gazar.actor``; append-only tables refuse UPDATE, DELETE and
    TRUNCATE by trigger; every ledger transaction takes one ``pg_advisory_xact_lock`` key
    first, so the checks inside it see every committed allocation and two approvals of
    overlapping parcels cannot both commit, whichever server process runs them.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
import secrets
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Self

import geopandas as gpd
import orjson

from layers.errors import FeatureNotFound, GazarError, StoreError
from layers.gpkg import GEOM, GeoPackageStore, _to_sql
from layers.schema import REGISTRY, Field, LayerKind, layer_kind
from layers.store import Store, WriteMode

Role = Literal["public", "soum", "aimag", "mrpam", "admin"]
ROLES: Final[tuple[Role, ...]] = ("public", "soum", "aimag", "mrpam", "admin")

#: Role names as a person reads them (Mongolian, English).
ROLE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "public": ("Олон нийт", "Public"),
    "soum": ("Сумын албан хаагч", "Soum official"),
    "aimag": ("Аймгийн албан хаагч", "Aimag official"),
    "mrpam": ("АМГТГ", "MRPAM"),
    "admin": ("Админ", "Administrator"),
}

GENESIS: Final = "0" * 64

#: The applications table: a GeoPackage feature table, so QGIS shows the queue on the map.
APPLICATIONS: Final = LayerKind(
    "applications",
    (
        Field("land_conclusion_id", "str", required=True),
        Field("soum_code", "str"),
        Field("aimag_code", "str"),
        Field("holder", "str", required=True),
        Field("holder_type", "enum", required=True, enum="holder_type"),
        Field("members_women", "int", minimum=0),
        Field("members_men", "int", minimum=0),
        Field("requested_ha", "float"),
        Field("official_ha", "float"),
        Field("filed_at", "str", required=True),
        Field("filed_on", "date"),
        Field("place", "int"),
        Field("status", "str", required=True),
        Field("reasons", "str"),
        Field("notes", "str"),
        Field("competing", "str"),
        Field("objection_until", "date"),
        Field("decided_at", "str"),
        Field("parcel_id", "str"),
        Field("applicant", "str"),
    ),
    main_date="filed_on",
)

#: The non-spatial allocation tables: columns (``id`` first) and their SQL types.
RECORDS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "objections": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),
        ("application_id", "TEXT NOT NULL"),
        ("filed_at", "TEXT NOT NULL"),
        ("name", "TEXT"),
        ("reason", "TEXT NOT NULL"),
        ("actor", "TEXT"),
    ),
    "decisions": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),  # the application number: one decision each
        ("application_id", "TEXT NOT NULL UNIQUE"),
        ("outcome", "TEXT NOT NULL CHECK (outcome IN ('approve', 'reject'))"),
        ("reason", "TEXT NOT NULL"),
        ("decided_at", "TEXT NOT NULL"),
        ("actor", "TEXT"),
        ("parcel_id", "TEXT"),
        ("contract_no", "TEXT"),
        ("expires_on", "TEXT"),
    ),
    "draws": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),
        ("soum_code", "TEXT"),
        ("land_conclusion_id", "TEXT"),
        ("applications", "TEXT NOT NULL"),  # JSON list of numbers, sorted
        ("draw_date", "TEXT NOT NULL"),
        ("public_value", "TEXT NOT NULL"),
        ("announced_at", "TEXT NOT NULL"),
        ("announced_by", "TEXT"),
        ("run_at", "TEXT"),
        ("run_by", "TEXT"),
        ("input", "TEXT"),
        ("seed", "TEXT"),
        ("result", "TEXT"),  # JSON list: the order, winner first
    ),
    "gazar_users": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),  # the key id, part of the token
        ("name", "TEXT NOT NULL UNIQUE"),
        ("role", "TEXT NOT NULL"),
        ("soum_code", "TEXT"),
        ("aimag_code", "TEXT"),
        ("salt", "TEXT NOT NULL"),
        ("token_hash", "TEXT NOT NULL"),
        ("created_at", "TEXT NOT NULL"),
        ("revoked_at", "TEXT"),
    ),
}

#: Columns never copied into the log.
_SECRET_COLUMNS: Final = {"gazar_users": ("salt", "token_hash")}

#: Record tables that are never changed once written (triggers refuse it).
_APPEND_ONLY: Final = ("gazar_events", "decisions", "objections")

_LOG_DDL: Final = """
CREATE TABLE IF NOT EXISTS gazar_events (
  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT, request TEXT,
  action TEXT NOT NULL, object TEXT NOT NULL, before TEXT, after TEXT,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gazar_changes (
  id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, actor TEXT, request TEXT,
  action TEXT NOT NULL, object TEXT NOT NULL, before TEXT, after TEXT);
CREATE TABLE IF NOT EXISTS gazar_context (
  k INTEGER PRIMARY KEY CHECK (k = 1), actor TEXT, request TEXT)
"""

_NOW: Final = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"
_LEDGER_VERSION_KEY: Final = "ledger_ddl"


class Conflict(GazarError):
    """A change refused because of the state of the records (409): each reason is listed."""

    def __init__(self, message: str, reasons: Sequence[Any] = ()) -> None:
        self.reasons = list(reasons)
        text = message
        if self.reasons:
            text += ": " + "; ".join(str(r) for r in self.reasons)
        super().__init__(text)


class RecordNotFound(FeatureNotFound):
    """An application, draw or user that does not exist (404)."""


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role
    soum_code: str | None
    aimag_code: str | None
    created_at: str
    revoked_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "role_mn": ROLE_LABELS[self.role][0],
            "role_en": ROLE_LABELS[self.role][1],
            "soum_code": self.soum_code,
            "aimag_code": self.aimag_code,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class Event:
    seq: int
    time: str
    actor: str | None
    request: str | None
    action: str
    object: str
    before: str | None
    after: str | None
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        def parse(text: str | None) -> Any:
            return None if text is None else orjson.loads(text)

        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "request": self.request,
            "action": self.action,
            "object": self.object,
            "before": parse(self.before),
            "after": parse(self.after),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class ChainCheck:
    """The result of recomputing the log's hash chain."""

    ok: bool
    events: int
    #: the sequence number of the first event that does not match, None when all do
    first_broken: int | None
    reason: str | None
    head_seq: int | None
    head_hash: str | None
    #: changes caught but not yet sealed into the log
    pending: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_broken": self.first_broken,
            "reason": self.reason,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "pending": self.pending,
        }


def event_hash(
    seq: int,
    time: str,
    actor: str | None,
    request: str | None,
    action: str,
    obj: str,
    before: str | None,
    after: str | None,
    prev_hash: str,
) -> str:
    """The hash of one event (see the module docstring)."""
    text = json.dumps(
        [seq, time, actor, request, action, obj, before, after, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


def token_digest(salt: str, secret: str) -> str:
    """The stored form of a token's secret: SHA-256 of the salt and the secret.

    The secret is 32 random bytes, so a fast hash suffices: it cannot be guessed.
    """
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


class LedgerTx(ABC):
    """What may be done inside one ledger transaction (the write lock is held)."""

    @abstractmethod
    def now(self) -> dt.datetime:
        """The server time (UTC) of this transaction."""

    @abstractmethod
    def read(
        self,
        layer: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        where: Mapping[str, object] | None = None,
        ids: list[str] | None = None,
    ) -> gpd.GeoDataFrame:
        """A layer, or ``applications``, as the transaction sees it."""

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


class Ledger(Store):
    """A store that also keeps the allocation records and the hash-chained log."""

    clock: Callable[[], dt.datetime]

    def __enter__(self) -> Self:
        return self

    @abstractmethod
    def transaction(self, *, actor: str, request: str) -> AbstractContextManager[LedgerTx]:
        """One write transaction by ``actor``: every change in it is logged under that name."""

    @contextmanager
    def acting_as(self, actor: str, request: str) -> Iterator[None]:
        """Store writes (``write``, ``delete``) inside the block are logged as ``actor``'s."""
        token = _actor.set((actor, request))
        try:
            yield
        finally:
            _actor.reset(token)

    @abstractmethod
    def applications(
        self,
        *,
        where: Mapping[str, object] | None = None,
        ids: list[str] | None = None,
    ) -> gpd.GeoDataFrame:
        """Applications (EPSG:4326), oldest first."""

    @abstractmethod
    def records(
        self, table: str, *, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        """Rows of ``objections``, ``decisions`` or ``draws``, in the order written."""

    def add_user(
        self,
        name: str,
        *,
        role: Role,
        soum_code: str | None = None,
        aimag_code: str | None = None,
        actor: str,
    ) -> tuple[User, str]:
        """Create a user; returns it with its token (shown once, stored only hashed)."""
        name = name.strip()
        if not name:
            raise ValueError("a user needs a name")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if role == "soum" and not soum_code:
            raise ValueError("a soum official needs --soum CODE (e.g. MN4322)")
        if role == "aimag" and not aimag_code:
            raise ValueError("an aimag official needs --aimag CODE (e.g. MN43)")
        key = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        created = stamp(self.clock())
        row = {
            "id": key,
            "name": name,
            "role": role,
            "soum_code": soum_code,
            "aimag_code": aimag_code,
            "salt": salt,
            "token_hash": token_digest(salt, secret),
            "created_at": created,
            "revoked_at": None,
        }
        with self.transaction(actor=actor, request=f"users add {name} --role {role}") as tx:
            if tx.records("gazar_users", where={"name": name}):
                raise Conflict(f"a user called '{name}' exists already")
            tx.insert("gazar_users", [row])
        user = User(key, name, role, soum_code, aimag_code, created)
        return user, f"gazar_{key}_{secret}"

    def revoke_user(self, name: str, *, actor: str) -> User:
        """Revoke a user's token."""
        with self.transaction(actor=actor, request=f"users revoke {name}") as tx:
            rows = tx.records("gazar_users", where={"name": name})
            if not rows:
                raise RecordNotFound("gazar_users", name)
            if rows[0]["revoked_at"] is None:
                tx.update("gazar_users", rows[0]["id"], {"revoked_at": stamp(tx.now())})
            row = tx.records("gazar_users", where={"name": name})[0]
        return _user(row)

    def users(self) -> list[User]:
        """Every user, revoked ones included."""
        return [_user(r) for r in self.records("gazar_users")]

    def authenticate(self, token: str) -> User | None:
        """The user a token belongs to, None for an unknown or revoked token."""
        parts = token.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != "gazar":
            return None
        rows = self.records("gazar_users", where={"id": parts[1]})
        if not rows or rows[0]["revoked_at"] is not None:
            return None
        row = rows[0]
        if not secrets.compare_digest(token_digest(row["salt"], parts[2]), row["token_hash"]):
            return None
        return _user(row)

    @abstractmethod
    def events(self, *, after: int = 0, limit: int | None = None) -> list[Event]:
        """Sealed events with ``seq`` greater than ``after``."""

    @abstractmethod
    def seal(self) -> int:
        """Seal waiting changes into the log; returns how many."""

    @abstractmethod
    def verify_chain(self) -> ChainCheck:
        """Recompute the hash chain from the first event."""


_actor: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "gazar_actor", default=None
)


def _update_values(
    table: str, changes: Mapping[str, Any], to_db: Callable[[Any, str], Any]
) -> dict[str, Any]:
    """The column values of an update of ``table``: a layer's (or ``applications``') converted
    with ``to_db`` by field type, a record table's as given once its columns are checked.

    Raises
    ------
    StoreError
        For an unknown table or a column a record table does not have.
    """
    if table in REGISTRY or table == APPLICATIONS.name:
        kind = APPLICATIONS if table == APPLICATIONS.name else layer_kind(table)
        return {c: to_db(v, kind.field(c).type) for c, v in changes.items()}
    if table in RECORDS:
        known = {c for c, _ in RECORDS[table]}
        bad = [c for c in changes if c not in known]
        if bad:
            raise StoreError(f"table '{table}' has no column(s) {bad}")
        return dict(changes)
    raise StoreError(f"unknown table '{table}'")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    """A server timestamp as stored: ISO 8601 UTC with microseconds and ``Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class GeoPackageLedger(GeoPackageStore, Ledger):
    """The ledger in the GeoPackage file of the store (see the module docstring).

    ``clock`` gives the server time (tests pass a fixed one).
    """

    def __init__(
        self,
        path: Path,
        *,
        create: bool = True,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self._lock = threading.RLock()
        self._ready = False
        self.clock = clock
        super().__init__(Path(path), create=create)
        with self._lock:
            self._ensure_ledger()
            self._ready = True

    # -- schema ------------------------------------------------------------------------------

    def _tables(self) -> list[str]:
        return [*REGISTRY, APPLICATIONS.name, *RECORDS]

    def _columns(self, table: str) -> list[str]:
        if table in REGISTRY:
            return [*REGISTRY[table].columns, GEOM]
        if table == APPLICATIONS.name:
            return [*APPLICATIONS.columns, GEOM]
        secret = _SECRET_COLUMNS.get(table, ())
        return [c for c, _ in RECORDS[table] if c not in secret]

    def _ddl(self) -> list[str]:
        """Every statement that makes the ledger's tables and triggers (idempotent tables)."""
        stmts = [s for s in _LOG_DDL.split(";\n") if s.strip()]
        for table, cols in RECORDS.items():
            body = ", ".join(f'"{c}" {t}' for c, t in cols)
            stmts.append(f'CREATE TABLE IF NOT EXISTS "{table}" ({body})')
        for table in ("gazar_events", *_APPEND_ONLY[1:]):
            for op in ("UPDATE", "DELETE"):
                stmts.append(
                    f'CREATE TRIGGER "gazar_keep_{table}_{op.lower()}" BEFORE {op} ON "{table}" '
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: "
                    f"rows are never changed or deleted'); END"
                )
        stmts.append(
            'CREATE TRIGGER "gazar_keep_draws_update" BEFORE UPDATE ON draws '
            "WHEN OLD.seed IS NOT NULL BEGIN SELECT RAISE(ABORT, "
            "'a draw that has run is never changed'); END"
        )
        stmts.append(
            'CREATE TRIGGER "gazar_keep_draws_delete" BEFORE DELETE ON draws '
            "BEGIN SELECT RAISE(ABORT, 'draws are never deleted'); END"
        )
        for table in self._tables():
            stmts += self._log_triggers(table)
        return stmts

    def _row_json(self, table: str, ref: str) -> str:
        parts = []
        for c in self._columns(table):
            value = f"hex({ref}.{GEOM})" if c == GEOM else f'{ref}."{c}"'
            parts.append(f"'{c}', {value}")
        return f"json_object({', '.join(parts)})"

    def _log_triggers(self, table: str) -> list[str]:
        ctx = "(SELECT {c} FROM gazar_context WHERE k = 1)"
        out = []
        for op, before, after, ref in (
            ("insert", "NULL", self._row_json(table, "NEW"), "NEW"),
            ("update", self._row_json(table, "OLD"), self._row_json(table, "NEW"), "NEW"),
            ("delete", self._row_json(table, "OLD"), "NULL", "OLD"),
        ):
            out.append(
                f'CREATE TRIGGER "gazar_log_{table}_{op}" AFTER {op.upper()} ON "{table}" '
                "BEGIN INSERT INTO gazar_changes "
                "(time, actor, request, action, object, before, after) VALUES "
                f"({_NOW}, {ctx.format(c='actor')}, {ctx.format(c='request')}, '{op}', "
                f"'{table}/' || {ref}.id, {before}, {after}); END"
            )
        return out

    def _ensure_ledger(self) -> None:
        ddl = self._ddl()
        version = hashlib.sha256("\n".join(ddl).encode()).hexdigest()
        conn = self._conn
        row = conn.execute(
            "SELECT value FROM gazar_meta WHERE key = ?", (_LEDGER_VERSION_KEY,)
        ).fetchone()
        if row is not None and row[0] == version:
            return
        with GeoPackageStore._transaction(self) as c:
            row = c.execute(
                "SELECT value FROM gazar_meta WHERE key = ?", (_LEDGER_VERSION_KEY,)
            ).fetchone()
            if row is not None and row[0] == version:  # another process made it meanwhile
                return
            fresh = row is None
            tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if APPLICATIONS.name not in tables:
                self._create_layer(c, APPLICATIONS)
            for (name,) in c.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'gazar_%'"
            ).fetchall():
                c.execute(f'DROP TRIGGER "{name}"')
            for stmt in ddl:
                c.execute(stmt)
            c.execute(
                "INSERT OR REPLACE INTO gazar_meta VALUES (?, ?)", (_LEDGER_VERSION_KEY, version)
            )
            if fresh:
                self._baseline(c)
            self._seal(c)

    def _baseline(self, c: sqlite3.Connection) -> None:
        """Log each feature already in the store once, as the log's starting point."""
        for table in REGISTRY:
            c.execute(
                "INSERT INTO gazar_changes (time, actor, request, action, object, before, after) "
                f"SELECT {_NOW}, NULL, 'ledger started', 'baseline', '{table}/' || id, NULL, "
                f'{self._row_json(table, "t")} FROM "{table}" AS t ORDER BY fid'
            )

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, super()._transaction() as c:
            who = _actor.get()
            if self._ready and who is not None:
                c.execute("INSERT OR REPLACE INTO gazar_context VALUES (1, ?, ?)", who)
            yield c
            if self._ready:
                c.execute("DELETE FROM gazar_context")
                self._seal(c)

    @contextmanager
    def transaction(self, *, actor: str, request: str) -> Iterator[LedgerTx]:
        with self.acting_as(actor, request), self._transaction() as c:
            yield _GeoPackageTx(self, c, self.clock())

    def _seal(self, c: sqlite3.Connection) -> int:
        rows = c.execute(
            "SELECT id, time, actor, request, action, object, before, after "
            "FROM gazar_changes ORDER BY id"
        ).fetchall()
        if not rows:
            return 0
        head = c.execute("SELECT seq, hash FROM gazar_events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (0, GENESIS) if head is None else (int(head[0]), str(head[1]))
        events = []
        for _, time, actor, request, action, obj, before, after in rows:
            seq += 1
            h = event_hash(seq, time, actor, request, action, obj, before, after, prev)
            events.append((seq, time, actor, request, action, obj, before, after, prev, h))
            prev = h
        c.executemany("INSERT INTO gazar_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", events)
        c.execute("DELETE FROM gazar_changes WHERE id <= ?", (rows[-1][0],))
        return len(rows)

    def seal(self) -> int:
        with self._lock, GeoPackageStore._transaction(self) as c:
            return self._seal(c)

    # -- the store, under the lock -----------------------------------------------------------

    def read(
        self,
        layer: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        where: Mapping[str, object] | None = None,
        ids: list[str] | None = None,
    ) -> gpd.GeoDataFrame:
        with self._lock:
            if layer == APPLICATIONS.name:
                return self._read_kind(APPLICATIONS, bbox=bbox, where=where, ids=ids)
            return super().read(layer, bbox=bbox, where=where, ids=ids)

    def revision(self, layer: str) -> str:
        with self._lock:
            if layer == APPLICATIONS.name:
                row = self._conn.execute(
                    "SELECT value FROM gazar_meta WHERE key = 'revision:applications'"
                ).fetchone()
                return f"{row[0] if row else 0}"
            return super().revision(layer)

    def layers(self) -> list[Any]:
        with self._lock:
            return super().layers()

    def ids(self, layer: str) -> set[str]:
        with self._lock:
            return super().ids(layer)

    def write(
        self,
        batches: Mapping[str, gpd.GeoDataFrame],
        *,
        mode: WriteMode = "append",
        progress: Callable[[int], None] | None = None,
    ) -> None:
        with self._lock:
            super().write(batches, mode=mode, progress=progress)

    def delete(self, layer: str, ids: list[str]) -> int:
        with self._lock:
            return super().delete(layer, ids)

    # -- allocation records ------------------------------------------------------------------

    def applications(
        self,
        *,
        where: Mapping[str, object] | None = None,
        ids: list[str] | None = None,
    ) -> gpd.GeoDataFrame:
        with self._lock:
            return self._read_kind(APPLICATIONS, where=where, ids=ids)

    def records(
        self, table: str, *, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            return _records(self._conn, table, where)

    # -- the log -----------------------------------------------------------------------------

    def events(self, *, after: int = 0, limit: int | None = None) -> list[Event]:
        sql = "SELECT * FROM gazar_events WHERE seq > ? ORDER BY seq"
        params: list[Any] = [after]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            return [Event(*r) for r in self._conn.execute(sql, params).fetchall()]

    def verify_chain(self) -> ChainCheck:
        with self._lock:
            pending = self._conn.execute("SELECT count(*) FROM gazar_changes").fetchone()[0]
            cur = self._conn.execute("SELECT * FROM gazar_events ORDER BY seq")
            try:
                return check_chain(_batches(cur), pending=int(pending))
            finally:
                cur.close()


def _batches(cur: Any, size: int = 5000) -> Iterator[Sequence[Any]]:
    """The rows of a cursor, fetched ``size`` at a time."""
    while batch := cur.fetchmany(size):
        yield from batch


def check_chain(rows: Iterable[Sequence[Any]], *, pending: int) -> ChainCheck:
    """Recompute the hash chain over the log's rows (``gazar_events`` columns, in ``seq``
    order) and name the first event that does not follow; every backend's log is checked here.
    """
    prev, expect, count = GENESIS, 1, 0
    head: tuple[int | None, str | None] = (None, None)
    for row in rows:
        event = Event(*row)
        count += 1
        why = _broken(event, expect, prev)
        if why is not None:
            return ChainCheck(False, count, event.seq, why, *head, pending)
        prev, expect = event.hash, event.seq + 1
        head = (event.seq, event.hash)
    return ChainCheck(True, count, None, None, *head, pending)


def _broken(event: Event, expect: int, prev: str) -> str | None:
    """Why an event breaks the chain, None when it follows."""
    if event.seq != expect:
        return (
            f"event {event.seq}: expected sequence number {expect} "
            f"(event(s) {expect}–{event.seq - 1} are missing)"
        )
    if event.prev_hash != prev:
        return (
            f"event {event.seq}: its prev_hash {event.prev_hash[:16]}… is not the hash of the "
            f"event before it ({prev[:16]}…)"
        )
    again = event_hash(
        event.seq,
        event.time,
        event.actor,
        event.request,
        event.action,
        event.object,
        event.before,
        event.after,
        event.prev_hash,
    )
    if again != event.hash:
        return (
            f"event {event.seq} ({event.action} {event.object} at {event.time}): its content "
            f"does not match its hash (recomputed {again[:16]}…, stored {event.hash[:16]}…)"
        )
    return None


def _user(row: Mapping[str, Any]) -> User:
    return User(
        row["id"],
        row["name"],
        row["role"],
        row["soum_code"],
        row["aimag_code"],
        row["created_at"],
        row["revoked_at"],
    )


def _records(
    conn: sqlite3.Connection, table: str, where: Mapping[str, object] | None
) -> list[dict[str, Any]]:
    if table not in RECORDS:
        raise StoreError(f"'{table}' is not an allocation table ({', '.join(RECORDS)})")
    cols = [c for c, _ in RECORDS[table]]
    clauses, params = [], []
    for col, value in (where or {}).items():
        if col not in cols:
            raise StoreError(f"table '{table}' has no column '{col}'")
        clauses.append(f'"{col}" IS ?')
        params.append(value)
    sql = f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}"'
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY rowid"
    return [dict(zip(cols, r, strict=True)) for r in conn.execute(sql, params).fetchall()]


class _GeoPackageTx(LedgerTx):
    def __init__(self, ledger: GeoPackageLedger, conn: sqlite3.Connection, now: dt.datetime):
        self._ledger = ledger
        self._c = conn
        self._now = now

    def now(self) -> dt.datetime:
        return self._now

    def read(
        self,
        layer: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        where: Mapping[str, object] | None = None,
        ids: list[str] | None = None,
    ) -> gpd.GeoDataFrame:
        return self._ledger.read(layer, bbox=bbox, where=where, ids=ids)

    def records(
        self, table: str, *, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        return _records(self._c, table, where)

    def count(self, table: str, *, prefix: str | None = None) -> int:
        if table not in (*RECORDS, APPLICATIONS.name, *REGISTRY):
            raise StoreError(f"unknown table '{table}'")
        if prefix is None:
            return int(self._c.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        return int(
            self._c.execute(
                f'SELECT count(*) FROM "{table}" WHERE substr(id, 1, ?) = ?',
                (len(prefix), prefix),
            ).fetchone()[0]
        )

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if table not in RECORDS:
            raise StoreError(f"'{table}' is not an allocation table ({', '.join(RECORDS)})")
        cols = [c for c, _ in RECORDS[table]]
        names = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" for _ in cols)
        try:
            self._c.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                [tuple(r.get(c) for c in cols) for r in rows],
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"table '{table}': {exc}") from exc

    def update(self, table: str, row_id: str, changes: Mapping[str, Any]) -> None:
        values = _update_values(table, changes, _to_sql)
        sets = ", ".join(f'"{c}" = ?' for c in values)
        try:
            cur = self._c.execute(
                f'UPDATE "{table}" SET {sets} WHERE id = ?', [*values.values(), row_id]
            )
        except sqlite3.DatabaseError as exc:
            raise Conflict(f"table '{table}', id '{row_id}': {exc}") from exc
        if cur.rowcount == 0:
            raise RecordNotFound(table, row_id)
        if table in REGISTRY or table == APPLICATIONS.name:
            self._ledger._touch(self._c, table)

    def write(self, batches: Mapping[str, gpd.GeoDataFrame], *, mode: WriteMode = "append") -> None:
        for name, gdf in batches.items():
            kind = APPLICATIONS if name == APPLICATIONS.name else layer_kind(name)
            rows = self._ledger._rows(kind, gdf)
            try:
                self._ledger._write_rows(self._c, kind, rows, mode=mode)
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"layer '{kind.name}': {exc}") from exc


def open_ledger(
    location: str | Path | None = None,
    *,
    create: bool = True,
    clock: Callable[[], dt.datetime] = _utcnow,
) -> Ledger:
    """The ledger of the store at ``location`` (default: ``layers.store.default_location()``)."""
    from layers.store import default_location

    loc = str(location) if location is not None else default_location()
    if loc.startswith(("postgresql://", "postgres://")):
        from layers.ledger_pg import PostGISLedger

        return PostGISLedger(loc, create=create, clock=clock)
    return GeoPackageLedger(Path(loc), create=create, clock=clock)


def parse_json_list(text: str | None) -> list[Any]:
    """A JSON list column (``reasons``, ``competing``, ``applications``) as a list."""
    if text is None or text == "":
        return []
    value = orjson.loads(text)
    return list(value) if isinstance(value, list) else []
