"""Gazar's data in a real, headless QGIS (Debian's python3-qgis, installed by scripts/test):
the GeoPackage's layers open valid with the store's counts, fields and MultiPolygon type and
draw with their default style from ``layer_styles``; the OGC API collections open through
QGIS's OAPIF provider with the server's counts and bbox answers; an edit committed from QGIS
reaches the store (``gazar export``) and the log (after ``gazar audit seal``), and an edit
breaking the schema is refused with the store's message and nothing written; the availability
raster opens with its CRS and nodata; the projects ``gazar qgis-project`` writes (from the file,
the server and PostGIS) open with every layer valid, grouped and styled."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
import rasterio
from typer.testing import CliRunner

from api.cli import app
from api.services.qgis_project import FEATURES_FROM_SCALE, TILED, store_extent
from layers.labels import label
from layers.qgis_styles import LABEL_ZOOM, categories, label_show_expression
from layers.schema import LAYER_ORDER, REGISTRY
from layers.store import Store, open_store
from tests.conftest import DEMO_DAY
from tests.workbench import serve

SYSTEM_PYTHON = Path("/usr/bin/python3")
PROBE = Path(__file__).with_name("qgis_probe.py")
#: QGIS's ``wkbType`` of each declared geometry type
WKB = {"Point": 1, "MultiLineString": 5, "MultiPolygon": 6}


def _has_qgis() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    found = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import qgis.core"], capture_output=True, check=False
    )
    return found.returncode == 0


HAS_QGIS = _has_qgis()
if not HAS_QGIS and os.environ.get("CI"):
    # scripts/test installs python3-qgis: under CI its absence is a failure, not a skip
    raise RuntimeError("python3-qgis is not installed (scripts/test installs it)")
pytestmark = pytest.mark.skipif(not HAS_QGIS, reason="python3-qgis is not installed")


def probe(config: dict[str, Any], home: Path) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_RUNTIME_DIR": str(home),
    }
    done = subprocess.run(
        [str(SYSTEM_PYTHON), str(PROBE), json.dumps(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def gazar(*argv: str) -> Any:
    return CliRunner().invoke(app, list(argv))


def test_qgis_opens_the_store_and_the_api_as_gazar_serves_them(
    filled: Store, store_path: Path, tmp_path: Path
) -> None:
    counts = {info.layer: info.count for info in filled.layers()}
    parcels = filled.read("contract_parcels")
    x0, y0, x1, y1 = parcels.geometry.iloc[:5].total_bounds
    box = [x0, y0, x1, y1]
    target = str(parcels["id"].iloc[0])
    # two views of the server's project around one parcel: zoomed out (about 90 km across)
    # and zoomed in (600 m)
    cx, cy = parcels.geometry.iloc[0].representative_point().coords[0]
    views = {"out": [cx - 0.6, cy - 0.3, cx + 0.6, cy + 0.3],
             "in": [cx - 0.004, cy - 0.002, cx + 0.004, cy + 0.002]}  # fmt: skip
    home = tmp_path / "qgis-home"
    home.mkdir(mode=0o700)
    gpkg = tmp_path / "copy.gpkg"
    # the server reads one file, QGIS edits another (a backup: the store's WAL included)
    with sqlite3.connect(store_path) as src, sqlite3.connect(gpkg) as dst:
        src.backup(dst)
    raster = tmp_path / "available.tif"
    made = CliRunner().invoke(
        app, ["export-raster", "available", "--out", str(raster), "--db", str(store_path),
              "--today", DEMO_DAY.isoformat(), "--soum", "MN4322"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    # the log starts before QGIS edits (its baseline), so QGIS's edit is a change of its own
    assert gazar("audit", "seal", "--db", str(gpkg)).exit_code == 0
    projects = {"file": tmp_path / "file.qgz", "url": tmp_path / "url.qgz"}
    wrote = gazar("qgis-project", "--out", str(projects["file"]), "--db", str(gpkg))
    assert wrote.exit_code == 0, wrote.output
    with open_store(gpkg, create=False) as opened_store:
        opens_at = store_extent(opened_store.layers())
    assert opens_at is not None
    with rasterio.open(raster) as src:
        expected_raster = {"crs": f"EPSG:{src.crs.to_epsg()}", "nodata": src.nodata,
                           "size": [src.width, src.height]}  # fmt: skip
    with serve(store_path) as (url, _app):
        import urllib.request

        with urllib.request.urlopen(
            f"{url}/collections/contract_parcels/items?limit=1000&bbox={','.join(map(str, box))}"
        ) as r:
            served_in_box = sorted(f["id"] for f in json.load(r)["features"])
        wrote = gazar("qgis-project", "--out", str(projects["url"]), "--url", url)
        assert wrote.exit_code == 0, wrote.output
        seen = probe(
            {
                "gpkg": str(gpkg),
                "layers": list(REGISTRY),
                "url": url,
                "oapif": ["contract_parcels", "land_conclusions"],
                "bbox": box,
                "page_size": 25,
                "projects": [str(projects["file"]), str(projects["url"])],
                "renders": {str(projects["url"]): [
                    [layer, views[view]] for view in ("out", "in")
                    for layer in ("gazar_tiles_contract_parcels", "gazar_contract_parcels")
                ]},
                "raster": str(raster),
                "edit": {"layer": "contract_parcels", "id": target, "field": "status",
                         "good": "expired", "bad": "no-such-status"},
            },
            home,
        )  # fmt: skip
    for name, kind in REGISTRY.items():
        layer = seen["gpkg"][name]
        assert layer["valid"], name
        assert layer["count"] == counts[name], name
        assert layer["fields"] == ["fid", *kind.columns], name
        assert layer["wkb"] == WKB[kind.geometry], name  # MultiPolygon, or the layer's type
        if name in LABEL_ZOOM:  # names from the web map's zoom: QGIS evaluates the rule
            labels = layer["labels"]
            assert labels is not None and labels["rule"] == label_show_expression(name), name
            key, zooms = LABEL_ZOOM[name]
            assert len(labels["shown"]) == counts[name], name
            for value, row in labels["shown"]:
                zoom = zooms.get(value, zooms["*"]) if key else zooms["*"]
                assert row == [z >= zoom for z in (6, 9, 11)], (name, value, row)
            if key:  # the store holds the values whose names show early
                assert set(zooms) - {"*"} <= {v for v, _row in labels["shown"]}, name
        expected = [[v, label] for v, label, _paint in categories(name, "mn")]
        if expected:
            assert layer["renderer"] == "categorizedSymbol", name
            assert layer["categories"] == expected, name  # the default style, Mongolian labels
    for name in ("contract_parcels", "land_conclusions"):
        api = seen["oapif"][name]
        assert api["valid"], name
        assert api["iterated"] == counts[name], name
        assert api["wkb"] == 6, name  # typed as the API declares: MultiPolygon
    assert seen["oapif"]["contract_parcels"]["in_bbox"] == served_in_box
    # paging: 25 a page, every parcel once
    assert seen["paged"] == sorted(parcels["id"].astype(str))
    assert len(parcels) > 25
    assert served_in_box  # the box holds parcels
    # the availability raster: its CRS (the area's UTM zone) and nodata, as Gazar wrote them
    assert seen["raster"]["valid"]
    assert {k: seen["raster"][k] for k in expected_raster} == expected_raster
    assert expected_raster["nodata"] == 255
    edit = seen["edit"]
    assert edit["good"]["committed"], edit["good"]["errors"]
    assert not edit["bad"]["committed"]
    told = " ".join(edit["bad"]["errors"])  # the store's own message reaches the QGIS user
    assert "refused by the store" in told and "field status = no-such-status" in told
    assert "must be one of: applied, active" in told
    with open_store(gpkg) as store:
        row = store.read("contract_parcels", ids=[target])
        assert row["status"].tolist() == ["expired"]  # the good edit, and not the bad one
    # gazar sees the edit, and logs it once sealed: one change, active -> expired
    exported = tmp_path / "parcels.geojson"
    assert (
        gazar("export", "contract_parcels", "--out", str(exported), "--db", str(gpkg)).exit_code
        == 0
    )
    statuses = {f["properties"]["id"]: f["properties"]["status"]
                for f in json.loads(exported.read_text())["features"]}  # fmt: skip
    assert statuses[target] == "expired"
    sealed = gazar("audit", "seal", "--db", str(gpkg))
    assert sealed.exit_code == 0 and sealed.output.startswith("1 "), sealed.output
    log = tmp_path / "log.jsonl"
    assert gazar("audit", "export", "--out", str(log), "--db", str(gpkg)).exit_code == 0
    events = [json.loads(line) for line in log.read_text().splitlines()]
    mine = [e for e in events if e["object"] == f"contract_parcels/{target}"]
    assert len(mine) == 2, mine  # the baseline, then QGIS's edit (the refused one left none)
    assert json.loads(mine[0]["after"])["status"] == parcels["status"].iloc[0]
    assert json.loads(mine[1]["before"])["status"] == parcels["status"].iloc[0]
    assert json.loads(mine[1]["after"])["status"] == "expired"
    assert gazar("audit", "verify", "--db", str(gpkg)).exit_code == 0
    # the projects: every layer valid, grouped, styled, from the file and from the server
    for variant, provider in (("file", "ogr"), ("url", "OAPIF")):
        opened = seen["projects"][str(projects[variant])]
        assert opened["read"], variant
        if variant == "file":  # it opens at Gazar's own layers
            *box, crs = opened["extent"]
            assert crs == "EPSG:4326"
            assert box == pytest.approx(list(opens_at), abs=1e-9)
        groups = dict((name, ids) for name, ids in opened["groups"])
        layers = opened["layers"]
        expected_ids = {f"gazar_{n}" for n in REGISTRY}
        if variant == "url":
            expected_ids |= {"gazar_overlaps", "gazar_available_land"}
            tiles = {i: layers.pop(i) for i in list(layers) if i.startswith("gazar_tiles_")}
            assert set(tiles) == {f"gazar_tiles_{n}" for n in TILED}
            for layer_id, tile_layer in tiles.items():
                name = layer_id.removeprefix("gazar_tiles_")
                assert tile_layer["valid"] and tile_layer["provider"] == "vectortile", name
                assert tile_layer["crs"] == "EPSG:3857", name
                assert tile_layer["source"] == (
                    f"{url}/collections/{name}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
                )
                assert tile_layer["renderer"] == "basic"
                assert {s[1] for s in tile_layer["styles"]} == {name}
                cats = (
                    [lab for _v, lab, _paint in categories(name, "mn")] if name in REGISTRY else []
                )
                if cats:
                    assert [s[0] for s in tile_layer["styles"][1:]] == cats, name
                assert tile_layer["scales"] == [True, 0, FEATURES_FROM_SCALE], name
                assert layers[f"gazar_{name}"]["scales"] == [True, FEATURES_FROM_SCALE, 0], name
            # QGIS draws the parcels from Gazar's tiles zoomed out, from the features zoomed in
            drawn = {(lid, tuple(box)): seen_ for lid, box, seen_ in opened["drawn"]}
            for view, shown, hidden in (
                ("out", "gazar_tiles_contract_parcels", "gazar_contract_parcels"),
                ("in", "gazar_contract_parcels", "gazar_tiles_contract_parcels"),
            ):
                on, off = drawn[(shown, tuple(views[view]))], drawn[(hidden, tuple(views[view]))]
                assert not on["errors"] and not off["errors"], (on, off)
                assert (on["scale"] > FEATURES_FROM_SCALE) == (view == "out"), on
                assert on["painted"] > 10, (view, on)  # a few small parcels at 1:1,000,000
                assert off["painted"] == 0, (view, off)
        assert set(layers) == expected_ids, variant
        tiles_group = groups.pop(label("qgis_group", "tiles", "mn"), [])
        assert set(tiles_group) == ({f"gazar_tiles_{n}" for n in TILED} if variant == "url"
                                    else set()), variant  # fmt: skip
        assert set().union(*groups.values()) == expected_ids, variant
        assert groups[label("qgis_group", "core", "mn")] == [
            "gazar_rehab_zones", "gazar_contract_parcels", "gazar_land_conclusions"
        ]  # fmt: skip
        for layer_id, layer in layers.items():
            name = layer_id.removeprefix("gazar_")
            assert layer["valid"] and layer["provider"] == provider, (variant, name)
            assert layer["crs"] == "EPSG:4326", (variant, name)
            kind = REGISTRY.get(name)  # the derived collections are MultiPolygons
            declared = "MultiPolygon" if kind is None else kind.geometry
            assert layer["wkb"] == WKB[declared], (variant, name)
            if name in counts:
                assert layer["count"] == counts[name], (variant, name)
                cats = [[v, lab] for v, lab, _paint in categories(name, "mn")]
                assert layer["categories"] == (cats or None), (variant, name)


def test_qgis_opens_the_postgis_project_with_every_layer_valid_and_styled(
    pg_database: str, demo: dict[str, Any], tmp_path: Path
) -> None:
    with open_store(pg_database) as store:
        store.write({name: demo[name] for name in LAYER_ORDER})
        counts = {info.layer: info.count for info in store.layers()}
    out = tmp_path / "pg.qgz"
    wrote = gazar("qgis-project", "--out", str(out), "--db", pg_database)
    assert wrote.exit_code == 0, wrote.output
    home = tmp_path / "qgis-home"
    home.mkdir(mode=0o700)
    seen = probe({"layers": [], "projects": [str(out)]}, home)["projects"][str(out)]
    assert seen["read"]
    assert set(seen["layers"]) == {f"gazar_{n}" for n in REGISTRY}
    for name in REGISTRY:
        layer = seen["layers"][f"gazar_{name}"]
        assert layer["valid"] and layer["provider"] == "postgres", name
        assert layer["count"] == counts[name], name
        assert layer["wkb"] == WKB[REGISTRY[name].geometry], name
        cats = [[v, lab] for v, lab, _paint in categories(name, "mn")]
        assert layer["categories"] == (cats or None), name
