"""Data never breaks a page (issue 14, finding 3): text holding ``<!--<script>``,
``</script>``, an ``<img onerror>`` or U+2028 in every free-text field of every layer is
embedded in the pages, the maps and the standalone ``gazar map`` file escaped as ``\\u003c``
etc., and the pages draw the same scripts as with plain text. (The browser checks that every
polygon is drawn and no script runs: tests/test_browser_hostile.py.)"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import ApiSettings
from tests.hostile import HOSTILE, RAW_PIECES, hostile_layers, hostile_store
from web import maps
from web.safejson import escape_json, script_json

PAGES = ("/map", "/map/soum/MN4322", "/map/land-conclusion/LC-MN4322-001", "/check",
         "/availability", "/register")  # fmt: skip

_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.DOTALL)


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_store(tmp_path_factory.mktemp("hostile") / "hostile.gpkg", dt.date.today())


@pytest.fixture(scope="module")
def client(hostile_db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings(db=str(hostile_db)))) as c:
        yield c


def _assert_no_raw(html: str) -> None:
    for piece in RAW_PIECES:
        assert piece not in html, piece
    for body in _SCRIPT.findall(html):
        assert "<!--" not in body and "<script" not in body.lower()
        assert "\u2028" not in body and "\u2029" not in body


def test_script_json_escapes_what_html_reads_and_keeps_the_value() -> None:
    text = script_json({"holder": HOSTILE, "n": 1})
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == {"holder": HOSTILE, "n": 1}
    assert escape_json('"\u2029"') == '"\\u2029"'


@pytest.mark.parametrize("path", PAGES)
def test_every_page_embeds_hostile_text_escaped(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text[:500]
    _assert_no_raw(r.text)
    assert "\\u003c!--\\u003cscript\\u003e" in r.text or path == "/register"
    if path == "/register":  # no script: the holder names stand in the tables, HTML-escaped
        assert "&lt;!--&lt;script&gt;" in r.text


def test_a_map_embeds_every_hostile_value_and_it_reads_back() -> None:
    layers = hostile_layers(dt.date.today())
    m = maps.build_map(layers, lang="en")
    html = maps.page_html(m, title=HOSTILE, lang="en")
    _assert_no_raw(html)
    holders = [
        json.loads(el.data_json)["features"][0]["properties"].get("holder")
        for el in maps.gazar_layers(m)
        if el.layer == "contract_parcels"
    ]
    assert holders == [f"{HOSTILE} 0"]


def test_the_standalone_map_file_embeds_hostile_text_escaped(
    hostile_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "map.html"
    result = CliRunner().invoke(cli, ["map", "--db", str(hostile_db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    _assert_no_raw(out.read_text(encoding="utf-8"))
