"""``/``: a browser gets the home page, a program the OGC landing document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from layers.store import open_store
from tests.test_maps import scene_layers

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with open_store(tmp_path / "home.gpkg") as store:
        store.write(scene_layers())
        location = store.location
    with TestClient(create_app(ApiSettings(db=location))) as c:
        yield c


def test_a_browser_gets_the_home_page(client: TestClient) -> None:
    r = client.get("/", headers=BROWSER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Accept" in r.headers["vary"]
    for path in ("/map", "/register", "/check", "/availability", "/api.html"):
        assert f'href="{path}"' in r.text
    assert 'id="home-desk"' not in r.text  # nobody signed in
    en = client.get("/?lang=en", headers=BROWSER).text
    assert "Gazar is an open-source tool" in en and 'href="/map?lang=en"' in en


def test_json_clients_get_the_landing_document(client: TestClient) -> None:
    for headers in ({}, {"accept": "application/json"}, {"accept": "*/*"}):
        doc = client.get("/", headers=headers).json()
        assert {link["rel"] for link in doc["links"]} >= {"self", "service-desc", "data"}
    assert client.get("/?f=json", headers=BROWSER).json()["links"]


def test_the_api_page_loads_swagger_from_static(client: TestClient) -> None:
    r = client.get("/api.html")
    assert r.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in r.text
    assert "cdn" not in r.headers["content-security-policy"]
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert "http" not in r.text.split("<body>")[1].split("</body>")[0].replace("https://", "x")
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/vendor/swagger-ui/swagger-ui.css").status_code == 200
    doc = client.get("/api").json()
    assert "bearerAuth" in doc["components"]["securitySchemes"]
