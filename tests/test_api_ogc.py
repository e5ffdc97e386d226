"""OGC API – Features over TestClient: every endpoint and error, on a scene answerable by hand.

The scene (UTM 48N metres from ``tests.factories.ORIGIN``): a soum, Land Conclusion LC-1
(2,000 m x 1,000 m = 200 ha, issued) holding twelve 100 m squares P-01..P-12 in a row
(x = 100 + 150 (i - 1), y = 100; 1 ha each; status active, applied, expired in turn; signed on
2025-01-i; ``members_women`` = i) and P-13 (active, no date), which covers the east half of P-01
(0.5 ha shared) and touches P-02; one exclusion 3 km east of LC-1.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from pyproj import Transformer

from api import crs as crs_mod
from api.app import create_app
from api.errors import BadRequest
from api.openapi import downgrade
from api.routes.ogc import parse_bbox, parse_datetime
from api.settings import ApiSettings
from layers.geojson import feature_to_geojson_bytes, features_to_geojson_bytes
from layers.schema import REGISTRY
from layers.store import Store, open_store
from tests import factories as f

UTM48 = "http://www.opengis.net/def/crs/EPSG/0/32648"
ALL = [f"P-{i:02d}" for i in range(1, 14)]
STATUS = ("active", "applied", "expired")


def square(i: int) -> dict[str, Any]:
    return f.parcel(
        f"P-{i:02d}",
        status=STATUS[(i - 1) % 3],
        signed_on=dt.date(2025, 1, i),
        members_women=i,
        contract_no=f"C-{i:02d}",
        geometry=f.utm_box(100 + 150 * (i - 1), 100, 100, 100),
    )


def scene_layers() -> dict[str, gpd.GeoDataFrame]:
    parcels = [square(i) for i in range(1, 13)]
    parcels.append(
        f.parcel(
            "P-13",
            status="active",
            signed_on=None,
            members_women=0,
            geometry=f.utm_box(150, 100, 100, 100),
        )
    )
    soum = {
        "id": "MN4322",
        "aimag_code": "MN43",
        "name_mn": "Мандал",
        "name_en": "Mandal",
        "geometry": f.utm_box(-5000, -5000, 20000, 20000),
    }
    return {
        "soums": f.frame("soums", [soum]),
        "land_conclusions": f.frame("land_conclusions", [f.land_conclusion()]),
        "contract_parcels": f.frame("contract_parcels", parcels),
        "exclusions": f.frame("exclusions", [f.exclusion()]),
    }


@pytest.fixture
def scene(store: Store) -> Store:
    store.write(scene_layers())
    return store


def client_for(db: str, **settings: Any) -> TestClient:
    return TestClient(create_app(ApiSettings(db=db, **settings)))


@pytest.fixture
def client(scene: Store) -> Iterator[TestClient]:
    """The scene on each store backend: for tests where what the store returns matters."""
    with client_for(scene.location) as c:
        yield c


@pytest.fixture
def gpkg(store_path: Path) -> str:
    """The scene in a GeoPackage only: for tests of the HTTP layer (parameters, documents)."""
    with open_store(store_path) as store:
        store.write(scene_layers())
    return str(store_path)


@pytest.fixture
def web(gpkg: str) -> Iterator[TestClient]:
    with client_for(gpkg) as c:
        yield c


def items(client: TestClient, collection: str = "contract_parcels", **params: Any) -> Any:
    r = client.get(f"/collections/{collection}/items", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    return r.json()


def ids(doc: dict[str, Any]) -> list[str]:
    return [feat["id"] for feat in doc["features"]]


def problem(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    for word in words:
        assert word in body["description"], body
    description: str = body["description"]
    return description


def link(doc: dict[str, Any], rel: str) -> dict[str, Any] | None:
    found = [x for x in doc["links"] if x["rel"] == rel]
    assert len(found) <= 1, found
    return found[0] if found else None


def utm_to_lonlat_box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, ...]:
    """The lon/lat bounds of a box given in metres from ``ORIGIN``."""
    inv = Transformer.from_crs(32648, 4326, always_xy=True)
    xs = [f.ORIGIN[0] + x for x in (x0, x1, x0, x1)]
    ys = [f.ORIGIN[1] + y for y in (y0, y0, y1, y1)]
    lon, lat = inv.transform(xs, ys)
    return (min(lon), min(lat), max(lon), max(lat))


# ------------------------------------------------------------------ landing page, conformance


def test_landing_page_links_the_api_conformance_and_collections(web: TestClient) -> None:
    r = web.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert "Газар" in doc["description"] and "Gazar" in doc["description"]
    expected = {
        "self": "application/json",
        "service-desc": "application/vnd.oai.openapi+json;version=3.0",
        "service-doc": "text/html",
        "conformance": "application/json",
        "data": "application/json",
    }
    for rel, media_type in expected.items():
        found = link(doc, rel)
        assert found is not None, rel
        assert found["type"] == media_type
        assert web.get(found["href"]).status_code == 200, found
    assert link(doc, "data")["href"] == "http://testserver/collections"  # type: ignore[index]


def test_conformance_declares_core_geojson_oas30_and_crs(web: TestClient) -> None:
    classes = web.get("/conformance").json()["conformsTo"]
    for part in ("1/1.0/conf/core", "1/1.0/conf/geojson", "1/1.0/conf/oas30", "2/1.0/conf/crs"):
        assert f"http://www.opengis.net/spec/ogcapi-features-{part}" in classes


def test_the_api_document_is_valid_openapi_30_with_every_ogc_path(web: TestClient) -> None:
    doc = web.get("/api").json()
    assert doc["openapi"] == "3.0.3"
    validate(doc)  # raises on anything OpenAPI 3.0 does not allow
    for path in (
        "/",
        "/conformance",
        "/collections",
        "/collections/{collectionId}",
        "/collections/{collectionId}/queryables",
        "/collections/{collectionId}/items",
        "/collections/{collectionId}/items/{featureId}",
    ):
        assert "get" in doc["paths"][path], path
    get_items = doc["paths"]["/collections/{collectionId}/items"]["get"]
    names = {p["name"] for p in get_items["parameters"]}
    assert names >= {"collectionId", "limit", "offset", "bbox", "bbox-crs", "datetime", "crs"}
    assert "application/geo+json" in get_items["responses"]["200"]["content"]
    assert {"400", "404"} <= set(get_items["responses"])


# ------------------------------------------------------------------------------- collections


def test_every_layer_and_both_derived_collections_are_listed(client: TestClient) -> None:
    doc = client.get("/collections").json()
    listed = [c["id"] for c in doc["collections"]]
    assert listed == [*REGISTRY, "overlaps", "available_land"]
    by_id = {c["id"]: c for c in doc["collections"]}
    assert by_id["contract_parcels"]["title"] == "Гэрээт талбай / ASM contract parcels"
    assert by_id["overlaps"]["title"] == "Давхцал / Overlaps"
    for c in doc["collections"]:
        assert c["itemType"] == "feature"
        assert c["storageCrs"] == crs_mod.CRS84
        assert c["crs"][0] == crs_mod.CRS84 and UTM48 in c["crs"]
        assert link(c, "items")["type"] == "application/geo+json"  # type: ignore[index]


def test_a_collection_has_its_spatial_and_temporal_extent(client: TestClient, scene: Store) -> None:
    doc = client.get("/collections/contract_parcels").json()
    assert doc["id"] == "contract_parcels"
    assert link(doc, "self")["href"] == "http://testserver/collections/contract_parcels"  # type: ignore[index]
    (bbox,) = doc["extent"]["spatial"]["bbox"]
    assert bbox == pytest.approx(list(scene.read("contract_parcels").total_bounds), abs=1e-12)
    assert doc["extent"]["spatial"]["crs"] == crs_mod.CRS84
    # signed_on runs from 2025-01-01 (P-01) to 2025-01-12 (P-12); P-13 has none
    assert doc["extent"]["temporal"]["interval"] == [
        ["2025-01-01T00:00:00Z", "2025-01-12T23:59:59Z"]
    ]
    # store layers link their downloads, derived ones do not
    assert any(x["rel"] == "enclosure" for x in doc["links"])
    overlaps = client.get("/collections/overlaps").json()
    assert not any(x["rel"] == "enclosure" for x in overlaps["links"])
    assert "temporal" not in overlaps["extent"]


def test_an_empty_layer_is_a_collection_without_spatial_extent(client: TestClient) -> None:
    doc = client.get("/collections/licences").json()
    assert "extent" not in doc
    assert items(client, "licences")["numberMatched"] == 0


def test_an_unknown_collection_is_404_naming_the_collections(web: TestClient) -> None:
    for path in ("/collections/parcels", "/collections/parcels/items",
                 "/collections/parcels/items/P-01", "/collections/parcels/queryables"):  # fmt: skip
        problem(web.get(path), 404, "'parcels'", "contract_parcels", "available_land")


def test_queryables_are_the_layer_fields_with_their_values(web: TestClient) -> None:
    r = web.get("/collections/contract_parcels/queryables")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/schema+json"
    doc = r.json()
    props = doc["properties"]
    assert set(props) == {"id", *REGISTRY["contract_parcels"].columns}
    assert props["status"]["enum"] == ["applied", "active", "suspended", "expired", "terminated"]
    assert props["members_women"]["type"] == "integer"
    assert props["signed_on"] == {"title": "signed_on", "type": "string", "format": "date"}
    overlaps = web.get("/collections/overlaps/queryables").json()["properties"]
    assert "PARCEL_OVERLAP" in overlaps["rule"]["enum"]


# ------------------------------------------------------------------------------------- items


def test_items_are_geojson_with_counts_links_and_official_hectares(client: TestClient) -> None:
    r = client.get("/collections/contract_parcels/items")
    assert r.headers["content-crs"] == f"<{crs_mod.CRS84}>"
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    assert doc["numberMatched"] == doc["numberReturned"] == 13
    assert ids(doc) == ALL  # the store's order
    assert dt.datetime.strptime(doc["timeStamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert link(doc, "collection")["href"] == "http://testserver/collections/contract_parcels"  # type: ignore[index]
    assert link(doc, "next") is None and link(doc, "prev") is None
    first = doc["features"][0]
    assert first["geometry"]["type"] == "MultiPolygon"  # as the store holds it
    props = first["properties"]
    assert props["official_ha"] == pytest.approx(1.0, rel=1e-4)  # a 100 m square
    assert props["signed_on"] == "2025-01-01"
    assert props["status"] == "active" and props["members_women"] == 1
    assert doc["features"][12]["properties"]["signed_on"] is None


def test_paging_by_next_links_yields_every_feature_once(client: TestClient) -> None:
    seen: list[str] = []
    url: str | None = "/collections/contract_parcels/items?limit=5"
    pages = 0
    while url is not None:
        doc = client.get(url).json()
        assert doc["numberMatched"] == 13
        assert doc["numberReturned"] == len(doc["features"])
        seen += ids(doc)
        pages += 1
        nxt = link(doc, "next")
        url = None if nxt is None else nxt["href"]
    assert pages == 3
    assert seen == ALL
    second = items(client, limit=5, offset=5)
    assert ids(second) == ALL[5:10]
    prev = link(second, "prev")
    assert prev is not None
    assert ids(client.get(prev["href"]).json()) == ALL[:5]


def test_paging_keeps_the_filters(web: TestClient) -> None:
    doc = items(web, status="active", limit=2)
    nxt = link(doc, "next")
    assert nxt is not None and "status=active" in nxt["href"]
    assert ids(doc) + ids(web.get(nxt["href"]).json()) == ["P-01", "P-04", "P-07", "P-10"]


def test_a_limit_above_the_maximum_is_cut_to_it(gpkg: str) -> None:
    with client_for(gpkg, max_limit=4, default_limit=3) as c:
        assert items(c)["numberReturned"] == 3
        doc = items(c, limit=50)
        assert doc["numberReturned"] == 4 and doc["numberMatched"] == 13
        assert "limit=4" in link(doc, "next")["href"]  # type: ignore[index]


def test_an_offset_past_the_end_gives_an_empty_page(web: TestClient) -> None:
    doc = items(web, offset=40)
    assert doc["features"] == [] and doc["numberMatched"] == 13
    assert link(doc, "next") is None and link(doc, "prev") is not None


@pytest.mark.parametrize(
    ("bbox_crs", "convert"),
    [
        (None, lambda b: b),
        ("http://www.opengis.net/def/crs/EPSG/0/4326", lambda b: (b[1], b[0], b[3], b[2])),
        ("[OGC:CRS84]", lambda b: b),
    ],
)
def test_bbox_keeps_the_features_it_intersects(
    web: TestClient, bbox_crs: str | None, convert: Any
) -> None:
    # x 90..360 m, y 90..210 m: P-01 (100..200), P-13 (150..250) and P-02 (250..350)
    box = convert(utm_to_lonlat_box(90, 90, 360, 210))
    params: dict[str, Any] = {"bbox": ",".join(map(str, box))}
    if bbox_crs is not None:
        params["bbox-crs"] = bbox_crs
    assert ids(items(web, **params)) == ["P-01", "P-02", "P-13"]


def test_bbox_in_utm_metres(client: TestClient) -> None:
    x, y = f.ORIGIN
    box = f"{x + 390},{y + 90},{x + 560},{y + 210}"  # P-03 (400..500) and P-04 (550..650)
    assert ids(items(client, bbox=box, **{"bbox-crs": UTM48})) == ["P-03", "P-04"]


def test_bbox_away_from_everything_matches_nothing(web: TestClient) -> None:
    doc = items(web, bbox="90,42,91,43")
    assert doc["numberMatched"] == 0 and doc["features"] == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-03", ["P-03"]),
        ("2025-01-05T12:00:00Z", ["P-05"]),
        ("2025-01-10/..", ["P-10", "P-11", "P-12"]),
        ("../2025-01-02", ["P-01", "P-02"]),
        ("2025-01-04/2025-01-06", ["P-04", "P-05", "P-06"]),
        ("2025-01-11T00:00:00Z/", ["P-11", "P-12"]),
    ],
)
def test_datetime_filters_on_the_main_date(
    web: TestClient, value: str, expected: list[str]
) -> None:
    assert ids(items(web, datetime=value)) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "active"}, ["P-01", "P-04", "P-07", "P-10", "P-13"]),
        ({"status": ["expired", "applied"]}, ["P-02", "P-03", "P-05", "P-06", "P-08", "P-09",
                                              "P-11", "P-12"]),
        ({"members_women": "3"}, ["P-03"]),
        ({"contract_no": "C-07"}, ["P-07"]),
        ({"signed_on": "2025-01-09"}, ["P-09"]),
        ({"id": "P-12"}, ["P-12"]),
        ({"status": "active", "datetime": "2025-01-05/.."}, ["P-07", "P-10"]),
        ({"soum_code": "MN4322"}, None),  # not a parcel field: refused below
    ],
)  # fmt: skip
def test_equality_filters_on_queryables(
    web: TestClient, params: dict[str, Any], expected: list[str] | None
) -> None:
    r = web.get("/collections/contract_parcels/items", params=params)
    if expected is None:
        problem(r, 400, "soum_code", "status")
    else:
        assert ids(r.json()) == expected


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"colour": "red"}, ["unknown query parameter", "colour", "limit"]),
        ({"status": "finished"}, ["status='finished'", "applied, active"]),
        ({"members_women": "three"}, ["members_women='three'", "whole number"]),
        ({"signed_on": "15/01/2025"}, ["signed_on", "YYYY-MM-DD"]),
        ({"limit": "0"}, ["limit"]),
        ({"limit": "many"}, ["limit"]),
        ({"offset": "-1"}, ["offset"]),
        ({"bbox": "1,2,3"}, ["bbox='1,2,3'", "four numbers"]),
        ({"bbox": "106,49,107,48"}, ["lower bound 49.0"]),
        ({"bbox": "a,b,c,d"}, ["bbox"]),
        ({"bbox": "106,48,107,nan"}, ["bbox"]),
        ({"bbox": "106,48,107,49", "bbox-crs": "EPSG:3857"}, ["bbox-crs", "EPSG:3857", "CRS84"]),
        ({"bbox-crs": "urn:ogc:def:crs:EPSG::3857"}, ["bbox-crs"]),
        ({"crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}, ["crs=", "32650"]),
        ({"datetime": "yesterday"}, ["datetime", "RFC 3339"]),
        ({"datetime": "2025-02-01/2025-01-01"}, ["ends before it starts"]),
        ({"datetime": "2025-01-01/2025-02-01/2025-03-01"}, ["one '/'"]),
        ({"f": "xml"}, ["f"]),  # (f=html is the page for people: tests/test_browser_share.py)
    ],
)
def test_bad_item_parameters_are_400_naming_the_problem(
    web: TestClient, params: dict[str, Any], words: list[str]
) -> None:
    r = web.get("/collections/contract_parcels/items", params=params)
    problem(r, 400, *words)
    assert r.json()["code"] == "InvalidParameterValue"


def test_datetime_on_a_collection_without_dates_is_400(web: TestClient) -> None:
    problem(
        web.get("/collections/soums/items", params={"datetime": "2025-01-01"}),
        400,
        "'soums' has no date",
    )


def test_output_in_epsg_4326_puts_latitude_first(web: TestClient) -> None:
    lonlat = items(web, id="P-01")["features"][0]["geometry"]["coordinates"][0][0]
    r = web.get(
        "/collections/contract_parcels/items",
        params={"id": "P-01", "crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
    )
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    latlon = r.json()["features"][0]["geometry"]["coordinates"][0][0]
    assert np.allclose(np.asarray(latlon)[:, ::-1], lonlat, rtol=0, atol=1e-12)
    assert 48 < latlon[0][0] < 49 and 106 < latlon[0][1] < 107


def test_output_in_utm_is_in_metres(web: TestClient) -> None:
    r = web.get("/collections/contract_parcels/items", params={"id": "P-02", "crs": UTM48})
    assert r.headers["content-crs"] == f"<{UTM48}>"
    ring = np.asarray(r.json()["features"][0]["geometry"]["coordinates"][0][0])
    local = ring - np.asarray(f.ORIGIN)
    # P-02 is the square x 250..350, y 100..200 m from ORIGIN
    assert local[:, 0].min() == pytest.approx(250, abs=1e-6)
    assert local[:, 0].max() == pytest.approx(350, abs=1e-6)
    assert local[:, 1].min() == pytest.approx(100, abs=1e-6)
    assert local[:, 1].max() == pytest.approx(200, abs=1e-6)


def test_gzip_when_asked(web: TestClient) -> None:
    r = web.get(
        "/collections/contract_parcels/items",
        headers={"Accept-Encoding": "gzip"},
    )
    assert r.headers["content-encoding"] == "gzip"
    assert ids(r.json()) == ALL  # httpx decompressed it
    raw = web.get(
        "/collections/contract_parcels/items",
        headers={"Accept-Encoding": "identity"},
    )
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content) / 3


# ----------------------------------------------------------------------------- one feature


def test_one_feature_with_its_links(client: TestClient) -> None:
    r = client.get("/collections/contract_parcels/items/P-05")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    assert r.headers["content-crs"] == f"<{crs_mod.CRS84}>"
    doc = r.json()
    assert doc["type"] == "Feature" and doc["id"] == "P-05"
    assert doc["properties"]["status"] == "applied"
    assert doc["properties"]["official_ha"] == pytest.approx(1.0, rel=1e-4)
    assert link(doc, "self")["href"].endswith("/collections/contract_parcels/items/P-05")  # type: ignore[index]
    assert link(doc, "collection")["href"] == "http://testserver/collections/contract_parcels"  # type: ignore[index]
    utm = client.get("/collections/contract_parcels/items/P-05", params={"crs": "[EPSG:32648]"})
    assert utm.headers["content-crs"] == f"<{UTM48}>"
    assert utm.json()["geometry"]["coordinates"][0][0][0][0] > 100_000  # metres


def test_unknown_feature_is_404_and_unknown_parameter_400(web: TestClient) -> None:
    problem(web.get("/collections/contract_parcels/items/P-99"), 404, "'P-99'",
            "contract_parcels")  # fmt: skip
    problem(web.get("/collections/contract_parcels/items/P-01?limit=3"), 400, "limit")
    problem(web.get("/collections/contract_parcels/items/P-01?crs=EPSG:2000"), 400, "crs")


# --------------------------------------------------------------------- derived collections


def test_overlaps_collection_is_the_shared_area_with_rule_and_hectares(client: TestClient) -> None:
    doc = items(client, "overlaps")
    assert doc["numberMatched"] == 1
    (feat,) = doc["features"]
    props = feat["properties"]
    assert feat["id"] == "PARCEL_OVERLAP:P-01:P-13"
    assert (props["rule"], props["a_id"], props["b_id"]) == ("PARCEL_OVERLAP", "P-01", "P-13")
    assert props["severity"] == "block"
    assert props["overlap_ha"] == pytest.approx(0.5, rel=1e-4)
    assert props["official_ha"] == pytest.approx(0.5, rel=1e-4)
    assert "P-13" in props["message_en"] and "давхцаж" in props["message_mn"]
    shared = shapely.geometry.shape(feat["geometry"])
    assert shared.within(f.utm_box(149.9, 99.9, 50.2, 100.2))
    assert ids(items(client, "overlaps", rule="PARCEL_OVERLAP")) == [feat["id"]]
    assert items(client, "overlaps", rule="LC_OVER_LC")["numberMatched"] == 0
    one = client.get(f"/collections/overlaps/items/{feat['id']}").json()
    assert one["properties"]["b_id"] == "P-13"


def test_available_land_is_the_land_conclusion_less_its_parcels(client: TestClient) -> None:
    (feat,) = items(client, "available_land")["features"]
    props = feat["properties"]
    assert feat["id"] == "LC-1"
    assert props["area_ha"] == pytest.approx(200, rel=1e-3)
    # active and applied: P-01, 02, 04, 05, 07, 08, 10, 11 and P-13 less its 0.5 ha on P-01
    assert props["allocated_ha"] == pytest.approx(8.5, rel=1e-3)
    assert props["available_ha"] == pytest.approx(props["area_ha"] - 8.5, rel=1e-4)
    assert props["official_ha"] == pytest.approx(props["available_ha"], rel=1e-4)


def test_collections_follow_the_store_when_it_changes(client: TestClient, scene: Store) -> None:
    assert items(client, "overlaps")["numberMatched"] == 1
    # P-14 covers the west half of P-04
    extra = f.parcel("P-14", status="applied", geometry=f.utm_box(500, 100, 100, 100))
    scene.write({"contract_parcels": f.frame("contract_parcels", [extra])})
    assert items(client)["numberMatched"] == 14
    overlaps = items(client, "overlaps")
    assert ids(overlaps) == ["PARCEL_OVERLAP:P-01:P-13", "PARCEL_OVERLAP:P-04:P-14"]
    assert client.get("/collections/contract_parcels/items/P-14").status_code == 200


# --------------------------------------------------------------------------- the writers


def test_geojson_writer_turns_missing_values_into_null_and_dates_into_text() -> None:
    frame = gpd.GeoDataFrame(
        {
            "id": ["A", "B"],
            "n": pd.array([1, None], dtype="Int64"),
            "x": [1.5, np.nan],
            "day": [dt.date(2025, 1, 2), None],
            "stamp": pd.Series([pd.Timestamp("2025-01-02T03:04:05"), pd.NaT]),
        },
        geometry=[shapely.box(0, 0, 1, 1), shapely.Polygon()],
        crs=4326,
    )
    body = features_to_geojson_bytes(frame, extra={"official_ha": [2.0, 0.0]},
                                     members={"numberMatched": 2})  # fmt: skip
    assert body.startswith(b'{"type":"FeatureCollection","numberMatched":2,"features":[')
    doc = orjson.loads(body)
    a, b = doc["features"]
    assert a["properties"] == {"id": "A", "n": 1, "x": 1.5, "day": "2025-01-02",
                               "stamp": "2025-01-02T03:04:05", "official_ha": 2.0}  # fmt: skip
    assert b["properties"] == {"id": "B", "n": None, "x": None, "day": None, "stamp": None,
                               "official_ha": 0.0}  # fmt: skip
    assert a["geometry"] == {"type": "Polygon",
                             "coordinates": [[[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0],
                                              [1.0, 0.0]]]}  # fmt: skip
    assert b["geometry"] is None  # an empty polygon is no GeoJSON geometry
    one = orjson.loads(feature_to_geojson_bytes(frame.iloc[[0]], members={"links": []}))
    assert one["id"] == "A" and one["links"] == []
    with pytest.raises(ValueError, match="one feature"):
        feature_to_geojson_bytes(frame)


def test_geojson_writer_agrees_with_geopandas_on_the_demo_layers() -> None:
    from layers.demo import build_demo

    parcels = build_demo(today=dt.date(2025, 6, 30))["contract_parcels"]
    ours = orjson.loads(features_to_geojson_bytes(parcels))["features"]
    theirs = orjson.loads(parcels.to_json(default=str, drop_id=True))["features"]
    assert [x["properties"] for x in ours] == [x["properties"] for x in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert shapely.geometry.shape(a["geometry"]).equals_exact(
            shapely.geometry.shape(b["geometry"]), 1e-12
        )


def test_crs_names_and_conversions() -> None:
    assert crs_mod.parse_crs(None, parameter="crs") == crs_mod.CRS84
    assert crs_mod.parse_crs("[EPSG:4326]", parameter="crs") == crs_mod.EPSG_4326
    assert crs_mod.parse_crs("https://www.opengis.net/def/crs/EPSG/0/32645", parameter="crs") == (
        "http://www.opengis.net/def/crs/EPSG/0/32645"
    )
    with pytest.raises(BadRequest, match="EPSG/0/32651"):
        crs_mod.parse_crs("http://www.opengis.net/def/crs/EPSG/0/32651", parameter="crs")
    # the lon/lat box of a UTM box covers it: each projected corner lies inside
    x, y = f.ORIGIN
    box = crs_mod.bbox_to_crs84((x, y, x + 1000, y + 1000), UTM48)
    corners = utm_to_lonlat_box(0, 0, 1000, 1000)
    assert box[0] <= corners[0] and box[1] <= corners[1]
    assert box[2] >= corners[2] and box[3] >= corners[3]
    assert box == pytest.approx(corners, abs=1e-9)


def test_parameter_parsers() -> None:
    assert parse_bbox("1,2,0,3,4,9") == (1.0, 2.0, 3.0, 4.0)  # heights dropped
    with pytest.raises(BadRequest, match=r"'\.\.' is not a date"):
        parse_datetime("..")
    assert parse_datetime("../..") == (None, None)
    assert parse_datetime("2025-03-01T23:30:00+05:00") == (dt.date(2025, 3, 1), dt.date(2025, 3, 1))
    assert parse_datetime("2025-03-01T23:30:00-05:00") == (dt.date(2025, 3, 2), dt.date(2025, 3, 2))


def test_openapi_downgrade_rewrites_31_constructs() -> None:
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1", "summary": "s"},
        "paths": {
            "/x": {
                "get": {
                    "parameters": [
                        {"name": "q", "in": "query",
                         "schema": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
                    ],
                    "responses": {"200": {"description": "ok", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}},
                }
            }
        },
        "components": {"schemas": {"A": {"type": "object", "properties": {
            "r": {"anyOf": [{"$ref": "#/components/schemas/B"}, {"type": "null"}]},
            "n": {"type": "number", "exclusiveMinimum": 0},
            "e": {"type": "string", "examples": ["a", "b"]},
            "t": {"type": ["string", "null"]},
        }}, "B": {"type": "string"}}},
    }  # fmt: skip
    out = downgrade(doc)
    assert out["openapi"] == "3.0.3" and "summary" not in out["info"]
    assert out["paths"]["/x"]["get"]["parameters"][0]["schema"] == {"type": "integer"}
    props = out["components"]["schemas"]["A"]["properties"]
    assert props["r"] == {"nullable": True, "allOf": [{"$ref": "#/components/schemas/B"}]}
    assert props["n"] == {"type": "number", "exclusiveMinimum": True, "minimum": 0}
    assert props["e"] == {"type": "string", "example": "a"}
    assert props["t"] == {"type": "string", "nullable": True}
    validate(out)
    assert doc["openapi"] == "3.1.0"  # the input is left as it was


# ------------------------------------------------------------------------------ gazar serve


def test_serve_refuses_a_missing_store(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app as cli

    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "none.gpkg")])
    assert result.exit_code == 3
    assert "no such store" in result.output
    assert not (tmp_path / "none.gpkg").exists()


@pytest.mark.parametrize("workers", [1, 3])
def test_serve_runs_uvicorn_on_the_store(
    gpkg: str, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from api.cli import app as cli

    calls: list[tuple[Any, dict[str, Any]]] = []
    env_files: list[str] = []

    def run(target: Any, **kw: Any) -> None:
        calls.append((target, kw))
        if "env_file" in kw:  # read while uvicorn would load it: serve removes it after
            env_files.append(Path(kw["env_file"]).read_text(encoding="utf-8"))

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setenv("GAZAR_DB", "unset")  # serve never writes the environment itself
    args = ["serve", "--db", gpkg, "--port", "8123", "--workers", str(workers)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/collections" in result.output
    assert "contract_parcels 13" in result.output
    ((target, kw),) = calls
    assert (kw["host"], kw["port"]) == ("127.0.0.1", 8123)
    if workers == 1:
        with TestClient(target) as c:  # the app itself, serving the store named
            assert c.app.state.settings.api.warm_on_start  # type: ignore[attr-defined]
            assert items(c)["numberMatched"] == 13
    else:  # each worker builds the app from the env file uvicorn loads for them
        assert target == "api.app:create_app"
        assert kw["factory"] is True and kw["workers"] == 3
        # the workers warm their caches when they start
        assert env_files == [f"GAZAR_DB={json.dumps(gpkg)}\nGAZAR_WARM_ON_START=true\n"]
        assert os.environ["GAZAR_DB"] == "unset"
        assert not Path(kw["env_file"]).exists()
