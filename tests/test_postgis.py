"""The PostGIS backend's own promises, beyond the store tests both backends pass (test_store.py).

Schema (types, GiST indexes, migrations under a lock, newer schemas refused), revisions,
parameterised SQL, four writer processes, a writer killed mid-COPY, a pg_dump restored into a
new database, and ``gazar copy``/``gazar migrate`` between the backends. These need the
throwaway cluster ``./scripts/test`` starts (``GAZAR_TEST_PG``); the copy checker's own tests
run without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from layers.errors import StoreError
from layers.ledger import open_ledger
from layers.postgis import LATEST, REVISION_TABLE, VERSION_TABLE, migrate
from layers.schema import REGISTRY
from layers.store import SCHEMA_VERSION, Store, open_store
from layers.transfer import copy_store, difference
from tests import factories as f
from tests.conftest import NO_PG, TEST_PG, snapshot
from tests.test_store import _WRITER

needs_pg = pytest.mark.skipif(TEST_PG is None, reason=NO_PG)
runner = CliRunner()


@pytest.fixture
def pg(pg_database: str) -> Iterator[Store]:
    """A PostGIS store in a new database."""
    s = open_store(pg_database)
    yield s
    s.close()


def _seed(store: Store) -> None:
    two = shapely.MultiPolygon([f.utm_box(0, 0, 10, 10), f.utm_box(50, 0, 10, 10)])
    store.write(
        {
            "land_conclusions": f.frame("land_conclusions", [f.land_conclusion()]),
            "contract_parcels": f.frame("contract_parcels", [f.parcel()]),
            "rehab_zones": f.frame("rehab_zones", [f.rehab_zone()]),
            "exclusions": f.frame(
                "exclusions", [f.exclusion(), f.exclusion("X-2", name=None, geometry=two)]
            ),
        }
    )


def _sql(url: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


# --- schema -----------------------------------------------------------------------------------


def test_migrations_reach_the_store_schema_version() -> None:
    assert LATEST == SCHEMA_VERSION, "add a PostGIS migration for each schema version"


@needs_pg
def test_tables_have_typed_columns_and_gist_indexes(pg: Store, pg_database: str) -> None:
    geometry = _sql(pg_database, "SELECT f_table_name, type, srid FROM geometry_columns")
    assert sorted(geometry) == sorted(
        (name, kind.geometry.upper(), 4326) for name, kind in REGISTRY.items()
    )
    assert ("roads", "MULTILINESTRING", 4326) in geometry
    assert ("settlements", "POINT", 4326) in geometry
    types = dict(
        _sql(
            pg_database,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'contract_parcels'",
        )
    )
    assert types["signed_on"] == "date"
    assert types["members_women"] == "bigint"
    assert types["holder"] == "text"
    gist = {
        r[0]
        for r in _sql(
            pg_database,
            "SELECT tablename FROM pg_indexes WHERE indexdef LIKE %s",
            ("%USING gist (geom)",),
        )
    }
    assert gist == set(REGISTRY)
    # a bbox read is answered by the index (seq scans priced out: the table is tiny)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT id FROM exclusions WHERE geom && ST_MakeEnvelope(1, 2, 3, 4, 4326)"
            )
        )
    assert "exclusions_geom_gist" in plan


@needs_pg
def test_migrate_creates_once_and_refuses_a_newer_schema(pg_database: str) -> None:
    assert migrate(pg_database) == (0, LATEST)
    assert migrate(pg_database) == (LATEST, LATEST)
    _sql(pg_database, f"INSERT INTO {VERSION_TABLE} (version) VALUES (%s)", (LATEST + 1,))
    with pytest.raises(StoreError, match="newer Gazar"):
        open_store(pg_database)
    with pytest.raises(StoreError, match="newer Gazar"):
        migrate(pg_database)


@needs_pg
def test_workers_starting_together_migrate_once(pg_database: str) -> None:
    results: list[tuple[int, int]] = []
    threads = [
        threading.Thread(target=lambda: results.append(migrate(pg_database))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [(0, LATEST)] + [(LATEST, LATEST)] * 3
    assert _sql(pg_database, f"SELECT version FROM {VERSION_TABLE}") == [(LATEST,)]


@needs_pg
def test_a_database_without_a_store_is_not_opened_without_create(pg_database: str) -> None:
    with pytest.raises(
        StoreError, match=r"no Gazar store in this database \(run 'gazar migrate'\)"
    ):
        open_store(pg_database, create=False)
    assert _sql(pg_database, "SELECT to_regclass('land_conclusions')") == [(None,)]


def test_an_unreachable_server_is_named_without_its_password() -> None:
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as info:
        open_store("postgresql://gazar:s3cret@127.0.0.1:1/gazar")
    assert "127.0.0.1:1/gazar" in str(info.value)
    assert "s3cret" not in str(info.value)


@needs_pg
def test_tables_go_to_the_schema_the_url_names(pg_database: str) -> None:
    _sql(pg_database, "CREATE SCHEMA gazar")
    url = pg_database + "?options=-csearch_path%3Dgazar,public"
    with open_store(url) as s:
        _seed(s)
        assert s.ids("exclusions") == {"X-1", "X-2"}
    assert _sql(pg_database, "SELECT count(*) FROM gazar.exclusions") == [(2,)]
    assert _sql(pg_database, "SELECT to_regclass('public.exclusions')") == [(None,)]


# --- revisions and SQL parameters ---------------------------------------------------------------


@needs_pg
def test_revision_changes_with_each_committed_write_of_its_layer(pg: Store) -> None:
    _seed(pg)
    before = {name: pg.revision(name) for name in REGISTRY}
    pg.read("exclusions")
    assert pg.revision("exclusions") == before["exclusions"]
    pg.write({"exclusions": f.frame("exclusions", [f.exclusion("X-3")])})
    after = {name: pg.revision(name) for name in REGISTRY}
    assert after["exclusions"] != before["exclusions"]
    assert {k: v for k, v in after.items() if k != "exclusions"} == {
        k: v for k, v in before.items() if k != "exclusions"
    }
    with pytest.raises(StoreError, match=r"exclusions.*Key \(id\)=\(X-3\) already exists"):
        pg.write({"exclusions": f.frame("exclusions", [f.exclusion("X-3")])})
    assert pg.revision("exclusions") == after["exclusions"]  # the refused write rolled back
    assert pg.delete("exclusions", ["X-3", "nope"]) == 1
    assert pg.revision("exclusions") != after["exclusions"]
    assert pg.revision("aimags") == before["aimags"] == "0"


@needs_pg
def test_values_travel_as_parameters(pg: Store) -> None:
    nasty = "X'); DROP TABLE exclusions; --"
    name = 'a "quoted" name; DELETE FROM exclusions'
    pg.write({"exclusions": f.frame("exclusions", [f.exclusion(nasty, name=name)])})
    assert pg.read("exclusions", where={"name": name})["id"].tolist() == [nasty]
    assert pg.read("exclusions", ids=[nasty, "' OR 1=1 --"])["id"].tolist() == [nasty]
    assert pg.get("exclusions", nasty).iloc[0]["name"] == name
    assert pg.delete("exclusions", ["' OR ''='"]) == 0
    assert pg.ids("exclusions") == {nasty}
    with pytest.raises(KeyError):
        pg.read("exclusions", where={"name = name OR 1": 1})


@needs_pg
def test_a_refused_row_is_named_in_a_short_message(pg: Store) -> None:
    ring = shapely.Point(106.5, 48.8).buffer(0.01, quad_segs=2000)  # 8,000 vertices
    with pytest.raises(StoreError) as info:
        pg.write(
            {"exclusions": f.frame("exclusions", [f.exclusion("X-9", kind=None, geometry=ring)])}
        )
    message = str(info.value)
    assert message.startswith("layer 'exclusions': null value in column \"kind\"")
    assert message.endswith("(nothing was written)")
    assert len(message) < 400  # the row's detail (its geometry as hex) is cut short
    assert pg.ids("exclusions") == set()


# --- several processes ------------------------------------------------------------------------


@needs_pg
def test_four_writer_processes_lose_nothing(pg: Store, pg_database: str) -> None:
    batches, per = 40, 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, pg_database, f"w{k}", str(batches), str(per)]
        )
        for k in range(4)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    frame = pg.read("exclusions")
    assert len(frame) == 4 * batches * per
    assert frame["id"].is_unique
    assert frame["name"].value_counts().to_dict() == {f"w{k}": batches * per for k in range(4)}
    # every write transaction counted exactly once
    assert pg.revision("exclusions").split("/")[0] == str(4 * batches)
    count = _sql(pg_database, f"SELECT revision FROM {REVISION_TABLE} WHERE layer = 'exclusions'")
    assert count == [(4 * batches,)]


@needs_pg
def test_a_writer_killed_mid_copy_leaves_the_store_as_it_was(pg: Store, pg_database: str) -> None:
    _seed(pg)
    before = snapshot(pg)
    revision = pg.revision("exclusions")
    proc = subprocess.run(
        [sys.executable, "-c", f.crashing_writer("postgis"), pg_database], check=False
    )
    assert proc.returncode == -9
    assert snapshot(pg) == before
    assert pg.revision("exclusions") == revision
    # the dead writer's locks are gone: the next write goes through
    pg.write({"exclusions": f.frame("exclusions", [f.exclusion("X-after")])})
    assert "X-after" in pg.ids("exclusions")


# --- backups ------------------------------------------------------------------------------------


def _pg_program(name: str) -> str:
    folder = os.environ.get("GAZAR_TEST_PGBIN")
    found = shutil.which(name, path=folder) if folder else shutil.which(name)
    if not found:
        pytest.skip(f"{name} not found (./scripts/test sets GAZAR_TEST_PGBIN)")
    return found


@pytest.fixture
def owner(pg_template: str) -> Iterator[tuple[str, str]]:
    """A login role that is no superuser, as in the README's deployment, and a database it owns
    (PostGIS enabled by the administrator): ``(role, database URL)``."""
    from tests.conftest import pg_url

    suffix = uuid.uuid4().hex[:10]
    role, db = f"gazar_{suffix}", f"gazar_owned_{suffix}"
    admin = pg_url("postgres")
    _sql(admin, f'CREATE ROLE "{role}" LOGIN')
    _sql(admin, f'CREATE DATABASE "{db}" OWNER "{role}" TEMPLATE "{pg_template}"')
    try:
        yield role, _as_role(pg_url(db), role)
    finally:
        _sql(admin, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        _sql(admin, f'DROP DATABASE IF EXISTS "{db}_restored" WITH (FORCE)')
        _sql(admin, f'DROP ROLE IF EXISTS "{role}"')


def _as_role(url: str, role: str) -> str:
    return urlsplit(url)._replace(netloc=f"{role}@{urlsplit(url).netloc.split('@')[-1]}").geturl()


@needs_pg
def test_a_role_without_superuser_runs_the_store_and_its_backups_restore_identically(
    owner: tuple[str, str], pg_template: str, tmp_path: Path
) -> None:
    """The README's backup and restore, step by step, of a store with its allocation ledger."""
    from tests.conftest import pg_url

    role, url = owner
    with open_ledger(url) as pg:  # as the server opens it: the log's tables and triggers too
        _seed(pg)
        pg.delete("exclusions", ["X-1"])  # the identity counter has moved past the rows left
        pg.add_user("Болд", role="soum", soum_code="MN4322", actor="admin")
        before, revision, log = snapshot(pg), pg.revision("exclusions"), pg.verify_chain()
    assert log.ok and log.events == 7
    assert _sql(url, "SELECT tableowner FROM pg_tables WHERE tablename = 'exclusions'") == [(role,)]
    dump = tmp_path / "gazar.dump"
    subprocess.run(
        [
            _pg_program("pg_dump"),
            "--format=custom",
            "--no-comments",  # the extension's comment belongs to the administrator
            "--exclude-table-data=public.spatial_ref_sys",  # PostGIS brings its own rows
            f"--file={dump}",
            url,
        ],
        check=True,
    )
    # the administrator makes an empty database for the owner and enables PostGIS in it
    name = f"{urlsplit(url).path.strip('/')}_restored"
    _sql(pg_url("postgres"), f'CREATE DATABASE "{name}" OWNER "{role}" TEMPLATE template0')
    _sql(pg_url(name), "CREATE EXTENSION postgis")
    restored = _as_role(pg_url(name), role)
    subprocess.run(
        [_pg_program("pg_restore"), "--no-owner", "--exit-on-error", "-d", restored, str(dump)],
        check=True,
    )
    with open_ledger(restored, create=False) as again:
        assert snapshot(again) == before
        assert again.schema_version() == LATEST
        assert again.revision("exclusions") != revision  # caches of the old database re-read
        assert again.verify_chain() == log  # the same chain, to the same head
        again.write({"exclusions": f.frame("exclusions", [f.exclusion("X-1")])})
        assert again.read("exclusions")["id"].tolist() == ["X-2", "X-1"]
        assert again.verify_chain().events == log.events + 1  # logged, chained on
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        _sql(restored, "DELETE FROM gazar_events")  # the restored log still refuses changes


# --- gazar copy and gazar migrate -----------------------------------------------------------------


@needs_pg
def test_copy_between_backends_both_ways(pg_database: str, tmp_path: Path) -> None:
    source = tmp_path / "office.gpkg"
    with open_store(source) as s:
        _seed(s)
        original = snapshot(s)
    first = runner.invoke(app, ["copy", "--from", str(source), "--to", pg_database])
    assert first.exit_code == 0, first.output
    assert "Copied and verified: 5 feature(s)" in first.output
    assert "Гэрээт талбай / ASM contract parcels" in first.output
    with open_store(pg_database, create=False) as s:
        assert snapshot(s) == original
    again = runner.invoke(app, ["copy", "--from", str(source), "--to", pg_database])
    assert again.exit_code == 3
    assert "is not empty: land_conclusions (1)" in again.output
    assert "--replace" in again.output
    back = tmp_path / "back.gpkg"
    home = runner.invoke(app, ["copy", "--from", pg_database, "--to", str(back)])
    assert home.exit_code == 0, home.output
    with open_store(back, create=False) as s:
        assert snapshot(s) == original


@needs_pg
def test_copy_replace_leaves_exactly_the_source(pg: Store, tmp_path: Path) -> None:
    _seed(pg)
    licence = {"id": "MV-1", "kind": "MV", "geometry": f.utm_box(0, 0, 50, 50)}
    pg.write({"licences": f.frame("licences", [licence])})
    with open_store(tmp_path / "small.gpkg") as small:
        small.write({"exclusions": f.frame("exclusions", [f.exclusion("X-9")])})
        copied = copy_store(small, pg, replace=True)
        assert {c.layer: c.count for c in copied}["exclusions"] == 1
        assert snapshot(pg) == snapshot(small)
        with pytest.raises(StoreError, match="same"):
            copy_store(small, small, replace=True)


def test_copy_refuses_an_unknown_source(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["copy", "--from", str(tmp_path / "absent.gpkg"), "--to", str(tmp_path / "b.gpkg")]
    )
    assert result.exit_code == 3
    assert "no such store" in result.output
    assert not (tmp_path / "b.gpkg").exists()


def test_the_copy_check_sees_every_kind_of_difference() -> None:
    a = f.frame("exclusions", [f.exclusion(), f.exclusion("X-2", name="b")])
    assert difference(a, a.iloc[::-1].copy(), layer="exclusions") is None  # order does not matter
    assert (
        difference(a, a.iloc[:1], layer="exclusions") == "2 feature(s) in the source, 1 in the copy"
    )
    renamed = a.assign(id=["X-1", "X-3"])
    assert difference(a, renamed, layer="exclusions") == "the ids differ"
    other = a.assign(name=["a", None])
    assert difference(a, other, layer="exclusions") == "the values of 'name' differ"
    moved = a.copy()
    moved.loc[1, "geometry"] = shapely.affinity.translate(moved.geometry.iloc[1], xoff=1e-12)
    assert difference(a, moved, layer="exclusions") == "1 geometr(y/ies) differ, e.g. id 'X-2'"


@needs_pg
def test_migrate_command(pg_database: str, tmp_path: Path) -> None:
    first = runner.invoke(app, ["migrate", "--db", pg_database])
    assert first.exit_code == 0, first.output
    assert f"created to schema version {LATEST}" in first.output
    assert _sql(pg_database, "SELECT count(*) FROM gazar_events") == [(0,)]  # the ledger too
    second = runner.invoke(app, ["migrate", "--db", pg_database])
    assert f"schema version {LATEST}, up to date" in second.output
    gpkg = runner.invoke(app, ["migrate", "--db", str(tmp_path / "new.gpkg")])
    assert gpkg.exit_code == 0, gpkg.output
    assert f"schema version {SCHEMA_VERSION}, up to date" in gpkg.output
    refused = runner.invoke(app, ["migrate", "--db", "postgresql://u:pw@127.0.0.1:1/x"])
    assert refused.exit_code == 3
    assert "cannot connect" in refused.output and "pw@" not in refused.output


@needs_pg
def test_bench_reads_the_same_layers_from_both_backends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import backends
    from bench.data import DEMO_DAY, build

    demo = build(scale=2).demo
    assert backends.run(demo, dsn=TEST_PG, repeats=1, today=DEMO_DAY)
    out = capsys.readouterr().out
    assert "GeoPackage  PostGIS" in out
    assert "both backends read the same 200 parcels" in out
    with psycopg.connect(TEST_PG or "", autocommit=True) as admin:
        left = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'gazar_bench_%'")
        assert left.fetchall() == []  # its database was dropped
