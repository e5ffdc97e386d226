"""The OGC API declares what the store holds: every collection's features are served as the
geometry type its schema (``/collections/{id}/schema``, Features Part 5) names, and the schema and
queryables list the store's own fields with their types, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.services.collection_schema import GEOMETRY_FORMATS, as_declared
from api.services.collections import COLLECTIONS
from api.settings import ApiSettings
from layers.schema import REGISTRY
from layers.store import Store

JSON_TYPES = {"str": "string", "enum": "string", "int": "integer", "float": "number"}


@pytest.fixture
def client(filled: Store) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings(db=filled.location))) as c:
        yield c


def _all_items(client: TestClient, cid: str) -> list[dict[str, Any]]:
    r = client.get(f"/collections/{cid}/items", params={"limit": 10000})
    assert r.status_code == 200, r.text
    return list(r.json()["features"])


def test_every_collection_serves_the_geometry_type_its_schema_declares(
    client: TestClient,
) -> None:
    for cid in COLLECTIONS:
        r = client.get(f"/collections/{cid}/schema")
        assert r.status_code == 200, (cid, r.text)
        assert r.headers["content-type"] == "application/schema+json"
        doc = r.json()
        geometry = doc["properties"]["geometry"]
        assert geometry["x-ogc-role"] == "primary-geometry"
        declared = {v: k for k, v in GEOMETRY_FORMATS.items()}[geometry["format"]]
        feats = _all_items(client, cid)
        assert feats, cid  # the demo has features in every collection
        served = {f["geometry"]["type"] for f in feats if f["geometry"] is not None}
        assert served == {declared}, cid
        # every served property is in the schema, and nothing the schema lists is missing
        assert set(feats[0]["properties"]) == set(doc["properties"]) - {"geometry"}, cid
        one = client.get(f"/collections/{cid}/items/{feats[0]['id']}").json()
        assert one["geometry"]["type"] == declared
        # the collection links to its schema
        links = client.get(f"/collections/{cid}").json()["links"]
        rel = "http://www.opengis.net/def/rel/ogc/1.0/schema"
        assert any(link["rel"] == rel and link["href"].endswith("/schema") for link in links)


def test_store_layers_are_declared_multipolygon_and_keep_their_shape(
    client: TestClient, filled: Store
) -> None:
    for name, kind in REGISTRY.items():
        doc = client.get(f"/collections/{name}/schema").json()
        assert doc["properties"]["geometry"]["format"] == GEOMETRY_FORMATS[kind.geometry]
        stored = filled.read(name).set_index("id").geometry
        for feat in _all_items(client, name):
            served = shapely.geometry.shape(feat["geometry"])
            # the same area the store holds (the served part is the stored polygon itself)
            assert served.equals(stored[feat["id"]]), (name, feat["id"])


def test_schema_and_queryables_list_the_store_fields_with_their_types(
    client: TestClient,
) -> None:
    for name, kind in REGISTRY.items():
        props = client.get(f"/collections/{name}/schema").json()["properties"]
        queryables = client.get(f"/collections/{name}/queryables").json()["properties"]
        assert list(queryables) == kind.columns
        assert [p for p in props if p not in ("official_ha", "geometry")] == kind.columns
        assert props["id"]["x-ogc-role"] == "id"
        for field in kind.fields:
            for where in (props, queryables):
                got = where[field.name]
                if field.type == "date":
                    assert (got["type"], got["format"]) == ("string", "date"), field.name
                else:
                    assert got["type"] == JSON_TYPES[field.type], field.name
                if field.choices:
                    assert got["enum"] == list(field.choices)
        if kind.main_date is not None:
            assert props[kind.main_date]["x-ogc-role"] == "primary-instant"
        if kind.polygonal:
            assert props["official_ha"]["type"] == "number"
        else:  # a line or a point has no area: no official_ha, in the schema or the items
            assert "official_ha" not in props, name


def test_derived_schema_types_columns_from_the_served_values(client: TestClient) -> None:
    props = client.get("/collections/overlaps/schema").json()["properties"]
    assert props["overlap_ha"]["type"] == "number"  # not a queryable: typed from its values
    assert props["message_en"]["type"] == "string"
    assert props["rule"]["enum"]  # a queryable keeps its allowed values
    assert client.get("/collections/no_such/schema").status_code == 404


def test_as_declared_wraps_single_parts_only() -> None:
    square = shapely.box(0, 0, 1, 1)
    two = shapely.MultiPolygon([square, shapely.box(2, 0, 3, 1)])
    geoms = np.array([square, two, None], dtype=object)
    out = as_declared(COLLECTIONS["contract_parcels"], geoms)
    assert [g.geom_type if g is not None else None for g in out] == [
        "MultiPolygon",
        "MultiPolygon",
        None,
    ]
    assert out[0].geoms[0].equals(square) and out[1] is two
    assert geoms[0] is square  # the caller's array is not changed
