"""The background on the maps: lakes as fills, roads as lines and settlements as markers,
beneath the ASM layers, named from their zoom on, in both languages, at desktop and phone
widths, served and in the standalone file (Debian's chromium)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

from tests.conftest import CHROMIUM  # noqa: E402
from tests.workbench import serve  # noqa: E402

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/test installs it)"
)

#: what each layer of the map is drawn as, its order and the names shown now
DRAWN = """() => {
  const map = gazar.maps[0];
  const layers = map._gazar.layers.filter(l => map.hasLayer(l));
  const kinds = {};
  layers.forEach(l => {
    const seen = new Set();
    l.eachLayer(p => seen.add(
      p instanceof L.CircleMarker ? 'marker' : p instanceof L.Polygon ? 'polygon'
        : p instanceof L.Polyline ? 'line' : 'other'));
    kinds[l.gazarSpec.layer] = Array.from(seen).sort();
  });
  // the labels open now (a closed one fades out of the page over 200 ms)
  const shown = [];
  layers.forEach(l => (l.gazarNamed || []).forEach(item => {
    if (item.path.isTooltipOpen()) shown.push(item.path.getTooltip().getContent());
  }));
  return {zoom: map.getZoom(), order: layers.map(l => l.gazarSpec.layer), kinds: kinds,
          names: shown.sort()};
}"""


@dataclass
class Server:
    url: str
    db: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The small demo, served."""
    from layers.demo import build_demo
    from layers.schema import LAYER_ORDER
    from layers.store import open_store

    path = tmp_path_factory.mktemp("background") / "demo.gpkg"
    layers = build_demo(seed=7, scale=1, today=dt.date.today())
    with open_store(path) as store:
        store.write({name: layers[name] for name in LAYER_ORDER})
    with serve(path) as (url, _app):
        yield Server(url, path)


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def go(url: str, width: int) -> tuple[Any, list[str], list[str]]:
        ctx = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(ctx)
        page = ctx.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url, wait_until="networkidle")
        page.wait_for_function("() => window.gazar && gazar.maps && gazar.maps.length > 0")
        return page, errors, requests

    yield go
    for ctx in contexts:
        ctx.close()


def _zoom(page: Any, zoom: int) -> dict[str, Any]:
    page.evaluate(
        "(z) => { gazar.maps[0].setView(gazar.maps[0].getCenter(), z, {animate: false}); }", zoom
    )
    # the address follows the view (a copied link keeps it): wait until it holds this zoom, so
    # that no earlier view written late brings the map back
    page.wait_for_function(
        "(z) => gazar.maps[0].getZoom() === z && location.hash.indexOf('map=' + z + '/') === 1",
        arg=zoom,
    )
    result: dict[str, Any] = page.evaluate(DRAWN)
    return result


@pytest.mark.parametrize(
    ("width", "lang", "soum", "village", "kind"),
    [
        (1280, "mn", "Мандал", "Түнхэл", "Сумын төв"),
        (390, "en", "Mandal", "Tünkhel", "Soum centre"),
    ],
)
def test_the_soum_map_draws_its_background_beneath_the_asm_layers(
    server: Server, open_page: Any, width: int, lang: str, soum: str, village: str, kind: str
) -> None:
    page, errors, requests = open_page(f"{server.url}/map/soum/MN4322?lang={lang}", width)
    at = _zoom(page, 10)
    # what is open is what the page shows (the labels' own elements, with their text)
    page.wait_for_function(
        "(n) => document.querySelectorAll('.gazar-name').length === n", arg=len(at["names"])
    )
    assert page.locator(".gazar-name-settlements", has_text=soum).is_visible()
    assert at["kinds"]["water"] == ["polygon"]
    assert at["kinds"]["roads"] == ["line"]
    assert at["kinds"]["settlements"] == ["marker"]
    order = at["order"]
    for name in ("water", "roads", "settlements"):  # beneath every ASM layer, above the soums
        assert order.index("soums") < order.index(name) < order.index("land_conclusions")
    # soum centres are named from zoom 9, villages from 11, none below 9
    assert soum in at["names"] and village not in at["names"]
    assert village in _zoom(page, 11)["names"]
    low = _zoom(page, 8)
    assert not {soum, village} & set(low["names"]), low
    # a settlement's popup: its names and kind in the page's language, its soum by name
    page.evaluate(
        """() => gazar.maps[0]._gazar.layers.forEach(l => l.eachLayer(p => {
             if (l.gazarSpec.layer === 'settlements' && p.feature.properties.id === 'ST-MN4322')
               p.openPopup();
           }))"""
    )
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "Мандал" in text and "Mandal" in text and kind in text
    # the legend shows the road as a line and the settlements as markers
    assert page.locator(".gazar-legend .gazar-swatch-line").count() >= 1
    assert page.locator(".gazar-legend .gazar-swatch-point").count() >= 1
    assert errors == []
    assert all(u.startswith(server.url) for u in requests), requests


def test_the_overview_names_the_aimag_centre_from_zoom_6(server: Server, open_page: Any) -> None:
    page, errors, _ = open_page(f"{server.url}/map?lang=en", 1280)
    at = _zoom(page, 6)
    assert "Yusunbulag" in at["names"]  # Govi-Altai's aimag centre
    assert "Altai" not in at["names"] and "Mandal" not in at["names"]  # soum centres: from 9
    assert at["kinds"]["roads"] == ["line"]
    # searching a settlement by its Latin name opens it
    page.fill(".gazar-search input", "Tünkhel")
    page.press(".gazar-search input", "Enter")
    page.locator(".leaflet-popup-content", has_text="Tünkhel").wait_for()
    assert page.evaluate("() => gazar.maps[0].getZoom()") >= 12
    assert errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_the_standalone_file_draws_the_background_offline(
    server: Server, open_page: Any, tmp_path: Path, width: int
) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    out = tmp_path / "mandal.html"
    result = CliRunner().invoke(
        app, ["map", "--db", str(server.db), "--out", str(out), "--soum", "MN4322"]
    )
    assert result.exit_code == 0, result.output
    page, errors, requests = open_page(out.as_uri(), width)
    at = _zoom(page, 10)
    # what is open is what the page shows (the labels' own elements, with their text)
    page.wait_for_function(
        "(n) => document.querySelectorAll('.gazar-name').length === n", arg=len(at["names"])
    )
    assert page.locator(".gazar-name-settlements", has_text="Мандал").is_visible()
    assert at["kinds"]["water"] == ["polygon"] and at["kinds"]["roads"] == ["line"]
    assert at["kinds"]["settlements"] == ["marker"]
    assert "Мандал" in at["names"]
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
