"""The object addresses: one URL for people (HTML page) and programs (JSON), negotiated by
Accept or ?f=, with Vary and Link; 404 as a page or as Problem JSON; hostile names escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from tests.hostile import RAW_PIECES
from tests.object_records import HOSTILE, Records, build
from web.negotiate import prefers_html
from web.render import local_time

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Records:
    return build(tmp_path_factory.mktemp("objects"))


@pytest.fixture(scope="module")
def client(records: Records) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings(db=str(records.db)))) as c:
        yield c


def _paths(r: Records) -> dict[str, str]:
    return {
        "application": f"/applications/{r.loser}",
        "land_conclusion": f"/land_conclusions/{r.lc}",
        "contract": f"/contracts/{r.parcel}",
        "draw": f"/draws/{r.draw}",
    }


@pytest.mark.parametrize("kind", ["application", "land_conclusion", "contract", "draw"])
def test_a_browser_gets_the_page_and_a_client_the_json(
    client: TestClient, records: Records, kind: str
) -> None:
    path = _paths(records)[kind]
    page = client.get(path, headers=BROWSER)
    assert page.status_code == 200, page.text[:500]
    assert page.headers["content-type"].startswith("text/html")
    assert "Accept" in page.headers["vary"]
    assert f'<{path}?f=json>; rel="alternate"; type="application/json"' in page.headers["link"]
    assert f'id="object-{kind}"' in page.text and 'id="actions"' in page.text
    data = client.get(path)  # no Accept beyond */*: the JSON
    assert data.status_code == 200
    assert data.headers["content-type"].startswith("application/json")
    assert "Accept" in data.headers["vary"] and 'type="text/html"' in data.headers["link"]
    assert client.get(path, headers={"accept": "application/json"}).json() == data.json()
    assert client.get(path + "?f=json", headers=BROWSER).json() == data.json()
    assert client.get(path + "?f=html").headers["content-type"].startswith("text/html")
    en = client.get(path + "?lang=en", headers=BROWSER)
    assert en.status_code == 200 and '<html lang="en">' in en.text


def test_the_application_json_is_what_the_api_answered_before(
    client: TestClient, records: Records
) -> None:
    doc = client.get(f"/applications/{records.hostile}").json()
    assert doc["id"] == records.hostile and doc["holder"] == HOSTILE
    assert doc["objections"] and doc["draw"]["id"] == records.draw
    assert client.get(f"/draws/{records.draw}").json()["winner"] == records.winner


def test_the_application_page_says_everything_a_person_asks(
    client: TestClient, records: Records
) -> None:
    html = client.get(f"/applications/{records.winner}?lang=en", headers=BROWSER).text
    assert 'id="app-holder">' in html
    plain = client.get(f"/applications/{records.plain}?lang=en", headers=BROWSER).text
    assert "Алтан Шороо ХХК" in plain  # the organisation, not an account
    assert "mn4322-official" not in html and "soum-official-7" not in html
    assert re.search(r'id="app-filed">\d{4}-\d\d-\d\d \d\d:\d\d ', html)  # UTC+8, no seconds
    assert re.search(r'id="app-soum">[^<(]+<', html) and 'id="app-soum">MN4322<' not in html
    assert 'id="app-decision"' in html and "Шаардлага хангасан" in html
    assert f'href="/contracts/{records.parcel}?lang=en"' in html
    assert f'href="/draws/{records.draw}?lang=en"' in html
    assert "<svg" in html and 'class="app"' in html
    objected = client.get(f"/applications/{records.hostile}", headers=BROWSER).text
    assert 'id="app-objections"' in objected and "Бат" in objected


def test_the_lc_contract_and_draw_pages(client: TestClient, records: Records) -> None:
    lc = client.get(f"/land_conclusions/{records.lc}?lang=en", headers=BROWSER).text
    assert 'id="lc-queue"' in lc or "lc-contracts" in lc
    assert f'href="/contracts/{records.parcel}?lang=en"' in lc
    c = client.get(f"/contracts/{records.parcel}?lang=en", headers=BROWSER).text
    assert 'id="contract-holder">' in c and 'id="contract-term"' in c
    assert 'id="contract-renewals"' in c
    d = client.get(f"/draws/{records.draw}?lang=en", headers=BROWSER).text
    assert 'id="draw-seed"' in d and 'id="draw-order"' in d and "48213" in d
    assert "SHA-256" in d and f"gazar verify-draw {records.draw}" in d
    assert "gazar-draw-v1" in d
    mn = client.get(f"/draws/{records.draw}", headers=BROWSER).text
    assert "SHA-256" in mn and "Сугалааг хэрхэн шалгах вэ" in mn


def test_the_new_json_routes(client: TestClient, records: Records) -> None:
    lc = client.get(f"/land_conclusions/{records.lc}").json()
    assert lc["type"] == "Feature" and lc["id"] == records.lc
    assert lc["properties"]["status_en"] and lc["properties"]["soum_name_en"]
    assert [q["id"] for q in lc["queue"]] == sorted(q["id"] for q in lc["queue"])
    assert records.parcel in [c["id"] for c in lc["contracts"]]
    c = client.get(f"/contracts/{records.parcel}").json()
    assert c["type"] == "Feature" and c["properties"]["holder"] == records.winner_holder
    assert c["renewals"] == [] and isinstance(c["rehab_zones"], list)
    assert c["properties"]["days_left"] > 0
    ops = client.get("/api").json()["paths"]
    assert "/land_conclusions/{lc_id}" in ops and "/contracts/{parcel_id}" in ops
    assert not any(p.startswith("/_pages") for p in ops)


@pytest.mark.parametrize(
    "path", ["/applications/nope", "/land_conclusions/nope", "/contracts/nope", "/draws/nope"]
)
def test_unknown_ids_are_404_pages_for_browsers_and_problems_for_clients(
    client: TestClient, path: str
) -> None:
    page = client.get(path, headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h1>" in page.text
    problem = client.get(path)
    assert problem.status_code == 404 and problem.json()["status"] == 404


@pytest.mark.parametrize("kind", ["application", "land_conclusion", "draw"])
def test_hostile_names_are_escaped(client: TestClient, records: Records, kind: str) -> None:
    path = _paths(records)[kind].replace(records.loser, records.hostile)
    html = client.get(path, headers=BROWSER).text
    for piece in RAW_PIECES:
        assert piece not in html, (kind, piece)
    if kind != "draw":
        assert "&lt;!--&lt;script&gt;" in html
    if kind == "draw":
        html = client.get(f"/contracts/{records.parcel}", headers=BROWSER).text
        assert not any(piece in html for piece in RAW_PIECES)


def test_writes_and_subpaths_are_not_negotiated(client: TestClient, records: Records) -> None:
    r = client.get(f"/applications/{records.hostile}/objections", headers=BROWSER)
    assert r.headers["content-type"].startswith("application/json")
    r = client.post(f"/draws/{records.draw}/run", headers=BROWSER)
    assert r.status_code == 401


def test_prefers_html_and_local_time() -> None:
    assert prefers_html("text/html")
    assert not prefers_html("application/geo+json, application/json")
    assert not prefers_html("*/*")
    assert local_time("2026-05-01T16:30:59.999999+00:00") == "2026-05-02 00:30"
    assert local_time("2026-05-01T16:30:00+00:00", 7) == "2026-05-01 23:30"


def test_the_register_names_offices_and_explains_draws(
    client: TestClient, records: Records
) -> None:
    html = client.get("/register?lang=en").text
    assert "soum-official-7" not in html and "mn4322-official" not in html
    assert "SHA-256" in html and f'href="/draws/{records.draw}?lang=en"' in html
    assert not re.search(r"\d\d:\d\d:\d\d\.\d+", html)  # no microseconds anywhere
    assert f'href="/applications/{records.loser}?lang=en"' in html


def test_no_file_left_behind(records: Records) -> None:
    assert Path(records.db).exists()
