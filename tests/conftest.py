from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from layers.store import Store, open_store
from tests import factories as f

if TYPE_CHECKING:
    import geopandas as gpd

#: the day of the small demo the incremental-cache tests write to
DEMO_DAY = dt.date(2025, 6, 1)

#: The real data, ``../shared/data/mongolia`` beside the repository (``GAZAR_TEST_SHARED`` names
#: it for a checkout elsewhere, e.g. a git worktree)
SHARED = Path(
    os.environ.get("GAZAR_TEST_SHARED")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "mongolia"
)

#: A PostgreSQL superuser URL on a throwaway cluster (``./scripts/test`` starts one and sets it).
#: Each test that uses a store gets a fresh database there, made from a PostGIS template.
TEST_PG = os.environ.get("GAZAR_TEST_PG") or None
BACKENDS = ("gpkg", "postgis")
NO_PG = (
    "GAZAR_TEST_PG is not set: the PostGIS backend is not tested here "
    "(./scripts/test starts a throwaway cluster and sets it)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gpkg_only: the test reads the GeoPackage file itself (sqlite, GDAL)"
    )
    config.addinivalue_line(
        "markers",
        "production_hashes: the test hashes passwords at the production cost (see "
        "_cheap_password_hashes)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using ``store`` runs on each backend, unless it needs the GeoPackage file.

    A test that asks for ``store_path`` (the .gpkg file: sqlite, ogrinfo, ``--db path``) or is
    marked ``gpkg_only`` runs on the GeoPackage only; one that wants both backends names the
    store by ``store.location``.
    """
    if "backend" not in metafunc.fixturenames:
        return
    gpkg_only = "store_path" in metafunc.fixturenames or metafunc.definition.get_closest_marker(
        "gpkg_only"
    )
    metafunc.parametrize("backend", ["gpkg"] if gpkg_only else list(BACKENDS), indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    name: str = getattr(request, "param", "gpkg")
    if name == "postgis" and TEST_PG is None:
        pytest.skip(NO_PG)
    return name


def pg_url(database: str) -> str:
    """``GAZAR_TEST_PG`` with its database replaced by ``database``."""
    from urllib.parse import urlsplit

    if TEST_PG is None:
        pytest.skip(NO_PG)
    return urlsplit(TEST_PG)._replace(path=f"/{database}").geturl()


@pytest.fixture(scope="session")
def pg_template(worker_id: str) -> Iterator[str]:
    """A database with PostGIS enabled (per xdist worker), copied for each test's store."""
    import psycopg

    name = f"gazar_template_{worker_id}"
    with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(pg_url(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        yield name
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_store_template(pg_template: str) -> Iterator[str]:
    """A database holding an empty Gazar store (per xdist worker), copied for each test's
    ``store``: the store's tables, checks and triggers are made once per worker by
    :func:`open_store` itself instead of once per test (~0.1-0.25 s each). The ledger is not in
    it: a ledger opened on a store logs the features already there as its baseline, so it is
    made by the test that opens it, as on a real store."""
    import psycopg

    name = f"{pg_template}_store"
    with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
        open_store(pg_url(name)).close()
        yield name
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_from(template: str) -> Iterator[str]:
    """The URL of a new database copied from ``template`` (dropped after the test)."""
    import psycopg

    name = f"gazar_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield pg_url(name)
    finally:
        with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_template: str) -> Iterator[str]:
    """The URL of a new, empty database with PostGIS (dropped after the test)."""
    yield from _database_from(pg_template)


@pytest.fixture
def pg_store_database(pg_store_template: str) -> Iterator[str]:
    """The URL of a new database holding an empty Gazar store (dropped after the test)."""
    yield from _database_from(pg_store_template)


@pytest.fixture(autouse=True)
def _no_ambient_db(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch a store or a rasters folder named by the environment."""
    monkeypatch.delenv("GAZAR_DB", raising=False)
    monkeypatch.delenv("GAZAR_RASTERS", raising=False)


#: argon2id at its lowest cost (one pass over 8 KiB): the same algorithm, hash format and code
#: path as production, in about a millisecond instead of ~0.1 s
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


@pytest.fixture(autouse=True)
def _cheap_password_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords hashed at :data:`CHEAP_ARGON2` in this process, as Django's test settings do
    with their hashers: the suite hashes and verifies a password in thousands of set-ups and
    sign-ins, each ~0.1 s at pwdlib's recommended 64 MiB and three passes. A stored hash names
    its parameters, so a hash made either way verifies either way. A test marked
    ``production_hashes`` (the one asserting the production parameters) keeps them, and so do
    the servers and commands tests start in other processes."""
    if request.node.get_closest_marker("production_hashes"):
        return
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from layers.ledger import passwords

    cheap = PasswordHash((Argon2Hasher(**CHEAP_ARGON2),))
    dummy = cheap.hash("not anyone's password")
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: dummy)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "gazar.gpkg"


@pytest.fixture
def store_location(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the test's store lives: the .gpkg file (``store_path``, not made yet) or a new PostGIS
    database holding an empty store (``pg_store_database``)."""
    if backend == "postgis":
        url: str = request.getfixturevalue("pg_store_database")
        return url
    return str(tmp_path / "gazar.gpkg")


@pytest.fixture
def store(store_location: str) -> Iterator[Store]:
    s = open_store(store_location)
    yield s
    s.close()


@pytest.fixture
def seeded(store: Store) -> Store:
    """A store with one issued Land Conclusion, one parcel, one rehabilitation zone, one exclusion."""
    store.write(
        {
            "land_conclusions": f.frame("land_conclusions", [f.land_conclusion()]),
            "contract_parcels": f.frame("contract_parcels", [f.parcel()]),
            "rehab_zones": f.frame("rehab_zones", [f.rehab_zone()]),
            "exclusions": f.frame("exclusions", [f.exclusion()]),
        }
    )
    return store


def snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every layer's rows as plain tuples, to prove a refused write changed nothing."""
    out = {}
    for info in store.layers():
        frame = store.read(info.layer)
        table = frame.drop(columns="geometry").assign(wkb=frame.geometry.to_wkb(hex=True))
        out[info.layer] = [tuple(map(str, r)) for r in table.itertuples(index=False)]
    return out


os.environ.setdefault("COLUMNS", "200")

#: Debian's chromium, which every browser test drives through the ``browser`` fixture
CHROMIUM = Path("/usr/bin/chromium")
#: its command line (no sandbox: tests run as root in containers)
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright: one for the whole session (of each xdist
    worker), shared by every browser test. The ONLY place a test starts Playwright: its sync
    API keeps an asyncio loop running in the thread while it is open, so a second
    ``sync_playwright()`` in the same worker fails ("using Playwright Sync API inside the
    asyncio loop"). A test wanting its own viewport or cookies opens a context on it
    (``browser.new_context(...)``) and closes that context."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo() -> dict[str, gpd.GeoDataFrame]:
    """The small demo (``scale=1``) dated :data:`DEMO_DAY`."""
    from layers.demo import build_demo

    return build_demo(seed=7, scale=1, today=DEMO_DAY)


@pytest.fixture
def filled(store: Store, demo: dict[str, gpd.GeoDataFrame]) -> Store:
    """The store holding every layer of :func:`demo`."""
    from layers.schema import LAYER_ORDER

    store.write({name: demo[name] for name in LAYER_ORDER})
    return store
