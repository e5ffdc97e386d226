"""The background layers: roads (lines), water (polygons) and settlements (points).

Each is a store layer of its own geometry type on both backends, imported from the national
ALAGaC files as published, refused feature by feature when the input is wrong (nothing
written), served by the OGC API as its declared type, and never read by the analyses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.settings import ApiSettings
from geo.rules import analyze
from geo.settings import AnalysisSettings
from layers.schema import AREA_LAYERS, LAYER_ORDER, REGISTRY
from layers.store import Store
from tests.conftest import DEMO_DAY, SHARED, snapshot

ALAGAC = SHARED / "alagac"
runner = CliRunner()


def gazar(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def _geojson(path: Path, features: list[tuple[dict[str, Any], Any]]) -> Path:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": None if geom is None else shapely.geometry.mapping(geom),
            }
            for props, geom in features
        ],
    }
    path.write_text(json.dumps(doc), "utf-8")
    return path


LINE = shapely.LineString([(106.5, 48.8), (106.6, 48.85), (106.7, 48.82)])
POINT = shapely.Point(106.51754, 48.8181)
LAKE = shapely.box(106.3, 48.6, 106.35, 48.63)


# --- the schema and the store ----------------------------------------------------------------


def test_the_background_layers_are_declared_and_left_out_of_the_analyses() -> None:
    assert (REGISTRY["roads"].geometry, REGISTRY["water"].geometry) == (
        "MultiLineString",
        "MultiPolygon",
    )
    assert REGISTRY["settlements"].geometry == "Point"
    for name in ("roads", "water", "settlements"):
        assert REGISTRY[name].role == "reference"
        assert name not in AREA_LAYERS
    assert set(AREA_LAYERS) == {n for n, k in REGISTRY.items() if k.polygonal} - {"water"}


def test_round_trip_keeps_each_geometry_type(store: Store) -> None:
    roads = gpd.GeoDataFrame(
        {"id": ["R-1", "R-2"], "name": ["Мандал — Түнхэл", None], "name_latin": [None, None],
         "kind": ["gravel", None], "class_code": [2, None]},
        geometry=[LINE, shapely.MultiLineString([LINE.coords[:2], LINE.coords[1:]])],
        crs=4326,
    )  # fmt: skip
    places = gpd.GeoDataFrame(
        {"id": ["S-1"], "name": ["Мандал"], "name_latin": ["Mandal"], "kind": ["soum_centre"],
         "soum_code": ["MN4322"], "aimag_code": ["MN43"]},
        geometry=[POINT], crs=4326,
    )  # fmt: skip
    water = gpd.GeoDataFrame(
        {"id": ["W-1"], "name": ["Хөх нуур"], "name_latin": ["Khökh nuur"], "kind": ["lake"]},
        geometry=[LAKE],
        crs=4326,
    )
    store.write({"roads": roads, "settlements": places, "water": water})
    got = store.read("roads").set_index("id")
    assert got.geometry["R-1"].equals(LINE)  # a one-part line is read as the line
    assert got.geometry["R-2"].geom_type == "MultiLineString"
    assert got.loc["R-1", "kind"] == "gravel" and int(got.loc["R-1", "class_code"]) == 2
    point = store.read("settlements").iloc[0]
    assert point.geometry.equals(POINT) and point["name"] == "Мандал"
    assert store.read("water").geometry.iloc[0].equals(LAKE)
    infos = {i.layer: i for i in store.layers()}
    assert (infos["roads"].count, infos["settlements"].count, infos["water"].count) == (2, 1, 1)


# --- import from the national files -----------------------------------------------------------


def _import_national(location: str) -> list[str]:
    """The README's commands for the ALAGaC files; the output of each."""
    commands = [
        ("roads", "roads.geojson", "--id-prefix", "RD-", "--drop-empty"),
        ("water", "major_lakes.geojson", "--map", "name=NAME_MON_cyr", "--map", "name_latin=NAME",
         "--id-prefix", "WT-"),
        ("settlements", "aimag_centers.geojson", "--map", "id=METST_DD_I", "--id-prefix", "AC-",
         "--set", "kind=aimag_centre"),
        ("settlements", "soum_centers.geojson", "--map", "id=SOUMCENT_", "--id-prefix", "SC-",
         "--set", "kind=soum_centre"),
    ]  # fmt: skip
    outputs = []
    for layer, file, *options in commands:
        done = gazar("import", layer, str(ALAGAC / file), *options, "--db", location)
        assert done.exit_code == 0, done.output
        outputs.append(done.output)
    return outputs


def test_the_national_alagac_files_import_as_published(store: Store) -> None:
    roads_out, _, _, soums_out = _import_national(store.location)
    assert "#442 (RD-443)" in roads_out  # the one road of no length, named and left out
    assert "MNS 5217" in soums_out  # Latin names written from the Cyrillic ones
    counts = {i.layer: i.count for i in store.layers()}
    assert (counts["roads"], counts["water"], counts["settlements"]) == (2171, 310, 355)
    assert all(counts[n] == 0 for n in AREA_LAYERS)
    roads = store.read("roads")
    assert set(roads.geom_type) <= {"LineString", "MultiLineString"}
    assert sorted(roads["class_code"].dropna().astype(int).unique()) == [1, 2, 3, 4]
    lakes = store.read("water").set_index("id")
    khuvsgul = lakes[lakes["name_latin"] == "KHUVSGUL DALAI"].iloc[0]
    assert khuvsgul["name"] == "Хөвсгөл  далай" and khuvsgul["kind"] == "lake"
    places = store.read("settlements").set_index("id")
    assert places["kind"].value_counts().to_dict() == {"soum_centre": 333, "aimag_centre": 22}
    dalan = places[places["name"] == "Даланзадгад"].iloc[0]
    assert (dalan["kind"], dalan["name_latin"]) == ("aimag_centre", "Dalanzadgad")
    assert dalan.geometry.equals(shapely.Point(104.400002, 43.599998))  # as published
    assert set(places.geom_type) == {"Point"}
    assert places.loc["SC-1", "name"] == "Цагаан нуур"


def test_the_roads_file_is_refused_whole_without_drop_empty(store: Store) -> None:
    before = snapshot(store)
    done = gazar("import", "roads", str(ALAGAC / "roads.geojson"), "--id-prefix", "RD-",
                 "--db", store.location)  # fmt: skip
    assert done.exit_code == 1
    assert "feature #442, id=RD-443, field 'geometry': empty geometry" in done.output
    assert snapshot(store) == before


# --- bad input, refused by name, nothing written ----------------------------------------------

BAD = [
    ("roads", [({"id": "R-1"}, POINT)], "geometry is a Point; this layer needs LineString"),
    ("roads", [({"id": "R-1"}, LAKE)], "geometry is a Polygon; this layer needs LineString"),
    ("settlements", [({"id": "S-1", "name": "Мандал", "kind": "soum_centre"}, LAKE)],
     "geometry is a Polygon; this layer needs Point"),
    ("settlements", [({"id": "S-1", "name": "Мандал", "kind": "soum_centre"}, LINE)],
     "geometry is a LineString; this layer needs Point"),
    ("settlements", [({"id": "S-1", "name": "Мандал", "kind": "soum_centre"},
                      shapely.MultiPoint([POINT, (106.6, 48.9)]))],
     "geometry is a MultiPoint; this layer needs Point"),
    ("water", [({"id": "W-1"}, LINE)], "geometry is a LineString; this layer needs Polygon"),
    ("settlements", [({"id": "S-1", "name": "Мандал", "kind": "soum_centre"},
                      shapely.Point(6.5, 48.8))], "coordinates outside Mongolia"),
    ("settlements", [({"id": "S-1", "name": "Мандал", "kind": "soum_centre"},
                      shapely.Point(48.8, 106.5))], "latitude and longitude look swapped"),
    ("roads", [({"id": "R-1"}, shapely.LineString([(106.5, 48.8), (200.0, 48.9)]))],
     "coordinates outside Mongolia"),
    ("settlements", [({"id": "S-1", "kind": "soum_centre"}, POINT)],
     "required column 'name' is missing"),
    ("settlements", [({"id": "S-1", "name": "Мандал"}, POINT)],
     "required column 'kind' is missing"),
    ("settlements", [({"id": "S-1", "name": "Мандал", "kind": "city"}, POINT)],
     "unknown value 'city'; allowed: aimag_centre, soum_centre, village"),
    ("roads", [({"id": "R-1", "kind": "motorway"}, LINE)], "unknown value 'motorway'"),
    ("roads", [({"id": "R-1", "class_code": -1}, LINE)], "below the minimum 0"),
    ("roads", [({"id": "R-1"}, None)], "empty geometry"),
    ("roads", [({"id": "R-1"}, LINE), ({"id": "R-1"}, LINE)], "duplicate id 'R-1'"),
]  # fmt: skip


@pytest.mark.parametrize(("layer", "features", "told"), BAD)
def test_bad_background_input_is_refused_by_feature_and_nothing_written(
    store: Store, tmp_path: Path, layer: str, features: list[tuple[dict[str, Any], Any]], told: str
) -> None:
    path = _geojson(tmp_path / "bad.geojson", features)
    before = snapshot(store)
    done = gazar("import", layer, str(path), "--db", store.location)
    assert done.exit_code == 1, done.output
    assert told in done.output
    assert "bad.geojson" in done.output
    assert snapshot(store) == before


def test_a_nan_coordinate_is_refused(store: Store, tmp_path: Path) -> None:
    # GeoJSON cannot hold NaN: the file is WKT in a CSV, as a spreadsheet exports it
    path = tmp_path / "bad.csv"
    path.write_text('id,name,kind,wkt\nS-1,Мандал,soum_centre,"POINT (106.5 NaN)"\n', "utf-8")
    before = snapshot(store)
    done = gazar("import", "settlements", str(path), "--crs", "EPSG:4326", "--db", store.location)
    assert done.exit_code == 1, done.output
    assert "S-1" in done.output and "NaN" in done.output
    assert snapshot(store) == before


def test_set_and_id_prefix_are_checked(store: Store, tmp_path: Path) -> None:
    path = _geojson(tmp_path / "places.geojson", [({"n": "Мандал", "kind": "soum_centre"}, POINT)])
    done = gazar("import", "settlements", str(path), "--map", "name=n", "--set", "kind=village",
                 "--id-prefix", "X-", "--db", store.location)  # fmt: skip
    assert done.exit_code == 1 and "the file already has 'kind'" in done.output
    done = gazar("import", "settlements", str(path), "--map", "name=n", "--set", "colour=red",
                 "--id-prefix", "X-", "--db", store.location)  # fmt: skip
    assert done.exit_code == 1 and "'colour' is not a field of settlements" in done.output
    assert store.read("settlements").empty
    done = gazar("import", "settlements", str(path), "--map", "name=n", "--id-prefix", "X-",
                 "--db", store.location)  # fmt: skip
    assert done.exit_code == 0, done.output
    got = store.read("settlements").iloc[0]
    assert (got["id"], got["name_latin"], got["kind"]) == ("X-1", "Mandal", "soum_centre")


def test_the_store_refuses_a_wrong_type_written_past_gazar(store: Store) -> None:
    """QGIS or psql writing a polygon into settlements meets the store's own check."""
    from layers.gpkg import register_functions, to_blobs

    if store.location.startswith("postgresql"):
        import psycopg

        with (
            psycopg.connect(store.location, autocommit=True) as conn,
            pytest.raises(psycopg.Error, match="Point"),
        ):
            conn.execute(
                "INSERT INTO settlements (geom, id, name, kind) VALUES "
                "(ST_GeomFromText(%s, 4326), 'S-9', 'x', 'soum_centre')",
                (LAKE.wkt,),
            )
    else:
        import sqlite3

        with sqlite3.connect(store.location) as conn:
            register_functions(conn)
            blob = to_blobs(np.array([shapely.MultiPolygon([LAKE])], dtype=object))[0]
            with pytest.raises(sqlite3.Error, match="layer settlements, id S-9, field geometry"):
                conn.execute(
                    "INSERT INTO settlements (geom, id, name, kind) VALUES (?, 'S-9', 'x', "
                    "'soum_centre')",
                    (blob,),
                )
    assert store.read("settlements").empty


# --- the analyses ignore them -----------------------------------------------------------------


def test_the_analyses_are_the_same_with_and_without_the_background(
    demo: dict[str, gpd.GeoDataFrame],
) -> None:
    """A road across every Land Conclusion and a lake over a parcel change no finding."""
    settings = AnalysisSettings()
    without = {n: f for n, f in demo.items() if n not in ("roads", "water", "settlements")}
    lcs = shapely.union_all(demo["land_conclusions"].geometry.array)
    x0, y0, x1, y1 = lcs.bounds
    crossing = gpd.GeoDataFrame(
        {"id": ["R-X"], "name": [None], "name_latin": [None], "kind": [None], "class_code": [1]},
        geometry=[shapely.LineString([(x0, y0), (x1, y1)])], crs=4326,
    )  # fmt: skip
    parcel = demo["contract_parcels"].geometry.iloc[0]
    over = gpd.GeoDataFrame(
        {"id": ["W-X"], "name": ["x"], "name_latin": [None], "kind": ["lake"]},
        geometry=[parcel.buffer(0.001)], crs=4326,
    )  # fmt: skip
    with_all = {
        **demo,
        "roads": gpd.GeoDataFrame(
            gpd.pd.concat([demo["roads"], crossing], ignore_index=True), crs=4326
        ),
        "water": gpd.GeoDataFrame(
            gpd.pd.concat([demo["water"], over], ignore_index=True), crs=4326
        ),
    }
    a = analyze(without, today=DEMO_DAY, settings=settings).records
    b = analyze(with_all, today=DEMO_DAY, settings=settings).records
    assert len(a) > 0
    assert (
        a[["rule", "a_id", "b_id"]].values.tolist() == b[["rule", "a_id", "b_id"]].values.tolist()
    )
    assert not set(b["a_layer"]) & {"roads", "water", "settlements"}


# --- the OGC API ------------------------------------------------------------------------------


@pytest.fixture
def client(filled: Store) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings(db=filled.location))) as c:
        yield c


@pytest.mark.parametrize(
    ("layer", "declared", "fmt"),
    [
        ("roads", "MultiLineString", "geometry-multilinestring"),
        ("water", "MultiPolygon", "geometry-multipolygon"),
        ("settlements", "Point", "geometry-point"),
    ],
)
def test_the_ogc_api_serves_each_type_as_declared(
    client: TestClient, filled: Store, layer: str, declared: str, fmt: str
) -> None:
    schema = client.get(f"/collections/{layer}/schema").json()
    assert schema["properties"]["geometry"]["format"] == fmt
    assert ("official_ha" in schema["properties"]) == (declared == "MultiPolygon")
    queryables = client.get(f"/collections/{layer}/queryables").json()["properties"]
    assert list(queryables) == REGISTRY[layer].columns
    items = client.get(f"/collections/{layer}/items").json()
    stored = filled.read(layer).set_index("id")
    assert items["numberMatched"] == len(stored) > 0
    for feat in items["features"]:
        assert feat["geometry"]["type"] == declared
        assert shapely.geometry.shape(feat["geometry"]).equals(stored.geometry[feat["id"]])
        assert set(feat["properties"]) == set(schema["properties"]) - {"geometry"}
    one = items["features"][0]
    single = client.get(f"/collections/{layer}/items/{one['id']}").json()
    assert single["geometry"] == one["geometry"]
    # a bbox around one feature finds it (and what else lies in the box)
    x0, y0, x1, y1 = shapely.geometry.shape(one["geometry"]).bounds
    box = f"{x0 - 1e-4},{y0 - 1e-4},{x1 + 1e-4},{y1 + 1e-4}"
    found = client.get(f"/collections/{layer}/items", params={"bbox": box}).json()
    assert one["id"] in [f["id"] for f in found["features"]]
    far = client.get(f"/collections/{layer}/items", params={"bbox": "88,42,88.1,42.1"}).json()
    assert far["numberMatched"] == 0


def test_settlements_are_queried_by_kind_and_shown_as_html(client: TestClient) -> None:
    got = client.get("/collections/settlements/items", params={"kind": "aimag_centre"}).json()
    assert [f["properties"]["name"] for f in got["features"]] == ["Есөнбулаг"]
    page = client.get("/collections/settlements/items", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Есөнбулаг" in page.text
    assert "official_ha" not in page.text
    assert "<circle" in page.text  # the sketch marks the points


def test_overlaps_refuse_a_background_layer(client: TestClient) -> None:
    r = client.get("/analysis/overlaps", params={"layer": "roads"})
    assert r.status_code == 400
    assert "roads" in r.json()["description"]
    done = gazar("overlaps", "--layer", "settlements")
    assert done.exit_code != 0


def test_a_road_write_leaves_the_derived_collections_computed(
    client: TestClient, filled: Store
) -> None:
    before = client.get("/collections/overlaps/items").json()["numberMatched"]
    road = filled.read("roads").iloc[[0]].assign(id="RD-NEW")
    filled.write({"roads": road})
    assert client.get("/collections/roads/items").json()["numberMatched"] == 4
    assert client.get("/collections/overlaps/items").json()["numberMatched"] == before


def test_the_demo_writes_the_background(tmp_path: Path) -> None:
    db = tmp_path / "demo.gpkg"
    done = gazar("demo", "--db", str(db), "--today", "2025-06-30")
    assert done.exit_code == 0, done.output
    from layers.store import open_store

    with open_store(db, create=False) as s:
        counts = {i.layer: i.count for i in s.layers()}
    assert (counts["roads"], counts["water"], counts["settlements"]) == (3, 3, 5)
    assert list(LAYER_ORDER)[-3:] == ["water", "roads", "settlements"]
