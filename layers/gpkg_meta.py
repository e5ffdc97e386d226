"""What a GeoPackage store holds, read with :mod:`sqlite3` alone: each layer's feature count and
bounding box (``gazar layers``), without importing geopandas, pandas or shapely.

The bounding box comes from each layer's R-tree (``rtree_<layer>_geom``), whose 32-bit bounds
SQLite rounds outwards: the features whose R-tree bound lies within ``_RTREE_SLACK_DEG`` of
the layer's extreme are the only ones that can hold it, and their exact (64-bit) envelopes
are read from their geometry blobs' headers. A layer of 100,000 parcels is listed in
milliseconds instead of decoding every blob.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable
from pathlib import Path

from layers.integrity import sqlite_trigger_ddl
from layers.schema import REGISTRY
from layers.store import SCHEMA_VERSION, LayerInfo

GEOM = "geom"
APPLICATION_ID = 0x47504B47  # "GPKG"
#: more than the rounding of a 32-bit float at 180 degrees (1.5e-5)
_RTREE_SLACK_DEG = 1e-4
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a GeoPackage blob; None when empty.

    A blob written without an envelope (other tools may) is decoded with shapely.
    """
    flags = blob[3]
    if flags & 0b1_0000:
        return None
    indicator = (flags >> 1) & 0b111
    if indicator:
        order = "<" if flags & 1 else ">"
        minx, maxx, miny, maxy = struct.unpack_from(order + "4d", blob, 8)
        return minx, maxx, miny, maxy
    import shapely

    geom = shapely.from_wkb(wkb_of(blob))
    if geom.is_empty:
        return None
    x0, y0, x1, y1 = shapely.bounds(geom)
    return float(x0), float(x1), float(y0), float(y1)


def wkb_of(blob: bytes) -> bytes:
    """The WKB inside a GeoPackage blob."""
    from layers.errors import StoreError

    if blob[:2] != b"GP":
        raise StoreError("a geometry in the store is not a GeoPackage blob")
    return blob[8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111] :]


def _bound(i: int) -> object:
    def f(blob: bytes | None) -> float | None:
        if blob is None:
            return None
        env = envelope(blob)
        return None if env is None else env[i]

    return f


def _is_empty(blob: bytes | None) -> int | None:
    return None if blob is None else int(envelope(blob) is None)


def register_functions(conn: sqlite3.Connection) -> None:
    """The GeoPackage SQL functions the R-tree and check triggers call (``ST_MinX``...,
    ``ST_IsEmpty``), as GDAL and QGIS register them on their own connections."""
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        conn.create_function(name, 1, _bound(i), deterministic=True)  # type: ignore[arg-type]
    conn.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)


def layer_infos(conn: sqlite3.Connection, names: Iterable[str]) -> list[LayerInfo]:
    """Each layer's feature count and exact bounding box (None when it has no geometry);
    ``conn`` must have :func:`register_functions`."""
    out = []
    for name in names:
        rtree = f'"rtree_{name}_{GEOM}"'
        count = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        rough = conn.execute(
            f"SELECT min(minx), max(maxx), min(miny), max(maxy) FROM {rtree}"
        ).fetchone()
        if rough[0] is None:
            out.append(LayerInfo(name, count, None))
            continue
        exact = []
        for k, (func, col, agg, near) in enumerate(
            (
                ("ST_MinX", "minx", "min", "<="),
                ("ST_MaxX", "maxx", "max", ">="),
                ("ST_MinY", "miny", "min", "<="),
                ("ST_MaxY", "maxy", "max", ">="),
            )
        ):
            limit = rough[k] + (_RTREE_SLACK_DEG if near == "<=" else -_RTREE_SLACK_DEG)
            exact.append(
                conn.execute(
                    f'SELECT {agg}({func}({GEOM})) FROM "{name}" WHERE fid IN '
                    f"(SELECT id FROM {rtree} WHERE {col} {near} ?)",
                    (limit,),
                ).fetchone()[0]
            )
        minx, maxx, miny, maxy = exact
        out.append(LayerInfo(name, count, (minx, miny, maxx, maxy)))
    return out


def current_layer_infos(path: Path) -> list[LayerInfo] | None:
    """The layers of the GeoPackage store at ``path`` when it is a Gazar store of this
    version with every layer and rule in place (nothing to create or migrate); None
    otherwise: the caller then opens the store itself, which migrates or refuses it."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=120)
    except sqlite3.Error:
        return None
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            return None
        master = conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        tables = {name for kind, name, _ in master if kind == "table"}
        triggers = {name: sql for kind, name, sql in master if kind == "trigger"}
        if "gazar_meta" not in tables or any(k not in tables for k in REGISTRY):
            return None
        row = conn.execute("SELECT value FROM gazar_meta WHERE key='schema_version'").fetchone()
        if not row or int(row[0]) != SCHEMA_VERSION:
            return None
        for kind in REGISTRY.values():
            for stmt in sqlite_trigger_ddl(kind):
                if stmt.startswith("CREATE TRIGGER ") and triggers.get(stmt.split('"')[1]) != stmt:
                    return None
        register_functions(conn)
        return layer_infos(conn, REGISTRY)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
