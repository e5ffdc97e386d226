"""Real clients against the running API: GDAL's OGC API driver, OWSLib and schemathesis.

The server is uvicorn in a thread on a free loopback port, serving a small demo store
(``layers.demo.build_demo``) written to a temporary GeoPackage. Every request the server sees
is recorded, so the tests can tell that clients really paged through ``next`` links.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import geopandas as gpd
import pytest
import schemathesis
import shapely
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.services.collections import COLLECTIONS, OVERLAP_RULES
from api.settings import ApiSettings
from geo.rules import analyze
from geo.settings import AnalysisSettings
from layers.demo import build_demo
from layers.schema import REGISTRY
from layers.store import open_store

TODAY = dt.date.today()  # the server's derived collections are computed for today
PAGE = 7
#: examples schemathesis tries per operation (enough to vary every parameter, kept fast)
EXAMPLES = 20


@dataclass
class Live:
    """A running server: its root URL, the store it serves and the requests it has seen."""

    url: str
    db: Path
    frames: dict[str, gpd.GeoDataFrame]
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    def seen(self, path: str) -> list[dict[str, list[str]]]:
        return [query for p, query in self.requests if p == path]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clients") / "demo.gpkg"
    with open_store(path) as store:
        store.write(build_demo(today=TODAY))
    return path


def _recording(app: FastAPI, log: list[tuple[str, dict[str, list[str]]]]) -> Any:
    async def recorder(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            log.append((scope["path"], parse_qs(scope["query_string"].decode())))
        await app(scope, receive, send)

    return recorder


@pytest.fixture(scope="module")
def live(demo_db: Path) -> Iterator[Live]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    with open_store(demo_db) as store:
        frames = {name: store.read(name) for name in REGISTRY}
    server_live = Live(f"http://127.0.0.1:{port}", demo_db, frames)
    app = _recording(create_app(ApiSettings(db=str(demo_db))), server_live.requests)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield server_live
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def expected_overlaps(frames: dict[str, gpd.GeoDataFrame]) -> int:
    records = analyze(frames, today=TODAY, settings=AnalysisSettings()).records
    return int(records["rule"].isin(OVERLAP_RULES).sum())


# ------------------------------------------------------------------------------------- GDAL

needs_gdal = pytest.mark.skipif(
    shutil.which("ogrinfo") is None,
    reason="GDAL's ogrinfo is not installed (scripts/test installs gdal-bin)",
)


def ogrinfo(live: Live, *options: str, layer: str | None = None) -> str:
    env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "CPL_DEBUG": "OFF"}
    layers = [] if layer is None else [layer]
    done = subprocess.run(
        ["ogrinfo", "-ro", *options, f"OAPIF:{live.url}/", *layers],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def ogr_ids(text: str) -> list[str]:
    return re.findall(r"^  id \(String\) = (.*)$", text, flags=re.MULTILINE)


@needs_gdal
def test_gdal_lists_every_collection(live: Live) -> None:
    text = ogrinfo(live, "-q")
    listed = re.findall(r"^\d+: (\S+) \(title: ", text, flags=re.MULTILINE)
    assert listed == list(COLLECTIONS)
    assert "(title: Гэрээт талбай / ASM contract parcels)" in text


@needs_gdal
@pytest.mark.parametrize("layer", [*REGISTRY, "overlaps"])
def test_gdal_feature_counts_match_the_store(live: Live, layer: str) -> None:
    text = ogrinfo(live, "-so", layer=layer)
    (count,) = re.findall(r"^Feature Count: (\d+)$", text, flags=re.MULTILINE)
    if layer == "overlaps":
        assert int(count) == expected_overlaps(live.frames)
    else:
        assert int(count) == len(live.frames[layer])


@needs_gdal
@pytest.mark.parametrize("layer", ["contract_parcels", "land_conclusions", "rehab_zones"])
def test_gdal_pages_through_next_links_and_gets_every_feature_once(live: Live, layer: str) -> None:
    before = len(live.seen(f"/collections/{layer}/items"))
    got = ogr_ids(ogrinfo(live, "-q", "-oo", f"PAGE_SIZE={PAGE}", layer=layer))
    store_ids = live.frames[layer]["id"].tolist()
    assert len(got) == len(set(got)) == len(store_ids)
    assert got == store_ids  # in the store's order, each exactly once
    pages = live.seen(f"/collections/{layer}/items")[before:]
    offsets = {int(q.get("offset", ["0"])[0]) for q in pages if q.get("limit") == [str(PAGE)]}
    # every page was asked for (GDAL reads the first page twice: once to learn the fields)
    assert sorted(offsets) == list(range(0, len(store_ids), PAGE))


def mandal_box(live: Live) -> tuple[float, float, float, float]:
    """The south-west quarter of Mandal's first Land Conclusion: cuts through its parcels."""
    parcels = live.frames["contract_parcels"]
    minx, miny, maxx, maxy = parcels[parcels["land_conclusion_id"] == "LC-MN4322-001"].total_bounds
    return (float(minx), float(miny), float(minx + maxx) / 2, float(miny + maxy) / 2)


def intersecting(frame: gpd.GeoDataFrame, box: tuple[float, float, float, float]) -> list[str]:
    return frame.loc[frame.intersects(shapely.box(*box)), "id"].tolist()


@needs_gdal
def test_gdal_spatial_filter_returns_the_features_in_the_box(live: Live) -> None:
    box = mandal_box(live)
    expected = intersecting(live.frames["contract_parcels"], box)
    assert 0 < len(expected) < len(live.frames["contract_parcels"]) // 2
    args = ["-q", "-oo", "PAGE_SIZE=4", "-spat", *map(repr, box)]
    got = ogr_ids(ogrinfo(live, *args, layer="contract_parcels"))
    assert got == expected
    asked = live.seen("/collections/contract_parcels/items")[-1]
    assert "bbox" in asked  # filtered by the server, not only by GDAL


# ------------------------------------------------------------------------------------ OWSLib


def test_owslib_reads_collections_items_and_features(live: Live) -> None:
    from owslib.ogcapi.features import Features

    api = Features(live.url + "/")
    assert api.feature_collections() == list(COLLECTIONS)
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    assert api.api()["openapi"] == "3.0.3"  # found through the service-desc link's media type
    parcels = live.frames["contract_parcels"]
    first = api.collection_items("contract_parcels", limit=10)
    assert first["numberMatched"] == len(parcels)
    # page with the offsets the next links carry, as OWSLib takes them
    seen: list[str] = []
    offset = 0
    while True:
        page = api.collection_items("contract_parcels", limit=30, offset=offset)
        seen += [feat["id"] for feat in page["features"]]
        nxt = [x for x in page["links"] if x["rel"] == "next"]
        if not nxt:
            break
        offset = int(parse_qs(nxt[0]["href"].split("?", 1)[1])["offset"][0])
    assert seen == parcels["id"].tolist()
    box = mandal_box(live)
    in_box = api.collection_items("contract_parcels", bbox=list(box), limit=1000)
    assert [feat["id"] for feat in in_box["features"]] == intersecting(parcels, box)
    one = api.collection_item("contract_parcels", parcels["id"].iloc[3])
    assert one["id"] == parcels["id"].iloc[3] and one["properties"]["official_ha"] > 0
    assert "status" in api.collection_queryables("contract_parcels")["properties"]
    overlaps = api.collection_items("overlaps", limit=1000)
    assert overlaps["numberMatched"] == expected_overlaps(live.frames)


# ------------------------------------------------------------------------------- schemathesis


def test_schemathesis_finds_no_server_error_and_no_response_breaking_its_schema(
    demo_db: Path,
) -> None:
    """Every operation of the whole OpenAPI document, valid and invalid requests alike."""
    schema = schemathesis.openapi.from_asgi("/api", create_app(ApiSettings(db=str(demo_db))))
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    tried = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"schemathesis cannot use an operation of /api: {result.err()}")
        operation = result.ok()
        tried.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            case.call_and_validate(checks=checks)

        call()
    assert "GET /collections/{collectionId}/items" in tried
