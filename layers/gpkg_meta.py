"""What a GeoPackage store holds, read with :mod:`sqlite3` alone: each layer's feature count and
bounding box (``gazar layers``), without importing geopandas, pandas or shapely.

The bounding box comes from each layer's R-tree (``rtree_<layer>_geom``), whose 32-bit bounds
SQLite rounds outwards: the features whose R-tree bound lies within ``_RTREE_SLACK_DEG`` of
the layer's extreme are the only ones that can hold it, and their exact (64-bit) envelopes
are read from their geometry blobs' headers. The rounded extreme itself comes from the
R-tree's root node (``rtree_<layer>_geom_node``, node 1: its few cells bound the whole tree;
SQLite keeps them tight as rows are deleted), not from a scan of every entry; whenever the root
cannot be read as expected, or its bound finds no feature, the scan answers instead. A layer of
100,000 parcels is listed in milliseconds instead of decoding every blob.
"""

from __future__ import annotations

import math
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


#: a 2-D R-tree cell: the row (or child node) id, then minx, maxx, miny, maxy as 32-bit floats
_CELL = struct.Struct(">q4f")


def root_bounds(conn: sqlite3.Connection, name: str) -> tuple[float, ...] | None:
    """(minx, maxx, miny, maxy) of the R-tree of ``name`` from its root node's cells, rounded
    outwards as the R-tree stores them; None when the root is not one this reads (the
    caller then scans the R-tree) or holds no cell.

    SQLite's R-tree node: a 2-byte depth (the root only), a 2-byte cell count, then the
    cells, big-endian."""
    try:
        row = conn.execute(
            f'SELECT data FROM "rtree_{name}_{GEOM}_node" WHERE nodeno = 1'
        ).fetchone()
    except sqlite3.Error:
        return None
    data = row[0] if row else None
    if not isinstance(data, bytes) or len(data) < 4:
        return None
    cells = int.from_bytes(data[2:4], "big")
    if cells == 0 or len(data) < 4 + cells * _CELL.size:
        return None
    found = [_CELL.unpack_from(data, 4 + i * _CELL.size)[1:] for i in range(cells)]
    bounds = (
        min(c[0] for c in found), max(c[1] for c in found),
        min(c[2] for c in found), max(c[3] for c in found),
    )  # fmt: skip
    if not all(math.isfinite(b) for b in bounds) or bounds[0] > bounds[1] or bounds[2] > bounds[3]:
        return None
    return bounds


def _exact(
    conn: sqlite3.Connection, name: str, rough: tuple[float, ...]
) -> tuple[float, ...] | None:
    """The exact (minx, maxx, miny, maxy) from the features whose R-tree bound lies near the
    rounded extremes ``rough``; None when one finds no feature."""
    rtree = f'"rtree_{name}_{GEOM}"'
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
        value = conn.execute(
            f'SELECT {agg}({func}({GEOM})) FROM "{name}" WHERE fid IN '
            f"(SELECT id FROM {rtree} WHERE {col} {near} ?)",
            (limit,),
        ).fetchone()[0]
        if value is None:
            return None
        exact.append(value)
    return tuple(exact)


def layer_infos(conn: sqlite3.Connection, names: Iterable[str]) -> list[LayerInfo]:
    """Each layer's feature count and exact bounding box (None when it has no geometry);
    ``conn`` must have :func:`register_functions`."""
    out = []
    for name in names:
        count = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        quick = root_bounds(conn, name)
        exact = None if quick is None else _exact(conn, name, quick)
        if exact is None:  # the root was not read, or its bound found nothing: scan
            rough = conn.execute(
                f'SELECT min(minx), max(maxx), min(miny), max(maxy) FROM "rtree_{name}_{GEOM}"'
            ).fetchone()
            exact = None if rough[0] is None else _exact(conn, name, rough)
        if exact is None:
            out.append(LayerInfo(name, count, None))
            continue
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
