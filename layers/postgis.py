"""The PostGIS backend of the store: the same layers in a PostgreSQL database.

For an aimag office or MRPAM, where many people edit at once and several server workers share
one database. ``open_store("postgresql://user@host/db")`` opens it; nothing else in Gazar knows
which backend runs.

- One table per layer kind (``fid`` identity key, ``geom geometry(MultiPolygon, 4326)``, or the
  layer's declared type, with a GiST index, a unique ``id``, one column per schema field; dates
  are ``DATE``), created in the
  first schema of the connection's ``search_path`` (``public`` unless the URL says otherwise,
  e.g. ``?options=-csearch_path%3Dgazar,public``).
- ``gazar_schema_version`` records the migrations applied; :func:`migrate` (``gazar migrate``)
  creates and upgrades the tables under an advisory lock, so several workers starting at once
  do not race, and a database written by a newer Gazar is refused.
- ``gazar_revisions`` holds a counter per layer, bumped inside each write transaction; the
  revision token adds the row's transaction id, so a restored dump never looks unchanged.
- Every write is one transaction (all of it lands, or none of it) that first locks the revision
  rows of its layers in name order, so writers of the same layer queue instead of deadlocking.
  Features are loaded with ``COPY``; reads fetch WKB in binary and decode it with Shapely in one
  vectorised call. Values always travel as query parameters; table and column names come from
  the schema registry and are quoted with :mod:`psycopg.sql`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Unpack

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from layers import feed, style_table
from layers.bulk import paused_gc
from layers.errors import RecordRefused, StoreError
from layers.geomtypes import to_stored
from layers.integrity import (
    TRIGGER_PREFIX,
    BrokenRow,
    broken_rows_query,
    pg_check_ddl,
    pg_trigger_ddl,
    refusal,
)
from layers.schema import REGISTRY, LayerKind, layer_kind
from layers.store import LayerInfo, ReadQuery, Store, WriteMode, check_batch, field_value

GEOM = "geom"
SRID = 4326
VERSION_TABLE = "gazar_schema_version"
REVISION_TABLE = "gazar_revisions"
_CHUNK = 5000
_DETAIL_CHARS = 200
_CONNECT_TIMEOUT_S = 10
#: ``pg_advisory_lock`` key held while the schema is created or migrated ("gazar" + 1); the
#: ledger's tables are created under it too
MIGRATE_LOCK = 0x67617A6172_01

_PG_TYPES = {
    "str": "text",
    "enum": "text",
    "int": "bigint",
    "float": "double precision",
    "date": "date",
}


# --- schema and migrations ------------------------------------------------------------------


def layer_ddl(kind: LayerKind) -> list[sql.Composed]:
    """CREATE TABLE and its indexes for one layer kind (names from the registry, quoted)."""
    table = sql.Identifier(kind.name)
    cols: list[sql.Composable] = [
        sql.SQL("fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
        sql.SQL("{} geometry({}, {})").format(
            sql.Identifier(GEOM), sql.SQL(kind.geometry), sql.Literal(SRID)
        ),
        sql.SQL("id text NOT NULL UNIQUE"),
    ]
    for f in kind.fields:
        null = sql.SQL(" NOT NULL") if f.required else sql.SQL("")
        cols.append(
            sql.SQL("{} {}{}").format(sql.Identifier(f.name), sql.SQL(_PG_TYPES[f.type]), null)
        )
    return [
        sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(cols)),
        sql.SQL("CREATE INDEX {} ON {} USING gist ({})").format(
            sql.Identifier(f"{kind.name}_{GEOM}_gist"), table, sql.Identifier(GEOM)
        ),
    ]


def _migration_1(conn: psycopg.Connection[Any]) -> None:
    """The first schema: the revision counters and one table per registered layer."""
    conn.execute(
        sql.SQL("CREATE TABLE {} (layer text PRIMARY KEY, revision bigint NOT NULL)").format(
            sql.Identifier(REVISION_TABLE)
        )
    )


#: ``MIGRATIONS[i]`` brings a database from schema version ``i`` to ``i + 1``. Layer tables that
#: the registry has and the database lacks are created after the migrations, whatever the version.
MIGRATIONS: tuple[Callable[[psycopg.Connection[Any]], None], ...] = (_migration_1,)
LATEST = len(MIGRATIONS)


def display_location(dsn: str) -> str:
    """The connection string without its password, for messages and logs."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgresql://(unreadable address)"
    user = f"{params['user']}@" if params.get("user") else ""
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{params.get('host') or ''}{port}/{params.get('dbname') or ''}"


def _connect(dsn: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        where = display_location(dsn)
        raise StoreError(f"{where}: cannot connect to PostgreSQL ({reason})") from exc


def _version(conn: psycopg.Connection[Any]) -> int | None:
    """The applied schema version; None when the database holds no Gazar store."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()
    if not row or not row[0]:
        return None
    got = conn.execute(
        sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(sql.Identifier(VERSION_TABLE))
    ).fetchone()
    return int(got[0]) if got else 0


def _missing_layers(conn: psycopg.Connection[Any]) -> list[LayerKind]:
    rows = conn.execute(
        "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(quote_ident(name)) IS NULL",
        (list(REGISTRY),),
    ).fetchall()
    missing = {r[0] for r in rows}
    return [k for k in REGISTRY.values() if k.name in missing]


def _ensure_postgis(conn: psycopg.Connection[Any], where: str) -> None:
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone():
        return
    if not conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone():
        raise StoreError(
            f"{where}: the PostGIS extension is not installed on this PostgreSQL server "
            "(Debian: apt-get install postgresql-NN-postgis-3)"
        )
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.errors.InsufficientPrivilege as exc:
        raise StoreError(
            f"{where}: PostGIS is not enabled in this database and this user may not enable it; "
            "ask the database administrator to run CREATE EXTENSION postgis"
        ) from exc


def migrate(dsn: str, *, create: bool = True) -> tuple[int, int]:
    """Create or upgrade Gazar's tables in the database at ``dsn``.

    Returns ``(before, after)`` schema versions (``before`` is 0 for a database with no store).
    Runs in one transaction under an advisory lock, so concurrent callers wait and then find the
    work done; a failure leaves the database as it was.

    Raises
    ------
    StoreError
        when the server cannot be reached, PostGIS cannot be enabled, the database holds a
        store written by a newer Gazar, or (without ``create``) it holds no store at all.
    """
    where = display_location(dsn)
    with _connect(dsn) as conn:
        before = _check_version(conn, where, create=create)
        if before == LATEST and not _missing_layers(conn) and _rules_current(conn):
            return before, before
        # a session lock taken before the transaction: the transaction then starts after the
        # previous holder's commit, and so sees the tables it created
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        try:
            with conn.transaction():
                before = _check_version(conn, where, create=create)
                _apply(conn, where, before)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
        return before, LATEST


def _apply(conn: psycopg.Connection[Any], where: str, before: int) -> None:
    _ensure_postgis(conn, where)
    if before == 0:
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(VERSION_TABLE))
        )
    for version in range(before, LATEST):
        MIGRATIONS[version](conn)
        conn.execute(
            sql.SQL("INSERT INTO {} (version) VALUES (%s)").format(sql.Identifier(VERSION_TABLE)),
            (version + 1,),
        )
    for kind in _missing_layers(conn):
        for stmt in layer_ddl(kind):
            conn.execute(stmt)
    feed.pg_ensure(conn)
    style_table.pg_write(conn)
    for kind in REGISTRY.values():
        for text in pg_trigger_ddl(kind):
            conn.execute(sql.SQL(text))  # type: ignore[arg-type]  # built from the registry
        table = sql.Identifier(kind.name)
        for name, check in pg_check_ddl(kind):
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
                    table, sql.Identifier(name)
                )
            )
            # NOT VALID: rows already there stay (gazar migrate lists them); new ones are checked
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({}) NOT VALID").format(
                    table,
                    sql.Identifier(name),
                    sql.SQL(check),  # type: ignore[arg-type]  # built from the registry
                )
            )


def _rules_current(conn: psycopg.Connection[Any]) -> bool:
    """Whether every layer's check and change feed triggers and the styles are there, as this
    Gazar writes them (a database made before the feed or the styles gets them on open)."""
    if not feed.pg_feed_current(conn) or not style_table.pg_current(conn):
        return False
    for kind in REGISTRY.values():
        function = pg_trigger_ddl(kind)[0]
        name, body = function.split('"')[1], function.split("$body$")[1]
        row = conn.execute(
            "SELECT p.prosrc = %s AND EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid "
            "AND NOT t.tgisinternal) FROM pg_proc p WHERE p.proname = %s "
            "AND p.pronamespace = to_regnamespace(quote_ident(current_schema()))",
            (body, name),
        ).fetchone()
        if not row or not row[0]:
            return False
        have = conn.execute(
            'SELECT coalesce(array_agg(conname::text ORDER BY conname::text COLLATE "C"), '
            "'{}') FROM pg_constraint "
            "WHERE conrelid = to_regclass(quote_ident(%s)) AND contype = 'c' "
            "AND starts_with(conname::text, %s)",
            (kind.name, TRIGGER_PREFIX),
        ).fetchone()
        if not have or have[0] != sorted(n for n, _ in pg_check_ddl(kind)):
            return False
    return True


def _check_version(conn: psycopg.Connection[Any], where: str, *, create: bool) -> int:
    version = _version(conn)
    if version is None:
        if not create:
            raise StoreError(f"{where}: no Gazar store in this database (run 'gazar migrate')")
        return 0
    if version > LATEST:
        raise StoreError(
            f"{where}: written by a newer Gazar (schema {version}, this one knows {LATEST}); "
            "upgrade Gazar to open it"
        )
    return version


# --- value conversion -----------------------------------------------------------------------


#: A value as a query parameter for a column of schema type ``ftype`` (None for a missing
#: value: None, NaT or NaN; a ``datetime.date`` for a date): the store's own conversion.
to_pg_value = field_value


def _column(values: Sequence[Any], ftype: str) -> pd.Series:
    if ftype == "int":
        return pd.Series(pd.array(list(values), dtype="Int64"))
    if ftype == "float":
        return pd.Series(np.array([np.nan if v is None else v for v in values], dtype="float64"))
    return pd.Series(list(values), dtype=object)


# --- the store -------------------------------------------------------------------------------


class PostGISStore(Store):
    """Layers in a PostGIS database (see the module docstring).

    ``pool_size`` bounds the connections this process holds (one per concurrent request).
    """

    def __init__(self, dsn: str, *, create: bool = True, pool_size: int = 4) -> None:
        self.location = dsn
        self._where = display_location(dsn)
        migrate(dsn, create=create)
        self._pool: ConnectionPool[Any] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True, "connect_timeout": _CONNECT_TIMEOUT_S},
            check=ConnectionPool.check_connection,
            name=f"gazar {self._where}",
            open=False,
        )
        self._pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)

    def close(self) -> None:
        self._pool.close()

    def _fetch(
        self, query: sql.Composed, params: Sequence[Any] = (), *, binary: bool = False
    ) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn, conn.cursor(binary=binary) as cur:
            cur.execute(query, params)
            return cur.fetchall()

    # -- reading -----------------------------------------------------------------------------

    def schema_version(self) -> int:
        rows = self._fetch(
            sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(
                sql.Identifier(VERSION_TABLE)
            )
        )
        return int(rows[0][0])

    def layers(self) -> list[LayerInfo]:
        parts = [
            sql.SQL(
                "SELECT {name}::text, count(*), ST_XMin(ST_Extent({geom})), "
                "ST_YMin(ST_Extent({geom})), ST_XMax(ST_Extent({geom})), "
                "ST_YMax(ST_Extent({geom})) FROM {t}"
            ).format(name=sql.Literal(k), geom=sql.Identifier(GEOM), t=sql.Identifier(k))
            for k in REGISTRY
        ]
        rows = {r[0]: r for r in self._fetch(sql.SQL(" UNION ALL ").join(parts))}
        out = []
        for name in REGISTRY:
            _, count, x0, y0, x1, y1 = rows[name]
            bbox = None if x0 is None else (float(x0), float(y0), float(x1), float(y1))
            out.append(LayerInfo(name, int(count), bbox))
        return out

    def ids(self, layer: str) -> set[str]:
        kind = layer_kind(layer)
        query = sql.SQL("SELECT id FROM {}").format(sql.Identifier(kind.name))
        return {r[0] for r in self._fetch(query)}

    def read(self, layer: str, **query: Unpack[ReadQuery]) -> gpd.GeoDataFrame:
        with self._pool.connection() as conn:
            return read_features(conn, self._kind(layer), **query)

    def _kind(self, layer: str) -> LayerKind:
        """The layout of a table ``read`` and ``revision`` know: a registered layer (a ledger
        adds its ``applications``)."""
        return layer_kind(layer)

    def revision(self, layer: str) -> str:
        kind = self._kind(layer)
        rows = self._fetch(
            sql.SQL(
                "SELECT (SELECT revision || '/' || xmin::text FROM {} WHERE layer = %s), "
                "(SELECT max(seq) FROM {} WHERE layer = %s)"
            ).format(sql.Identifier(REVISION_TABLE), sql.Identifier(feed.FEED_TABLE)),
            (kind.name, kind.name),
        )
        rev, seq = rows[0]
        return "0" if rev is None and seq is None else f"{rev or 0}/{seq or 0}"

    def changes(self, layer: str, since: int) -> feed.FeedChanges | None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return feed.pg_changes(conn, layer, since)

    def change_seq(self, layer: str) -> int:
        return int(self._fetch(sql.SQL(feed.PG_SEQ), (layer, layer))[0][0])  # type: ignore[arg-type]

    def fids(self, layer: str, ids: list[str] | None = None) -> dict[str, int]:
        query = sql.SQL("SELECT id, fid FROM {}").format(sql.Identifier(self._kind(layer).name))
        if ids is None:
            return dict(self._fetch(query))  # type: ignore[arg-type]
        query = sql.SQL("{} WHERE id = ANY(%s::text[])").format(query)
        return dict(self._fetch(query, ([str(i) for i in ids],)))  # type: ignore[arg-type]

    # -- writing -----------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, layers: Sequence[str]) -> Iterator[psycopg.Connection[Any]]:
        """One write transaction that first counts a new revision of ``layers``."""
        with self._pool.connection() as conn, conn.transaction():
            bump_revisions(conn, list(layers))
            yield conn

    def write(
        self,
        batches: Mapping[str, gpd.GeoDataFrame],
        *,
        mode: WriteMode = "append",
        progress: Callable[[int], None] | None = None,
    ) -> None:
        kinds = [layer_kind(name) for name in batches]
        prepared = [(kind, prepare_rows(kind, batches[kind.name])) for kind in kinds]
        if not prepared:
            return
        with self._transaction([kind.name for kind, _ in prepared]) as conn:
            for kind, rows in prepared:
                try:
                    write_features(conn, kind, rows, mode=mode, progress=progress)
                except psycopg.Error as exc:
                    refused = refusal(exc)
                    if refused is not None:
                        raise RecordRefused(f"{refused} (nothing was written)") from exc
                    if not isinstance(exc, psycopg.errors.IntegrityError):
                        raise
                    raise StoreError(
                        f"layer '{kind.name}': {error_reason(exc)} (nothing was written)"
                    ) from exc

    def broken_rows(self) -> list[BrokenRow]:
        out: list[BrokenRow] = []
        with self._pool.connection() as conn:
            for kind in REGISTRY.values():
                for rule, query in broken_rows_query("pg", kind):
                    rows = conn.execute(sql.SQL(query)).fetchall()  # type: ignore[arg-type]
                    out += [BrokenRow(kind.name, r[0], rule.field, rule.rule, r[1]) for r in rows]
        return out

    def delete(self, layer: str, ids: list[str]) -> int:
        kind = layer_kind(layer)
        with self._transaction([kind.name]) as conn:
            cur = conn.execute(
                sql.SQL("DELETE FROM {} WHERE id = ANY(%s::text[])").format(
                    sql.Identifier(kind.name)
                ),
                ([str(i) for i in ids],),
            )
            feed.pg_after_write(conn, kind.name, replace=False)
            return cur.rowcount


def select_features(
    kind: LayerKind, **filters: Unpack[ReadQuery]
) -> tuple[sql.Composed, list[Any]]:
    """The query reading a layer kind's features (WKB first, then its columns, or the
    ``columns`` asked for) and its values: ``Store.read``'s filters (``bbox``, ``where``,
    ``ids``) as SQL."""
    bbox, where, ids = filters.get("bbox"), filters.get("where"), filters.get("ids")
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    if bbox is not None:
        clauses.append(
            sql.SQL("{} && ST_MakeEnvelope(%s, %s, %s, %s, {})").format(
                sql.Identifier(GEOM), sql.Literal(SRID)
            )
        )
        params += [float(v) for v in bbox]
    for col, value in (where or {}).items():
        ftype = "str" if col == "id" else kind.field(col).type  # KeyError: unknown column
        if value is None:
            clauses.append(sql.SQL("{} IS NULL").format(sql.Identifier(col)))
        else:
            clauses.append(sql.SQL("{} = %s").format(sql.Identifier(col)))
            params.append(to_pg_value(value, ftype))
    if ids is not None:
        clauses.append(sql.SQL("id = ANY(%s::text[])"))
        params.append([str(i) for i in ids])
    shown = kind.only(filters.get("columns"))  # KeyError: unknown column
    query = sql.SQL("SELECT ST_AsBinary({geom}), {cols} FROM {t}").format(
        geom=sql.Identifier(GEOM),
        cols=sql.SQL(", ").join(map(sql.Identifier, shown.columns)),
        t=sql.Identifier(kind.name),
    )
    if clauses:
        query = sql.SQL("{} WHERE {}").format(query, sql.SQL(" AND ").join(clauses))
    return sql.SQL("{} ORDER BY fid").format(query), params


def read_features(
    conn: psycopg.Connection[Any], kind: LayerKind, **query: Unpack[ReadQuery]
) -> gpd.GeoDataFrame:
    """``Store.read`` of any table laid out as a layer kind, on ``conn`` (so inside the
    caller's transaction when it has one): :func:`select_features` decoded by
    :func:`frame_from_rows`."""
    statement, params = select_features(kind, **query)
    with conn.cursor(binary=True) as cur, paused_gc():
        cur.execute(statement, params)
        return frame_from_rows(kind.only(query.get("columns")), cur.fetchall())


def write_features(
    conn: psycopg.Connection[Any],
    kind: LayerKind,
    rows: list[tuple[Any, ...]],
    *,
    mode: WriteMode,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write one layer kind's rows (:func:`prepare_rows`) on ``conn`` in the caller's
    transaction, as ``Store.write``'s ``mode`` says: ``replace`` empties the table first,
    ``upsert`` deletes the rows with the same ids first, ``append`` only adds; then the change
    feed's upkeep (``layers.feed.pg_after_write``)."""
    table = sql.Identifier(kind.name)
    if mode == "replace":
        conn.execute(sql.SQL("DELETE FROM {}").format(table))
    elif mode == "upsert":
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE id = ANY(%s::text[])").format(table),
            ([r[1] for r in rows],),
        )
    copy_rows(conn, kind, rows, progress)
    feed.pg_after_write(conn, kind.name, replace=mode == "replace")


def error_reason(exc: psycopg.Error) -> str:
    """The server's message and its detail (``Key (id)=(P-1) already exists.``), kept short:
    a refused row's detail quotes the whole row, geometry included."""
    primary = exc.diag.message_primary or str(exc).strip()
    detail = exc.diag.message_detail or ""
    if len(detail) > _DETAIL_CHARS:
        detail = detail[:_DETAIL_CHARS] + "..."
    return f"{primary}; {detail}" if detail else primary


def frame_from_rows(kind: LayerKind, rows: list[tuple[Any, ...]]) -> gpd.GeoDataFrame:
    """Rows read by :func:`select_features` (WKB, id, fields...) as a layer's GeoDataFrame."""
    n = len(kind.columns) + 1
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [() for _ in range(n)]
    geoms = np.asarray(shapely.from_wkb(np.array(cols[0], dtype=object)), dtype=object)
    single = shapely.get_num_geometries(geoms) == 1
    if single.any():
        geoms[single] = shapely.get_geometry(geoms[single], 0)
    data: dict[str, Any] = {"id": pd.Series(list(cols[1]), dtype=object)}
    for f, values in zip(kind.fields, cols[2:], strict=True):
        data[f.name] = _column(values, f.type)
    return gpd.GeoDataFrame(pd.DataFrame(data), geometry=gpd.GeoSeries(geoms), crs="EPSG:4326")


def prepare_rows(kind: LayerKind, gdf: gpd.GeoDataFrame) -> list[tuple[Any, ...]]:
    """The batch as COPY rows: (hex EWKB, id, fields...); checked before any connection is used."""
    check_batch(kind, gdf)
    geoms = to_stored(kind.geometry, np.asarray(gdf.geometry.array, dtype=object))
    ewkb = shapely.to_wkb(shapely.set_srid(geoms, SRID), hex=True, include_srid=True)
    columns: list[Iterable[Any]] = [ewkb, [str(v) for v in gdf["id"]]]
    for f in kind.fields:
        columns.append([to_pg_value(v, f.type) for v in gdf[f.name].tolist()])
    return list(zip(*columns, strict=True))


def bump_revisions(conn: psycopg.Connection[Any], layers: list[str]) -> None:
    """Count one more revision of each layer, locking their rows in name order."""
    conn.execute(
        sql.SQL(
            "INSERT INTO {t} (layer, revision) "
            "SELECT name, 1 FROM unnest(%s::text[]) AS name ORDER BY name "
            "ON CONFLICT (layer) DO UPDATE SET revision = {t}.revision + 1"
        ).format(t=sql.Identifier(REVISION_TABLE)),
        (sorted(set(layers)),),
    )


def copy_rows(
    conn: psycopg.Connection[Any],
    kind: LayerKind,
    rows: list[tuple[Any, ...]],
    progress: Callable[[int], None] | None,
) -> None:
    """``COPY`` prepared rows (:func:`prepare_rows`) into a layer kind's table, in chunks,
    calling ``progress`` with each chunk's size."""
    query = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(kind.name),
        sql.SQL(", ").join(map(sql.Identifier, [GEOM, *kind.columns])),
    )
    with conn.cursor() as cur, cur.copy(query) as copy:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            for row in chunk:
                copy.write_row(row)
            if progress is not None:
                progress(len(chunk))
