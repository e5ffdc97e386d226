"""The GeoPackage backend of the store, written with SQLite transactions.

The file is a standard OGC GeoPackage 1.2 (one feature table per layer, each with the
``gpkg_rtree_index`` spatial index and its triggers), so QGIS and ``ogrinfo`` open it as it is.
Writes go through :mod:`sqlite3` rather than GDAL so that a batch over several layers is one
transaction (``BEGIN IMMEDIATE``): it lands whole or not at all, and several processes writing at
once wait for each other (WAL journal, busy timeout) instead of corrupting the file.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Unpack

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from layers import feed, style_table
from layers.bulk import paused_gc
from layers.errors import RecordRefused, StoreError
from layers.geomtypes import SQL_NAME, to_stored
from layers.gpkg_meta import layer_infos
from layers.gpkg_values import column_from_sql
from layers.integrity import BrokenRow, broken_rows_query, refusal, sqlite_trigger_ddl
from layers.schema import REGISTRY, LayerKind, layer_kind
from layers.store import (
    SCHEMA_VERSION,
    LayerInfo,
    ReadQuery,
    Store,
    WriteMode,
    check_batch,
    field_value,
)

GEOM = "geom"
SRS_ID = 4326
_APPLICATION_ID = 0x47504B47  # "GPKG"
_USER_VERSION = 10200
_BUSY_TIMEOUT_S = 120.0
_CHUNK = 5000

_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

_SQL_TYPES = {"str": "TEXT", "enum": "TEXT", "int": "INTEGER", "float": "REAL", "date": "DATE"}

# GeoPackage binary header: magic, version, flags (little endian, xy envelope), srs id, envelope
_HEADER = struct.Struct("<2sBBi4d")
_FLAGS_XY_ENVELOPE_LE = 0b0000_0011
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}

_BASE_DDL = f"""
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate system'),
  ('WGS 84 geodetic', 4326, 'EPSG', 4326, '{_WGS84_WKT}', 'longitude/latitude on WGS 84');
CREATE TABLE IF NOT EXISTS gazar_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_RTREE_TRIGGERS = """
CREATE TRIGGER "rtree_{t}_geom_insert" AFTER INSERT ON "{t}"
WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO "rtree_{t}_geom" VALUES (
    NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER "rtree_{t}_geom_update1" AFTER UPDATE OF geom ON "{t}"
WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO "rtree_{t}_geom" VALUES (
    NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER "rtree_{t}_geom_update2" AFTER UPDATE OF geom ON "{t}"
WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM "rtree_{t}_geom" WHERE id = OLD.fid;
END;
CREATE TRIGGER "rtree_{t}_geom_update3" AFTER UPDATE ON "{t}"
WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM "rtree_{t}_geom" WHERE id = OLD.fid;
  INSERT OR REPLACE INTO "rtree_{t}_geom" VALUES (
    NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER "rtree_{t}_geom_update4" AFTER UPDATE ON "{t}"
WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM "rtree_{t}_geom" WHERE id IN (OLD.fid, NEW.fid);
END;
CREATE TRIGGER "rtree_{t}_geom_delete" AFTER DELETE ON "{t}"
WHEN old.geom NOT NULL
BEGIN
  DELETE FROM "rtree_{t}_geom" WHERE id = OLD.fid;
END;
"""


# --- GeoPackage geometry blobs -------------------------------------------------------------


def _envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a GeoPackage blob; None when empty."""
    flags = blob[3]
    if flags & 0b1_0000:
        return None
    indicator = (flags >> 1) & 0b111
    if indicator:
        order = "<" if flags & 1 else ">"
        minx, maxx, miny, maxy = struct.unpack_from(order + "4d", blob, 8)
        return minx, maxx, miny, maxy
    geom = shapely.from_wkb(_wkb_of(blob))
    if geom.is_empty:
        return None
    x0, y0, x1, y1 = shapely.bounds(geom)
    return x0, x1, y0, y1


def _wkb_of(blob: bytes) -> bytes:
    if blob[:2] != b"GP":
        raise StoreError("a geometry in the store is not a GeoPackage blob")
    return blob[8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111] :]


#: ISO WKB, little-endian, of a MultiPolygon (type 6) holding one polygon: what precedes it
_ONE_POLYGON_LE = b"\x01\x06\x00\x00\x00\x01\x00\x00\x00"


def _one_part(wkb: bytes) -> bytes:
    """The polygon's own WKB when ``wkb`` is a (little-endian) MultiPolygon of one polygon."""
    return wkb[9:] if wkb[:9] == _ONE_POLYGON_LE else wkb


def _st_func(i: int) -> Any:
    def f(blob: bytes | None) -> float | None:
        if blob is None:
            return None
        env = _envelope(blob)
        return None if env is None else env[i]

    return f


def _st_is_empty(blob: bytes | None) -> int | None:
    if blob is None:
        return None
    return int(_envelope(blob) is None)


def register_functions(conn: sqlite3.Connection) -> None:
    """The GeoPackage SQL functions the R-tree and check triggers call (``ST_MinX``...,
    ``ST_IsEmpty``), as GDAL and QGIS register them on their own connections."""
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        conn.create_function(name, 1, _st_func(i), deterministic=True)
    conn.create_function("ST_IsEmpty", 1, _st_is_empty, deterministic=True)


def to_blobs(geoms: np.ndarray) -> list[bytes]:
    """GeoPackage blobs (little endian, xy envelope, SRS 4326) for an array of geometries."""
    wkbs = shapely.to_wkb(geoms, byte_order=1, flavor="iso")
    bounds = shapely.bounds(geoms)
    pack = _HEADER.pack
    return [
        pack(b"GP", 0, _FLAGS_XY_ENVELOPE_LE, SRS_ID, b[0], b[2], b[1], b[3]) + w
        for w, b in zip(wkbs, bounds, strict=True)
    ]


def from_blobs(blobs: Iterable[bytes | None]) -> np.ndarray:
    """Shapely geometries from GeoPackage blobs (None stays None)."""
    wkbs = [None if b is None else _wkb_of(b) for b in blobs]
    return np.asarray(shapely.from_wkb(np.array(wkbs, dtype=object)), dtype=object)


# --- value conversion ----------------------------------------------------------------------


def to_sql_value(value: Any, ftype: str) -> Any:
    """A value as a GeoPackage column holds it: :func:`layers.store.field_value`, with a date
    as ISO text."""
    value = field_value(value, ftype)
    return value.isoformat() if isinstance(value, dt.date) else value


class GeoPackageStore(Store):
    """Layers in one GeoPackage file (see the module docstring)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        #: the one connection is shared by the process's threads, one statement at a time
        self._lock = threading.RLock()
        self.path = Path(path)
        self.location = str(self.path)
        if not self.path.exists():
            if not create:
                raise StoreError(f"{self.path}: no such store (run 'gazar demo' or 'gazar import')")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = self._connect()
        self._ensure_schema()

    # -- connection and schema --------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a GeoPackage store ({exc})") from exc
        conn.execute("PRAGMA foreign_keys=ON")
        register_functions(conn)
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; the write lock is taken at the start (BEGIN IMMEDIATE)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _ensure_schema(self) -> None:
        conn = self._conn
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and app_id != _APPLICATION_ID:
            raise StoreError(f"{self.path}: this SQLite file is not a GeoPackage")
        if tables and "gazar_meta" not in tables:
            raise StoreError(f"{self.path}: a GeoPackage, but not a Gazar store")
        if "gazar_meta" in tables:
            version = self.schema_version()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: written by a newer Gazar (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}); upgrade Gazar to open it"
                )
            missing = [k for k in REGISTRY.values() if k.name not in tables]
            if not missing and version == SCHEMA_VERSION and self._rules_current():
                return
        with self._transaction() as c:
            c.execute(f"PRAGMA application_id={_APPLICATION_ID}")
            c.execute(f"PRAGMA user_version={_USER_VERSION}")
            for stmt in _BASE_DDL.split(";\n"):
                if stmt.strip():
                    c.execute(stmt)
            existing = {
                r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            for kind in REGISTRY.values():
                if kind.name not in existing:
                    self._create_layer(c, kind)
                for stmt in sqlite_trigger_ddl(kind):
                    c.execute(stmt)
            feed.sqlite_ensure(c)
            style_table.sqlite_write(c)
            c.execute(
                "INSERT OR REPLACE INTO gazar_meta VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def _rules_current(self) -> bool:
        """Whether every layer's check and change feed triggers, and this Gazar's styles
        (``layers.style_table``), are there as its schema writes them (a store made before the
        feed or the styles gets them on open)."""
        have = dict(
            self._conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        )
        if not feed.sqlite_feed_current(have) or not style_table.sqlite_current(self._conn):
            return False
        for kind in REGISTRY.values():
            for stmt in sqlite_trigger_ddl(kind):
                if stmt.startswith("CREATE TRIGGER "):
                    name = stmt.split('"')[1]
                    if have.get(name) != stmt:
                        return False
        return True

    def broken_rows(self) -> list[BrokenRow]:
        """Rows already in the store that break its rules (written before the check triggers,
        or with them dropped); nothing is changed."""
        out: list[BrokenRow] = []
        with self._lock:
            for kind in REGISTRY.values():
                for rule, query in broken_rows_query("sqlite", kind):
                    for fid, value in self._conn.execute(query):
                        out.append(BrokenRow(kind.name, fid, rule.field, rule.rule, value))
        return out

    @staticmethod
    def _create_layer(c: sqlite3.Connection, kind: LayerKind) -> None:
        t = kind.name
        cols = [
            "fid INTEGER PRIMARY KEY AUTOINCREMENT",
            f"{GEOM} {SQL_NAME[kind.geometry]}",
            "id TEXT NOT NULL UNIQUE",
        ]
        for f in kind.fields:
            null = " NOT NULL" if f.required else ""
            cols.append(f'"{f.name}" {_SQL_TYPES[f.type]}{null}')
        c.execute(f'CREATE TABLE "{t}" ({", ".join(cols)})')
        c.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)"
            " VALUES (?, 'features', ?, ?, ?)",
            (t, t, kind.name.replace("_", " "), SRS_ID),
        )
        c.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)",
            (t, GEOM, SQL_NAME[kind.geometry], SRS_ID),
        )
        c.execute(
            f'CREATE VIRTUAL TABLE "rtree_{t}_{GEOM}" USING rtree(id, minx, maxx, miny, maxy)'
        )
        c.execute(
            "INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', "
            "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
            (t, GEOM),
        )
        for stmt in _RTREE_TRIGGERS.format(t=t).split("END;"):
            if stmt.strip():
                c.execute(stmt + "END;")

    def close(self) -> None:
        self._conn.close()

    # -- reading -----------------------------------------------------------------------------

    def schema_version(self) -> int:
        row = self._conn.execute(
            "SELECT value FROM gazar_meta WHERE key='schema_version'"
        ).fetchone()
        return int(row[0]) if row else 0

    def layers(self) -> list[LayerInfo]:
        with self._lock:
            return self._layers()

    def _layers(self) -> list[LayerInfo]:
        return layer_infos(self._conn, REGISTRY)

    def ids(self, layer: str) -> set[str]:
        kind = layer_kind(layer)
        with self._lock:
            return {r[0] for r in self._conn.execute(f'SELECT id FROM "{kind.name}"')}

    def read(self, layer: str, **query: Unpack[ReadQuery]) -> gpd.GeoDataFrame:
        with paused_gc(), self._lock:
            return self._read_kind(self._kind(layer), **query)

    def _kind(self, layer: str) -> LayerKind:
        """The layout of a table ``read`` may read: a registered layer (a ledger adds its
        ``applications``)."""
        return layer_kind(layer)

    def _read_kind(self, kind: LayerKind, **query: Unpack[ReadQuery]) -> gpd.GeoDataFrame:
        """``read`` for any table laid out as a layer kind (also ones outside the registry)."""
        bbox, where, ids = query.get("bbox"), query.get("where"), query.get("ids")
        clauses: list[str] = []
        params: list[Any] = []
        if bbox is not None:
            minx, miny, maxx, maxy = (float(v) for v in bbox)
            clauses.append(
                f'fid IN (SELECT id FROM "rtree_{kind.name}_{GEOM}" '
                "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"
            )
            params += [maxx, minx, maxy, miny]
        for col, value in (where or {}).items():
            ftype = "str" if col == "id" else kind.field(col).type  # KeyError: unknown column
            if value is None:
                clauses.append(f'"{col}" IS NULL')
            else:
                clauses.append(f'"{col}" = ?')
                params.append(to_sql_value(value, ftype))
        if ids is not None:
            clauses.append("id IN (SELECT value FROM json_each(?))")
            params.append(orjson.dumps([str(i) for i in ids]).decode())
        shown = kind.only(query.get("columns"))  # KeyError: unknown column
        cols = ", ".join(f'"{c}"' for c in shown.columns)
        sql = f'SELECT {GEOM}, {cols} FROM "{kind.name}"'
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY fid"
        return self._frame(shown, self._conn.execute(sql, params).fetchall())

    @staticmethod
    def _frame(kind: LayerKind, rows: list[tuple[Any, ...]]) -> gpd.GeoDataFrame:
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(kind.columns) + 1)]
        # a multi-part geometry of one part is read as that part; a little-endian MultiPolygon
        # of one polygon (as the store writes every polygon) is cut to it in its bytes
        wkbs = [None if b is None else _one_part(_wkb_of(b)) for b in cols[0]]
        geoms = np.asarray(shapely.from_wkb(np.array(wkbs, dtype=object)), dtype=object)
        single = (shapely.get_num_geometries(geoms) == 1) & (shapely.get_type_id(geoms) >= 4)
        if single.any():
            geoms[single] = shapely.get_geometry(geoms[single], 0)
        data: dict[str, Any] = {"id": pd.Series(list(cols[1]), dtype=object)}
        for f, values in zip(kind.fields, cols[2:], strict=True):
            data[f.name] = column_from_sql(list(values), f.type)
        frame = pd.DataFrame(data)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms), crs="EPSG:4326")

    def revision(self, layer: str) -> str:
        """Gazar's write counter, ``gpkg_contents.last_change`` (GDAL and QGIS set it) and the
        layer's change feed position (every writer moves it): three index lookups."""
        kind = layer_kind(layer)
        with self._lock:
            row = self._conn.execute(
                "SELECT (SELECT value FROM gazar_meta WHERE key = ?), "
                "(SELECT last_change FROM gpkg_contents WHERE table_name = ?), "
                f"(SELECT max(seq) FROM {feed.FEED_TABLE} WHERE layer = ?)",
                (f"revision:{kind.name}", kind.name, kind.name),
            ).fetchone()
        return f"{row[0] or 0}/{row[1]}/{row[2] or 0}"

    def changes(self, layer: str, since: int) -> feed.FeedChanges | None:
        if layer not in REGISTRY:
            return None
        with self._lock, self._read_snapshot() as c:
            return feed.sqlite_changes(c, layer, since)

    def change_seq(self, layer: str) -> int:
        if layer not in REGISTRY:
            return 0
        with self._lock:
            return feed.sqlite_seq(self._conn, layer)

    def fids(self, layer: str, ids: list[str] | None = None) -> dict[str, int]:
        kind = self._kind(layer)
        sql, params = f'SELECT id, fid FROM "{kind.name}"', tuple[str, ...]()
        if ids is not None:
            sql += " WHERE id IN (SELECT value FROM json_each(?))"
            params = (orjson.dumps([str(i) for i in ids]).decode(),)
        with self._lock:
            return dict(self._conn.execute(sql, params).fetchall())

    @contextmanager
    def _read_snapshot(self) -> Iterator[sqlite3.Connection]:
        """Several reads seeing one state of the file (a read transaction, unless one runs)."""
        conn = self._conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    # -- writing -----------------------------------------------------------------------------

    def write(
        self,
        batches: Mapping[str, gpd.GeoDataFrame],
        *,
        mode: WriteMode = "append",
        progress: Callable[[int], None] | None = None,
    ) -> None:
        prepared = [
            (layer_kind(name), self._rows(layer_kind(name), gdf)) for name, gdf in batches.items()
        ]
        with self._lock, self._transaction() as c:
            for kind, rows in prepared:
                try:
                    self._write_rows(c, kind, rows, mode=mode, progress=progress)
                except sqlite3.IntegrityError as exc:
                    raise StoreError(f"layer '{kind.name}': {exc} (nothing was written)") from exc
                except sqlite3.OperationalError as exc:
                    refused = refusal(exc)
                    if refused is None:
                        raise
                    raise RecordRefused(f"{refused} (nothing was written)") from exc

    def _write_rows(
        self,
        c: sqlite3.Connection,
        kind: LayerKind,
        rows: list[tuple[Any, ...]],
        *,
        mode: WriteMode,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Write one layer's prepared rows (``_rows``) inside the caller's transaction."""
        t = kind.name
        if mode == "replace":
            c.execute(f'DELETE FROM "{t}"')
        elif mode == "upsert":
            c.executemany(f'DELETE FROM "{t}" WHERE id = ?', [(r[1],) for r in rows])
        names = ", ".join(f'"{col}"' for col in [GEOM, *kind.columns])
        marks = ", ".join("?" for _ in range(len(kind.columns) + 1))
        insert = f'INSERT INTO "{t}" ({names}) VALUES ({marks})'
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            c.executemany(insert, chunk)
            if progress is not None:
                progress(len(chunk))
        if mode == "replace":  # rewritten wholesale: readers of the feed re-read the layer
            feed.sqlite_reset(c, t)
        self._touch(c, t)

    @staticmethod
    def _rows(kind: LayerKind, gdf: gpd.GeoDataFrame) -> list[tuple[Any, ...]]:
        check_batch(kind, gdf)
        geoms = to_stored(kind.geometry, np.asarray(gdf.geometry.array, dtype=object))
        columns: list[list[Any]] = [to_blobs(geoms), [str(v) for v in gdf["id"]]]
        for f in kind.fields:
            columns.append([to_sql_value(v, f.type) for v in gdf[f.name].tolist()])
        return list(zip(*columns, strict=True))

    @staticmethod
    def _touch(c: sqlite3.Connection, table: str) -> None:
        if table in REGISTRY:
            feed.sqlite_prune(c, table)
        c.execute(
            "INSERT INTO gazar_meta VALUES (?, '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (f"revision:{table}",),
        )
        c.execute(
            f"""UPDATE gpkg_contents SET
                  min_x = (SELECT min(minx) FROM "rtree_{table}_{GEOM}"),
                  min_y = (SELECT min(miny) FROM "rtree_{table}_{GEOM}"),
                  max_x = (SELECT max(maxx) FROM "rtree_{table}_{GEOM}"),
                  max_y = (SELECT max(maxy) FROM "rtree_{table}_{GEOM}"),
                  last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now')
                WHERE table_name = ?""",
            (table,),
        )

    def delete(self, layer: str, ids: list[str]) -> int:
        kind = layer_kind(layer)
        with self._lock, self._transaction() as c:
            cur = c.executemany(f'DELETE FROM "{kind.name}" WHERE id = ?', [(i,) for i in ids])
            self._touch(c, kind.name)
            return cur.rowcount
