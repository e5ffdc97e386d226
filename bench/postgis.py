"""The PostGIS side of the benchmark: load layers with COPY, run the equivalent SQL.

Areas follow Gazar's official rule exactly (``geo.overlaps`` / ``geo.area.official_ha`` with
the default lon/lat edges): the polygonal part of the intersection, its edges split every
``LONLAT_STEP_DEG`` degrees, projected to the WGS84 UTM zone of its lon/lat centroid
(``32600 + floor((lon + 180) / 6) + 1``, at most zone 60) and measured there; a pair overlaps
when that area exceeds the tolerance (m²).

Each intermediate result is a ``MATERIALIZED`` CTE so that PostgreSQL computes every
intersection once (an inlined subquery would repeat the expression where it is used). In the
self-join, the ``a.id < b.id`` filter stays outside the CTE: inside it the planner joins on the
id order and degrades to a quadratic nested loop.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from psycopg import sql

from geo.area import LONLAT_STEP_DEG

#: One pair of overlapping features: (a_id, b_id, official hectares).
Pair = tuple[str, str, float]


def _official_m2(g: str) -> str:
    """SQL for the official area (m²) of the geometry expression ``g`` (a column name)."""
    return f"""ST_Area(ST_Transform(ST_Segmentize({g}, %(step)s),
        32600 + LEAST(floor((ST_X(ST_Centroid({g})) + 180.0) / 6.0)::int + 1, 60)))"""


_MEASURE = f"""
measured AS MATERIALIZED (
    SELECT a_id, b_id, {_official_m2("g")} AS m2 FROM pairs WHERE NOT ST_IsEmpty(g)
)
SELECT a_id, b_id, m2 / 10000.0 FROM measured WHERE m2 > %(tol)s
"""

BETWEEN_SQL = (
    """
WITH pairs AS MATERIALIZED (
    SELECT a.id AS a_id, b.id AS b_id,
           ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3) AS g
    FROM {a} AS a JOIN {b} AS b ON ST_Intersects(a.geom, b.geom)
),"""
    + _MEASURE
)

WITHIN_SQL = (
    """
WITH candidates AS MATERIALIZED (
    SELECT a.id AS a_id, b.id AS b_id, a.geom AS ag, b.geom AS bg
    FROM {t} AS a JOIN {t} AS b ON ST_Intersects(a.geom, b.geom)
),
pairs AS MATERIALIZED (
    SELECT a_id, b_id, ST_CollectionExtract(ST_Intersection(ag, bg), 3) AS g
    FROM candidates WHERE a_id < b_id
),"""
    + _MEASURE
)


#: Availability of the Land Conclusions in force (``geo.availability``): the land blocked by
#: holding parcels, unaccepted rehabilitation zones, exclusions and licences, clipped to each
#: Land Conclusion and unioned; available = Land Conclusion area - blocked area (official ha),
#: and the available land as geometry. (Gazar also splits the blocked area into its kinds;
#: this query does not, so it does less work.)
AVAILABILITY_SQL = f"""
WITH lc AS MATERIALIZED (
    SELECT id, geom FROM {{lcs}}
    WHERE status = 'issued' AND (valid_until IS NULL OR valid_until >= %(today)s)
),
pieces AS MATERIALIZED (
    SELECT lc.id, lc.geom AS lg, p.geom AS g
    FROM lc JOIN {{parcels}} AS p ON ST_Intersects(lc.geom, p.geom)
    WHERE p.status IN ('applied', 'active', 'suspended')  -- geo.vocab.HOLDING_STATUSES
    UNION ALL
    SELECT lc.id, lc.geom, r.geom
    FROM lc JOIN {{rehab}} AS r ON ST_Intersects(lc.geom, r.geom)
    WHERE r.stage <> 'accepted'
    UNION ALL
    SELECT lc.id, lc.geom, x.geom FROM lc JOIN {{exclusions}} AS x ON ST_Intersects(lc.geom, x.geom)
    UNION ALL
    SELECT lc.id, lc.geom, x.geom FROM lc JOIN {{licences}} AS x ON ST_Intersects(lc.geom, x.geom)
    WHERE x.expires_on IS NULL OR x.expires_on >= %(today)s  -- not yet expired
),
clipped AS MATERIALIZED (
    SELECT id, CASE WHEN ST_Covers(lg, g) THEN g
                    ELSE ST_CollectionExtract(ST_Intersection(g, lg), 3) END AS g
    FROM pieces
),
blocked AS MATERIALIZED (
    SELECT id, ST_Union(g) AS g FROM clipped WHERE NOT ST_IsEmpty(g) GROUP BY id
),
measured AS MATERIALIZED (
    SELECT lc.id, {_official_m2("lc.geom")} AS area_m2,
           COALESCE({_official_m2("b.g")}, 0) AS blocked_m2,
           CASE WHEN b.g IS NULL THEN lc.geom
                ELSE ST_CollectionExtract(ST_Difference(lc.geom, b.g), 3) END AS free
    FROM lc LEFT JOIN blocked AS b USING (id)
)
SELECT id, area_m2 / 10000.0, GREATEST(area_m2 - blocked_m2, 0) / 10000.0, ST_AsBinary(free)
FROM measured
"""


def connect(dsn: str) -> psycopg.Connection:
    """An autocommit connection with PostGIS enabled."""
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return conn


def versions(conn: psycopg.Connection) -> str:
    """PostgreSQL, PostGIS and GEOS versions of the server, e.g. ``PostgreSQL 15.18, ...``."""
    row = conn.execute(
        "SELECT current_setting('server_version'), postgis_lib_version(), postgis_geos_version()"
    ).fetchone()
    if row is None:
        return "?"
    return f"PostgreSQL {row[0].split()[0]}, PostGIS {row[1]}, GEOS {row[2].split('-')[0]}"


def load(
    conn: psycopg.Connection,
    table: str,
    layer: gpd.GeoDataFrame,
    *,
    columns: Sequence[tuple[str, str]] = (),
) -> float:
    """(Re)create ``table`` from ``layer`` with COPY and a GiST index on its geometry.

    The table holds ``id`` (text, primary key), the attribute ``columns`` given as
    ``(name, SQL type)`` pairs, and ``geom`` (hex EWKB, SRID 4326). Returns the seconds taken
    (COPY, index, ANALYZE).
    """
    start = time.perf_counter()
    name = sql.Identifier(table)
    extra = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns]
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
    conn.execute(
        sql.SQL(
            "CREATE UNLOGGED TABLE {} (id text PRIMARY KEY, {}"
            "geom geometry(Geometry, 4326) NOT NULL)"
        ).format(name, sql.SQL("").join(e + sql.SQL(", ") for e in extra))
    )
    geoms = shapely.set_srid(np.asarray(layer.geometry.array, dtype=object), 4326)
    hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
    values = [layer["id"].astype(str).tolist()]
    values += [layer[c].astype(object).where(layer[c].notna(), None).tolist() for c, _ in columns]
    names = sql.SQL(", ").join(sql.Identifier(c) for c in ["id", *(c for c, _ in columns), "geom"])
    with (
        conn.cursor() as cur,
        cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(name, names)) as copy,
    ):
        for row in zip(*values, hexes.tolist(), strict=True):
            copy.write_row(row)
    conn.execute(
        sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
            sql.Identifier(f"{table}_geom"), name
        )
    )
    conn.execute(sql.SQL("ANALYZE {}").format(name))
    return time.perf_counter() - start


def between_query(a: str, b: str) -> sql.Composed:
    return sql.SQL(BETWEEN_SQL).format(a=sql.Identifier(a), b=sql.Identifier(b))


def within_query(table: str) -> sql.Composed:
    return sql.SQL(WITHIN_SQL).format(t=sql.Identifier(table))


def availability_query(tables: Mapping[str, str]) -> sql.Composed:
    return sql.SQL(AVAILABILITY_SQL).format(**{k: sql.Identifier(v) for k, v in tables.items()})


def overlaps_between(
    conn: psycopg.Connection, *, a: str, b: str, tolerance_m2: float = 1.0
) -> list[Pair]:
    """Pairs (feature of table ``a``, feature of table ``b``) sharing more than the tolerance."""
    query = between_query(a, b)
    rows = conn.execute(query, {"step": LONLAT_STEP_DEG, "tol": tolerance_m2}).fetchall()
    return [(str(r[0]), str(r[1]), float(r[2])) for r in rows]


def overlaps_within(
    conn: psycopg.Connection, *, table: str, tolerance_m2: float = 1.0
) -> list[Pair]:
    """Pairs of features of one table sharing more than the tolerance (``a_id < b_id``)."""
    query = within_query(table)
    rows = conn.execute(query, {"step": LONLAT_STEP_DEG, "tol": tolerance_m2}).fetchall()
    return [(str(r[0]), str(r[1]), float(r[2])) for r in rows]


def availability(
    conn: psycopg.Connection,
    *,
    today: dt.date,
    tables: Mapping[str, str],
) -> list[tuple[str, float, float]]:
    """``(id, area_ha, available_ha)`` of each Land Conclusion in force on ``today``.

    ``tables`` names the tables holding ``lcs`` (id, status, valid_until), ``parcels``
    (id, status), ``rehab`` (id, stage), ``exclusions`` and ``licences`` (id, expires_on).
    """
    query = availability_query(tables)
    rows = conn.execute(query, {"step": LONLAT_STEP_DEG, "today": today}).fetchall()
    return [(str(r[0]), float(r[1]), float(r[2])) for r in rows]


def explain(conn: psycopg.Connection, query: sql.Composable, params: Mapping[str, object]) -> str:
    """The plan PostgreSQL picks for ``query`` (for checking it stays an index join)."""
    rows = conn.execute(sql.SQL("EXPLAIN ") + query, params).fetchall()
    return "\n".join(str(r[0]) for r in rows)
