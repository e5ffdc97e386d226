"""GET /collections/{id}/export: each format downloads the whole layer, read back by GDAL."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from layers.readers import read_features
from layers.store import Store
from tests import factories as f


@pytest.fixture
def client(seeded: Store) -> Iterator[TestClient]:
    """The seeded store (on each backend) with a second parcel."""
    seeded.write(
        {
            "contract_parcels": f.frame(
                "contract_parcels",
                [f.parcel("P-2", holder="Мөнгөн булаг", geometry=f.utm_box(600, 100, 100, 100))],
            )
        }
    )
    with TestClient(create_app(ApiSettings(db=seeded.location))) as c:
        yield c


@pytest.mark.parametrize(
    ("fmt", "media", "name"),
    [
        ("gpkg", "application/geopackage+sqlite3", "contract_parcels.gpkg"),
        ("geojson", "application/geo+json", "contract_parcels.geojson"),
        ("csv", "text/csv; charset=utf-8", "contract_parcels.csv"),
        ("kml", "application/vnd.google-earth.kml+xml", "contract_parcels.kml"),
        ("fgb", "application/flatgeobuf", "contract_parcels.fgb"),
        ("shp", "application/zip", "contract_parcels.zip"),
    ],
)
def test_each_format_downloads_the_whole_layer(
    client: TestClient, tmp_path: Path, fmt: str, media: str, name: str
) -> None:
    r = client.get("/collections/contract_parcels/export", params={"format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    path = tmp_path / name
    path.write_bytes(r.content)
    if fmt == "csv":
        table = pyogrio.read_dataframe(path, read_geometry=False)  # the WKT is a text column
        assert table["id"].tolist() == ["P-1", "P-2"]
        frame = gpd.GeoDataFrame(table, geometry=shapely.from_wkt(table["WKT"]), crs=4326)
    else:
        frame, _ = read_features(path)
    assert sorted(frame["id"]) == ["P-1", "P-2"]
    assert frame.crs.to_epsg() == 4326
    holders = dict(zip(frame["id"], frame["holder"], strict=True))
    assert holders["P-2"] == "Мөнгөн булаг"  # UTF-8 survives every format
    # the 200 m x 200 m parcel comes back where it was (GeoJSON: to 8 decimals of a degree)
    p1 = frame.geometry[frame["id"] == "P-1"].iloc[0]
    drawn = f.utm_box(100, 100, 200, 200)
    assert p1.symmetric_difference(drawn).area < 1e-5 * drawn.area


@pytest.mark.gpkg_only  # request handling only: one backend is enough
def test_a_shapefile_comes_as_one_zip_of_its_parts(client: TestClient) -> None:
    r = client.get("/collections/contract_parcels/export", params={"format": "shp"})
    names = zipfile.ZipFile(BytesIO(r.content)).namelist()
    assert {n.rsplit(".", 1)[1] for n in names} >= {"shp", "shx", "dbf", "prj", "cpg"}


def test_the_default_format_is_geopackage_and_an_empty_layer_exports(client: TestClient) -> None:
    r = client.get("/collections/licences/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="licences.gpkg"'
    assert r.content.startswith(b"SQLite format 3\x00")


@pytest.mark.gpkg_only  # request handling only: one backend is enough
def test_gzip_when_asked(client: TestClient) -> None:
    r = client.get(
        "/collections/contract_parcels/export",
        params={"format": "geojson"},
        headers={"accept-encoding": "gzip"},
    )
    assert r.headers["content-encoding"] == "gzip"
    assert r.json()["type"] == "FeatureCollection"  # decompressed by the client


@pytest.mark.gpkg_only  # request handling only: one backend is enough
@pytest.mark.parametrize(
    ("url", "status", "needle"),
    [
        ("/collections/contract_parcels/export?format=xlsx", 400, "format"),
        ("/collections/contract_parcels/export?format=gpkg&crs=EPSG:32648", 400, "crs"),
        ("/collections/parcels/export", 404, "collection 'parcels' has no export"),
        ("/collections/overlaps/export", 404, "land_conclusions, contract_parcels"),
    ],
)
def test_errors_name_the_problem(client: TestClient, url: str, status: int, needle: str) -> None:
    r = client.get(url)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status
    assert needle in body["description"]
