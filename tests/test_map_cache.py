"""Map pages kept per store revision (``services.pages``), on each backend: a kept page is
the page a fresh server builds; a write (Gazar's, or an outside tool's: sqlite3 on the file,
a psql session) shows on the next request; each language, day and view is its own page; the
page around the map (the signed-in user, the CSRF field, the nonce) is never kept; and a
large store's heavy layers are loaded by bounding box, not inlined (small thresholds stand
for the 100k demo's sizes)."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.services.pages import PageCache
from api.settings import ApiSettings, WebSettings, load_settings
from layers.gpkg import register_functions
from layers.ledger import open_ledger
from layers.store import Store, open_store
from tests import factories as f
from tests.test_maps import scene_layers
from tests.test_raster_api import fill, register_rasters

TODAY = "2026-06-30"
PASSWORD = "Steppe-Horse-42"


@pytest.fixture
def store(store: Store) -> Store:
    """The scene of ``tests.test_maps`` in the store of each backend."""
    store.write(scene_layers())
    return store


def make_client(store: Store, **web: Any) -> TestClient:
    settings = load_settings(db=store.location, web=WebSettings(**web))
    return TestClient(create_app(settings))


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with make_client(store) as c:
        yield c


def builds(client: TestClient) -> int:
    return int(client.app.state.services.pages.builds)  # type: ignore[attr-defined]


def same_shape(html: str) -> str:
    """The page without what differs between two builds of the same map or two requests:
    folium's element ids, the script nonce, the CSRF token."""
    html = re.sub(r"_[0-9a-f]{32}(?![0-9a-f])", "_ID", html)
    html = re.sub(r'nonce="[^"]+"', 'nonce="N"', html)
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value="T"', html)


def specs(html: str) -> dict[str, tuple[dict[str, Any], Any]]:
    """Each data layer of a map page: its spec and its inlined features (None: by bbox)."""
    out: dict[str, tuple[dict[str, Any], Any]] = {}
    decoder = json.JSONDecoder()
    for m in re.finditer(r"gazar\.layer\(\s*[\w]+, ", html):
        spec, end = decoder.raw_decode(html, m.end())
        rest = html[end:].lstrip(", \n")
        data, _ = decoder.raw_decode(rest)
        out[spec["layer"]] = (spec, data)
    return out


def test_a_kept_map_page_equals_one_a_fresh_server_builds(store: Store) -> None:
    with make_client(store) as c:
        first = c.get(f"/map?lang=en&today={TODAY}")
        assert first.status_code == 200 and builds(c) == 1
        again = c.get(f"/map?lang=en&today={TODAY}")
        assert builds(c) == 1  # kept
        soum = c.get(f"/map/soum/MN4322?lang=en&today={TODAY}")
        soum_again = c.get(f"/map/soum/MN4322?lang=en&today={TODAY}")
        assert builds(c) == 2
    with make_client(store, page_cache=0) as fresh:
        built = fresh.get(f"/map?lang=en&today={TODAY}")
        built_soum = fresh.get(f"/map/soum/MN4322?lang=en&today={TODAY}")
        assert builds(fresh) == 2
    assert same_shape(again.text) == same_shape(first.text) == same_shape(built.text)
    assert same_shape(soum_again.text) == same_shape(soum.text) == same_shape(built_soum.text)
    assert "ASM contract parcels (3)" in again.text and "P-1" in again.text


def test_languages_days_and_views_are_pages_of_their_own(client: TestClient) -> None:
    pages = {
        url: client.get(url).text
        for url in (
            f"/map?today={TODAY}",
            f"/map?lang=en&today={TODAY}",
            "/map?lang=en&today=2026-01-01",
            f"/map/land-conclusion/LC-1?lang=en&today={TODAY}",
        )
    }
    assert builds(client) == 4
    assert len({same_shape(p) for p in pages.values()}) == 4
    mn, en = pages[f"/map?today={TODAY}"], pages[f"/map?lang=en&today={TODAY}"]
    assert '<html lang="mn">' in mn and json.dumps("Гэрээт талбай (3)") in mn
    assert "ASM contract parcels" not in mn
    assert (
        '<html lang="en">' in en and "ASM contract parcels (3)" in en and "Гэрээт талбай" not in en
    )
    for url, page in pages.items():  # each asked again: the same page, nothing built
        assert same_shape(client.get(url).text) == same_shape(page)
    assert builds(client) == 4


def test_a_write_through_gazar_shows_on_the_next_request(client: TestClient, store: Store) -> None:
    before = client.get("/map?lang=en").text
    assert "ASM contract parcels (3)" in before and "P-NEW" not in before
    holder = "{{ 7 * 7 }} {% raw %}Шинэ ХХК"  # data, never read as a template
    new = f.parcel("P-NEW", holder=holder, geometry=f.utm_box(1500, 600, 100, 100))
    store.write({"contract_parcels": f.frame("contract_parcels", [new])}, mode="upsert")
    after = client.get("/map?lang=en").text
    assert "ASM contract parcels (4)" in after
    parcels = specs(after)["contract_parcels"][1]
    holders = {
        feat["properties"]["id"]: feat["properties"]["holder"] for feat in parcels["features"]
    }
    assert holders["P-NEW"] == holder
    assert builds(client) == 2
    assert same_shape(client.get("/map?lang=en").text) == same_shape(after)
    assert builds(client) == 2


def test_a_write_by_an_outside_tool_shows_on_the_next_request(
    client: TestClient, store: Store
) -> None:
    before = specs(client.get("/map?lang=en").text)["contract_parcels"][1]
    holders = {
        feat["properties"]["id"]: feat["properties"]["holder"] for feat in before["features"]
    }
    assert holders["P-1"] != "QGIS ХХК"
    change = (
        "UPDATE contract_parcels SET holder = 'QGIS ХХК' WHERE id = 'P-1'",
        "DELETE FROM contract_parcels WHERE id = 'P-3'",
    )
    if store.location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store.location, autocommit=True) as pg:  # a psql session
            for sql in change:
                pg.execute(sql)
    else:
        with sqlite3.connect(store.location) as conn:  # QGIS: its own connection
            register_functions(conn)
            for sql in change:
                conn.execute(sql)
    page = client.get("/map?lang=en").text
    after = specs(page)["contract_parcels"][1]
    got = {feat["properties"]["id"]: feat["properties"]["holder"] for feat in after["features"]}
    assert got["P-1"] == "QGIS ХХК" and "P-3" not in got
    assert "ASM contract parcels (2)" in page


def test_the_signed_in_user_and_the_csrf_field_are_never_kept(tmp_path: Path) -> None:
    db = tmp_path / "users.gpkg"
    with open_store(db) as s:
        s.write(scene_layers())
    with open_ledger(db) as ledger:
        ledger.add_user("tuya", role="soum", soum_code="MN4322", actor="setup", password=PASSWORD)
    app = create_app(ApiSettings(db=str(db), signin_delay_s=0.0))
    with TestClient(app) as visitor, TestClient(app) as tuya:
        token = re.search(r'name="csrf_token" value="([^"]+)"', tuya.get("/login").text)
        assert token is not None
        signed = tuya.post(
            "/login",
            data={"csrf_token": token.group(1), "name": "tuya", "password": PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        mine = tuya.get("/map?lang=en")
        theirs = visitor.get("/map?lang=en")
        assert builds(tuya) == 1  # one app: the visitor got the map tuya's request built
        assert 'class="who"' in mine.text and "tuya" in mine.text
        assert mine.headers["cache-control"] == "no-store"
        assert 'class="who"' not in theirs.text and ">tuya" not in theirs.text

        def tokens(html: str) -> set[str]:
            return set(re.findall(r'name="csrf_token" value="([^"]+)"', html))

        assert tokens(mine.text)  # the sign-out form's field: tuya's own
        assert tokens(mine.text).isdisjoint(tokens(theirs.text))
        assert not tokens(mine.text) & tokens(visitor.get("/map?lang=en").text)
        assert same_shape(specs_only(mine.text)) == same_shape(specs_only(theirs.text))


def specs_only(html: str) -> str:
    return json.dumps({k: v for k, v in specs(html).items()}, sort_keys=True)


def test_large_layers_load_by_bbox_and_small_ones_are_inlined(store: Store) -> None:
    day = dt.date.today().isoformat()
    with make_client(store, inline_limit=2) as c:
        layers = specs(c.get(f"/map?lang=en&today={day}").text)
        other_day = specs(c.get(f"/map?lang=en&today={TODAY}").text)
    parcels, data = layers["contract_parcels"]  # 3 parcels > 2
    assert data is None and parcels["remote"]["url"] == "/collections/contract_parcels/items"
    assert parcels["remote"]["minZoom"] == 11
    for small in ("soums", "land_conclusions", "exclusions", "licences", "rehab_zones"):
        spec, inlined = layers[small]
        assert spec["remote"] is None and len(inlined["features"]) >= 1, small
    assert other_day["contract_parcels"][1] is None
    # available land: few features, many coordinates (a hole per parcel at 100k)
    with make_client(store, inline_coordinates=4) as c:
        layers = specs(c.get(f"/map?lang=en&today={day}").text)
        other_day = specs(c.get(f"/map?lang=en&today={TODAY}").text)
    spec, data = layers["available"]
    assert data is None and spec["remote"]["url"] == "/collections/available_land/items"
    assert layers["land_conclusions"][1] is None  # 1 feature, but more than 4 coordinates
    # a map of another day: the derived collections answer for today, so its own are inlined
    assert other_day["available"][1] is not None and other_day["available"][0]["remote"] is None
    assert other_day["land_conclusions"][1] is None


def test_a_large_recovery_layer_loads_by_bbox_from_its_endpoint(tmp_path: Path) -> None:
    with open_store(tmp_path / "rasters.gpkg") as s:
        fill(s)
        register_rasters(s.location)
        with make_client(s, inline_limit=1) as c:
            spec, data = specs(c.get("/map?lang=en").text)["rehab_recovery"]
            assert data is None and spec["remote"]["url"] == "/map/rehab-recovery/items"
            everything = c.get("/map/rehab-recovery/items")
            assert everything.headers["content-type"] == "application/geo+json"
            doc = everything.json()
            assert doc["numberMatched"] == 3 == len(doc["features"])
            zone_a = next(z for z in doc["features"] if z["id"] == "RZ-A")
            rehab = c.get("/analysis/rehab?format=geojson").json()["features"]
            status = {z["properties"]["id"]: z["properties"]["status"] for z in rehab}
            assert zone_a["properties"]["status"] == status["RZ-A"]
            assert zone_a["properties"]["change"] == pytest.approx(0.4, abs=1e-3)
            box = shapely.bounds(shapely.from_geojson(orjson.dumps(zone_a["geometry"])))
            near = ",".join(str(v) for v in box)
            inside = c.get(f"/map/rehab-recovery/items?bbox={near}&limit=1").json()
            assert inside["numberReturned"] == 1 and inside["features"][0]["id"] == "RZ-A"
            assert inside["numberMatched"] >= 1
            one = c.get("/map/rehab-recovery/items/RZ-B")
            assert one.status_code == 200 and one.json()["properties"]["id"] == "RZ-B"
            assert c.get("/map/rehab-recovery/items/RZ-404").status_code == 404
            assert c.get("/map/rehab-recovery/items?bbox=1,2,3").status_code == 400
            assert c.get("/map/rehab-recovery/items?bbox=3,2,1,4").status_code == 400
        with make_client(s) as c:  # small: inlined, as before
            spec, data = specs(c.get("/map?lang=en").text)["rehab_recovery"]
            assert spec["remote"] is None and len(data["features"]) == 3
    with open_store(tmp_path / "bare.gpkg") as bare:
        fill(bare)
        with make_client(bare) as c:
            assert c.get("/map/rehab-recovery/items").status_code == 404


def test_the_cache_is_bounded_and_keeps_nothing_built_while_the_store_moved() -> None:
    cache: PageCache[str] = PageCache(2)
    state = ["r1"]
    for view in ("a", "b", "c"):
        assert cache.get(view, lambda: state[0], view.upper) == view.upper()
    assert len(cache) == 2 and cache.builds == 3
    cache.get("c", lambda: state[0], lambda: "never")
    assert cache.builds == 3  # kept
    cache.get("a", lambda: state[0], lambda: "A")
    assert cache.builds == 4  # dropped, the least recently used

    def moving() -> str:
        state[0] = "r2"  # a write while the page was built
        return "stale?"

    assert cache.get("d", lambda: state[0], moving) == "stale?"
    assert cache.get("d", lambda: state[0], lambda: "fresh") == "fresh"
    assert len(cache) == 1  # the pages of r1 can never be asked for again: dropped

    def failing() -> str:
        raise KeyError("no such soum")

    with pytest.raises(KeyError):
        cache.get("e", lambda: state[0], failing)
    assert len(cache) == 1


def test_the_check_form_keeps_its_map_and_renders_the_page_per_request(
    client: TestClient, store: Store
) -> None:
    first = client.get("/check?lang=en")
    assert first.status_code == 200 and builds(client) == 1
    other = TestClient(client.app)  # another visitor
    second = other.get("/check?lang=en")
    assert builds(client) == 1
    assert same_shape(second.text) == same_shape(first.text)
    nonces = [set(re.findall(r'nonce="([^"]+)"', r.text)) for r in (first, second)]
    assert len(nonces[0]) == len(nonces[1]) == 1 and nonces[0] != nonces[1]  # never kept
    new = f.parcel("P-NEW", geometry=f.utm_box(1500, 600, 100, 100))
    store.write({"contract_parcels": f.frame("contract_parcels", [new])}, mode="upsert")
    after = specs(client.get("/check?lang=en").text)["contract_parcels"][1]
    assert "P-NEW" in {feat["properties"]["id"] for feat in after["features"]}
    assert builds(client) == 2
