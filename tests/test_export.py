"""Every export format reads back through ``gazar import`` to the same features."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from layers.store import Store, open_store
from tests import factories as f

runner = CliRunner()

FORMATS = {
    "geojson": ("out.geojson", []),
    "gpkg": ("out.gpkg", []),
    "shp": ("out.shp", []),
    "kml": ("out.kml", []),
    "csv": ("out.csv", ["--crs", "EPSG:4326"]),
    "fgb": ("out.fgb", []),
}


@pytest.fixture
def rich(seeded: Store) -> Store:
    """Several Land Conclusions with every kind of value: Cyrillic text, empty dates, multipolygons."""
    two = shapely.MultiPolygon([f.utm_box(3000, 0, 300, 300), f.utm_box(3500, 0, 300, 300)])
    seeded.write(
        {
            "land_conclusions": f.frame(
                "land_conclusions",
                [
                    f.proposed_land_conclusion("LC-2", geometry=two, requested_by="aimag"),
                    f.land_conclusion(
                        "LC-3",
                        name="Түнхэл — “Хойд ам”, 2",
                        status="rejected",
                        valid_until=None,
                        geometry=f.utm_box(0, 3000, 123.4, 567.8),
                    ),
                ],
            )
        }
    )
    return seeded


@pytest.mark.gpkg_only  # the file formats, not the store: one backend suffices
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_export_round_trip(fmt: str, rich: Store, tmp_path: Path) -> None:
    name, import_args = FORMATS[fmt]
    out = tmp_path / "export" / name
    out.parent.mkdir()  # no command makes a missing folder (tests/test_cli_paths.py)
    result = runner.invoke(
        app,
        ["export", "land_conclusions", "--format", fmt, "--out", str(out), "--db", rich.location],
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 3 feature(s)" in result.output
    assert not list(out.parent.glob(".gazar-export-*")), "no temporary files are left behind"

    fresh = tmp_path / "fresh.gpkg"
    result = runner.invoke(
        app, ["import", "land_conclusions", str(out), "--db", str(fresh), *import_args]
    )
    assert result.exit_code == 0, result.output
    original = rich.read("land_conclusions").set_index("id").sort_index()
    with open_store(fresh) as s:
        back = s.read("land_conclusions").set_index("id").sort_index()
    assert list(back.index) == ["LC-1", "LC-2", "LC-3"]
    for col in original.columns:
        if col == "geometry":
            continue
        assert back[col].tolist() == original[col].tolist(), (fmt, col)
    for a, b in zip(original.geometry, back.geometry, strict=True):
        assert shapely.normalize(a).equals_exact(shapely.normalize(b), tolerance=1e-7), fmt
    assert back.loc["LC-1", "proposed_on"] == dt.date(2024, 3, 1)


def test_zipped_shapefile_export_imports(rich: Store, tmp_path: Path) -> None:
    out = tmp_path / "lc.zip"
    result = runner.invoke(
        app,
        [
            "export",
            "land_conclusions",
            "--format",
            "shp",
            "--out",
            str(out),
            "--db",
            rich.location,
        ],
    )
    assert result.exit_code == 0, result.output
    fresh = tmp_path / "fresh.gpkg"
    result = runner.invoke(app, ["import", "land_conclusions", str(out), "--db", str(fresh)])
    assert result.exit_code == 0, result.output
    with open_store(fresh) as s:
        assert s.ids("land_conclusions") == {"LC-1", "LC-2", "LC-3"}


def test_unknown_format_is_refused(seeded: Store, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "export",
            "land_conclusions",
            "--format",
            "dwg",
            "--out",
            str(tmp_path / "x"),
            "--db",
            seeded.location,
        ],
    )
    assert result.exit_code != 0
    assert "choose one of geojson, gpkg, shp, kml, csv, fgb" in " ".join(result.output.split())
    assert not (tmp_path / "x").exists()


def test_layers_json(seeded: Store) -> None:
    import orjson

    result = runner.invoke(app, ["layers", "--json", "--db", seeded.location])
    assert result.exit_code == 0
    rows = {r["layer"]: r for r in orjson.loads(result.output)}
    assert rows["contract_parcels"]["count"] == 1
    x0, y0, x1, y1 = rows["contract_parcels"]["bbox"]
    assert (x0, y0, x1, y1) == pytest.approx(f.parcel()["geometry"].bounds)
    assert rows["licences"] == {"layer": "licences", "count": 0, "bbox": None}
