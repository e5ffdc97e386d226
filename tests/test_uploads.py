"""Issue 14, findings 1 and 2: every upload and body is read under caps, before parsing.

Zip bombs are refused from the zip's directory (no GDAL, no expansion), a shapefile that does
expand is parsed in a child process under a memory and a time budget, a GeoPackage whose layer is
a recursive view is refused from ``sqlite_master``, one middleware caps every body before
authentication, and an application's polygon has a vertex cap. The server's RSS is read from
``/proc/self/status`` before and after (the TestClient runs the app in this process).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import re
import sqlite3
import struct
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pytest
import shapely
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from layers.errors import InputFileError
from layers.ledger import open_ledger
from layers.readers import read_features
from layers.sandbox import read_bounded, vm_bytes
from layers.store import open_store
from layers.uploads import ReadLimits, UploadTooLarge
from tests import factories as f
from tests.test_api_analysis import client_for

MB = 1_000_000
WGS84 = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["Degree",0.017453292519943295]]'
)


# ------------------------------------------------------------------------------- builders


def _shp_header(length_words: int, bbox: tuple[float, float, float, float]) -> bytes:
    return (
        struct.pack(">7i", 9994, 0, 0, 0, 0, 0, length_words)
        + struct.pack("<2i", 1000, 5)
        + struct.pack("<8d", *bbox, 0, 0, 0, 0)
    )


def _dbf() -> bytes:
    """A dBase table of one record with one text field ``id`` = ``B-1``."""
    header = struct.pack("<B3BIHH20x", 3, 126, 1, 1, 1, 32 + 32 + 1, 1 + 10)
    field = b"id".ljust(11, b"\0") + b"C" + b"\0" * 4 + bytes([10, 0]) + b"\0" * 14
    return header + field + b"\r" + b" " + b"B-1".ljust(10) + b"\x1a"


def shapefile_zip(path: Path, vertices: int, *, zeros: bool = False) -> Path:
    """A zipped shapefile of one polygon of ``vertices`` points (4k + 1: the ring closes) going
    round a small square (so
    it compresses ~1000 times), or with ``zeros`` a .shp of that many 16-byte zero points: the
    archive is a few hundred KB, the .shp 16 bytes a vertex."""
    content = 4 + 32 + 4 + 4 + 4 + 16 * vertices
    bbox = (106.0, 47.0, 106.001, 47.001)
    corners = np.array([[106.0, 47.0], [106.001, 47.0], [106.001, 47.001], [106.0, 47.001]])
    block = (np.zeros((1024, 2)) if zeros else np.tile(corners, (256, 1))).astype("<f8").tobytes()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("bomb.shp", "w", force_zip64=True) as shp:
            shp.write(_shp_header(50 + 4 + content // 2, bbox))
            shp.write(struct.pack(">2i", 1, content // 2))
            shp.write(struct.pack("<i4d2i", 5, *bbox, 1, vertices) + struct.pack("<i", 0))
            left = vertices
            while left:
                n = min(left, 1024)
                shp.write(block[: 16 * n])
                left -= n
        zf.writestr("bomb.shx", _shp_header(50 + 4, bbox) + struct.pack(">2i", 50, content // 2))
        zf.writestr("bomb.dbf", _dbf())
        zf.writestr("bomb.prj", WGS84)
    return path


def recursive_view_gpkg(path: Path) -> Path:
    """A GeoPackage whose one feature "table" is a view that never ends."""
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT, srs_id INTEGER PRIMARY KEY,
            organization TEXT, organization_coordsys_id INTEGER, definition TEXT,
            description TEXT);
        CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT,
            identifier TEXT, description TEXT, last_change TEXT, min_x REAL, min_y REAL,
            max_x REAL, max_y REAL, srs_id INTEGER);
        CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT,
            geometry_type_name TEXT, srs_id INTEGER, z INTEGER, m INTEGER);
        INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84', 4326, 'EPSG', 4326, '', '');
        INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)
            VALUES ('parcels', 'features', 'parcels', 4326);
        INSERT INTO gpkg_geometry_columns VALUES ('parcels', 'geom', 'POLYGON', 4326, 0, 0);
        CREATE VIEW parcels AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r)
            SELECT n AS fid, zeroblob(100000) AS geom FROM r;
        PRAGMA application_id = 1196444487;
        """
    )
    con.commit()
    con.close()
    return path


def rss() -> int:
    return vm_bytes("VmRSS")


def measured_post(client: TestClient, name: str, data: bytes) -> tuple[Any, float, int]:
    """``/check`` of the upload ``data``: the response, its seconds and the RSS it added."""
    before = rss()
    started = time.perf_counter()
    r = client.post("/check", data={"lang": "en"}, files={"file": (name, data)})
    return r, time.perf_counter() - started, rss() - before


def page_error(r: Any) -> str:
    """The error paragraph of the /check page, unescaped."""
    found = re.search(r'<p class="error" id="check-error">(.*?)</p>', r.text, re.S)
    assert found, r.text[:2000]
    return html.unescape(found.group(1))


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture
def store_location(tmp_path: Path) -> str:
    path = tmp_path / "gazar.gpkg"
    store = open_store(str(path))
    lc = f.land_conclusion("LC-A", geometry=f.utm_box(0, 0, 2000, 2000))
    store.write({"land_conclusions": f.frame("land_conclusions", [lc])})
    store.close()
    return str(path)


@pytest.fixture
def token(store_location: str) -> str:
    with open_ledger(store_location) as ledger:
        return str(ledger.add_user("applicant", actor="setup", role="public")[1])


@pytest.fixture
def client(store_location: str) -> Iterator[TestClient]:
    with client_for(store_location) as c:
        yield c


# ------------------------------------------------------------------------------ zip bombs


def test_a_zip_bomb_is_refused_from_its_directory_and_the_server_stays_small(
    client: TestClient, tmp_path: Path
) -> None:
    """640 MB of .shp in a zip of well under a MB: refused before anything is expanded."""
    bomb = shapefile_zip(tmp_path / "bomb.zip", 40_000_000, zeros=True)
    data = bomb.read_bytes()
    assert len(data) < 2 * MB
    r, took, grew = measured_post(client, "parcels.zip", data)
    assert r.status_code == 413, r.text
    error = page_error(r)
    assert error.startswith("parcels.zip: bomb.shp expands to 640,000,")  # the declared size
    assert "GAZAR_MAX_UPLOAD_MEMBER_BYTES" in error
    assert "/tmp" not in r.text
    assert took < 5
    assert grew < 50 * MB


def test_the_command_line_refuses_a_zip_bomb_from_its_compression_ratio(tmp_path: Path) -> None:
    bomb = shapefile_zip(tmp_path / "bomb.zip", 10_000_000, zeros=True)  # 160 MB of zeros
    with pytest.raises(UploadTooLarge, match="GAZAR_MAX_UPLOAD_RATIO"):
        read_features(bomb, limits=ReadLimits())
    from api.cli import app

    result = CliRunner().invoke(app, ["check", str(bomb), "--db", str(tmp_path / "none.gpkg")])
    assert result.exit_code == 1
    assert "bomb.shp expands to 160,000,156 bytes" in result.output
    assert "GAZAR_MAX_UPLOAD_MEMBER_BYTES" in result.output


def _zip(path: Path, members: dict[str, bytes]) -> bytes:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("members", "status", "named"),
    [
        ({"../../etc/parcels.shp": b"x"}, 422, "outside itself: ../../etc/parcels.shp"),
        ({"parcels.shp": b"x", "more.zip": b"PK"}, 422, "another archive, more.zip"),
        ({f"f{i}.txt": b"x" for i in range(60)}, 413, "GAZAR_MAX_UPLOAD_MEMBERS"),
    ],
    ids=["traversal", "nested", "members"],
)
def test_an_archive_is_refused_for_what_its_directory_names(
    client: TestClient, tmp_path: Path, members: dict[str, bytes], status: int, named: str
) -> None:
    data = _zip(tmp_path / "upload.zip", members)
    r = client.post("/check", data={"lang": "en"}, files={"file": ("parcels.zip", data)})
    assert r.status_code == status, r.text
    assert named in page_error(r)


def test_a_kmz_is_read_under_the_same_caps(client: TestClient, tmp_path: Path) -> None:
    outline = f.utm_box(100, 100, 200, 200)
    coords = " ".join(f"{x},{y}" for x, y in outline.exterior.coords)
    kml = (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        "<Document><Placemark><name>K-1</name><Polygon><outerBoundaryIs><LinearRing>"
        f"<coordinates>{coords}</coordinates></LinearRing></outerBoundaryIs></Polygon>"
        "</Placemark></Document></kml>"
    ).encode()
    _zip(tmp_path / "a.kmz", {"doc.kml": kml, "files/logo.png": b"\x89PNG"})
    frame, info = read_features(tmp_path / "a.kmz")
    assert info.format == "KMZ" and len(frame) == 1
    bomb = _zip(tmp_path / "b.kmz", {"doc.kml": kml + b" " * (60 * MB)})
    r = client.post("/check", data={"lang": "en"}, files={"file": ("parcels.kmz", bomb)})
    assert r.status_code == 413 and "GAZAR_MAX_UPLOAD_MEMBER_BYTES" in page_error(r)


# ------------------------------------------------------------------- the parse's budgets


def test_a_shapefile_that_expands_is_parsed_under_a_memory_budget(
    store_location: str, tmp_path: Path
) -> None:
    """8 M vertices (a 128 MB .shp in a zip of ~0.5 MB) under a 50 MB budget: 413 naming it,
    the server's memory as it was."""
    bomb = shapefile_zip(tmp_path / "big.zip", 8_000_001)
    caps = {
        "max_vertices": 10_000_000,
        "max_upload_member_bytes": 200 * MB,
        "max_upload_expanded_bytes": 200 * MB,
        "max_upload_ratio": 10_000.0,
        "max_parse_bytes": 50 * MB,
    }
    with client_for(store_location, **caps) as c:
        small = shapefile_zip(tmp_path / "small.zip", 1001).read_bytes()
        warm = c.post("/check", data={"lang": "en"}, files={"file": ("small.zip", small)})
        assert warm.status_code == 200  # read in a child: the reader's server is started
        r, took, grew = measured_post(c, "parcels.zip", bomb.read_bytes())
        assert r.status_code == 413, r.text
        assert "50,000,000 bytes (GAZAR_MAX_PARSE_BYTES)" in page_error(r)
        assert grew < 50 * MB
        assert took < 30
        ok = c.get("/api")  # the server is still up
        assert ok.status_code == 200


def test_a_shapefile_is_counted_from_its_index_before_it_is_read(
    store_location: str, tmp_path: Path
) -> None:
    data = shapefile_zip(tmp_path / "big.zip", 400_001).read_bytes()  # 6.4 MB of .shp
    with client_for(store_location, max_upload_ratio=10_000.0) as c:
        r, _, grew = measured_post(c, "parcels.zip", data)
    assert r.status_code == 422, r.text
    assert "about 400,001 vertices; at most 100,000" in page_error(r)
    assert "GAZAR_MAX_VERTICES" in page_error(r)
    assert grew < 50 * MB


def test_a_parse_over_its_time_budget_is_stopped(tmp_path: Path) -> None:
    path = tmp_path / "p.geojson"
    gpd.GeoDataFrame(geometry=[f.utm_box(0, 0, 100, 100)], crs="EPSG:4326").to_file(path)
    with pytest.raises(UploadTooLarge, match="GAZAR_MAX_PARSE_SECONDS"):
        read_bounded(path, limits=ReadLimits(seconds=0.001))
    frame, info = read_bounded(path, limits=ReadLimits(seconds=60, memory_bytes=500 * MB))
    assert len(frame) == 1 and info.peak_bytes is not None and info.peak_bytes > 0


def test_a_geopackage_whose_layer_is_a_recursive_view_is_refused_at_once(
    client: TestClient, tmp_path: Path
) -> None:
    data = recursive_view_gpkg(tmp_path / "view.gpkg").read_bytes()
    r, took, grew = measured_post(client, "parcels.gpkg", data)
    assert took < 3
    assert r.status_code == 422, r.text
    assert "layer 'parcels' is not a table" in page_error(r)
    assert grew < 50 * MB


def test_a_geopackage_is_counted_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "many.gpkg"
    boxes = [f.utm_box(300 * i, 0, 100, 100) for i in range(30)]
    gpd.GeoDataFrame({"id": range(30)}, geometry=boxes, crs="EPSG:4326").to_file(path)
    with pytest.raises(InputFileError, match=r"30 features; at most 20.*GAZAR_MAX_CHECK_FEATURES"):
        read_bounded(path, limits=ReadLimits(max_features=20))
    with pytest.raises(InputFileError, match=r"at most 50 are read.*GAZAR_MAX_VERTICES"):
        read_bounded(path, limits=ReadLimits(max_vertices=50))
    frame, _ = read_bounded(path, limits=ReadLimits(max_features=30, max_vertices=150))
    assert len(frame) == 30


# ----------------------------------------------------------------------------- the body cap


FORM_HEAD = (
    b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.geojson"\r\n'
    b"Content-Type: application/geo+json\r\n\r\n"
)


async def _send(app: FastAPI, path: str, headers: dict[str, str], chunks: int) -> dict[str, Any]:
    """Call the app as a server would, counting the body chunks it asks for."""
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        head = FORM_HEAD if asked == 1 and path == "/check" else b""
        return {"type": "http.request", "body": head + b"x" * MB, "more_body": asked < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "app": app,
    }
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": sent[0]["status"], "asked": asked, "body": orjson.loads(body)}


def _run(coro: Any) -> Any:
    """``asyncio.run`` on a thread of its own: the browser tests of the same worker leave an
    event loop running on this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.mark.parametrize("path", ["/applications", "/analysis/check", "/check"])
def test_one_body_cap_before_authentication_and_reading(client: TestClient, path: str) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    form = "multipart/form-data; boundary=xyz"
    json_type = {"content-type": form if path == "/check" else "application/json"}
    declared = _run(_send(app, path, {**json_type, "content-length": str(60 * MB)}, 60))
    assert declared["status"] == 413 and declared["asked"] == 0  # nothing read
    assert declared["body"]["code"] == "PayloadTooLarge"
    assert "GAZAR_MAX_BODY_BYTES" in declared["body"]["description"]
    chunked = _run(_send(app, path, {**json_type, "transfer-encoding": "chunked"}, 60))
    assert chunked["status"] == 413, chunked
    assert chunked["asked"] <= 6  # stopped past 5 MB, not read to its 60 MB
    assert "GAZAR_MAX_BODY_BYTES" in chunked["body"]["description"]


def test_a_large_body_without_a_token_gets_413_not_401(client: TestClient) -> None:
    r = client.post("/applications", content=b"{" + b" " * (6 * MB) + b"}")
    assert r.status_code == 413 and r.json()["code"] == "PayloadTooLarge"


# ---------------------------------------------------------------------- application vertices


def _many_vertices(n: int) -> shapely.Polygon:
    """A round parcel of about ``n`` vertices inside LC-A."""
    centre = f.utm_box(300, 300, 10, 10).centroid
    return shapely.buffer(centre, 0.002, quad_segs=n // 4)


def test_an_application_over_the_vertex_cap_is_refused_and_nothing_written(
    store_location: str, token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    polygon = _many_vertices(2000)
    assert shapely.get_num_coordinates(polygon) > 1000
    body = {
        "land_conclusion_id": "LC-A",
        "holder": "Bold partnership",
        "holder_type": "partnership",
        "members_women": 2,
        "members_men": 2,
        "geometry": shapely.geometry.mapping(polygon),
    }
    with client_for(store_location, max_vertices=1000) as c:
        auth = {"Authorization": f"Bearer {token}"}
        r = c.post("/applications", headers=auth, json=body)
        assert r.status_code == 422, r.text
        assert "2,001 vertices" in r.text and "GAZAR_MAX_VERTICES" in r.text
        assert c.get("/applications").json() == []
    from api.cli import app

    path = tmp_path / "parcel.geojson"
    gpd.GeoDataFrame(geometry=[polygon], crs="EPSG:4326").to_file(path)
    monkeypatch.setenv("GAZAR_MAX_VERTICES", "1000")
    args = ["apply", "LC-A", "--holder", "Bold", "--women", "1", "--men", "1"]
    result = CliRunner().invoke(app, [*args, "--polygon", str(path), "--db", store_location])
    assert result.exit_code == 1
    assert "GAZAR_MAX_VERTICES" in result.output
    with open_ledger(store_location) as ledger:
        assert len(ledger.read("applications")) == 0


def test_a_geometry_gdal_drops_for_want_of_memory_is_not_taken_for_an_empty_one(
    tmp_path: Path,
) -> None:
    """Out of memory, GDAL gives a shapefile record no geometry (or an empty one) and no error;
    the record's length in the .shx tells it had points."""
    from layers.readers import _lost_geometries

    with zipfile.ZipFile(shapefile_zip(tmp_path / "s.zip", 1001)) as zf:
        zf.extractall(tmp_path)
    shp = tmp_path / "bomb.shp"
    for dropped in (None, shapely.Polygon()):
        frame = gpd.GeoDataFrame(geometry=[dropped], crs="EPSG:4326")
        with pytest.raises(InputFileError, match=r"feature #0: its geometry \(16,064 bytes\)"):
            _lost_geometries(Path("parcels.zip"), shp, frame)
    _lost_geometries(Path("parcels.zip"), shp, read_features(shp)[0])  # read whole: no error


def test_uploads_wait_for_a_parse_slot_and_are_refused_when_none_comes(
    store_location: str, tmp_path: Path
) -> None:
    from layers import sandbox

    data = shapefile_zip(tmp_path / "small.zip", 1001).read_bytes()
    with client_for(store_location, max_parallel_parses=1, max_parse_seconds=3.0) as c:
        first = c.post("/check", data={"lang": "en"}, files={"file": ("small.zip", data)})
        assert first.status_code == 200  # the slot is taken and given back
        slots = sandbox._SLOTS[1]
        assert slots.acquire(timeout=1)  # another upload is being read
        try:
            r = c.post("/check", data={"lang": "en"}, files={"file": ("small.zip", data)})
        finally:
            slots.release()
    assert r.status_code == 503
    assert "at most 1 at once, GAZAR_MAX_PARALLEL_PARSES" in page_error(r)
