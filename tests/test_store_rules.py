"""Issue 14, finding 6: the store refuses what validation refuses, whoever writes (QGIS on the
GeoPackage through plain sqlite3, psql on PostGIS), and one bad row forced in anyway never takes
the analysis down (RECORD_INVALID)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

import numpy as np
import orjson
import psycopg
import pytest
import shapely
import shapely.geometry
from typer.testing import CliRunner

from api.cli import app
from api.services.views import layers_of, overlap_pairs, overlaps_json, overlaps_view
from layers.gpkg import register_functions, to_blobs
from layers.integrity import REFUSED, pg_check_ddl, sqlite_drop_ddl, sqlite_trigger_ddl
from layers.postgis import LATEST, migrate
from layers.schema import REGISTRY
from layers.store import Store
from tests import factories as f
from tests.conftest import snapshot
from tests.test_api_ogc import client_for

runner = CliRunner()
TODAY = "2025-06-30"
COLUMNS = ("geom", *REGISTRY["contract_parcels"].columns)


def _blob(geom: shapely.Geometry) -> bytes:
    return to_blobs(np.array([geom], dtype=object))[0]


def _multi(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.multipolygons([geom])


#: (what, column, value as sqlite takes it, as PostgreSQL takes it (SQL), field, words of the rule)
BAD_WRITES = [
    ("bogus status", "status", "bogus", "'bogus'", "status", "must be one of"),
    ("parcel at 10E 10N", "geom", _blob(_multi(shapely.box(10, 10, 10.01, 10.01))),
     "ST_Multi(ST_MakeEnvelope(10, 10, 10.01, 10.01, 4326))", "geometry", "inside Mongolia"),
    ("members_women -5", "members_women", -5, "-5", "members_women", "at least 0"),
    ("dangling land_conclusion_id", "land_conclusion_id", "LC-404", "'LC-404'",
     "land_conclusion_id", "id of a feature in land_conclusions"),
    ("Point in a MultiPolygon layer", "geom", _blob(shapely.Point(106.0, 47.0)),
     "ST_SetSRID(ST_Point(106, 47), 4326)", "geometry", "MultiPolygon"),
]  # fmt: skip
IDS = [b[0] for b in BAD_WRITES]


def _sqlite(store: Store) -> sqlite3.Connection:
    """A plain sqlite3 connection with the GeoPackage functions, as QGIS (GDAL) opens it."""
    conn = sqlite3.connect(store.location, isolation_level=None)
    register_functions(conn)
    return conn


def _copy_p1(conn: Any, changes: dict[str, Any], *, marks: str) -> None:
    """Insert a copy of P-1 as P-9 with ``changes``: sqlite parameters or PostgreSQL SQL."""
    names = ", ".join(f'"{c}"' for c in COLUMNS)
    if marks == "?":
        row = dict(zip(COLUMNS, conn.execute(f"SELECT {names} FROM contract_parcels").fetchone(),
                       strict=True))  # fmt: skip
        row.update(id="P-9", **changes)
        conn.execute(
            f"INSERT INTO contract_parcels ({names}) VALUES ({', '.join('?' for _ in COLUMNS)})",
            list(row.values()),
        )
    else:
        exprs = {c: f'"{c}"' for c in COLUMNS} | {"id": "'P-9'"} | changes
        conn.execute(
            f"INSERT INTO contract_parcels ({names}) "
            f"SELECT {', '.join(exprs[c] for c in COLUMNS)} FROM contract_parcels WHERE id = 'P-1'"
        )


@pytest.mark.parametrize(("what", "column", "value", "_pg", "field", "rule"), BAD_WRITES, ids=IDS)
def test_geopackage_refuses_a_bad_write_from_plain_sqlite(
    seeded: Store, store_path: Any, what: str, column: str, value: Any, _pg: str, field: str,
    rule: str,
) -> None:  # fmt: skip
    before = snapshot(seeded)
    conn = _sqlite(seeded)
    with pytest.raises(sqlite3.DatabaseError) as refused:
        _copy_p1(conn, {column: value}, marks="?")
    message = str(refused.value)
    for words in (REFUSED, "layer contract_parcels", "id P-9", f"field {field}", rule):
        assert words in message, (what, message)
    with pytest.raises(sqlite3.DatabaseError, match=f"id P-1, field {field}"):
        if column == "geom":
            conn.execute("UPDATE contract_parcels SET geom = ? WHERE id = 'P-1'", (value,))
        else:
            conn.execute(f"UPDATE contract_parcels SET \"{column}\" = ? WHERE id = 'P-1'", (value,))
    conn.close()
    assert snapshot(seeded) == before


@pytest.mark.parametrize(("what", "column", "_v", "value", "field", "rule"), BAD_WRITES, ids=IDS)
def test_postgis_refuses_a_bad_write_from_psycopg(
    seeded: Store, backend: str, what: str, column: str, _v: Any, value: str, field: str,
    rule: str,
) -> None:  # fmt: skip
    if backend != "postgis":
        pytest.skip("the PostGIS case")
    before = snapshot(seeded)
    with (
        psycopg.connect(seeded.location, autocommit=True) as conn,
        pytest.raises(psycopg.Error) as refused,
    ):
        _copy_p1(conn, {column: value}, marks="%s")
    message = str(refused.value)
    if what.startswith("Point"):  # the column's type, geometry(MultiPolygon), refuses it first
        assert "Geometry type (Point) does not match column type (MultiPolygon)" in message
    else:
        for words in (REFUSED, "layer contract_parcels", "id P-9", f"field {field}", rule):
            assert words in message, (what, message)
    assert snapshot(seeded) == before


def _force(store: Store, backend: str, changes: list[tuple[str, dict[str, Any]]]) -> None:
    """Write broken parcels past the store's checks: sqlite with the triggers dropped (then
    made again); PostGIS as a superuser with ``session_replication_role = replica`` (triggers
    off) and its CHECK constraints dropped, then added again by ``migrate`` (``NOT VALID``)."""
    kind = REGISTRY["contract_parcels"]
    if backend == "gpkg":
        conn: Any = _sqlite(store)
        for stmt in sqlite_drop_ddl(kind):
            conn.execute(stmt)
        for new_id, change in changes:
            _copy_p1(conn, change, marks="?")
            conn.execute("UPDATE contract_parcels SET id = ? WHERE id = 'P-9'", (new_id,))
        for stmt in sqlite_trigger_ddl(kind):
            conn.execute(stmt)
        conn.close()
        return
    with psycopg.connect(store.location, autocommit=True) as conn:
        for name, _ in pg_check_ddl(kind):
            conn.execute(f'ALTER TABLE contract_parcels DROP CONSTRAINT "{name}"')
        conn.execute("SET session_replication_role = replica")
        for new_id, change in changes:
            _copy_p1(conn, change, marks="%s")
            conn.execute("UPDATE contract_parcels SET id = %s WHERE id = 'P-9'", (new_id,))
    assert migrate(store.location) == (LATEST, LATEST)  # the checks are back, NOT VALID


def _broken_changes(backend: str) -> list[tuple[str, dict[str, Any]]]:
    sqlite = backend == "gpkg"
    far = _multi(shapely.box(10, 10, 10.01, 10.01))
    out: list[tuple[str, dict[str, Any]]] = [
        ("P-BOGUS", {"status": "bogus" if sqlite else "'bogus'"}),
        ("P-MINUS", {"members_women": -5 if sqlite else "-5"}),
        ("P-FAR", {"geom": _blob(far) if sqlite else f"ST_GeomFromText('{far.wkt}', 4326)"}),
    ]
    if sqlite:  # PostGIS's geometry(MultiPolygon) column holds no Point, whatever the role
        out.append(("P-POINT", {"geom": _blob(shapely.Point(106.0, 47.0))}))
    return out


def _analyze(location: str) -> Any:
    result = runner.invoke(app, ["analyze", "--db", location, "--today", TODAY, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _records(found: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = found["findings"]
    return records


def _rows(found: Any) -> list[tuple[str, str]]:
    return sorted((r["rule"], r["a_id"]) for r in _records(found))


def test_a_row_forced_past_the_checks_is_reported_and_the_rest_answers(
    seeded: Store, backend: str
) -> None:
    clean = _rows(_analyze(seeded.location))
    changes = _broken_changes(backend)
    _force(seeded, backend, changes)
    found = _analyze(seeded.location)
    rows = _rows(found)
    invalid = sorted(r for r in rows if r[0] == "RECORD_INVALID")
    assert invalid == sorted(("RECORD_INVALID", i) for i, _ in changes)
    assert [r for r in rows if r[0] != "RECORD_INVALID"] == clean
    messages = {r["a_id"]: r["message_en"] for r in _records(found)}
    assert "status" in messages["P-BOGUS"] and "bogus" in messages["P-BOGUS"]
    assert "members_women" in messages["P-MINUS"] and "-5" in messages["P-MINUS"]
    assert "outside Mongolia" in messages["P-FAR"]
    # gazar overlaps reads only the columns its rules use: the broken copies of P-1 (which
    # overlap it) are still left out, as in a whole read
    listed = runner.invoke(
        app, ["overlaps", "--db", seeded.location, "--today", TODAY, "--format", "json"]
    )
    assert listed.exit_code == 0, listed.output
    pairs = overlap_pairs(None, None)
    whole = {name: seeded.read(name) for name in layers_of(pairs)}
    day = dt.date.fromisoformat(TODAY)
    expected = overlaps_json(overlaps_view(whole, pairs=pairs, today=day, tolerance_m2=1.0))
    assert json.loads(listed.stdout) == json.loads(orjson.dumps(expected))
    with client_for(seeded.location) as client:
        for cid in ("overlaps", "available_land", "contract_parcels"):
            answer = client.get(f"/collections/{cid}/items")
            assert answer.status_code == 200, (cid, answer.text)
        for page in ("/map", "/map/land-conclusion/LC-1", "/availability", "/register",
                     "/analysis/availability", "/analysis/overlaps", "/analysis/expiring"):  # fmt: skip
            answer = client.get(page)
            assert answer.status_code == 200, (page, answer.text[:500])
        proposal = shapely.geometry.mapping(f.utm_box(500, 300, 200, 200))
        answer = client.post("/analysis/check", params={"today": TODAY}, json=proposal)
        assert answer.status_code == 200, answer.text


def test_migrate_lists_rows_that_already_break_the_rules(seeded: Store, backend: str) -> None:
    changes = _broken_changes(backend)
    _force(seeded, backend, changes)
    if backend == "gpkg":  # a store made before the checks: no triggers at all
        conn = _sqlite(seeded)
        for kind in REGISTRY.values():
            for stmt in sqlite_drop_ddl(kind):
                conn.execute(stmt)
        conn.close()
    result = runner.invoke(app, ["migrate", "--db", seeded.location])
    assert result.exit_code == 0, result.output
    assert f"{len(changes)} row(s) already in the store break its rules" in result.output
    for new_id, _ in changes:
        assert f"id {new_id}," in result.output
    assert "field status = bogus" in result.output
    assert {r.id for r in seeded.broken_rows()} == {i for i, _ in changes}
    if backend == "gpkg":  # the checks are back: the next bad write is refused
        conn = _sqlite(seeded)
        with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
            conn.execute("UPDATE contract_parcels SET status = 'bogus' WHERE id = 'P-1'")
        conn.close()
    else:  # the CHECK constraints hold even with the triggers off
        with psycopg.connect(seeded.location, autocommit=True) as pg:
            pg.execute("SET session_replication_role = replica")
            with pytest.raises(psycopg.errors.CheckViolation, match="status"):
                pg.execute("UPDATE contract_parcels SET status = 'bogus' WHERE id = 'P-1'")


@pytest.mark.gpkg_only
def test_a_number_no_whole_column_holds_reads_as_missing_and_is_listed(seeded: Store) -> None:
    """A REAL too large for Int64 (1e300) in a whole-number column, written past the triggers
    (SQLite keeps it as a REAL): the layer still reads, the value as missing, and the store
    lists the row as breaking its rules."""
    _force(seeded, "gpkg", [("P-HUGE", {"members_men": 1e300}), ("P-HALF", {"members_men": 2.5})])
    parcels = seeded.read("contract_parcels").set_index("id")
    assert str(parcels["members_men"].dtype) == "Int64"
    assert parcels["members_men"].isna()[["P-HUGE", "P-HALF"]].all()
    assert parcels["members_men"].drop(["P-HUGE", "P-HALF"]).notna().all()
    assert {r.id for r in seeded.broken_rows()} == {"P-HUGE", "P-HALF"}


def test_a_self_crossing_ring_is_repaired_and_reported(seeded: Store, backend: str) -> None:
    """No SQL check can see a self-crossing ring in plain SQLite, so on both backends the store
    takes it: the analysis repairs a repairable one (listed as repaired, the rest unchanged) and
    reports one that cannot be repaired (a ring with no area) as RECORD_INVALID."""
    x, y = 106.90, 47.90
    bowtie = shapely.Polygon([(x, y), (x + 0.01, y + 0.01), (x + 0.01, y), (x, y + 0.01)])
    flat = shapely.Polygon([(x, y), (x + 0.01, y), (x + 0.02, y), (x, y)])
    clean = _rows(_analyze(seeded.location))
    for new_id, geom in (("P-BOWTIE", _multi(bowtie)), ("P-FLAT", _multi(flat))):
        if backend == "gpkg":
            conn: Any = _sqlite(seeded)
            _copy_p1(conn, {"geom": _blob(geom)}, marks="?")
            conn.execute("UPDATE contract_parcels SET id = ? WHERE id = 'P-9'", (new_id,))
            conn.close()
        else:
            with psycopg.connect(seeded.location, autocommit=True) as conn:
                _copy_p1(conn, {"geom": f"ST_GeomFromText('{geom.wkt}', 4326)"}, marks="%s")
                conn.execute("UPDATE contract_parcels SET id = %s WHERE id = 'P-9'", (new_id,))
    found = _analyze(seeded.location)
    rows = _rows(found)
    assert ("RECORD_INVALID", "P-FLAT") in rows
    assert ("RECORD_INVALID", "P-BOWTIE") not in rows
    assert "P-BOWTIE" in json.dumps(found["repaired"])
    flat_message = next(r["message_en"] for r in _records(found) if r["a_id"] == "P-FLAT")
    assert "cannot be repaired" in flat_message
    # the bowtie is analysed: it overlaps nothing in the seeded store but P-1's own rows
    assert [r for r in rows if r[1] not in ("P-BOWTIE", "P-FLAT")] == clean


def test_records_doctests_run() -> None:
    import doctest

    import geo.records

    result = doctest.testmod(geo.records)
    assert result.attempted > 0 and result.failed == 0


def test_gazars_own_write_past_the_rules_is_refused_by_name(seeded: Store) -> None:
    """A write through the store (not only QGIS or psql) that the rules refuse is a
    RecordRefused (422) naming the layer, id, field and rule, not a database error."""
    from layers.errors import RecordRefused

    before = snapshot(seeded)
    zone = f.rehab_zone("RZ-9", parcel_id="NO-SUCH-PARCEL", geometry=f.utm_box(900, 900, 40, 40))
    with pytest.raises(RecordRefused) as exc:
        seeded.write({"rehab_zones": f.frame("rehab_zones", [zone])})
    text = str(exc.value)
    assert text.startswith(REFUSED) and "JSON path" not in text
    assert "layer rehab_zones" in text and "RZ-9" in text and "parcel_id" in text
    assert "nothing was written" in text
    assert snapshot(seeded) == before


def test_making_the_ledger_keeps_the_stores_own_triggers(tmp_path: Any) -> None:
    """The ledger replaces only its own triggers (log and keep) when it makes or upgrades its
    schema: the store's rule triggers and change feed stay, in the process that made the ledger
    as in any other."""
    from layers.gpkg import GeoPackageStore
    from layers.ledger import open_ledger

    path = tmp_path / "fresh.gpkg"
    with GeoPackageStore(path):
        pass

    def triggers() -> set[str]:
        with sqlite3.connect(path) as c:
            return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}

    before = triggers()
    assert any(name.startswith("gazar_check_") for name in before)
    with open_ledger(str(path)) as ledger:
        after = triggers()
        assert before <= after
        with pytest.raises(sqlite3.Error, match=r"rehab_zones|stage"), sqlite3.connect(path) as c:
            register_functions(c)
            c.execute(
                "INSERT INTO rehab_zones (id, geom, stage) VALUES ('Z', ?, 'nonsense')",
                (_blob(_multi(shapely.box(106, 47, 106.01, 47.01))),),
            )
        assert ledger.read("rehab_zones").empty
