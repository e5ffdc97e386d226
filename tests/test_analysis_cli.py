"""gazar area, overlaps, analyze and check, through the command line."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import geopandas as gpd
import orjson
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from layers.demo import build_demo
from layers.schema import LAYER_ORDER
from layers.store import Store
from tests import factories as f
from tests.conftest import SHARED
from tests.test_rules import P2, frames, scene

runner = CliRunner()
TODAY = "2025-06-30"
EITI = SHARED / "eiti_mongolia_licenses" / "eiti_mongolia_mineral_licenses_2019.geojson"


def invoke(*args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def write(path: Path, frame: gpd.GeoDataFrame) -> Path:
    frame.to_file(path, driver="GeoJSON")
    return path


@pytest.fixture
def conflicted(store: Store) -> str:
    """The rule tests' scene with a second parcel over the first (1 ha) and a licence over
    the Land Conclusion (25 ha)."""
    layers = scene()
    layers["contract_parcels"].append(P2)
    layers["licences"][0]["geometry"] = f.utm_box(1500, 500, 1000, 1000)
    built = frames(layers)
    store.write({name: built[name] for name in LAYER_ORDER if name in built})
    return store.location  # a .gpkg file or a PostGIS database: the tests run on both


# -------------------------------------------------------------------------------------- area


@pytest.fixture
def squares(tmp_path: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {"name": ["one", "two"], "id": ["A", "B"]},
        geometry=[f.utm_box(0, 0, 100, 100), f.utm_box(500, 0, 200, 100)],
        crs="EPSG:4326",
    )
    return write(tmp_path / "squares.geojson", frame)


def test_area_csv_one_row_per_feature(squares: Path) -> None:
    result = invoke("area", squares)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns) == ["id", "official_ha", "geodesic_ha", "utm_zone"]
    assert table["id"].tolist() == ["A", "B"]
    assert table["official_ha"].tolist() == pytest.approx([1.0, 2.0], rel=1e-4)
    assert table["geodesic_ha"].tolist() == pytest.approx([1.0, 2.0], rel=2e-3)
    assert table["utm_zone"].tolist() == [48, 48]


def test_area_json_with_an_id_field(squares: Path) -> None:
    result = invoke("area", squares, "--id-field", "name", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = orjson.loads(result.stdout)
    assert [r["id"] for r in rows] == ["one", "two"]
    assert rows[1]["official_ha"] == pytest.approx(2.0, rel=1e-4)
    assert rows[1]["utm_zone"] == 48


def test_area_geojson_keeps_geometry_and_properties(squares: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.geojson"
    result = invoke("area", squares, "--format", "geojson", "--out", target)
    assert result.exit_code == 0, result.output
    back = gpd.read_file(target)
    assert back["name"].tolist() == ["one", "two"]
    assert back["official_ha"].tolist() == pytest.approx([1.0, 2.0], rel=1e-4)
    assert back.geometry.iloc[0].equals_exact(f.utm_box(0, 0, 100, 100), 1e-9)


def test_area_numbers_features_without_ids_and_reads_a_crs(tmp_path: Path) -> None:
    utm = gpd.GeoDataFrame(geometry=[shapely.box(500_000, 5_400_000, 500_300, 5_400_100)])
    path = write(tmp_path / "nocrs.geojson", utm.set_crs("EPSG:32648"))
    raw = path.read_text().replace('"crs"', '"_crs"')  # drop the declaration
    path.write_text(raw)
    assert invoke("area", path).exit_code == 1
    result = invoke("area", path, "--crs", "EPSG:32648")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert table["id"].tolist() == [1]
    assert table["official_ha"].iloc[0] == pytest.approx(3.0, rel=1e-5)


def test_area_repairs_and_says_so(tmp_path: Path) -> None:
    a, b, c, d = shapely.get_coordinates(f.utm_box(0, 0, 100, 100))[:4]
    path = write(tmp_path / "bowtie.geojson", gpd.GeoDataFrame(
        {"id": ["X"]}, geometry=[shapely.Polygon([a, c, b, d])], crs="EPSG:4326"))  # fmt: skip
    result = invoke("area", path)
    assert result.exit_code == 0, result.output
    assert "invalid geometry repaired" in result.stderr
    assert pd.read_csv(io.StringIO(result.stdout))["official_ha"].iloc[0] == pytest.approx(
        0.5, rel=1e-3
    )


def test_area_refuses_what_it_cannot_measure(squares: Path, tmp_path: Path) -> None:
    result = invoke("area", squares, "--id-field", "nope")
    assert result.exit_code == 2
    assert "no column 'nope'" in result.output
    assert invoke("area", tmp_path / "missing.geojson").exit_code == 1
    points = write(tmp_path / "points.geojson", gpd.GeoDataFrame(
        {"id": ["P"]}, geometry=[shapely.Point(106.5, 48.8)], crs="EPSG:4326"))  # fmt: skip
    result = invoke("area", points)
    assert result.exit_code == 1
    assert "not a polygon" in result.stderr
    assert invoke("area", squares, "--format", "xml").exit_code == 2


@pytest.mark.slow
def test_area_of_the_real_licences_matches_the_cadastre() -> None:
    if not EITI.exists():
        pytest.skip(f"real data not found at {EITI}")
    result = invoke("area", EITI, "--id-field", "LICENSE_NUMBER")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    reported = gpd.read_file(EITI, ignore_geometry=True)
    table["reported"] = pd.to_numeric(reported["AREA_HA_reported"]).to_numpy()
    assert len(table) == len(reported) == 3447
    some = table.set_index("id").loc[["MV-00021252", "XV-22000012", "MV-00021243"]]
    assert some["official_ha"].tolist() == pytest.approx(some["reported"].tolist(), rel=1e-5)
    assert some["utm_zone"].tolist() == [47, 50, 47]
    licences = table["id"].str[:2].isin(["MV", "XV"])
    close = (table["official_ha"] / table["reported"] - 1).abs() <= 1e-4
    assert close[licences].mean() >= 0.997  # measured 0.9977, as in tests/test_area.py


# --------------------------------------------------------------------------------- overlaps


def test_overlaps_by_default_lists_every_broken_pair_rule(conflicted: str) -> None:
    result = invoke("overlaps", "--db", conflicted, "--today", TODAY, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = orjson.loads(result.stdout)
    got = {(r["rule"], r["a_id"], r["b_id"]): r["overlap_ha"] for r in rows}
    assert got == {
        ("PARCEL_OVERLAP", "P-1", "P-2"): pytest.approx(1.0, rel=1e-3),
        ("LC_OVER_LICENCE", "LC-1", "MV-1"): pytest.approx(25.0, rel=3e-3),
    }
    assert set(rows[0]) == {"a_layer", "a_id", "b_layer", "b_id", "overlap_ha", "rule"}


def test_overlaps_table_is_bilingual(conflicted: str) -> None:
    result = invoke("overlaps", "--db", conflicted, "--today", TODAY)
    assert result.exit_code == 0, result.output
    for text in ("Гэрээт талбай давхцсан", "Parcels overlap", "Overlap ha", "Нийт / Total: 2"):
        assert text in result.stdout


def test_overlaps_of_chosen_layers_and_tolerance(conflicted: str) -> None:
    base = ("overlaps", "--db", conflicted, "--today", TODAY)
    result = invoke(*base, "--layer", "land_conclusions", "--against", "soums", "--format", "csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert table[["a_id", "b_id"]].values.tolist() == [["LC-1", "MN4322"]]
    assert table["rule"].isna().all()  # Land Conclusions lie in soums: allowed
    result = invoke(*base, "--layer", "contract_parcels", "--format", "json")
    assert [r["rule"] for r in orjson.loads(result.stdout)] == ["PARCEL_OVERLAP"]
    result = invoke(*base, "--layer", "contract_parcels", "--format", "json",
                    "--tolerance-m2", "20000")  # fmt: skip
    assert orjson.loads(result.stdout) == []
    result = invoke(*base, "--layer", "contract_parcels", "--format", "geojson")
    [feature] = orjson.loads(result.stdout)["features"]
    shared = shapely.geometry.shape(feature["geometry"])
    assert shared.within(f.utm_box(249, 99, 52, 202))  # the 50 m x 200 m strip


def test_overlaps_refuses_bad_options(conflicted: str, tmp_path: Path) -> None:
    base = ("overlaps", "--db", conflicted)
    assert invoke(*base, "--against", "licences").exit_code == 2
    assert invoke(*base, "--layer", "parcels").exit_code == 2
    assert invoke(*base, "--format", "xml").exit_code == 2
    assert invoke("overlaps", "--db", tmp_path / "none.gpkg").exit_code == 3


# ---------------------------------------------------------------------------------- analyze


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    result = invoke("demo", "--db", path, "--today", TODAY)
    assert result.exit_code == 0, result.output
    return path


def test_analyze_json_finds_the_demo_conflicts(demo_db: Path) -> None:
    result = invoke("analyze", "--db", demo_db, "--today", TODAY, "--json")
    assert result.exit_code == 0, result.output
    payload = orjson.loads(result.stdout)
    assert payload["today"] == TODAY
    demo = build_demo(today=dt.date(2025, 6, 30))
    assert len(payload["findings"]) == 7
    assert {r["rule"] for r in payload["findings"]} == {
        "PARCEL_OVERLAP", "PARCEL_OUTSIDE_LC", "LC_OVER_LICENCE", "LC_OVER_EXCLUSION",
        "CONTRACT_ACTIVE_PAST_EXPIRY", "REHAB_OVERDUE",
    }  # fmt: skip
    assert set(payload["findings"][0]) == {
        "rule", "severity", "a_layer", "a_id", "b_layer", "b_id", "overlap_ha", "soum_code",
        "message_mn", "message_en",
    }  # fmt: skip
    counts = {(c["soum_code"], c["rule"]): c["count"] for c in payload["counts"]}
    assert counts[("MN8404", "REHAB_OVERDUE")] == 1
    assert counts[("MN8201", "REHAB_OVERDUE")] == 1
    assert sum(counts.values()) == 7
    assert payload["repaired"] == []
    assert set(demo["contract_parcels"]["id"]) >= {
        r["a_id"] for r in payload["findings"] if r["a_layer"] == "contract_parcels"
    }


def test_analyze_prints_bilingual_counts_then_the_list(demo_db: Path) -> None:
    result = invoke("analyze", "--db", demo_db, "--today", TODAY)
    assert result.exit_code == 0, result.output
    text = result.stdout
    for label in ("Conflicts by soum and rule", "Мандал / Mandal", "Нөхөн сэргээлт хоцорсон",
                  "Rehabilitation overdue", "Blocking conflict", "Total findings: 7"):  # fmt: skip
        assert label in text
    assert text.index("Conflicts by soum and rule") < text.index("Findings")


def test_analyze_an_empty_store(store: Store) -> None:
    result = invoke("analyze", "--db", store.location, "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["findings"] == []


# ------------------------------------------------------------------------------------ check


def proposal_file(tmp_path: Path, *geoms: shapely.Geometry, **columns: list[Any]) -> Path:
    frame = gpd.GeoDataFrame(dict(columns), geometry=list(geoms), crs="EPSG:4326")
    return write(tmp_path / "proposal.geojson", frame)


def check_json(conflicted: str, path: Path, *options: str) -> dict[str, Any]:
    """``gazar check`` of the proposal at ``path`` against the store on TODAY: its JSON answer,
    which comes with exit code 0 whatever the verdict."""
    result = invoke("check", path, *options, "--db", conflicted, "--today", TODAY)
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = orjson.loads(result.stdout)
    return payload


def test_check_a_clear_parcel(conflicted: str, tmp_path: Path) -> None:
    path = proposal_file(tmp_path, f.utm_box(500, 300, 200, 200), id=["NEW"])
    payload = check_json(conflicted, path, "--kind", "parcel")
    assert payload["verdict"] == "clear"
    assert payload["file"] == str(path)
    assert payload["area"]["official_ha"] == pytest.approx(4.0, rel=1e-4)
    assert payload["land_conclusions"][0]["id"] == "LC-1"


def test_check_conflicts_still_exit_zero(conflicted: str, tmp_path: Path) -> None:
    path = proposal_file(tmp_path, f.utm_box(150, 100, 200, 200), id=["NEW"])
    payload = check_json(conflicted, path, "--kind", "parcel")
    assert payload["verdict"] == "conflicts"
    assert {(x["code"], x["id"]) for x in payload["findings"]} == {
        ("PARCEL_OVERLAP", "P-1"),
        ("PARCEL_OVERLAP", "P-2"),
        ("PARCEL_OVER_REHAB", "R-1"),  # P-1's zone, P-1 is not the proposal's
    }


def test_check_an_invalid_proposal_exits_zero_with_the_verdict(
    conflicted: str, tmp_path: Path
) -> None:
    path = proposal_file(tmp_path, shapely.box(48.8, 106.5, 48.81, 106.51), id=["SWAPPED"])
    payload = check_json(conflicted, path)
    assert payload["verdict"] == "invalid"
    assert "swapped" in payload["problems"][0]["reason"]


def test_check_an_unreadable_file_exits_one(conflicted: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text("not json at all")
    assert invoke("check", bad, "--db", conflicted).exit_code == 1
    assert invoke("check", tmp_path / "none.geojson", "--db", conflicted).exit_code == 1
    assert invoke("check", bad, "--kind", "licence", "--db", conflicted).exit_code == 2


def test_check_a_land_conclusion_across_the_soum_border(conflicted: str, tmp_path: Path) -> None:
    path = proposal_file(tmp_path, f.utm_box(14000, 0, 2000, 1000), id=["LC-NEW"])
    payload = check_json(conflicted, path, "--soum", "MN4322")
    assert payload["kind"] == "land_conclusion"
    assert payload["proposing_soum"] == "MN4322"
    assert payload["outside_soum_share"] == pytest.approx(0.5, rel=3e-3)
    assert [x["code"] for x in payload["findings"]] == ["LC_OUTSIDE_SOUM"]
    assert payload["verdict"] == "conflicts"


def test_check_reads_a_named_soum_beyond_the_proposal(conflicted: str, tmp_path: Path) -> None:
    # proposed by Bayangol, but wholly inside Mandal: all of it is outside the proposing soum
    path = proposal_file(tmp_path, f.utm_box(3000, 3000, 1000, 1000), id=["LC-NEW"])
    payload = check_json(conflicted, path, "--soum", "MN4310")
    assert payload["outside_soum_share"] == pytest.approx(1.0)
    assert [(x["code"], x["id"]) for x in payload["findings"]] == [("LC_OUTSIDE_SOUM", "MN4310")]


def test_check_html_is_the_self_contained_document_in_each_language(
    conflicted: str, tmp_path: Path
) -> None:
    path = proposal_file(tmp_path, f.utm_box(150, 100, 200, 200), id=["<NEW & 1>"])
    pages = {}
    for lang in ("mn", "en"):
        target = tmp_path / f"review-{lang}.html"
        result = invoke("check", path, "--kind", "parcel", "--format", "html", "--out", target,
                        "--lang", lang, "--checked-by", "B. Bat", "--db", conflicted,
                        "--today", TODAY)  # fmt: skip
        assert result.exit_code == 0, result.output
        pages[lang] = target.read_text(encoding="utf-8")
    for page in pages.values():
        assert page.startswith("<!DOCTYPE html>")
        assert "&lt;NEW &amp; 1&gt;" in page and "<NEW" not in page
        assert 'id="doc-signed-by">B. Bat<' in page and "P-1" in page
        bare = page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a namespace, not a file
        for external in ("http://", "https://", "<script", "<link", "src="):
            assert external not in bare
    assert "Зөрчилтэй" in pages["mn"] and "Гэрээт талбай давхцсан" in pages["mn"]
    assert "Conflicts" in pages["en"] and "Parcels overlap" in pages["en"]
    assert "Mandal" in pages["en"]


def test_check_pdf_is_written_to_a_file_checked_by_the_os_user(
    conflicted: str, tmp_path: Path
) -> None:
    import getpass

    path = proposal_file(tmp_path, f.utm_box(150, 100, 200, 200), id=["NEW-1"])
    target = tmp_path / "review.pdf"
    result = invoke("check", path, "--kind", "parcel", "--format", "pdf", "--out", target,
                    "--db", conflicted, "--today", TODAY)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"%PDF-")
    html = tmp_path / "review.html"
    invoke("check", path, "--kind", "parcel", "--format", "html", "--out", html, "--lang", "en",
           "--db", conflicted, "--today", TODAY)  # fmt: skip
    assert f'id="doc-signed-by">{getpass.getuser()}<' in html.read_text(encoding="utf-8")
    # a PDF goes to a file
    assert invoke("check", path, "--format", "pdf", "--db", conflicted).exit_code == 2
