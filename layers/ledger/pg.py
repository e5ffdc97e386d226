"""The allocation ledger on PostGIS: the records and the hash-chained log beside the layers.

What is kept, and the hash of each event, are described in :mod:`layers.ledger`; this module
keeps them in the store's PostgreSQL database:

- The tables: ``applications`` (a layer table: ``geometry(MultiPolygon, 4326)`` with a GiST
  index), ``objections``, ``decisions``, ``draws`` and ``gazar_users`` (the columns of
  :data:`layers.ledger.base.RECORDS`, plus an identity ``fid`` giving the order written),
  ``gazar_events`` (the log) and ``gazar_changes`` (changes caught, waiting to be sealed).
  They are created, like the GeoPackage's, when a ledger is first opened on the store (or by
  ``gazar migrate``), under the same advisory lock as the store's migrations; the statements
  are versioned by their hash in ``gazar_meta``, so a Gazar whose registry or triggers changed
  re-creates the triggers. The store's own schema version is not involved: the ledger is an
  addition to a store, on either backend.
- Changes are caught by ``AFTER INSERT``/``UPDATE``/``DELETE`` triggers ``FOR EACH
  STATEMENT`` with transition tables, on every layer table and allocation table: each changed
  row goes to ``gazar_changes`` as JSON (its columns in the schema's order, as on the
  GeoPackage; the geometry as the hex of its WKB; private columns whole, committed to when
  sealed: :mod:`layers.ledger.commit`), in
  the writer's own transaction, whoever writes (Gazar, ``gazar import`` through the plain store,
  QGIS, psql).
  One statement per changed statement, not one per row: a 100,000-feature ``COPY`` is logged
  in one ``INSERT ... SELECT``. The actor is ``SET LOCAL gazar.actor`` (``set_config``) of the
  ledger transaction; other writers leave it unset (``NULL``, "system").
- ``gazar_events``, ``decisions`` and ``objections`` refuse ``UPDATE``, ``DELETE`` and
  ``TRUNCATE`` by trigger; a draw that has run refuses changes, and draws are never deleted.
  (A superuser can switch triggers off; the hash chain is what then shows the tampering.)
- Every ledger transaction first takes ``pg_advisory_xact_lock`` with one key for all
  allocation writes: row locks cannot stop two transactions each inserting a new parcel over
  the same land, so the checks inside the transaction (approval re-checks every rule) see
  every allocation committed before it, and nothing else allocates until it commits. The
  waiting changes are sealed into ``gazar_events`` at its end, under the same lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final, Unpack

import geopandas as gpd
import psycopg
from psycopg import sql

from layers.errors import StoreError
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
from layers.ledger.pg_ops import PostGISOps
from layers.postgis import (
    GEOM,
    MIGRATE_LOCK,
    PostGISStore,
    bump_revisions,
    error_reason,
    layer_ddl,
    prepare_rows,
    read_features,
    to_pg_value,
    write_features,
)
from layers.schema import REGISTRY, LayerKind
from layers.store import ReadQuery, WriteMode

#: ``pg_advisory_xact_lock`` key held by every ledger transaction ("gazar" + 2)
LEDGER_LOCK: Final = 0x67617A6172_02
META_TABLE: Final = "gazar_meta"
_VERSION_KEY: Final = "ledger_ddl"
_BATCH: Final = 5000

#: the server time as the log stores it (the GeoPackage's ``strftime('%Y-%m-%dT%H:%M:%fZ')``)
_NOW: Final = "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
_WHO: Final = (
    "nullif(current_setting('gazar.actor', true), ''), "
    "nullif(current_setting('gazar.request', true), '')"
)

_REFUSE_FUNCTION: Final = """
CREATE OR REPLACE FUNCTION gazar_refuse() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'restrict_violation';
END $f$
"""


def _row_json(table: str, ref: str) -> sql.Composable:
    """A row of ``table`` (alias ``ref``) as the log's JSON text: its columns in order, the
    geometry as the hex of its WKB. Built from the columns, not ``to_jsonb(row)``, which would
    also render the geometry as GeoJSON (~30 µs a row)."""
    parts: list[sql.Composable] = []
    for c in logged_columns(table, GEOM):
        column = sql.SQL("{}.{}").format(sql.Identifier(ref), sql.Identifier(c))
        if c == GEOM:
            column = sql.SQL("encode(ST_AsBinary({}), 'hex')").format(column)
        parts += [sql.Literal(c), column]
    return sql.SQL("json_build_object({})::text").format(sql.SQL(", ").join(parts))


def _log_function(table: str) -> sql.Composable:
    """The trigger function copying a statement's changed rows of ``table`` to the changes."""
    head = sql.SQL(
        "INSERT INTO gazar_changes (time, actor, request, action, object, before, after) "
        "SELECT {now}, {who}, "
    ).format(now=sql.SQL(_NOW), who=sql.SQL(_WHO))
    prefix = sql.Literal(f"{table}/")
    new, old = _row_json(table, "n"), _row_json(table, "o")
    return sql.SQL(
        "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $f$\n"
        "BEGIN\n"
        "  IF TG_OP = 'INSERT' THEN\n"
        "    {head}'insert', {prefix} || n.id, NULL, {new} FROM gazar_new AS n;\n"
        "  ELSIF TG_OP = 'UPDATE' THEN\n"
        "    {head}'update', {prefix} || n.id, {old}, {new} "
        "FROM gazar_old AS o JOIN gazar_new AS n ON n.fid = o.fid ORDER BY n.fid;\n"
        "  ELSE\n"
        "    {head}'delete', {prefix} || o.id, {old}, NULL FROM gazar_old AS o;\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END $f$"
    ).format(name=sql.Identifier(f"gazar_log_{table}"), head=head, prefix=prefix, new=new, old=old)


def _ddl() -> list[sql.Composable]:
    """The ledger's tables, functions and triggers (tables and functions idempotent)."""
    ident = sql.Identifier
    stmts: list[sql.Composable] = [
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, value text NOT NULL)").format(
            ident(META_TABLE)
        ),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS gazar_events (seq bigint PRIMARY KEY, "
            "time text NOT NULL, actor text, request text, action text NOT NULL, "
            "object text NOT NULL, before text, after text, prev_hash text NOT NULL, "
            "hash text NOT NULL)"
        ),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS gazar_changes (id bigint GENERATED ALWAYS AS IDENTITY "
            "PRIMARY KEY, time text NOT NULL, actor text, request text, action text NOT NULL, "
            "object text NOT NULL, before text, after text)"
        ),
    ]
    for table, cols in RECORDS.items():
        body: list[sql.Composable] = [sql.SQL("fid bigint GENERATED ALWAYS AS IDENTITY UNIQUE")]
        body += [sql.SQL("{} {}").format(ident(c), sql.SQL(t)) for c, t in cols]
        stmts.append(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                ident(table), sql.SQL(", ").join(body)
            )
        )
    stmts += [sql.SQL(stmt) for stmt in operational_ddl()]  # no triggers: not logged
    stmts.append(sql.SQL(_REFUSE_FUNCTION))
    for table in APPEND_ONLY:
        message = sql.Literal(f"{table} is append-only: rows are never changed or deleted")
        stmts.append(
            sql.SQL(
                "CREATE TRIGGER gazar_keep BEFORE UPDATE OR DELETE ON {} "
                "FOR EACH ROW EXECUTE FUNCTION gazar_refuse({})"
            ).format(ident(table), message)
        )
        stmts.append(
            sql.SQL(
                "CREATE TRIGGER gazar_keep_truncate BEFORE TRUNCATE ON {} "
                "FOR EACH STATEMENT EXECUTE FUNCTION gazar_refuse({})"
            ).format(ident(table), message)
        )
    stmts += [
        sql.SQL(
            "CREATE TRIGGER gazar_keep_update BEFORE UPDATE ON draws FOR EACH ROW "
            "WHEN (OLD.seed IS NOT NULL) "
            "EXECUTE FUNCTION gazar_refuse('a draw that has run is never changed')"
        ),
        sql.SQL(
            "CREATE TRIGGER gazar_keep_delete BEFORE DELETE ON draws FOR EACH ROW "
            "EXECUTE FUNCTION gazar_refuse('draws are never deleted')"
        ),
        sql.SQL(
            "CREATE TRIGGER gazar_keep_truncate BEFORE TRUNCATE ON draws FOR EACH STATEMENT "
            "EXECUTE FUNCTION gazar_refuse('draws are never deleted')"
        ),
    ]
    for table in logged_tables():
        stmts += _log_triggers(table)
    return stmts


def _log_triggers(table: str) -> list[sql.Composable]:
    out: list[sql.Composable] = [_log_function(table)]
    for op, refs in (
        ("INSERT", "NEW TABLE AS gazar_new"),
        ("UPDATE", "OLD TABLE AS gazar_old NEW TABLE AS gazar_new"),
        ("DELETE", "OLD TABLE AS gazar_old"),
    ):
        out.append(
            sql.SQL(
                "CREATE TRIGGER {name} AFTER {op} ON {table} REFERENCING {refs} "
                "FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            ).format(
                name=sql.Identifier(f"gazar_log_{op.lower()}"),
                op=sql.SQL(op),
                table=sql.Identifier(table),
                refs=sql.SQL(refs),
                function=sql.Identifier(f"gazar_log_{table}"),
            )
        )
    return out


def _meta(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (META_TABLE,)).fetchone()
    if not row or not row[0]:
        return None
    got = conn.execute(
        sql.SQL("SELECT value FROM {} WHERE key = %s").format(sql.Identifier(META_TABLE)),
        (_VERSION_KEY,),
    ).fetchone()
    return None if got is None else str(got[0])


def _exists(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(quote_ident(%s)) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def _ensure(conn: psycopg.Connection[Any]) -> None:
    """Create or update the ledger's tables and triggers (see the module docstring)."""
    ddl = [stmt.as_string(conn) for stmt in _ddl()]
    version = hashlib.sha256("\n".join(ddl).encode()).hexdigest()
    if _meta(conn) == version:
        return
    # the store's migration lock: workers opening the ledger at once wait, then find it made
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
    try:
        with conn.transaction():
            previous = _meta(conn)
            if previous == version:
                return
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LEDGER_LOCK,))
            if not _exists(conn, APPLICATIONS.name):
                for stmt in layer_ddl(APPLICATIONS):
                    conn.execute(stmt)
            for name, table in conn.execute(
                "SELECT t.tgname, quote_ident(c.relname) FROM pg_trigger AS t "
                "JOIN pg_class AS c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal "
                "AND (t.tgname LIKE 'gazar\\_log%' OR t.tgname LIKE 'gazar\\_keep%') "
                "AND c.relnamespace = current_schema()::regnamespace"
            ).fetchall():
                conn.execute(
                    sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(name), sql.SQL(table))
                )
            _add_columns(conn)
            for text in ddl:
                conn.execute(text.encode())
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = "
                    "EXCLUDED.value"
                ).format(sql.Identifier(META_TABLE)),
                (_VERSION_KEY, version),
            )
            if previous is None:
                _baseline(conn)
            _seal(conn)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))


def _add_columns(conn: psycopg.Connection[Any]) -> None:
    """Add the record tables' columns that an older store's tables lack."""
    for table in RECORDS:
        have = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s",
                (table,),
            ).fetchall()
        }
        for col, sql_type in missing_columns(table, have):
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    sql.Identifier(table), sql.Identifier(col), sql.SQL(sql_type)
                )
            )


def _baseline(conn: psycopg.Connection[Any]) -> None:
    """Log each feature already in the store once, as the log's starting point."""
    for table in REGISTRY:
        conn.execute(
            sql.SQL(
                "INSERT INTO gazar_changes (time, actor, request, action, object, before, after) "
                "SELECT {now}, NULL, 'ledger started', 'baseline', {prefix} || t.id, NULL, {row} "
                "FROM {table} AS t ORDER BY t.fid"
            ).format(
                now=sql.SQL(_NOW),
                prefix=sql.Literal(f"{table}/"),
                row=_row_json(table, "t"),
                table=sql.Identifier(table),
            )
        )


def _seal(conn: psycopg.Connection[Any]) -> int:
    """Move the waiting changes into the log with their hashes (the ledger lock is held)."""
    rows = conn.execute(PENDING_CHANGES).fetchall()
    if not rows:
        return 0
    head = conn.execute(LOG_HEAD).fetchone()
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY gazar_events (seq, time, actor, request, action, object, before, after, "
            "prev_hash, hash) FROM STDIN"
        ) as copy,
    ):
        events, salts = seal_changes(rows, head)
        for event in events:
            copy.write_row(event)
    if salts:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO gazar_commitments VALUES (%s, %s, %s, %s, %s, %s)", salts)
    # by id, not "id <= last": a writer still running may hold a lower id, not yet sealed
    conn.execute("DELETE FROM gazar_changes WHERE id = ANY(%s)", ([r[0] for r in rows],))
    return len(rows)


def _records(
    conn: psycopg.Connection[Any], table: str, where: Mapping[str, object] | None
) -> list[dict[str, Any]]:
    cols = record_columns(table)
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for col, value in (where or {}).items():
        if col not in cols:
            raise StoreError(f"table '{table}' has no column '{col}'")
        if value is None:
            clauses.append(sql.SQL("{} IS NULL").format(sql.Identifier(col)))
        else:
            clauses.append(sql.SQL("{} = %s").format(sql.Identifier(col)))
            params.append(value)
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(table)
    )
    if clauses:
        query = sql.SQL("{} WHERE {}").format(query, sql.SQL(" AND ").join(clauses))
    query = sql.SQL("{} ORDER BY fid").format(query)
    return [dict(zip(cols, r, strict=True)) for r in conn.execute(query, params).fetchall()]


class PostGISLedger(PostGISStore, Ledger):
    """The ledger in the store's PostGIS database (see the module docstring).

    ``clock`` gives the server time of transactions (tests pass a fixed one).
    """

    def __init__(
        self,
        dsn: str,
        *,
        create: bool = True,
        clock: Callable[[], dt.datetime] = utcnow,
        pool_size: int = 4,
    ) -> None:
        self.clock = clock
        super().__init__(dsn, create=create, pool_size=pool_size)
        try:
            with self._pool.connection() as conn:
                _ensure(conn)
        except BaseException:
            self.close()
            raise

    # -- transactions ------------------------------------------------------------------------

    @staticmethod
    def _begin(conn: psycopg.Connection[Any]) -> None:
        """Name the actor for the triggers, then wait for the allocation lock."""
        actor, request = ACTOR.get() or ("", "")
        conn.execute(
            "SELECT set_config('gazar.actor', %s, true), set_config('gazar.request', %s, true)",
            (actor, request),
        )
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LEDGER_LOCK,))

    @contextmanager
    def _transaction(self, layers: Sequence[str]) -> Iterator[psycopg.Connection[Any]]:
        """A store write through the ledger: logged as the acting user's, then sealed."""
        with self._pool.connection() as conn, conn.transaction():
            self._begin(conn)
            bump_revisions(conn, list(layers))
            yield conn
            _seal(conn)

    @contextmanager
    def transaction(self, *, actor: str, request: str) -> Iterator[LedgerTx]:
        with (
            self.acting_as(actor, request),
            self._pool.connection() as conn,
            conn.transaction(),
        ):
            self._begin(conn)
            yield _PostGISTx(conn, self.clock())
            _seal(conn)

    def seal(self) -> int:
        with self._pool.connection() as conn, conn.transaction():
            self._begin(conn)
            return _seal(conn)

    def log_event(
        self,
        *,
        actor: str | None,
        request: str,
        action: str,
        obj: str,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        with self._pool.connection() as conn, conn.transaction():
            self._begin(conn)
            conn.execute(
                sql.SQL(
                    "INSERT INTO gazar_changes (time, actor, request, action, object, before, "
                    "after) VALUES ({now}, %s, %s, %s, %s, NULL, %s)"
                ).format(now=sql.SQL(_NOW)),
                (actor, request, action, obj, event_after(after)),
            )
            _seal(conn)

    # -- operational tables ------------------------------------------------------------------

    def operational_rows(
        self, table: str, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        with self._pool.connection() as conn:
            return PostGISOps(conn).rows(table, where)

    @contextmanager
    def operational(self) -> Iterator[OperationalTx]:
        with self._pool.connection() as conn, conn.transaction():
            yield PostGISOps(conn)

    # -- reading -----------------------------------------------------------------------------

    def _kind(self, layer: str) -> LayerKind:
        return table_kind(layer)

    def records(
        self, table: str, *, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        with self._pool.connection() as conn:
            return _records(conn, table, where)

    # -- the log -----------------------------------------------------------------------------

    def events(self, *, after: int = 0, limit: int | None = None) -> list[Event]:
        query = "SELECT * FROM gazar_events WHERE seq > %s ORDER BY seq"
        params: list[Any] = [after]
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        with self._pool.connection() as conn:
            return [Event(*r) for r in conn.execute(query, params).fetchall()]

    def last_event(self) -> Event | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT * FROM gazar_events ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else Event(*row)

    def verify_chain(self) -> ChainCheck:
        with self._pool.connection() as conn, conn.transaction():
            # one snapshot for the count and the events
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = conn.execute("SELECT count(*) FROM gazar_changes").fetchone()
            pending = int(row[0]) if row else 0
            with conn.cursor("gazar_verify") as cur:
                cur.itersize = _BATCH
                cur.execute("SELECT * FROM gazar_events ORDER BY seq")
                return check_chain(cur, pending=pending)


class _PostGISTx(LedgerTx):
    """One ledger transaction: every statement on its connection, each in a savepoint so that
    a refused one (raised as :class:`Conflict`) leaves the transaction usable."""

    def __init__(self, conn: psycopg.Connection[Any], now: dt.datetime) -> None:
        self._c = conn
        self._now = now
        self._counted: set[str] = set()

    def now(self) -> dt.datetime:
        return self._now

    def _touch(self, table: str) -> None:
        """Count a new revision of a layer (or ``applications``) once per transaction."""
        if table not in self._counted:
            bump_revisions(self._c, [table])
            self._counted.add(table)

    def read(self, layer: str, **query: Unpack[ReadQuery]) -> gpd.GeoDataFrame:
        return read_features(self._c, table_kind(layer), **query)

    def records(
        self, table: str, *, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        return _records(self._c, table, where)

    def count(self, table: str, *, prefix: str | None = None) -> int:
        check_countable(table)
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        params: list[Any] = []
        if prefix is not None:
            query = sql.SQL("{} WHERE starts_with(id, %s)").format(query)
            params.append(prefix)
        row = self._c.execute(query, params).fetchone()
        return int(row[0]) if row else 0

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        cols = record_columns(table)
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(sql.Placeholder() for _ in cols),
        )
        try:
            with self._c.transaction(), self._c.cursor() as cur:
                cur.executemany(query, [tuple(r.get(c) for c in cols) for r in rows])
        except psycopg.errors.IntegrityError as exc:
            raise Conflict(f"table '{table}': {error_reason(exc)}") from exc

    def update(self, table: str, row_id: str, changes: Mapping[str, Any]) -> None:
        values = update_values(table, changes, to_pg_value)
        query = sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
            sql.Identifier(table),
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values),
        )
        if table in REGISTRY or table == APPLICATIONS.name:
            self._touch(table)
        try:
            with self._c.transaction():
                cur = self._c.execute(query, [*values.values(), row_id])
        except psycopg.errors.IntegrityError as exc:
            raise Conflict(f"table '{table}', id '{row_id}': {error_reason(exc)}") from exc
        if cur.rowcount == 0:
            raise RecordNotFound(table, row_id)

    def write(self, batches: Mapping[str, gpd.GeoDataFrame], *, mode: WriteMode = "append") -> None:
        for name, gdf in batches.items():
            kind = table_kind(name)
            rows = prepare_rows(kind, gdf)
            self._touch(kind.name)
            try:
                with self._c.transaction():
                    write_features(self._c, kind, rows, mode=mode)
            except psycopg.errors.IntegrityError as exc:
                raise Conflict(f"layer '{kind.name}': {error_reason(exc)}") from exc
