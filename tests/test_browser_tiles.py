"""Every zoom: a map of a store with more parcels than a page inlines draws them zoomed out
from the API's vector tiles (Leaflet.VectorGrid) and from zoom 11 as features with popups, at
desktop and phone widths, in both languages, with no console error and no request leaving the
machine (Debian's chromium)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

from layers.labels import text  # noqa: E402
from tests.conftest import CHROMIUM  # noqa: E402
from tests.workbench import serve  # noqa: E402

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/test installs it)"
)

#: demo scale: 35 x 100 parcels, more than a page inlines (3,000)
SCALE = 35

#: per vector-tile layer on the map: its Gazar layer, tiles drawn, and the pixels painted on
#: their canvases
PAINTED = """() => {
  const map = gazar.maps[0];
  const out = {};
  Object.values(map._layers).forEach(l => {
    if (!l.gazarLayer || !l._tiles) return;
    let tiles = 0, painted = 0;
    Object.values(l._tiles).forEach(t => {
      const c = t.el;
      if (!c || !c.getContext) return;
      tiles += 1;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted += 1;
    });
    out[l.gazarLayer] = {tiles: tiles, painted: painted};
  });
  return out;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from layers.demo import build_demo
    from layers.schema import LAYER_ORDER
    from layers.store import open_store

    path = tmp_path_factory.mktemp("tiles") / "demo.gpkg"
    layers = build_demo(seed=7, scale=SCALE, today=dt.date.today())
    assert len(layers["contract_parcels"]) > 3000
    with open_store(path) as store:
        store.write({name: layers[name] for name in LAYER_ORDER})
    with serve(path) as (url, _app):
        yield url


@pytest.mark.parametrize(("width", "lang"), [(1280, "mn"), (390, "en")])
def test_parcels_are_drawn_from_tiles_zoomed_out_and_as_features_from_zoom_11(
    browser: Any, server: str, width: int, lang: str
) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        outside: list[str] = []
        tiles: list[tuple[str, int]] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(server) else outside.append(r.url))
        page.on(
            "response",
            lambda r: (
                tiles.append((r.url, r.status)) if "/tiles/WebMercatorQuad/" in r.url else None
            ),
        )
        page.goto(f"{server}/map?lang={lang}", wait_until="networkidle")
        page.wait_for_function("() => window.gazar && gazar.maps && gazar.maps.length > 0")
        spec = page.evaluate(
            "() => gazar.maps[0]._gazar.layers.map(l => l.gazarSpec)"
            ".find(s => s.layer === 'contract_parcels').remote"
        )
        assert spec is not None, "the parcels should be too many to inline"
        assert spec["tiles"].endswith(
            "/collections/contract_parcels/tiles/WebMercatorQuad/{z}/{y}/{x}"
        )
        # the national view: zoom 6 on the demo's parcels
        page.evaluate(
            """() => {
              const map = gazar.maps[0];
              map.setView(map.getCenter(), 6, {animate: false});
            }"""
        )
        page.wait_for_load_state("networkidle")
        page.wait_for_function(
            "() => { const m = gazar.maps[0]; return Object.values(m._layers).some("
            "l => l.gazarLayer === 'contract_parcels' && l._loading === false); }"
        )
        painted = page.evaluate(PAINTED)
        assert painted["contract_parcels"]["tiles"] > 0, painted
        assert painted["contract_parcels"]["painted"] > 0, painted
        parcel_tiles = [(u, s) for u, s in tiles if "/contract_parcels/" in u]
        assert parcel_tiles, tiles
        assert all(s in (200, 204) for _, s in parcel_tiles), parcel_tiles
        assert any(s == 200 and "/WebMercatorQuad/6/" in u for u, s in parcel_tiles), tiles
        drawn = page.evaluate("() => gazar.drawn()")
        assert drawn["layers"]["contract_parcels"] == 0  # no features below zoom 11
        # the status says why a click opens no popup yet, in the page's language
        hint = text("zoom_in_for_details", lang)  # type: ignore[arg-type]
        title = page.evaluate(
            "() => gazar.maps[0]._gazar.layers.map(l => l.gazarSpec)"
            ".find(s => s.layer === 'contract_parcels').title"
        )
        status = page.locator(".gazar-status")
        assert f"{title}: {hint}" in status.inner_text(), status.inner_text()
        # from zoom 11: the features by bounding box (popups), the tiles gone
        page.evaluate(
            """async () => {
              const map = gazar.maps[0];
              const t = Object.values(map._layers).find(l => l.gazarLayer === 'contract_parcels');
              window.__tilesLeft = t;
              const r = await fetch('/collections/contract_parcels/items?limit=1');
              const c = (await r.json()).features[0].geometry.coordinates[0][0][0];
              map.setView([c[1], c[0]], 12, {animate: false});
            }"""
        )
        page.wait_for_function("() => gazar.drawn().layers.contract_parcels > 0", timeout=15000)
        assert page.evaluate("() => !gazar.maps[0].hasLayer(window.__tilesLeft)")
        page.wait_for_function(
            "h => !document.querySelector('.gazar-status').textContent.includes(h)", arg=hint
        )
        assert errors == []
        assert outside == []
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The 100,000-parcel demo (``gazar demo --scale 1000``), served."""
    from layers.demo import build_demo
    from layers.schema import LAYER_ORDER
    from layers.store import open_store

    path = tmp_path_factory.mktemp("national") / "demo.gpkg"
    layers = build_demo(seed=7, scale=1000, today=dt.date.today())
    assert len(layers["contract_parcels"]) >= 100_000
    with open_store(path) as store:
        store.write({name: layers[name] for name in LAYER_ORDER})
    with serve(path) as (url, _app):
        yield url


def test_the_national_view_of_the_100k_demo_draws_every_parcel_layer_from_tiles(
    browser: Any, national: str
) -> None:
    """Zoom 6 over the whole demo: the parcels (and the other large layers) come as tiles that
    paint, no feature is fetched, no console error, nothing leaves the machine."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        outside: list[str] = []
        items: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(national) else outside.append(r.url))
        page.on("request", lambda r: items.append(r.url) if "/items" in r.url else None)
        page.goto(f"{national}/map", wait_until="networkidle", timeout=120_000)
        page.wait_for_function("() => window.gazar && gazar.maps && gazar.maps.length > 0")
        page.evaluate(
            """() => {
              const map = gazar.maps[0];
              map.fitBounds(gazar.maps[0]._gazar.layers.map(l => l.getBounds ? l.getBounds()
                : null).filter(b => b && b.isValid()).reduce((a, b) => a.extend(b)),
                {animate: false});
              map.setZoom(6, {animate: false});
            }"""
        )
        page.wait_for_load_state("networkidle")
        page.wait_for_function(
            "() => { const m = gazar.maps[0]; return Object.values(m._layers).some("
            "l => l.gazarLayer === 'contract_parcels' && l._loading === false); }",
            timeout=60_000,
        )
        assert page.evaluate("() => gazar.maps[0].getZoom()") == 6
        painted = page.evaluate(PAINTED)
        assert painted["contract_parcels"]["tiles"] > 0, painted
        assert painted["contract_parcels"]["painted"] > 500, painted  # 100k parcels, visibly
        assert page.evaluate("() => gazar.drawn()")["layers"]["contract_parcels"] == 0
        assert not [u for u in items if "contract_parcels" in u], items  # tiles only
        assert errors == []
        assert outside == []
    finally:
        ctx.close()
