"""The store's change feed: which features of a layer changed since a point, whoever wrote them.

Every layer table carries AFTER INSERT / UPDATE / DELETE triggers (plain SQL in the GeoPackage,
so QGIS and GDAL fire them as Gazar does; statement-level triggers with transition tables in
PostGIS, so ``psql`` and ``COPY`` do too) that add one row per changed feature to
``gazar_feature_changes``::

    seq    the feed's position: increasing, never reused (AUTOINCREMENT / identity)
    layer  the layer's table
    id     the feature's id
    op     'upsert' (inserted or updated), 'delete', or 'reset' (see below)

An UPDATE that changes a feature's ``id`` records the old id as deleted and the new one as
upserted. The feed is operational data: not a layer, not logged in the ledger's hash chain (the
ledger keeps its own ``gazar_changes``), and its triggers' names do not start with ``gazar_`` so
the ledger's trigger upkeep leaves them alone.

``gazar_feature_floor`` holds, per layer, the position below which the feed no longer answers:
:func:`changes` returns None for a ``since`` under it, and the caller re-reads the layer.
It rises when

- old rows are pruned (:data:`KEEP` rows per layer are kept; the store prunes after its own
  writes, inside their transaction, and only looks when the layer's rows span more than
  ``KEEP`` positions, so a single-feature write pays two index lookups);
- a layer is rewritten wholesale: a ``mode="replace"`` write (``gazar import --replace``,
  ``gazar copy``) or, in PostGIS, a ``TRUNCATE``: its rows are dropped and one ``reset`` row
  marks the new floor.

In PostGIS, the trigger takes a transaction-scoped advisory lock per layer before it numbers
the rows, so two transactions writing the same layer number their rows in commit order and a
reader never sees a position pass a change that commits later (Gazar's own writers queue on
the layer's revision row anyway; two ``psql`` sessions writing the same layers in opposite
orders may deadlock, which PostgreSQL detects and reports).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from layers.schema import REGISTRY, LayerKind

FEED_TABLE = "gazar_feature_changes"
FLOOR_TABLE = "gazar_feature_floor"
#: rows kept per layer when the store prunes the feed
KEEP = 20_000
#: the names of the feed's triggers start with this (never ``gazar_``: see the module docstring)
TRIGGER_PREFIX = "feed_"
_PG_FUNCTION = "gazar_feature_feed"


@dataclass(frozen=True)
class FeedChanges:
    """What changed in a layer after a feed position (the last op of each id wins)."""

    #: ids inserted or updated (as they are now: read them with ``Store.read(ids=...)``)
    upserted: tuple[str, ...]
    #: ids deleted (or renamed away)
    deleted: tuple[str, ...]
    #: the feed position these changes bring the caller to
    last_seq: int

    def __iter__(self) -> Any:  # unpacks as (upserted, deleted, last_seq)
        return iter((self.upserted, self.deleted, self.last_seq))

    @property
    def size(self) -> int:
        return len(self.upserted) + len(self.deleted)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _last_ops(rows: list[tuple[Any, ...]], since: int) -> FeedChanges:
    """``(id, op, seq)`` rows in any order -> the last op of each id."""
    last: dict[str, tuple[int, str]] = {}
    top = since
    for fid, op, at in rows:
        pos = int(at)
        top = max(top, pos)
        if op == "reset":
            continue
        have = last.get(fid)
        if have is None or have[0] < pos:
            last[fid] = (pos, op)
    up = tuple(sorted(i for i, (_, op) in last.items() if op == "upsert"))
    gone = tuple(sorted(i for i, (_, op) in last.items() if op == "delete"))
    return FeedChanges(up, gone, top)


# --- GeoPackage ---------------------------------------------------------------------------

SQLITE_TABLES = (
    f"CREATE TABLE IF NOT EXISTS {FEED_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "layer TEXT NOT NULL, id TEXT NOT NULL, op TEXT NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {FEED_TABLE}_layer_seq ON {FEED_TABLE} (layer, seq)",
    f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (layer TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
)


def sqlite_feed_triggers(kind: LayerKind) -> list[str]:
    """The CREATE TRIGGER statements feeding ``kind``'s changes (plain SQL: QGIS fires them)."""
    t, layer = kind.name, _lit(kind.name)
    insert = f"INSERT INTO {FEED_TABLE} (layer, id, op) VALUES"
    return [
        f'CREATE TRIGGER "{TRIGGER_PREFIX}{t}_insert" AFTER INSERT ON "{t}"\n'
        f"BEGIN {insert} ({layer}, NEW.id, 'upsert'); END",
        f'CREATE TRIGGER "{TRIGGER_PREFIX}{t}_update" AFTER UPDATE ON "{t}"\n'
        f"BEGIN INSERT INTO {FEED_TABLE} (layer, id, op) SELECT {layer}, OLD.id, 'delete' "
        f"WHERE OLD.id IS NOT NEW.id; {insert} ({layer}, NEW.id, 'upsert'); END",
        f'CREATE TRIGGER "{TRIGGER_PREFIX}{t}_delete" AFTER DELETE ON "{t}"\n'
        f"BEGIN {insert} ({layer}, OLD.id, 'delete'); END",
    ]


def sqlite_feed_current(have: dict[str, str]) -> bool:
    """Whether every layer's feed triggers are there as written here (``have``: name -> sql of
    the file's triggers)."""
    for kind in REGISTRY.values():
        for stmt in sqlite_feed_triggers(kind):
            if have.get(stmt.split('"')[1]) != stmt:
                return False
    return True


def sqlite_ensure(c: sqlite3.Connection) -> None:
    """Create the feed's tables and (re)create every layer's triggers, in ``c``'s transaction."""
    for stmt in SQLITE_TABLES:
        c.execute(stmt)
    for kind in REGISTRY.values():
        for stmt in sqlite_feed_triggers(kind):
            c.execute(f'DROP TRIGGER IF EXISTS "{stmt.split(chr(34))[1]}"')
            c.execute(stmt)


def sqlite_changes(c: sqlite3.Connection, layer: str, since: int) -> FeedChanges | None:
    """The changes of ``layer`` after ``since`` (call inside one read transaction)."""
    row = c.execute(f"SELECT seq FROM {FLOOR_TABLE} WHERE layer = ?", (layer,)).fetchone()
    if since < 0 or (row is not None and since < int(row[0])):
        return None
    rows = c.execute(
        f"SELECT id, op, max(seq) FROM {FEED_TABLE} WHERE layer = ? AND seq > ? GROUP BY id",
        (layer, since),
    ).fetchall()
    return _last_ops(rows, since)


def sqlite_seq(c: sqlite3.Connection, layer: str) -> int:
    """The layer's feed position now (its last row, or its floor)."""
    row = c.execute(
        f"SELECT max(coalesce((SELECT max(seq) FROM {FEED_TABLE} WHERE layer = ?), 0), "
        f"coalesce((SELECT seq FROM {FLOOR_TABLE} WHERE layer = ?), 0))",
        (layer, layer),
    ).fetchone()
    return int(row[0])


def sqlite_reset(c: sqlite3.Connection, layer: str) -> None:
    """Forget ``layer``'s rows and raise its floor past them (after a wholesale rewrite)."""
    c.execute(f"DELETE FROM {FEED_TABLE} WHERE layer = ?", (layer,))
    seq = c.execute(
        f"INSERT INTO {FEED_TABLE} (layer, id, op) VALUES (?, '', 'reset') RETURNING seq",
        (layer,),
    ).fetchone()[0]
    _sqlite_floor(c, layer, int(seq))


def _sqlite_floor(c: sqlite3.Connection, layer: str, seq: int) -> None:
    c.execute(
        f"INSERT INTO {FLOOR_TABLE} VALUES (?, ?) "
        "ON CONFLICT(layer) DO UPDATE SET seq = max(seq, excluded.seq)",
        (layer, seq),
    )


def sqlite_prune(c: sqlite3.Connection, layer: str, keep: int | None = None) -> int:
    """Drop ``layer``'s rows but the last ``keep`` (default :data:`KEEP`), raising its floor;
    returns how many."""
    keep = KEEP if keep is None else keep
    lo, hi = c.execute(
        f"SELECT (SELECT seq FROM {FEED_TABLE} WHERE layer = ?1 ORDER BY seq LIMIT 1), "
        f"(SELECT seq FROM {FEED_TABLE} WHERE layer = ?1 ORDER BY seq DESC LIMIT 1)",
        (layer,),
    ).fetchone()
    if lo is None or hi - lo < keep:  # fewer than ``keep`` rows, surely
        return 0
    cut = c.execute(
        f"SELECT seq FROM {FEED_TABLE} WHERE layer = ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
        (layer, keep),
    ).fetchone()
    if cut is None:
        return 0
    gone = c.execute(
        f"DELETE FROM {FEED_TABLE} WHERE layer = ? AND seq <= ?", (layer, cut[0])
    ).rowcount
    _sqlite_floor(c, layer, int(cut[0]))
    return gone


# --- PostGIS ------------------------------------------------------------------------------

PG_TABLES = (
    f"CREATE TABLE IF NOT EXISTS {FEED_TABLE} (seq bigint GENERATED ALWAYS AS IDENTITY "
    "PRIMARY KEY, layer text NOT NULL, id text NOT NULL, op text NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {FEED_TABLE}_layer_seq ON {FEED_TABLE} (layer, seq)",
    f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (layer text PRIMARY KEY, seq bigint NOT NULL)",
)

_PG_RESET = (
    f"DELETE FROM {FEED_TABLE} WHERE layer = {{layer}};\n"
    f"INSERT INTO {FEED_TABLE} (layer, id, op) VALUES ({{layer}}, '', 'reset') "
    "RETURNING seq INTO top;\n"
    f"INSERT INTO {FLOOR_TABLE} VALUES ({{layer}}, top) ON CONFLICT (layer) "
    f"DO UPDATE SET seq = greatest({FLOOR_TABLE}.seq, EXCLUDED.seq);\n"
)

#: the trigger function every layer's feed triggers call (statement level, transition tables)
PG_FUNCTION = (
    f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
    "DECLARE top bigint;\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(hashtext('gazar feed ' || TG_TABLE_NAME)::bigint);\n"
    "  IF TG_OP = 'INSERT' THEN\n"
    f"    INSERT INTO {FEED_TABLE} (layer, id, op) SELECT TG_TABLE_NAME, id, 'upsert' "
    "FROM feed_new;\n"
    "  ELSIF TG_OP = 'UPDATE' THEN\n"
    f"    INSERT INTO {FEED_TABLE} (layer, id, op) SELECT TG_TABLE_NAME, o.id, 'delete' "
    "FROM feed_old AS o WHERE NOT EXISTS (SELECT 1 FROM feed_new AS n WHERE n.id = o.id);\n"
    f"    INSERT INTO {FEED_TABLE} (layer, id, op) SELECT TG_TABLE_NAME, id, 'upsert' "
    "FROM feed_new;\n"
    "  ELSIF TG_OP = 'DELETE' THEN\n"
    f"    INSERT INTO {FEED_TABLE} (layer, id, op) SELECT TG_TABLE_NAME, id, 'delete' "
    "FROM feed_old;\n"
    "  ELSE\n" + _PG_RESET.format(layer="TG_TABLE_NAME") + "  END IF;\n"
    "  RETURN NULL;\n"
    "END\n$body$"
)


def pg_feed_triggers(kind: LayerKind) -> list[str]:
    """DROP and CREATE of ``kind``'s feed triggers (the function is :data:`PG_FUNCTION`)."""
    table = '"' + kind.name.replace('"', '""') + '"'
    out = []
    for op, refs in (
        ("INSERT", "REFERENCING NEW TABLE AS feed_new "),
        ("UPDATE", "REFERENCING OLD TABLE AS feed_old NEW TABLE AS feed_new "),
        ("DELETE", "REFERENCING OLD TABLE AS feed_old "),
        ("TRUNCATE", ""),
    ):
        name = f'"{TRIGGER_PREFIX}{op.lower()}"'
        out.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        out.append(
            f"CREATE TRIGGER {name} AFTER {op} ON {table} {refs}"
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()"
        )
    return out


def pg_ensure(conn: Any) -> None:
    """Create the feed's tables, function and every layer's triggers (caller's transaction)."""
    for stmt in (*PG_TABLES, PG_FUNCTION):
        conn.execute(stmt.encode())
    for kind in REGISTRY.values():
        for stmt in pg_feed_triggers(kind):
            conn.execute(stmt.encode())


def pg_feed_current(conn: Any) -> bool:
    """Whether the feed function is as written here and every layer has its four triggers."""
    row = conn.execute(
        "SELECT p.prosrc = %s FROM pg_proc AS p WHERE p.proname = %s "
        "AND p.pronamespace = to_regnamespace(quote_ident(current_schema()))",
        (PG_FUNCTION.split("$body$")[1], _PG_FUNCTION),
    ).fetchone()
    if not row or not row[0]:
        return False
    row = conn.execute(
        "SELECT count(*) FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal AND starts_with(t.tgname::text, %s) "
        "AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s::text[])",
        (TRIGGER_PREFIX, list(REGISTRY)),
    ).fetchone()
    return bool(row) and int(row[0]) == 4 * len(REGISTRY)


def pg_changes(conn: Any, layer: str, since: int) -> FeedChanges | None:
    """The changes of ``layer`` after ``since`` (``conn`` in one REPEATABLE READ snapshot)."""
    if layer not in REGISTRY:
        return None
    row = conn.execute(f"SELECT seq FROM {FLOOR_TABLE} WHERE layer = %s", (layer,)).fetchone()
    if since < 0 or (row is not None and since < int(row[0])):
        return None
    rows = conn.execute(
        f"SELECT DISTINCT ON (id) id, op, seq FROM {FEED_TABLE} "
        "WHERE layer = %s AND seq > %s ORDER BY id, seq DESC",
        (layer, since),
    ).fetchall()
    top = conn.execute(
        f"SELECT max(seq) FROM {FEED_TABLE} WHERE layer = %s AND seq > %s", (layer, since)
    ).fetchone()
    changes = _last_ops(rows, since)
    if top and top[0] is not None and int(top[0]) > changes.last_seq:  # a trailing reset row
        changes = FeedChanges(changes.upserted, changes.deleted, int(top[0]))
    return changes


#: the layer's feed position now (its last row, or its floor); parameters: layer, layer
PG_SEQ = (
    f"SELECT greatest(coalesce((SELECT max(seq) FROM {FEED_TABLE} WHERE layer = %s), 0), "
    f"coalesce((SELECT seq FROM {FLOOR_TABLE} WHERE layer = %s), 0))"
)


def pg_reset(conn: Any, layer: str) -> None:
    """Forget ``layer``'s rows and raise its floor (after a wholesale rewrite)."""
    conn.execute(
        "DO $do$ DECLARE top bigint; BEGIN\n" + _PG_RESET.format(layer=_lit(layer)) + "END $do$"
    )


def pg_after_write(conn: Any, layer: str, *, replace: bool) -> None:
    """The feed's upkeep in a write transaction: after a wholesale rewrite (``replace``) the
    layer's rows give way to a new floor; otherwise old rows are pruned."""
    if layer not in REGISTRY:
        return
    if replace:
        pg_reset(conn, layer)
    else:
        pg_prune(conn, layer)


def pg_prune(conn: Any, layer: str, keep: int | None = None) -> int:
    """Drop ``layer``'s rows but the last ``keep`` (default :data:`KEEP`), raising its floor;
    returns how many."""
    keep = KEEP if keep is None else keep
    lo, hi = conn.execute(
        f"SELECT (SELECT min(seq) FROM {FEED_TABLE} WHERE layer = %(l)s), "
        f"(SELECT max(seq) FROM {FEED_TABLE} WHERE layer = %(l)s)",
        {"l": layer},
    ).fetchone()
    if lo is None or hi - lo < keep:
        return 0
    cut = conn.execute(
        f"SELECT seq FROM {FEED_TABLE} WHERE layer = %s ORDER BY seq DESC LIMIT 1 OFFSET %s",
        (layer, keep),
    ).fetchone()
    if cut is None:
        return 0
    gone = conn.execute(
        f"DELETE FROM {FEED_TABLE} WHERE layer = %s AND seq <= %s", (layer, cut[0])
    ).rowcount
    conn.execute(
        f"INSERT INTO {FLOOR_TABLE} VALUES (%s, %s) ON CONFLICT (layer) "
        f"DO UPDATE SET seq = greatest({FLOOR_TABLE}.seq, EXCLUDED.seq)",
        (layer, cut[0]),
    )
    return int(gone)


__all__ = ["KEEP", "FeedChanges", "pg_changes", "sqlite_changes"]
