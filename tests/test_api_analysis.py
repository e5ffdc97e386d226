"""The analyses over HTTP: hand-computed answers, the same JSON as the commands, every error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import orjson
import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import ApiSettings
from layers.schema import LAYER_ORDER
from layers.store import Store
from tests import factories as f
from tests.test_rules import P2, frames, scene

TODAY = "2025-06-30"
LATER = "2026-12-01"  # 62 days before the parcels' contracts end (2027-02-01)


@pytest.fixture
def db(store: Store) -> str:
    """The rule tests' scene: LC-1 (2 km x 1 km, 200 ha) holding P-1 (4 ha, with its own
    rehabilitation zone R-1), P-2 (4 ha, 1 ha of it over P-1), a licence over 25 ha of LC-1,
    and an exclusion far away."""
    layers = scene()
    layers["contract_parcels"].append(P2)
    layers["licences"][0]["geometry"] = f.utm_box(1500, 500, 1000, 1000)
    built = frames(layers)
    store.write({name: built[name] for name in LAYER_ORDER if name in built})
    return store.location


def client_for(db: str, **caps: Any) -> TestClient:
    return TestClient(create_app(ApiSettings(db=db, **caps)))


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with client_for(db) as c:
        yield c


def polygon(geom: shapely.Geometry) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(shapely.to_geojson(geom))
    return doc


def feature(geom: shapely.Geometry, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": polygon(geom)}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def problem(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    description: str = body["description"]
    return description


# -------------------------------------------------------------------------------- overlaps


def test_overlaps_lists_every_broken_pair_rule(client: TestClient) -> None:
    r = client.get("/analysis/overlaps", params={"today": TODAY})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    got = {(x["rule"], x["a_id"], x["b_id"]): x["overlap_ha"] for x in r.json()}
    assert got == {
        ("PARCEL_OVERLAP", "P-1", "P-2"): pytest.approx(1.0, rel=1e-3),
        ("LC_OVER_LICENCE", "LC-1", "MV-1"): pytest.approx(25.0, rel=3e-3),
    }


def test_overlaps_of_chosen_layers_tolerance_and_geojson(client: TestClient) -> None:
    base = {"today": TODAY, "layer": "land_conclusions", "against": "soums"}
    [row] = client.get("/analysis/overlaps", params=base).json()
    assert (row["a_id"], row["b_id"], row["rule"]) == ("LC-1", "MN4322", None)  # allowed
    parcels = {"today": TODAY, "layer": "contract_parcels"}
    assert [x["rule"] for x in client.get("/analysis/overlaps", params=parcels).json()] == [
        "PARCEL_OVERLAP"
    ]
    wide = client.get("/analysis/overlaps", params={**parcels, "tolerance_m2": 20000})
    assert wide.json() == []  # 1 ha = 10,000 m² is under the tolerance
    r = client.get("/analysis/overlaps", params={**parcels, "format": "geojson"})
    assert r.headers["content-type"] == "application/geo+json"
    [shared] = r.json()["features"]
    assert shared["properties"]["a_id"] == "P-1"
    assert shapely.geometry.shape(shared["geometry"]).within(f.utm_box(249, 99, 52, 202))


@pytest.mark.gpkg_only  # request handling only: one backend is enough
@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"layer": "parcels"}, "layer='parcels' is not a layer"),
        ({"layer": "licences", "against": "nope"}, "against='nope' is not a layer"),
        ({"against": "licences"}, "against needs layer"),
        ({"format": "xml"}, "format"),
        ({"tolerance_m2": "-1"}, "tolerance_m2"),
        ({"tolerance_m2": "nan"}, "tolerance_m2"),
        ({"today": "30/06/2025"}, "today"),
        ({"layers": "licences"}, "unknown query parameter(s) layers"),
    ],
)
def test_overlaps_refuses_bad_parameters(
    client: TestClient, params: dict[str, str], needle: str
) -> None:
    r = client.get("/analysis/overlaps", params=params)
    assert needle in problem(r, 400, "InvalidParameterValue")


# ---------------------------------------------------------------------------- availability


def test_availability_subtracts_parcels_and_the_licence(client: TestClient) -> None:
    r = client.get("/analysis/availability", params={"today": TODAY, "soum": "MN4322"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["as_of"] == TODAY
    [lc] = doc["land_conclusions"]
    # 200 ha; P-1 and P-2 cover 4 + 4 - 1 = 7 ha (R-1 lies in P-1); the licence 25 ha
    assert lc["id"] == "LC-1"
    assert lc["area_ha"] == pytest.approx(200.0, rel=1e-4)
    assert lc["allocated_ha"] == pytest.approx(7.0, rel=1e-3)
    assert lc["rehab_blocked_ha"] == pytest.approx(0.0, abs=1e-6)
    assert lc["excluded_ha"] == pytest.approx(25.0, rel=3e-3)
    assert lc["available_ha"] == pytest.approx(168.0, rel=1e-3)
    [soum] = doc["totals"]["soum"]
    assert (soum["soum_code"], soum["land_conclusions"]) == ("MN4322", 1)
    assert doc["totals"]["aimag"][0]["available_ha"] == pytest.approx(168.0, rel=1e-3)


def test_availability_as_geojson_and_for_a_soum_without_land_conclusions(
    client: TestClient,
) -> None:
    r = client.get("/analysis/availability", params={"today": TODAY, "format": "geojson"})
    assert r.headers["content-type"] == "application/geo+json"
    [free] = r.json()["features"]
    assert free["properties"]["id"] == "LC-1"
    assert not shapely.geometry.shape(free["geometry"]).intersects(f.utm_box(120, 120, 50, 50))
    empty = client.get("/analysis/availability", params={"today": TODAY, "soum": "MN4310"})
    assert empty.json()["land_conclusions"] == []


def test_availability_is_computed_once_per_store_revision_and_day(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geo.incremental

    calls: list[tuple[object, object]] = []  # (day, the Land Conclusions computed, None = all)
    real = geo.incremental.availability

    def counted(*args: Any, **kwargs: Any) -> gpd.GeoDataFrame:
        ids = kwargs.get("ids")
        calls.append((kwargs["today"], None if ids is None else sorted(ids)))
        return real(*args, **kwargs)

    monkeypatch.setattr(geo.incremental, "availability", counted)
    first = client.get("/analysis/availability", params={"today": TODAY}).json()
    soum = client.get("/analysis/availability", params={"today": TODAY, "soum": "MN4322"}).json()
    assert soum["land_conclusions"] == first["land_conclusions"]
    assert len(calls) == 1 and calls[0][1] is None  # one full computation serves both
    client.get("/analysis/availability", params={"today": LATER})
    assert len(calls) == 2  # another day: computed again
    # a new parcel written to the store is seen by the next request, and only the Land
    # Conclusion it lies in is computed again
    parcels = store.read("contract_parcels")
    extra = parcels.iloc[[0]].copy()
    extra["id"] = "P-NEW"
    extra["geometry"] = [f.utm_box(1000, 100, 200, 200)]  # 4 ha of free land in LC-1
    store.write({"contract_parcels": extra.reset_index(drop=True)})
    after = client.get("/analysis/availability", params={"today": TODAY}).json()
    assert len(calls) == 3 and calls[2][1] == ["LC-1"]
    [before_lc], [after_lc] = first["land_conclusions"], after["land_conclusions"]
    assert after_lc["available_ha"] == pytest.approx(before_lc["available_ha"] - 4.0, rel=1e-3)


@pytest.mark.gpkg_only  # request handling only: one backend is enough
def test_availability_refuses_an_unknown_soum(client: TestClient) -> None:
    r = client.get("/analysis/availability", params={"soum": "MN9999"})
    assert "no soum has this code" in problem(r, 400, "InvalidParameterValue")


# ----------------------------------------------------------------------------------- check


def test_check_a_clear_parcel_sent_as_a_bare_polygon(client: TestClient) -> None:
    body = polygon(f.utm_box(500, 300, 200, 200))
    r = client.post("/analysis/check", params={"kind": "parcel", "today": TODAY}, json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["verdict"] == "clear"
    assert doc["area"]["official_ha"] == pytest.approx(4.0, rel=1e-4)
    assert doc["features"][0]["id"] == "#1"
    assert doc["land_conclusions"][0]["id"] == "LC-1"


def test_check_a_conflicting_parcel_sent_as_a_feature(client: TestClient) -> None:
    body = feature(f.utm_box(150, 100, 200, 200), id="NEW", holder="Шинэ нөхөрлөл")
    r = client.post(
        "/analysis/check",
        params={"kind": "parcel", "today": TODAY},
        content=orjson.dumps(body),
        headers={"content-type": "application/geo+json"},
    )
    doc = r.json()
    assert doc["verdict"] == "conflicts"
    assert {(x["code"], x["proposal_id"], x["id"]) for x in doc["findings"]} == {
        ("PARCEL_OVERLAP", "NEW", "P-1"),
        ("PARCEL_OVERLAP", "NEW", "P-2"),
        ("PARCEL_OVER_REHAB", "NEW", "R-1"),
    }


def test_check_a_land_conclusion_collection_across_the_soum_border(client: TestClient) -> None:
    body = collection(feature(f.utm_box(14000, 0, 2000, 1000), id="LC-NEW"))
    r = client.post("/analysis/check", params={"soum": "MN4322", "today": TODAY}, json=body)
    doc = r.json()
    assert doc["kind"] == "land_conclusion"
    assert doc["outside_soum_share"] == pytest.approx(0.5, rel=3e-3)
    assert [x["code"] for x in doc["findings"]] == ["LC_OUTSIDE_SOUM"]


def test_a_self_intersecting_proposal_is_repaired_and_reviewed(client: TestClient) -> None:
    # a bow tie across a 200 m square: two triangles of a quarter of it (1 ha) each
    x0, y0 = f.utm_box(3000, 3000, 0, 0).exterior.coords[0]
    x1, y1 = f.utm_box(3200, 3200, 0, 0).exterior.coords[0]
    bow = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]]}
    r = client.post("/analysis/check", params={"today": TODAY}, json=bow)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["area"]["official_ha"] == pytest.approx(2.0, rel=1e-3)
    assert [x["code"] for x in doc["findings"]] == ["GEOMETRY_REPAIRED"]


def test_the_review_index_is_built_once_and_rebuilt_when_a_layer_changes(
    client: TestClient, store: Store
) -> None:
    body = feature(f.utm_box(1000, 300, 100, 100), id="NEW")
    params = {"kind": "parcel", "today": TODAY}
    assert client.post("/analysis/check", params=params, json=body).json()["verdict"] == "clear"
    state = client.app.state  # type: ignore[attr-defined]
    first = state.services.review.context()
    client.post("/analysis/check", params=params, json=body)
    assert state.services.review.context() is first
    under = f.parcel("P-3", holder="Гурав", geometry=f.utm_box(1000, 300, 100, 100))
    store.write({"contract_parcels": f.frame("contract_parcels", [under])})
    doc = client.post("/analysis/check", params=params, json=body).json()
    assert state.services.review.context() is not first
    assert [(x["code"], x["id"]) for x in doc["findings"]] == [("PARCEL_OVERLAP", "P-3")]


@pytest.mark.gpkg_only  # request handling only: one backend is enough
def test_a_body_over_the_cap_gets_413_from_its_content_length(db: str) -> None:
    with client_for(db, max_body_bytes=2_000) as c:
        body = orjson.dumps(feature(f.utm_box(0, 0, 10, 10), note="x" * 3_000))
        r = c.post("/analysis/check", content=body)
        text = problem(r, 413, "PayloadTooLarge")
        assert f"{len(body):,} bytes" in text and "GAZAR_MAX_BODY_BYTES" in text


@pytest.mark.gpkg_only  # request handling only: one backend is enough
def test_a_streamed_body_over_the_cap_gets_413_while_reading(db: str) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(100):
            yield b" " * 1_000

    with client_for(db, max_body_bytes=2_000) as c:
        r = c.post("/analysis/check", content=chunks())
        assert "over 2,000 bytes" in problem(r, 413, "PayloadTooLarge")  # counted while read


@pytest.mark.gpkg_only  # request handling only: one backend is enough
def test_too_many_vertices_get_422(db: str) -> None:
    ring = shapely.Point(106.5, 48.8).buffer(0.01, quad_segs=8)  # 33 positions
    with client_for(db, max_vertices=32) as c:
        r = c.post("/analysis/check", json=polygon(ring))
        text = problem(r, 422, "InvalidInput")
        assert "33 vertices" in text and "GAZAR_MAX_VERTICES" in text
    with client_for(db, max_vertices=33) as c:
        assert c.post("/analysis/check", json=polygon(ring)).status_code == 200


@pytest.mark.gpkg_only  # request handling only: one backend is enough
def test_too_many_features_get_422(db: str) -> None:
    square = feature(f.utm_box(0, 0, 10, 10))
    with client_for(db, max_check_features=2) as c:
        r = c.post("/analysis/check", json=collection(square, square, square))
        assert "GAZAR_MAX_CHECK_FEATURES" in problem(r, 422, "InvalidInput")
        assert c.post("/analysis/check", json=collection(square, square)).status_code == 200


@pytest.mark.gpkg_only  # request handling only: one backend is enough
def test_coordinates_outside_mongolia_get_422_with_the_swapped_hint(client: TestClient) -> None:
    body = feature(shapely.box(48.8, 106.5, 48.81, 106.51), id="SWAPPED")
    text = problem(client.post("/analysis/check", json=body), 422, "InvalidGeometry")
    assert "feature #0 (id=SWAPPED)" in text
    assert "outside Mongolia" in text and "latitude and longitude look swapped" in text
    far = polygon(shapely.box(2.3, 48.8, 2.4, 48.9))  # Paris
    text = problem(client.post("/analysis/check", json=far), 422, "InvalidGeometry")
    assert "outside Mongolia" in text and "swapped" not in text


@pytest.mark.gpkg_only  # request handling only: one backend is enough
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"type": "Polygon", "coordinates": [[[106.5, 48.8], [106.6, 48.8], [106.6, 48.9]]]},
         "do not form a closed linestring"),
        ({"type": "Polygon", "coordinates": [[[106.5, 48.8], [106.6, 48.8], [106.5, 48.8]]]},
         "a closed ring needs at least 4"),
        ({"type": "Polygon", "coordinates": "106.5 48.8"}, "cannot be read"),
        ({"type": "Polygon"}, "cannot be read"),
        (feature(shapely.Point(106.5, 48.8)), "a Point is not a polygon"),
        ({"type": "Feature", "geometry": {"type": "Circle"}}, "not a GeoJSON geometry"),
        ({"type": "Feature", "geometry": None}, "empty geometry"),
    ],
)  # fmt: skip
def test_unusable_geometry_gets_422_naming_the_feature(
    client: TestClient, body: dict[str, Any], needle: str
) -> None:
    text = problem(client.post("/analysis/check", json=body), 422, "InvalidGeometry")
    assert "feature #0" in text and needle in text


@pytest.mark.gpkg_only  # request handling only: one backend is enough
@pytest.mark.parametrize(
    ("content", "status", "needle"),
    [
        (b"", 400, "the body is empty"),
        (b"not json", 400, "not JSON"),
        (b"[1, 2]", 422, "JSON list"),
        (b'{"type": "Topology"}', 422, "'Topology' is not GeoJSON"),
        (b'{"type": "FeatureCollection", "features": []}', 422, "has no features"),
        (b'{"type": "FeatureCollection", "features": {}}', 422, "'features' array"),
        (b'{"type": "FeatureCollection", "features": [1]}', 422, "not a GeoJSON Feature"),
        (b'{"type": "Feature", "properties": [1], "geometry": null}', 422, "'properties'"),
    ],
)
def test_bodies_that_are_not_geojson(
    client: TestClient, content: bytes, status: int, needle: str
) -> None:
    r = client.post("/analysis/check", content=content)
    assert r.status_code == status, r.text
    assert needle in r.json()["description"]


@pytest.mark.gpkg_only  # request handling only: one backend is enough
@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"kind": "licence"}, "kind"),
        ({"today": "yesterday"}, "today"),
        ({"format": "html"}, "unknown query parameter(s) format"),
    ],
)
def test_check_refuses_bad_parameters(
    client: TestClient, params: dict[str, str], needle: str
) -> None:
    r = client.post("/analysis/check", params=params, json=polygon(f.utm_box(0, 0, 10, 10)))
    assert needle in problem(r, 400, "InvalidParameterValue")


# -------------------------------------------------------------------------------- expiring


def test_expiring_names_the_zone_that_blocks_renewal(client: TestClient) -> None:
    r = client.get("/analysis/expiring", params={"today": LATER, "days": 90})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["today"], doc["days"], doc["overdue"]) == (LATER, 90, [])
    rows = {x["id"]: x for x in doc["expiring"]}
    assert set(rows) == {"P-1", "P-2"}
    assert rows["P-1"]["days_left"] == 62
    assert (rows["P-1"]["renewal_eligible"], rows["P-1"]["blocking_zones"]) == (False, ["R-1"])
    assert (rows["P-2"]["renewal_eligible"], rows["P-2"]["blocking_zones"]) == (True, [])
    short = client.get("/analysis/expiring", params={"today": LATER, "days": 61}).json()
    assert short["expiring"] == []


@pytest.mark.gpkg_only  # request handling only: one backend is enough
@pytest.mark.parametrize("days", ["-1", "ten", "99999999"])
def test_expiring_refuses_bad_windows(client: TestClient, days: str) -> None:
    r = client.get("/analysis/expiring", params={"days": days})
    assert "days" in problem(r, 400, "InvalidParameterValue")


# ------------------------------------------------------------------ the command line agrees


def _cli_json(*args: str | Path) -> Any:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


@pytest.mark.parametrize(
    ("command", "url", "params"),
    [
        (("overlaps", "--format", "json"), "/analysis/overlaps", {}),
        (("overlaps", "--format", "geojson"), "/analysis/overlaps", {"format": "geojson"}),
        (("overlaps", "--layer", "contract_parcels", "--tolerance-m2", "5", "--format", "json"),
         "/analysis/overlaps", {"layer": "contract_parcels", "tolerance_m2": "5"}),
        (("overlaps", "--layer", "land_conclusions", "--against", "licences", "--format", "json"),
         "/analysis/overlaps", {"layer": "land_conclusions", "against": "licences"}),
        (("availability", "--format", "json"), "/analysis/availability", {}),
        (("availability", "--format", "geojson"), "/analysis/availability", {"format": "geojson"}),
        (("availability", "--soum", "MN4322", "--format", "json"),
         "/analysis/availability", {"soum": "MN4322"}),
        (("expiring", "--days", "600", "--format", "json"), "/analysis/expiring", {"days": "600"}),
    ],
)  # fmt: skip
def test_the_command_line_and_http_give_the_same_json(
    client: TestClient, db: str, command: tuple[str, ...], url: str, params: dict[str, str]
) -> None:
    printed = _cli_json(*command, "--today", TODAY, "--db", db)
    served = client.get(url, params={**params, "today": TODAY})
    assert served.status_code == 200, served.text
    assert served.json() == printed
    assert printed and (not isinstance(printed, dict) or any(printed.values()))


@pytest.mark.parametrize(
    ("kind", "geoms", "soum"),
    [
        ("parcel", [f.utm_box(150, 100, 200, 200), f.utm_box(500, 300, 200, 200)], None),
        ("land_conclusion", [f.utm_box(14000, 0, 2000, 1000)], "MN4322"),
    ],
)
def test_check_on_the_command_line_and_over_http_agree(
    client: TestClient,
    db: str,
    tmp_path: Path,
    kind: str,
    geoms: list[shapely.Geometry],
    soum: str | None,
) -> None:
    path = tmp_path / "proposal.geojson"
    ids = [f"NEW-{i}" for i in range(len(geoms))]
    gpd.GeoDataFrame({"id": ids}, geometry=geoms, crs="EPSG:4326").to_file(path, driver="GeoJSON")
    args = ["--kind", kind, "--today", TODAY, "--db", db] + (["--soum", soum] if soum else [])
    printed = _cli_json("check", path, *args)
    assert printed.pop("file") == str(path)
    params = {"kind": kind, "today": TODAY} | ({"soum": soum} if soum else {})
    served = client.post("/analysis/check", params=params, content=path.read_bytes())
    assert served.status_code == 200, served.text
    assert served.json() == printed
    assert printed["findings"]
