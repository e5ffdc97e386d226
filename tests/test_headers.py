"""Headers and small leaks (issue 14, finding 7): security headers on every response, nonces
on every inline script and style of a page, no server path in any message, a null byte or bad
encoding in a path is a 4xx."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from layers.errors import StoreError
from layers.ledger import open_ledger
from layers.store import open_store
from tests import factories as f
from tests.test_pages import FREE, proposal_geojson


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("headers") / "store.gpkg"
    with open_store(path) as store:
        store.write({"soums": f.frame("soums", [f.soum()])})
    return path


@pytest.fixture(scope="module")
def client(db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings(db=str(db)))) as c:
        yield c


PATHS = ("/map", "/check", "/availability", "/register", "/collections", "/api",
         "/static/gazar/gazar.js", "/static/nothing.js", "/no-such-page")  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'self'" in csp
    assert re.search(r"script-src 'self' 'nonce-[\w-]+'(;|$)", csp), csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"


@pytest.mark.parametrize("path", ("/map", "/check", "/availability", "/register"))
def test_every_inline_script_and_style_of_a_page_carries_the_responses_nonce(
    client: TestClient, path: str
) -> None:
    r = client.get(path)
    nonce = re.search(r"'nonce-([\w-]+)'", r.headers["content-security-policy"]).group(1)  # type: ignore[union-attr]
    tags = re.findall(r"<(?:script|style)\b[^>]*>", r.text)
    assert tags or path == "/register"
    for tag in tags:
        assert f'nonce="{nonce}"' in tag, tag
    assert not re.search(r"\son[a-z]+=", r.text)  # no inline event handler
    assert " style=" not in r.text  # no inline style attribute
    assert (
        client.get(path).headers["content-security-policy"] != r.headers["content-security-policy"]
    )  # one nonce per response


def test_the_report_page_runs_its_print_button_by_nonce(client: TestClient) -> None:
    proposal = json.dumps(proposal_geojson(FREE))
    r = client.post("/check/report", data={"proposal": proposal, "format": "html"})
    assert r.status_code == 200, r.text[:300]
    nonce = re.search(r"'nonce-([\w-]+)'", r.headers["content-security-policy"]).group(1)  # type: ignore[union-attr]
    tags = re.findall(r"<(?:script|style)\b[^>]*>", r.text)
    assert len(tags) == 2 and all(f'nonce="{nonce}"' in t for t in tags)
    assert 'id="report-print"' in r.text and not re.search(r"\son[a-z]+=", r.text)


def test_swagger_ui_runs_under_the_pages_policy(client: TestClient) -> None:
    r = client.get("/api.html")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "cdn.jsdelivr.net" not in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    ("/static/gazar/gazar.js%00", "/static/gazar/%00", "/static/vendor/leaflet/%ff%fe.js",
     "/static/gazar/..%2f..%2fapi%2fapp.py", "/static/gazar/nothing.js", "/static/nowhere/x"),
)  # fmt: skip
def test_a_bad_static_path_is_a_4xx_naming_no_server_path(
    client: TestClient, db: Path, path: str
) -> None:
    r = client.get(path)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    root = str(Path(__file__).resolve().parents[1])
    assert root not in r.text and "/work" not in r.text and str(db.parent) not in r.text


def test_store_errors_name_no_server_path(
    client: TestClient, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger is opened on first use when the lifespan could not: the real error of a
    file that is not a store names the store's file, not its folder."""
    import api.services.hub

    bad = db.parent / "bad.gpkg"
    bad.write_bytes(b"not a store")
    with pytest.raises(StoreError) as caught:
        open_ledger(bad, create=False)
    assert str(db.parent) in str(caught.value)  # the operator's own message names it whole
    services = client.app.state.services  # type: ignore[attr-defined]
    monkeypatch.setattr(services, "ledger", None)
    monkeypatch.setattr(api.services.hub, "open_ledger", lambda _db, create: open_ledger(bad))
    r = client.get("/events")
    assert r.status_code == 503, r.text
    assert str(db.parent) not in r.text and "bad.gpkg" in r.json()["description"]


def test_a_missing_feature_page_names_no_server_path(client: TestClient, db: Path) -> None:
    r = client.get("/map/land-conclusion/" + str(db.parent).lstrip("/") + "%2fx.gpkg")
    assert r.status_code == 404
    assert str(db.parent) not in r.text
