"""The store's ``layer_styles`` table: the QGIS styles of its layers travel with the data.

The table has the schema GDAL and QGIS use (``id, f_table_catalog, f_table_schema, f_table_name,
f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner, ui,
update_time``; PostGIS adds QGIS's ``type``), so QGIS opening a layer of the GeoPackage or the
database draws it with its default style, as the web map does. Each layer gets two rows from
:mod:`layers.qgis_styles`: the Mongolian legend (the default) and the English one.

- It is not a layer: no check, change feed or ledger triggers (``layers.feed``,
  ``layers.ledger`` list the layer tables by name), so a style saved from QGIS neither breaks
  ``gazar audit verify`` nor shows in the change feed. In the GeoPackage it is registered in
  ``gpkg_contents`` as ``attributes``, as GDAL does.
- Gazar's rows are those it owns (``owner = 'gazar'``) under its two style names; writing them
  again replaces those rows and keeps every other (a style a user saved). A layer whose default
  a user chose keeps it: Gazar's Mongolian row is then not marked default.
- The store writes the rows when it is made and whenever Gazar's styles changed since (the
  descriptions carry a fingerprint of the documents), so the demo, ``gazar import`` and
  ``gazar migrate`` leave current styles; :func:`write_styles` writes them on demand.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from layers.labels import LANGS, Lang, label
from layers.qgis_styles import layer_title, qml, sld
from layers.schema import REGISTRY

STYLE_TABLE: Final = "layer_styles"
OWNER: Final = "gazar"
GEOMETRY_COLUMN: Final = "geom"
#: The name of each of Gazar's styles, in its own language (``styleName`` is TEXT(30) in GDAL's
#: schema).
STYLE_NAMES: Final[dict[Lang, str]] = {lang: label("qgis_style", lang, lang) for lang in LANGS}
_DEFAULT_LANG: Final[Lang] = "mn"
#: QGIS's ``type`` of each declared geometry type (PostGIS's table has the column)
QGIS_TYPES: Final = {"MultiPolygon": "Polygon", "MultiLineString": "Line", "Point": "Point"}

SQLITE_DDL: Final = """CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
  styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"""

PG_DDL: Final = """CREATE TABLE IF NOT EXISTS layer_styles (
  id serial PRIMARY KEY, f_table_catalog varchar, f_table_schema varchar, f_table_name varchar,
  f_geometry_column varchar, styleName text, styleQML xml, styleSLD xml, useAsDefault boolean,
  description text, owner varchar(63) DEFAULT CURRENT_USER, ui xml,
  update_time timestamp DEFAULT CURRENT_TIMESTAMP, type varchar)"""


@dataclass(frozen=True)
class StyleRow:
    """One of Gazar's rows of ``layer_styles``."""

    layer: str
    lang: Lang
    name: str
    qml: str
    sld: str
    default: bool
    description: str


@cache
def gazar_styles() -> tuple[StyleRow, ...]:
    """Gazar's two styles of every registered layer (Mongolian first, the default)."""
    docs = [(name, lang, qml(name, lang), sld(name, lang)) for name in REGISTRY for lang in LANGS]
    digest = hashlib.sha256("\0".join(q + s for _, _, q, s in docs).encode()).hexdigest()[:12]
    return tuple(
        StyleRow(
            layer,
            lang,
            STYLE_NAMES[lang],
            q,
            s,
            lang == _DEFAULT_LANG,
            f"{layer_title(layer, lang)}: Gazar's web map style [{digest}]",
        )
        for layer, lang, q, s in docs
    )


def _fingerprint() -> str:
    return gazar_styles()[0].description.rsplit("[", 1)[1].rstrip("]")


_MINE: Final = "owner = ? AND styleName IN (?, ?)"


def _mine_params() -> tuple[str, ...]:
    return (OWNER, STYLE_NAMES["mn"], STYLE_NAMES["en"])


# --- GeoPackage -----------------------------------------------------------------------------


def sqlite_current(conn: sqlite3.Connection) -> bool:
    """Whether the GeoPackage holds this Gazar's styles (nothing to write)."""
    try:
        rows = conn.execute(
            f"SELECT description FROM {STYLE_TABLE} WHERE {_MINE}", _mine_params()
        ).fetchall()
        registered = conn.execute(
            "SELECT 1 FROM gpkg_contents WHERE table_name = ? AND data_type = 'attributes'",
            (STYLE_TABLE,),
        ).fetchone()
    except sqlite3.OperationalError:  # no table yet
        return False
    return registered is not None and _rows_current([r[0] for r in rows])


def _rows_current(descriptions: list[str]) -> bool:
    mark = f"[{_fingerprint()}]"
    return len(descriptions) == len(gazar_styles()) and all(
        d is not None and d.endswith(mark) for d in descriptions
    )


def sqlite_write(c: sqlite3.Connection) -> None:
    """Create the table (registered in ``gpkg_contents``) and write Gazar's rows, inside the
    caller's transaction."""
    c.execute(SQLITE_DDL)
    c.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, "
        "last_change) VALUES (?, 'attributes', ?, '', strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
        (STYLE_TABLE, STYLE_TABLE),
    )
    c.execute(f"DELETE FROM {STYLE_TABLE} WHERE {_MINE}", _mine_params())
    chosen = {r[0] for r in c.execute(f"SELECT f_table_name FROM {STYLE_TABLE} WHERE useAsDefault")}
    c.executemany(
        f"INSERT INTO {STYLE_TABLE} (f_table_catalog, f_table_schema, f_table_name, "
        "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner) "
        "VALUES ('', '', ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.layer,
                GEOMETRY_COLUMN,
                r.name,
                r.qml,
                r.sld,
                int(r.default and r.layer not in chosen),
                r.description,
                OWNER,
            )
            for r in gazar_styles()
        ],
    )


# --- PostGIS --------------------------------------------------------------------------------


def pg_current(conn: Any) -> bool:
    """Whether the database's current schema holds this Gazar's styles."""
    row = conn.execute("SELECT to_regclass(quote_ident(%s))", (STYLE_TABLE,)).fetchone()
    if not row or row[0] is None:
        return False
    rows = conn.execute(
        f"SELECT description, f_table_catalog = current_database() FROM {STYLE_TABLE} "
        f"WHERE {_MINE.replace('?', '%s')} AND f_table_schema = current_schema()",
        _mine_params(),
    ).fetchall()
    # rows naming another database come from a copy (CREATE DATABASE ... TEMPLATE, a restore
    # under a new name): QGIS looks styles up by the database's name, so they are stale
    return all(here for _, here in rows) and _rows_current([r[0] for r in rows])


def pg_write(conn: Any) -> None:
    """Create the table and write Gazar's rows for the current schema, inside the caller's
    transaction (a ``psycopg`` connection)."""
    conn.execute(PG_DDL)
    here = "f_table_schema = current_schema() AND f_table_catalog = current_database()"
    # Gazar's rows of this schema under any database name: a copied database's rows name the
    # original, and are replaced rather than kept beside the new ones
    conn.execute(
        f"DELETE FROM {STYLE_TABLE} WHERE {_MINE.replace('?', '%s')} "
        "AND f_table_schema = current_schema()",
        _mine_params(),
    )
    chosen = {
        r[0]
        for r in conn.execute(
            f"SELECT f_table_name FROM {STYLE_TABLE} WHERE useAsDefault AND {here}"
        ).fetchall()
    }
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {STYLE_TABLE} (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
            "owner, type) VALUES (current_database(), current_schema(), %s, %s, %s, "
            "XMLPARSE(DOCUMENT %s), XMLPARSE(DOCUMENT %s), %s, %s, %s, %s)",
            [
                (
                    r.layer,
                    GEOMETRY_COLUMN,
                    r.name,
                    r.qml,
                    r.sld,
                    r.default and r.layer not in chosen,
                    r.description,
                    OWNER,
                    QGIS_TYPES[REGISTRY[r.layer].geometry],
                )
                for r in gazar_styles()
            ],
        )


# --- on demand ------------------------------------------------------------------------------


def write_styles(location: str) -> None:
    """Write Gazar's styles into the store at ``location`` again (replacing Gazar's rows,
    keeping the others), in one transaction."""
    if location.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(location, autocommit=True) as pg, pg.transaction():
            pg_write(pg)
        return
    conn = sqlite3.connect(location, timeout=120, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            sqlite_write(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()
