"""The pages and the standalone map in a real browser: Debian's chromium driven by Playwright.

One server (uvicorn on 127.0.0.1, the demo store) and one browser per test session. Each page
must load with no console error and no failed request; polygons are counted with
``gazar.drawn()`` (web/static/gazar.js), which counts the Leaflet polygons on the map and how
many of them the canvas renderer draws (``prefer_canvas`` leaves no SVG paths to count).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

from tests.conftest import CHROMIUM  # noqa: E402 - after the skip; the others import it here
from tests.workbench import serve  # noqa: E402 - one way to serve a store, for every browser test

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/test installs it)"
)


@dataclass
class Server:
    url: str
    app: Any
    db: Path
    counts: dict[str, int]


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from api.services.rasters import raster_dir, write_demo_rasters
    from layers.demo import build_demo
    from layers.schema import LAYER_ORDER
    from layers.store import open_store

    path = tmp_path_factory.mktemp("browser") / "demo.gpkg"
    today = dt.date.today()
    layers = build_demo(seed=7, scale=1, today=today)
    with open_store(path) as store:
        store.write({name: layers[name] for name in LAYER_ORDER})
    # the NDVI rasters the recovery layer is measured on, as gazar demo registers them
    write_demo_rasters(layers, raster_dir(path), seed=7, today=today)
    return path


@pytest.fixture(scope="session")
def server(demo_db: Path) -> Iterator[Server]:
    from layers.store import open_store

    with open_store(demo_db) as store:
        counts = {info.layer: info.count for info in store.layers()}
    with serve(demo_db) as (url, app):
        yield Server(url, app, demo_db, counts)


@dataclass
class Visit:
    page: Any
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def drawn(self) -> dict[str, Any]:
        result: dict[str, Any] = self.page.evaluate("gazar.drawn()")
        return result

    def clean(self) -> None:
        assert self.errors == [], (self.errors, self.failed)
        assert self.failed == [], "\n".join(self.failed)


def offline_only(ctx: Any) -> None:
    """Let a browser context fetch nothing but ``file:`` and ``data:`` addresses."""
    ctx.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(("file:", "data:")) else route.abort()
        ),
    )


@pytest.fixture
def visit(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def go(url: str, *, offline: bool = False) -> Visit:
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(ctx)
        page = ctx.new_page()
        v = Visit(page)
        page.on("console", lambda m: v.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: v.errors.append(str(e)))
        page.on("requestfailed", lambda r: v.failed.append(f"{r.url} {r.failure}"))
        page.on("request", lambda r: v.requests.append(r.url))
        page.on(
            "response",
            lambda r: v.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        if offline:  # nothing but the file itself may be fetched
            offline_only(ctx)
        page.goto(url, wait_until="networkidle")
        page.wait_for_function("window.gazar && gazar.maps && gazar.maps.length > 0")
        return v

    yield go
    for ctx in contexts:
        ctx.close()


STORE_LAYERS = ("aimags", "soums", "land_conclusions", "exclusions", "licences", "rehab_zones",
                "contract_parcels")  # fmt: skip


def test_the_overview_draws_every_feature_on_a_canvas_and_a_layer_switches_off(
    server: Server, visit: Any
) -> None:
    v = visit(server.url + "/map")
    v.clean()
    drawn = v.drawn()
    for name in STORE_LAYERS:
        assert drawn["layers"][name] == server.counts[name], name
    assert drawn["layers"]["overlaps"] >= 1 and drawn["layers"]["available"] >= 1
    # every rehabilitation zone again, coloured by its recovery
    assert drawn["layers"]["rehab_recovery"] == server.counts["rehab_zones"] > 0
    assert drawn["total"] == sum(drawn["layers"].values())
    assert drawn["canvas"] == drawn["total"]  # prefer_canvas: nothing drawn as SVG
    assert v.page.locator("svg.leaflet-zoom-animated path").count() == 0
    # switch the parcels off in the layer control
    parcels = server.counts["contract_parcels"]
    label = v.page.locator(".leaflet-control-layers-overlays label", has_text="Гэрээт талбай")
    label.locator("input").uncheck()
    after = v.drawn()
    assert after["layers"]["contract_parcels"] == 0
    assert after["total"] == drawn["total"] - parcels
    label.locator("input").check()
    assert v.drawn()["total"] == drawn["total"]
    # and the recovery layer
    zones = drawn["layers"]["rehab_recovery"]
    label = v.page.locator(
        ".leaflet-control-layers-overlays label", has_text="Нөхөн сэргээлтийн явц"
    )
    label.locator("input").uncheck()
    after = v.drawn()
    assert after["layers"]["rehab_recovery"] == 0
    assert after["layers"]["rehab_zones"] == zones  # the zones by stage stay
    assert after["total"] == drawn["total"] - zones
    v.clean()


@pytest.mark.parametrize(
    "path",
    ["/map?lang=en", "/map/soum/MN4322", "/map/land-conclusion/LC-MN4322-001", "/check",
     "/availability"],
)  # fmt: skip
def test_each_map_page_loads_cleanly(server: Server, visit: Any, path: str) -> None:
    v = visit(server.url + path)
    v.clean()
    assert v.drawn()["total"] > 0
    assert all(u.startswith((server.url, "data:")) for u in v.requests), v.requests


def test_the_register_page_loads_cleanly(server: Server, browser: Any) -> None:
    page = browser.new_page()
    try:
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("requestfailed", lambda r: errors.append(r.url))
        page.goto(server.url + "/register", wait_until="networkidle")
        assert errors == []
        assert (
            page.locator("#register-contracts tr").count() == server.counts["contract_parcels"] + 1
        )
        # the allocation record: the demo has no applications yet; the log head is published
        assert page.locator("#register-unavailable").count() == 0
        assert page.locator("h2#queue").inner_text().endswith("(0)")
        head = page.locator("#log-head-hash").inner_text()
        assert len(head) == 64 and int(head, 16) >= 0
        # the register's three feeds, the log's two, and the page that verifies them
        hrefs = page.locator("ul.feeds a").evaluate_all("(links) => links.map((a) => a.href)")
        assert [h.split(server.url, 1)[1].split("?")[0] for h in hrefs] == [
            "/register.json",
            "/register.geojson",
            "/register.csv",
            "/log.jsonl",
            "/log/head",
            "/verify",
        ]
    finally:
        page.close()


def test_a_popup_names_the_holder_the_hectares_and_the_rules(server: Server, visit: Any) -> None:
    v = visit(server.url + "/map/land-conclusion/LC-MN4322-001?lang=en")
    # click in the middle of the first overlapping parcel pair (the demo's PARCEL_OVERLAP)
    point = v.page.evaluate(
        """() => {
          const map = gazar.maps[0];
          let target = null;
          map._gazar.layers.forEach(l => l.eachLayer(p => {
            if (p.feature.properties.id === 'CP-MN4322-00002') target = p;
          }));
          const c = map.latLngToContainerPoint(target.getBounds().getCenter());
          const box = map.getContainer().getBoundingClientRect();
          return {x: box.left + c.x, y: box.top + c.y};
        }"""
    )
    v.page.mouse.click(point["x"], point["y"])
    popup = v.page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "ASM contract parcels CP-MN4322-00002" in text
    assert "Holder" in text and "Official area, ha" in text
    # the parcel breaks PARCEL_OVERLAP with CP-MN4322-00001, named in its popup
    assert "Rules broken" in text and "overlaps contract parcel CP-MN4322-00002" in text
    v.clean()


def _proposal_file(tmp_path: Path, server: Server) -> Path:
    from layers.store import open_store

    with open_store(server.db) as store:
        parcel = store.get("contract_parcels", "CP-MN4322-00001")
    moved = parcel.geometry.translate(0.0005, 0.0003)  # overlaps its two neighbours
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"id": "NEW-1"},
             "geometry": json.loads(moved.to_json())["features"][0]["geometry"]}
        ],
    }  # fmt: skip
    path = tmp_path / "proposal.geojson"
    path.write_text(json.dumps(doc))
    return path


def test_check_shows_the_verdict_for_an_uploaded_file(
    server: Server, visit: Any, tmp_path: Path
) -> None:
    v = visit(server.url + "/check?lang=en")
    v.page.set_input_files("#file", str(_proposal_file(tmp_path, server)))
    with v.page.expect_navigation(wait_until="networkidle"):
        v.page.click("#check-submit")
    v.page.wait_for_function("window.gazar && gazar.maps.length > 0")
    verdict = v.page.locator("#verdict")
    assert verdict.get_attribute("data-verdict") == "conflicts"
    assert "Conflicts" in verdict.inner_text()
    assert v.page.locator("#findings tr.finding").count() == 2
    # every overlapped feature (issue 13): the two parcels it breaks the rule with, and its
    # Land Conclusion, which a parcel may overlap (info, drawn blue beside the red ones)
    assert v.page.locator("tr.overlap").count() == 3
    allowed = v.page.locator("tr.overlap[data-severity='info']")
    assert allowed.count() == 1 and "Land Conclusions" in allowed.inner_text()
    drawn = v.drawn()
    assert drawn["layers"]["overlaps"] == 3 and drawn["layers"]["proposal"] == 1
    v.clean()


def test_check_a_polygon_drawn_on_the_map(server: Server, visit: Any) -> None:
    v = visit(server.url + "/check")
    page = v.page
    # zoom to an empty corner of Mandal and draw a triangle there
    page.evaluate(
        """() => { const m = gazar.maps[0];
                   m.setView([48.60, 106.20], 14, {animate: false}); }"""
    )
    page.click(".leaflet-draw-draw-polygon")
    box = page.locator(".folium-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((0, 0), (80, 0), (40, 60), (0, 0)):
        page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(150)
    assert page.input_value("#drawn").startswith('{"type":"FeatureCollection"')
    with page.expect_navigation(wait_until="networkidle"):
        page.click("#check-submit")
    assert page.locator("#verdict").get_attribute("data-verdict") in ("clear", "conflicts")
    assert page.locator("#verdict").inner_text().startswith("Дүгнэлт")
    v.clean()


def test_large_layers_load_by_bbox_from_the_api(server: Server, visit: Any) -> None:
    from api.settings import WebSettings

    services = server.app.state.services
    before = services.settings

    def pages_with(web: WebSettings) -> None:
        services.settings = before.model_copy(update={"web": web})

    pages_with(WebSettings(inline_limit=10, min_zoom=0, page_limit=1000))
    try:
        v = visit(server.url + "/map/soum/MN4322")
        v.page.wait_for_function("gazar.drawn().layers.contract_parcels > 0")
        pages = [u for u in v.requests if "/collections/contract_parcels/items?bbox=" in u]
        assert pages, v.requests
        doc = v.page.evaluate(f"fetch({json.dumps(pages[-1])}).then(r => r.json())")
        assert v.drawn()["layers"]["contract_parcels"] == doc["numberReturned"] > 0
        v.clean()
        # the recovery layer (no OGC collection) and the available land (few features, many
        # coordinates on a large store) load by bbox too
        pages_with(WebSettings(inline_limit=2, inline_coordinates=50, min_zoom=0))
        v = visit(server.url + "/map")
        v.page.wait_for_function(
            "gazar.drawn().layers.rehab_recovery > 0 && gazar.drawn().layers.available > 0"
        )
        for url, layer in (
            ("/map/rehab-recovery/items?bbox=", "rehab_recovery"),
            ("/collections/available_land/items?bbox=", "available"),
        ):
            asked = [u for u in v.requests if url in u]
            assert asked, (url, v.requests)
            doc = v.page.evaluate(f"fetch({json.dumps(asked[-1])}).then(r => r.json())")
            assert v.drawn()["layers"][layer] == doc["numberReturned"] > 0, layer
        v.clean()
        # below the zoom threshold no feature is fetched: the layer is drawn from its vector
        # tiles instead (tests/test_browser_tiles.py checks what they paint)
        pages_with(WebSettings(inline_limit=10, min_zoom=19))
        v = visit(server.url + "/map/soum/MN4322?lang=en")
        v.page.wait_for_function("gazar.drawn().layers.contract_parcels === 0")
        v.page.wait_for_function(
            "Object.values(gazar.maps[0]._layers).some(l => l.gazarLayer === 'contract_parcels')"
        )
        assert not [u for u in v.requests if "/collections/contract_parcels/items" in u]
        v.page.wait_for_load_state("networkidle")
        assert [u for u in v.requests if "/collections/contract_parcels/tiles/" in u]
        v.clean()
    finally:
        services.settings = before


def test_the_standalone_file_renders_offline(server: Server, visit: Any, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    out = tmp_path / "gazar-map.html"
    result = CliRunner().invoke(app, ["map", "--db", str(server.db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    v = visit(out.as_uri(), offline=True)
    v.clean()
    assert all(u.startswith(("file:", "data:")) for u in v.requests), v.requests
    drawn = v.drawn()
    for name in STORE_LAYERS:
        assert drawn["layers"][name] == server.counts[name], name
    assert drawn["canvas"] == drawn["total"]
    # the controls work without the server: the layer switch and the search
    v.page.locator(".leaflet-control-layers-overlays label", has_text="Газрын дүгнэлт").locator(
        "input"
    ).uncheck()
    assert v.drawn()["layers"]["land_conclusions"] == 0
    v.page.fill(".gazar-search input", "CP-MN4322-00001")
    v.page.press(".gazar-search input", "Enter")
    v.page.locator(".leaflet-popup-content").wait_for()
    assert "CP-MN4322-00001" in v.page.locator(".leaflet-popup-content").inner_text()
    v.clean()
