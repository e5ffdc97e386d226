"""KMZ (a zipped KML, ``doc.kml`` inside) is read on import, by ``gazar check`` and by the
``/check`` upload (issue 14, finding 5); an empty upload is said to be empty (finding 7)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import orjson
import pyogrio
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.settings import ApiSettings
from layers.errors import InputFileError
from layers.readers import read_features
from layers.store import Store
from tests import factories as f
from tests.test_import import lc_props

runner = CliRunner()
TODAY = "2025-06-30"


def kmz(tmp_path: Path, frame: gpd.GeoDataFrame, name: str = "proposal.kmz") -> Path:
    """``frame`` written as KML and zipped as ``doc.kml`` (with an image beside it, as
    Google Earth does)."""
    kml = tmp_path / "doc.kml"
    pyogrio.write_dataframe(frame, kml, driver="LIBKML")
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(kml, "doc.kml")
        zf.writestr("files/logo.png", b"\x89PNG")
    kml.unlink()
    return path


def proposal(tmp_path: Path) -> Path:
    """A parcel over the seeded parcel P-1 (``utm_box(100, 100, 200, 200)``)."""
    frame = gpd.GeoDataFrame(
        {"id": ["NEW"]}, geometry=[f.utm_box(150, 150, 200, 200)], crs="EPSG:4326"
    )
    return kmz(tmp_path, frame)


def test_read_features_reads_a_kmz(tmp_path: Path) -> None:
    frame, info = read_features(proposal(tmp_path))
    assert info.format == "KMZ" and len(frame) == 1
    assert frame.geometry.iloc[0].equals_exact(f.utm_box(150, 150, 200, 200), tolerance=1e-7)


def test_a_kmz_without_kml_or_not_a_zip_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "nothing.kmz"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("files/logo.png", b"\x89PNG")
    with pytest.raises(InputFileError, match=r"holds no \.kml") as exc:
        read_features(empty)
    assert "nothing.kmz" in str(exc.value)
    fake = tmp_path / "fake.kmz"
    fake.write_text("<kml/>")
    with pytest.raises(InputFileError, match="not a valid zip archive"):
        read_features(fake)


def test_import_a_kmz(seeded: Store, tmp_path: Path) -> None:
    props = lc_props("LC-9")
    frame = gpd.GeoDataFrame([props], geometry=[f.utm_box(3000, 0, 500, 500)], crs="EPSG:4326")
    path = kmz(tmp_path, frame, "lc.kmz")
    result = runner.invoke(app, ["import", "land_conclusions", str(path), "--db", seeded.location])
    assert result.exit_code == 0, result.output
    assert "LC-9" in seeded.read("land_conclusions")["id"].tolist()


def test_gazar_check_a_kmz(seeded: Store, tmp_path: Path) -> None:
    path = proposal(tmp_path)
    result = runner.invoke(
        app, ["check", str(path), "--kind", "parcel", "--db", seeded.location, "--today", TODAY]
    )
    assert result.exit_code == 0, result.output
    payload = orjson.loads(result.stdout)
    assert payload["verdict"] == "conflicts"
    assert ("PARCEL_OVERLAP", "P-1") in {(x["code"], x["id"]) for x in payload["findings"]}


@pytest.mark.gpkg_only
def test_check_page_reads_an_uploaded_kmz(seeded: Store, tmp_path: Path) -> None:
    data = proposal(tmp_path).read_bytes()
    with TestClient(create_app(ApiSettings(db=seeded.location))) as client:
        r = client.post(
            "/check",
            data={"kind": "parcel", "today": TODAY, "lang": "en"},
            files={"file": ("proposal.kmz", data, "application/vnd.google-earth.kmz")},
        )
    assert r.status_code == 200, r.text[:800]
    assert 'data-verdict="conflicts"' in r.text
    assert "P-1" in r.text


@pytest.mark.gpkg_only
@pytest.mark.parametrize("name", ["empty.geojson", "empty.kml", "empty.kmz", "empty.gpkg"])
def test_check_page_says_an_uploaded_file_is_empty(seeded: Store, name: str) -> None:
    with TestClient(create_app(ApiSettings(db=seeded.location))) as client:
        r = client.post("/check", data={"lang": "en"}, files={"file": (name, b"")})
    assert r.status_code == 422, r.text[:500]
    assert "the file is empty" in r.text
    assert "parsing kml" not in r.text and "CSV:" not in r.text
