"""Rasters through the API, the commands and the pages: ``GET /analysis/rehab``, the slope
finding of ``gazar check`` / ``POST /analysis/check`` / ``/check``, and the recovery map layer.

The store is a GeoPackage with hand-built rasters registered beside it (the registry is a folder
beside a store file, so there is no PostGIS variant):

* NDVI, 10 m pixels in UTM 48N over x 0–300 m, y 0–200 m from ``factories.ORIGIN``: 0.1
  everywhere before; after, 0.5 in columns 0–9 (zone RZ-A recovers by 0.4), 0.12 in columns
  10–19 (RZ-B by 0.02) and nodata (clouds) in columns 20–29 (RZ-C).
* A DEM, 10 m pixels in UTM 48N over x −500–1500 m, y −500–1500 m: flat west of x = 500 m,
  a 40° plane east of it (Horn's slope of a plane is exact).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pytest
import rasterio
import shapely
from affine import Affine
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import layers.rasters
from api.app import create_app
from api.cli import app as cli
from api.services import rasters
from api.settings import ApiSettings
from layers.errors import InputFileError
from layers.store import Store, open_store
from tests import factories as f

runner = CliRunner()
UTM48 = "EPSG:32648"
TODAY = "2026-06-30"
NDVI_T = Affine(10, 0, f.ORIGIN[0], 0, -10, f.ORIGIN[1] + 200)
DEM_T = Affine(10, 0, f.ORIGIN[0] - 500, 0, -10, f.ORIGIN[1] + 1500)
#: 200 m x 200 m parcels inside LC-1: on the 40° plane, and on the flat
STEEP = (700.0, 300.0, 200.0, 200.0)
FLAT = (0.0, 500.0, 200.0, 200.0)


def write_tif(path: Path, values: Any, *, transform: Affine, nodata: float | None) -> Path:
    arr = np.asarray(values)
    profile = {
        "driver": "GTiff",
        "height": arr.shape[0],
        "width": arr.shape[1],
        "count": 1,
        "dtype": str(arr.dtype),
        "crs": UTM48,
        "transform": transform,
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr, 1)
    return path


def ndvi_after(recovered: float = 0.5) -> np.ndarray:
    after = np.full((20, 30), 0.1, dtype=np.float32)
    after[:, :10] = recovered
    after[:, 10:20] = 0.12
    after[:, 20:] = -9999
    return after


def dem_values() -> np.ndarray:
    x = -500 + 10 * np.arange(200) + 5  # pixel centres, metres east of the origin
    z = 1000 + np.where(x < 500, 0.0, (x - 500) * math.tan(math.radians(40)))
    return np.tile(z, (200, 1))


def zones(recovered_a: str = "required") -> gpd.GeoDataFrame:
    return f.frame(
        "rehab_zones",
        [
            f.rehab_zone("RZ-A", stage=recovered_a, geometry=f.utm_box(20, 40, 60, 100)),
            f.rehab_zone("RZ-B", geometry=f.utm_box(120, 40, 60, 100)),
            f.rehab_zone("RZ-C", geometry=f.utm_box(220, 40, 60, 100)),
        ],
    )


def fill(store: Store) -> None:
    store.write(
        {
            "soums": f.frame("soums", [f.soum()]),
            "land_conclusions": f.frame("land_conclusions", [f.land_conclusion()]),
            "contract_parcels": f.frame("contract_parcels", [f.parcel()]),
            "rehab_zones": zones(),
        }
    )


def register_rasters(db: str | Path, *, folder: Path | None = None) -> Path:
    folder = rasters.raster_dir(db, folder=folder)
    folder.mkdir()
    write_tif(folder / "b.tif", np.full((20, 30), 0.1, np.float32), transform=NDVI_T, nodata=-9999)
    write_tif(folder / "a.tif", ndvi_after(), transform=NDVI_T, nodata=-9999)
    write_tif(folder / "dem.tif", dem_values(), transform=DEM_T, nodata=-9999)
    rasters.register(
        folder,
        [
            {"kind": "ndvi_before", "area": "MN4322", "file": "b.tif", "date": "2024-06-30"},
            {"kind": "ndvi_after", "area": "MN4322", "file": "a.tif", "date": TODAY},
            {"kind": "dem", "area": "MN4322", "file": "dem.tif", "date": None},
        ],
    )
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "rasters.gpkg") as s:
        fill(s)
        yield s


@pytest.fixture
def db(store: Store) -> str:
    register_rasters(store.location)
    return store.location


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings(db=db))) as c:
        yield c


def cli_json(*args: str | Path) -> Any:
    result = runner.invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def problem(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    return str(body["description"])


def proposal(*boxes: tuple[float, float, float, float], lc: str = "LC-1") -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": f"NEW-{i + 1}", "land_conclusion_id": lc},
                "geometry": orjson.loads(shapely.to_geojson(f.utm_box(*b))),
            }
            for i, b in enumerate(boxes)
        ],
    }


# ------------------------------------------------------------------------------- rehab


def test_rehab_over_http_by_hand(client: TestClient) -> None:
    r = client.get("/analysis/rehab", params={"threshold": "0.1"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["min_recovery"] == 0.1 and doc["pixels"] == "weighted"
    by_id = {z["id"]: z for z in doc["zones"]}
    assert by_id["RZ-A"]["change"] == pytest.approx(0.4, abs=1e-6)
    assert by_id["RZ-A"]["status"] == "recovering"
    assert by_id["RZ-A"]["status_mn"] == "Сэргэж байна"
    assert by_id["RZ-B"]["change"] == pytest.approx(0.02, abs=1e-6)
    assert by_id["RZ-B"]["status"] == "below_min"
    assert by_id["RZ-C"]["status"] == "no_data" and by_id["RZ-C"]["after_valid_share"] == 0
    assert {z["before_file"] for z in doc["zones"]} == {"b.tif"}
    # a threshold of 0.01 lets RZ-B pass
    low = client.get("/analysis/rehab", params={"threshold": "0.01"}).json()
    assert [z["status"] for z in low["zones"]] == ["recovering", "recovering", "no_data"]


def test_the_configured_folder_holds_any_stores_rasters(tmp_path: Path) -> None:
    url = "postgresql://gazar@localhost/gazar"
    assert rasters.raster_dir(tmp_path / "a.gpkg") == tmp_path / "a.rasters"
    assert rasters.registered(url) == []  # a database has no folder beside it
    with pytest.raises(InputFileError, match="set GAZAR_RASTERS"):
        rasters.raster_dir(url)
    shared = tmp_path / "shared-rasters"
    assert (
        rasters.raster_dir(url, folder=shared)
        == shared
        == rasters.raster_dir(tmp_path / "a.gpkg", folder=shared)
    )
    register_rasters(url, folder=shared)
    entries = rasters.registered(url, folder=shared)
    assert [(e["kind"], e["path"]) for e in entries] == [
        ("ndvi_before", str(shared / "b.tif")),
        ("ndvi_after", str(shared / "a.tif")),
        ("dem", str(shared / "dem.tif")),
    ]


def test_rehab_and_slope_of_a_store_with_its_rasters_in_gazar_rasters(
    store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "rasters"
    monkeypatch.setenv(rasters.RASTERS_ENV, str(folder))  # read by load_settings, the front doors
    with open_store(store_location) as s:
        fill(s)
    register_rasters(store_location, folder=folder)
    doc = cli_json("rehab-monitor", "--db", store_location, "--format", "json")
    status = {z["id"]: z["status"] for z in doc["zones"]}
    assert status == {"RZ-A": "recovering", "RZ-B": "below_min", "RZ-C": "no_data"}
    terrain = cli_json(
        "terrain", "--db", store_location, "--layer", "contract_parcels", "--format", "json"
    )
    assert {t["dem_file"] for t in terrain["features"]} == {"dem.tif"}
    path = _check_file(tmp_path, STEEP, FLAT)
    printed = cli_json("check", path, "--kind", "parcel", "--today", TODAY, "--db", store_location)
    printed.pop("file")
    assert printed["dem"] == "dem.tif" and printed["terrain"][0]["over"] is True
    with TestClient(create_app(ApiSettings(db=store_location))) as c:
        served = c.get("/analysis/rehab").json()
        assert {z["id"]: z["status"] for z in served["zones"]} == status
        checked = c.post(
            "/analysis/check", params={"kind": "parcel", "today": TODAY}, content=path.read_bytes()
        )
        assert checked.status_code == 200, checked.text
        assert checked.json() == printed


@pytest.mark.parametrize(
    ("args", "params"),
    [
        ((), {}),
        (("--threshold", "0.01", "--pixels", "centre"), {"threshold": "0.01", "pixels": "centre"}),
        (("--format", "geojson"), {"format": "geojson"}),
    ],
)
def test_rehab_on_the_command_line_and_over_http_agree(
    client: TestClient, db: str, args: tuple[str, ...], params: dict[str, str]
) -> None:
    fmt = () if "--format" in args else ("--format", "json")
    printed = cli_json("rehab-monitor", "--db", db, *fmt, *args)
    served = client.get("/analysis/rehab", params=params)
    assert served.status_code == 200, served.text
    assert served.json() == printed
    zones_of = printed["features"] if "features" in printed else printed["zones"]
    assert len(zones_of) == 3


def test_rehab_of_named_registered_rasters_matches_the_files_on_the_command_line(
    client: TestClient, db: str
) -> None:
    folder = rasters.raster_dir(db)
    printed = cli_json(
        "rehab-monitor", "--db", db, "--before", folder / "b.tif", "--after", folder / "a.tif",
        "--format", "json",
    )  # fmt: skip
    served = client.get("/analysis/rehab", params={"before": "b.tif", "after": "a"})
    assert served.status_code == 200, served.text
    assert served.json() == printed
    # the same raster as before and after: no change anywhere
    same = client.get("/analysis/rehab", params={"before": "b", "after": "b.tif"}).json()
    assert [z["change"] for z in same["zones"]] == [0.0, 0.0, 0.0]


def test_rehab_never_opens_a_path_given_in_the_query(
    client: TestClient, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = write_tif(
        tmp_path / "secret.tif", np.ones((2, 2), np.float32), transform=NDVI_T, nodata=None
    )
    opened: list[str] = []
    real = rasters.raster_info

    def info(path: Any) -> rasters.RasterInfo:
        opened.append(str(path))
        return real(path)

    monkeypatch.setattr(rasters, "raster_info", info)
    monkeypatch.setattr(layers.rasters, "raster_info", info)
    folder = rasters.raster_dir(db)
    for name in (str(outside), "../secret.tif", "secret", str(folder / "a.tif"), "dem.tif"):
        text = problem(client.get("/analysis/rehab", params={"before": name, "after": "a"}), 400)
        assert "not a registered raster" in text and "b.tif, a.tif" in text
    assert opened == []


def test_rehab_errors(client: TestClient, store: Store, tmp_path: Path) -> None:
    for params in ({"threshold": "nan"}, {"threshold": "abc"}, {"threshold": "5"},
                   {"pixels": "all"}, {"format": "csv"}, {"path": "/etc/passwd"}):  # fmt: skip
        problem(client.get("/analysis/rehab", params=params), 400)
    assert "both" in problem(client.get("/analysis/rehab", params={"before": "b"}), 400)
    # a store without registered rasters: 404 saying what to do
    with open_store(tmp_path / "bare.gpkg") as bare:
        fill(bare)
        with TestClient(create_app(ApiSettings(db=bare.location))) as c:
            text = problem(c.get("/analysis/rehab"), 404)
    assert "no NDVI rasters are registered" in text and "gazar demo" in text


def test_rehab_is_computed_once_until_the_zones_or_a_raster_change(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = rasters.rehab_registered

    def counted(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(rasters, "rehab_registered", counted)
    first = client.get("/analysis/rehab").json()
    assert client.get("/analysis/rehab").json() == first
    assert client.get("/analysis/rehab", params={"format": "geojson"}).status_code == 200
    assert len(calls) == 1
    # a zone changes: computed again, with the new stage
    store.write({"rehab_zones": zones(recovered_a="accepted")}, mode="upsert")
    again = client.get("/analysis/rehab").json()
    assert len(calls) == 2 and again["zones"][0]["stage"] == "accepted"
    # the after raster is rewritten (RZ-A now recovers by 0.2): computed again
    after = rasters.raster_dir(store.location) / "a.tif"
    stamp = after.stat().st_mtime_ns
    write_tif(after, ndvi_after(0.3), transform=NDVI_T, nodata=-9999)
    os.utime(after, ns=(stamp + 10**9, stamp + 10**9))
    third = client.get("/analysis/rehab").json()
    assert len(calls) == 3
    assert third["zones"][0]["change"] == pytest.approx(0.2, abs=1e-6)


# ------------------------------------------------------------------------------- terrain


def test_the_registered_dem_is_read_only_under_the_proposal(db: str) -> None:
    frame = gpd.GeoDataFrame({"id": ["S"]}, geometry=[f.utm_box(*STEEP)], crs=4326)
    found = rasters.proposal_dem(db, frame)
    assert found is not None
    entry, dem = found
    assert entry["file"] == "dem.tif"
    # the 20 x 20 pixels under the parcel (21 where its lon/lat edges cut a pixel) and two
    # around it: not the DEM's 200 x 200
    assert dem.values.shape[0] <= 26 and dem.values.shape[1] <= 26
    far = frame.set_geometry([f.utm_box(5000, 5000, 100, 100)])
    assert rasters.proposal_dem(db, far) is None


def _check_file(tmp_path: Path, *boxes: tuple[float, float, float, float]) -> Path:
    path = tmp_path / "proposal.geojson"
    path.write_bytes(orjson.dumps(proposal(*boxes)))
    return path


def test_check_reports_the_slope_by_hand_with_a_given_or_registered_dem(
    db: str, tmp_path: Path
) -> None:
    path = _check_file(tmp_path, STEEP, FLAT)
    dem = rasters.raster_dir(db) / "dem.tif"
    args = ("--kind", "parcel", "--today", TODAY, "--db", db)
    given = cli_json("check", path, *args, "--dem", dem)
    registered = cli_json("check", path, *args)
    assert given["dem"] == str(dem) and registered["dem"] == "dem.tif"
    for result in (given, registered):
        steep, flat = result["terrain"]
        assert steep["id"] == "NEW-1" and steep["over"] is True
        assert steep["mean_slope_deg"] == pytest.approx(40.0, abs=1e-6)
        assert steep["steep_share"] == pytest.approx(1.0, abs=1e-9)
        assert steep["steep_ha"] == pytest.approx(4.0, rel=1e-3)  # 200 m x 200 m
        assert flat["mean_slope_deg"] == pytest.approx(0.0, abs=1e-9) and flat["over"] is False
        (warn,) = [x for x in result["findings"] if x["code"] == "SLOPE_OVER_LIMIT"]
        assert warn["severity"] == "warn" and warn["proposal_id"] == "NEW-1"
        assert result["verdict"] == "clear"  # a warning, not a conflict
    assert given["terrain"] == registered["terrain"]


def test_check_with_a_dem_that_misses_the_proposal_says_so(db: str, tmp_path: Path) -> None:
    elsewhere = write_tif(
        tmp_path / "far.tif",
        np.zeros((10, 10)),
        transform=Affine(10, 0, f.ORIGIN[0] + 50_000, 0, -10, f.ORIGIN[1]),
        nodata=None,
    )
    path = _check_file(tmp_path, STEEP)
    result = runner.invoke(
        cli, ["check", str(path), "--kind", "parcel", "--db", db, "--dem", str(elsewhere)]
    )
    assert result.exit_code == 0, result.output
    assert "does not cover the proposal" in result.stderr
    assert "terrain" not in orjson.loads(result.stdout)


def test_check_over_http_uses_the_registered_dem_as_the_command_line(
    client: TestClient, db: str, tmp_path: Path
) -> None:
    path = _check_file(tmp_path, STEEP, FLAT)
    printed = cli_json("check", path, "--kind", "parcel", "--today", TODAY, "--db", db)
    printed.pop("file")
    served = client.post(
        "/analysis/check", params={"kind": "parcel", "today": TODAY}, content=path.read_bytes()
    )
    assert served.status_code == 200, served.text
    assert served.json() == printed
    assert printed["dem"] == "dem.tif" and printed["terrain"][0]["over"] is True


def test_the_check_page_shows_the_slope(client: TestClient) -> None:
    r = client.post(
        "/check",
        data={"drawn": orjson.dumps(proposal(STEEP)).decode(), "kind": "parcel", "lang": "en",
              "today": TODAY},
    )  # fmt: skip
    assert r.status_code == 200, r.text[:500]
    page = r.text
    assert 'id="terrain"' in page and ">dem.tif<" in page
    row = page[page.index('<tr class="slope sev-warn">') :].split("</tr>")[0]
    assert "<td>NEW-1</td>" in row and ">40.0<" in row and "100.0 %" in row and "Yes" in row
    assert "Steep slopes" in page  # the SLOPE_OVER_LIMIT finding's title
    flat = client.post(
        "/check",
        data={"drawn": orjson.dumps(proposal(FLAT)).decode(), "kind": "parcel", "lang": "mn"},
    ).text
    assert 'id="terrain"' in flat and "sev-warn" not in flat.split('id="terrain"')[1]


# ------------------------------------------------------------------------------- the map layer


def test_map_pages_show_the_recovery_layer_when_rasters_are_registered(
    client: TestClient, store: Store, tmp_path: Path
) -> None:
    for url in ("/map?lang=en", "/map/soum/MN4322?lang=en", "/map/land-conclusion/LC-1?lang=en"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert "Rehabilitation recovery (3)" in r.text, url
        assert "Recovery below the minimum" in r.text  # the legend
    mongolian = client.get("/map").text
    assert '"title":"Нөхөн сэргээлтийн явц"' in mongolian
    assert json.dumps("Нөхөн сэргээлтийн явц (3)") in mongolian  # the layer switcher
    with open_store(tmp_path / "bare.gpkg") as bare:
        fill(bare)
        with TestClient(create_app(ApiSettings(db=bare.location))) as c:
            page = c.get("/map?lang=en").text
    assert "Rehabilitation recovery" not in page and "Rehabilitation zones (3)" in page


def test_gazar_map_writes_the_recovery_layer(db: str, tmp_path: Path) -> None:
    out = tmp_path / "map.html"
    result = runner.invoke(cli, ["map", "--db", db, "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Rehabilitation recovery (3)" in page
    assert '"status":"below_min"' in page and '"status":"no_data"' in page
