"""The ledger in the store's GeoPackage file: triggers catch every change (see
:mod:`layers.ledger`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Unpack

import geopandas as gpd

from layers.errors import StoreError
from layers.gpkg import GEOM, GeoPackageStore, to_sql_value
from layers.ledger.base import (
    ACTOR,
    APPEND_ONLY,
    APPLICATIONS,
    RECORDS,
    Conflict,
    RecordNotFound,
    check_countable,
    event_after,
    logged_columns,
    logged_tables,
    missing_columns,
    operational_columns,
    operational_ddl,
    record_columns,
    table_kind,
    update_values,
    utcnow,
)
from layers.ledger.chain import (
    LOG_HEAD,
    PENDING_CHANGES,
    ChainCheck,
    Event,
    check_chain,
)
from layers.ledger.commit import seal_changes
from layers.ledger.interface import Ledger, LedgerTx, OperationalTx
from layers.schema import REGISTRY, LayerKind
from layers.store import ReadQuery, WriteMode

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


class GeoPackageLedger(GeoPackageStore, Ledger):
    """The ledger in the GeoPackage file of the store (see the module docstring).

    ``clock`` gives the server time (tests pass a fixed one).
    """

    def __init__(
        self,
        path: Path,
        *,
        create: bool = True,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._ready = False
        self.clock = clock
        super().__init__(Path(path), create=create)
        with self._lock:
            self._ensure_ledger()
            self._ready = True

    # -- schema ------------------------------------------------------------------------------

    def _ddl(self) -> list[str]:
        """Every statement that makes the ledger's tables and triggers (idempotent tables)."""
        stmts = [s for s in _LOG_DDL.split(";\n") if s.strip()]
        for table, cols in RECORDS.items():
            body = ", ".join(f'"{c}" {t}' for c, t in cols)
            stmts.append(f'CREATE TABLE IF NOT EXISTS "{table}" ({body})')
        stmts += operational_ddl()  # no triggers: not logged, no revision
        for table in ("gazar_events", *APPEND_ONLY[1:]):
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
        for table in logged_tables():
            stmts += self._log_triggers(table)
        return stmts

    def _row_json(self, table: str, ref: str) -> str:
        parts = []
        for c in logged_columns(table, GEOM):
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
                "SELECT name FROM sqlite_master WHERE type='trigger' "
                "AND (name LIKE 'gazar\\_log\\_%' ESCAPE '\\' "
                "OR name LIKE 'gazar\\_keep\\_%' ESCAPE '\\')"
            ).fetchall():
                c.execute(f'DROP TRIGGER "{name}"')
            for table in RECORDS:  # columns added since the store's tables were made
                have = {r[1] for r in c.execute(f'PRAGMA table_info("{table}")')}
                for col, sql_type in missing_columns(table, have):
                    c.execute(f'ALTER TABLE "{table}" ADD COLUMN "{col}" {sql_type}')
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
            who = ACTOR.get()
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
        rows = c.execute(PENDING_CHANGES).fetchall()
        if not rows:
            return 0
        head = c.execute(LOG_HEAD).fetchone()
        events, salts = seal_changes(rows, head)
        c.executemany("INSERT INTO gazar_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", events)
        c.executemany("INSERT INTO gazar_commitments VALUES (?, ?, ?, ?, ?, ?)", salts)
        c.execute("DELETE FROM gazar_changes WHERE id <= ?", (rows[-1][0],))
        return len(rows)

    def seal(self) -> int:
        with self._lock, GeoPackageStore._transaction(self) as c:
            return self._seal(c)

    def log_event(
        self,
        *,
        actor: str | None,
        request: str,
        action: str,
        obj: str,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        with self._lock, GeoPackageStore._transaction(self) as c:
            c.execute(
                "INSERT INTO gazar_changes (time, actor, request, action, object, before, after) "
                f"VALUES ({_NOW}, ?, ?, ?, ?, NULL, ?)",
                (actor, request, action, obj, event_after(after)),
            )
            self._seal(c)

    # -- operational tables ------------------------------------------------------------------

    def operational_rows(
        self, table: str, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            return _GeoPackageOps(self._conn).rows(table, where)

    @contextmanager
    def operational(self) -> Iterator[OperationalTx]:
        with self._lock, GeoPackageStore._transaction(self) as c:
            yield _GeoPackageOps(c)

    # -- the store -----------------------------------------------------------

    def _kind(self, layer: str) -> LayerKind:
        return table_kind(layer)

    def revision(self, layer: str) -> str:
        with self._lock:
            if layer == APPLICATIONS.name:
                row = self._conn.execute(
                    "SELECT value FROM gazar_meta WHERE key = 'revision:applications'"
                ).fetchone()
                return f"{row[0] if row else 0}"
            return super().revision(layer)

    # -- allocation records ------------------------------------------------------------------

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

    def last_event(self) -> Event | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM gazar_events ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return None if row is None else Event(*row)

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


def _records(
    conn: sqlite3.Connection, table: str, where: Mapping[str, object] | None
) -> list[dict[str, Any]]:
    cols = record_columns(table)
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


class _GeoPackageOps(OperationalTx):
    """Rows of the operational tables (the write lock is held from BEGIN IMMEDIATE)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    @staticmethod
    def _where(table: str, where: Mapping[str, object] | None) -> tuple[str, list[Any]]:
        cols = operational_columns(table)
        clauses, params = [], []
        for col, value in (where or {}).items():
            if col not in cols:
                raise StoreError(f"table '{table}' has no column '{col}'")
            clauses.append(f'"{col}" IS ?')
            params.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def rows(
        self, table: str, where: Mapping[str, object] | None = None, *, lock: bool = False
    ) -> list[dict[str, Any]]:
        cols = operational_columns(table)
        clause, params = self._where(table, where)
        names = ", ".join(f'"{c}"' for c in cols)
        cur = self._c.execute(f'SELECT {names} FROM "{table}"{clause} ORDER BY rowid', params)
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def insert(self, table: str, row: Mapping[str, Any], *, if_absent: bool = False) -> None:
        cols = operational_columns(table)
        names = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" for _ in cols)
        tail = " ON CONFLICT DO NOTHING" if if_absent else ""
        self._c.execute(
            f'INSERT INTO "{table}" ({names}) VALUES ({marks}){tail}',
            [row.get(c) for c in cols],
        )

    def update(self, table: str, where: Mapping[str, object], changes: Mapping[str, Any]) -> int:
        cols = operational_columns(table)
        bad = [c for c in changes if c not in cols]
        if bad or not changes:
            raise StoreError(f"table '{table}' has no column(s) {bad}")
        clause, params = self._where(table, where)
        sets = ", ".join(f'"{c}" = ?' for c in changes)
        cur = self._c.execute(f'UPDATE "{table}" SET {sets}{clause}', [*changes.values(), *params])
        return int(cur.rowcount)


class _GeoPackageTx(LedgerTx):
    def __init__(self, ledger: GeoPackageLedger, conn: sqlite3.Connection, now: dt.datetime):
        self._ledger = ledger
        self._c = conn
        self._now = now

    def now(self) -> dt.datetime:
        return self._now

    def read(self, layer: str, **query: Unpack[ReadQuery]) -> gpd.GeoDataFrame:
        return self._ledger.read(layer, **query)

    def records(
        self, table: str, *, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        return _records(self._c, table, where)

    def count(self, table: str, *, prefix: str | None = None) -> int:
        check_countable(table)
        if prefix is None:
            return int(self._c.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        return int(
            self._c.execute(
                f'SELECT count(*) FROM "{table}" WHERE substr(id, 1, ?) = ?',
                (len(prefix), prefix),
            ).fetchone()[0]
        )

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        cols = record_columns(table)
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
        values = update_values(table, changes, to_sql_value)
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
            kind = table_kind(name)
            rows = self._ledger._rows(kind, gdf)
            try:
                self._ledger._write_rows(self._c, kind, rows, mode=mode)
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"layer '{kind.name}': {exc}") from exc
