"""Rasters: exact partial pixels, zonal statistics by hand, windows, CRS, slope, COG, demo."""

from __future__ import annotations

import datetime as dt
import doctest
import shutil
import subprocess
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.features import rasterize
from shapely import box
from typer.testing import CliRunner, Result

import geo.raster as gr
from api.cli import app
from api.services import rasters
from geo.review import review
from geo.settings import AnalysisSettings
from layers.errors import InputFileError
from layers.store import open_store
from tests import factories as f

runner = CliRunner()

UTM48 = "EPSG:32648"
#: top-left corner of the hand-built rasters, in UTM 48N near Mandal
X0, Y0 = 500_000.0, 5_400_040.0


def write_tif(
    path: Path, values: Any, *, transform: Affine, crs: str, nodata: float | None = None
) -> Path:
    arr = np.asarray(values)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=arr.shape[0],
        width=arr.shape[1],
        count=1,
        dtype=str(arr.dtype),
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(arr, 1)
    return path


def grid_4x4() -> np.ndarray:
    """``10 r + c`` with one nodata pixel (-1) at row 1, column 1."""
    v = (10 * np.arange(4)[:, None] + np.arange(4)[None, :]).astype(np.float32)
    v[1, 1] = -1
    return v


def to_lonlat(geom: Any, crs: str) -> Any:
    t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return shapely.transform(geom, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))


def pixel_box(c0: float, r0: float, c1: float, r1: float, t: Affine) -> Any:
    """A rectangle given in pixel coordinates, in the raster's CRS."""
    (xa, ya), (xb, yb) = t * (c0, r0), t * (c1, r1)
    return box(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))


def random_blobs(n: int, rng: np.random.Generator, *, extent: float, radius: tuple[float, float]):
    cx, cy = rng.uniform(radius[1], extent - radius[1], (2, n))
    r = rng.uniform(*radius, n)
    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    rad = r[:, None] * rng.uniform(0.6, 1.0, (n, 24))
    xy = np.stack((cx[:, None] + rad * np.cos(ang), cy[:, None] + rad * np.sin(ang)), axis=-1)
    return shapely.polygons(xy)


# ------------------------------------------------------------------------------- coverage


def test_partial_pixels_by_hand() -> None:
    # a 2 x 2 pixel square centred on pixel (1, 1): quarter corners, half edges, whole centre
    cov = gr.pixel_coverage([box(0.5, 0.5, 2.5, 2.5)])
    got = {(int(r), int(c)): w for r, c, w in zip(cov.row, cov.col, cov.weight, strict=True)}
    assert got == {
        (0, 0): 0.25,
        (0, 1): 0.5,
        (0, 2): 0.25,
        (1, 0): 0.5,
        (1, 1): 1.0,
        (1, 2): 0.5,
        (2, 0): 0.25,
        (2, 1): 0.5,
        (2, 2): 0.25,
    }
    # a triangle over one pixel: half of it
    tri = gr.pixel_coverage([shapely.Polygon([(3, 3), (4, 3), (4, 4)])])
    assert tri.row.tolist() == [3] and tri.col.tolist() == [3] and tri.weight.tolist() == [0.5]
    # a hole takes its pixels out; a multipolygon counts each part
    holed = box(0, 0, 4, 4).difference(box(1, 1, 3, 3))
    multi = shapely.MultiPolygon([box(10, 0, 11, 1), box(12.5, 0, 13, 1)])
    cov = gr.pixel_coverage([holed, multi, None, shapely.Polygon()])
    assert np.bincount(cov.zone, weights=cov.weight).tolist() == [12.0, 1.5]


def test_weighted_coverage_is_the_exact_intersection_area() -> None:
    rng = np.random.default_rng(3)
    geoms = random_blobs(150, rng, extent=80, radius=(0.3, 7))
    geoms = np.append(geoms, box(10.3, 10.3, 20.7, 20.2).difference(box(12.5, 12.1, 15.5, 17.9)))
    cov = gr.pixel_coverage(geoms)
    cells = box(cov.col, cov.row, cov.col + 1, cov.row + 1)
    exact = shapely.area(shapely.intersection(cells, geoms[cov.zone]))
    assert np.abs(exact - cov.weight).max() < 1e-12
    totals = np.bincount(cov.zone, weights=cov.weight, minlength=len(geoms))
    np.testing.assert_allclose(totals, shapely.area(geoms), rtol=0, atol=1e-9)


def test_centre_mode_is_gdal_rasterisation() -> None:
    rng = np.random.default_rng(4)
    geoms = random_blobs(60, rng, extent=60, radius=(0.5, 8))
    cov = gr.pixel_coverage(geoms, mode="centre")
    for i, g in enumerate(geoms):
        burned = rasterize([(g, 1)], out_shape=(60, 60), transform=Affine.identity())
        sel = cov.zone == i
        assert set(zip(*np.nonzero(burned), strict=True)) == set(
            zip(cov.row[sel].tolist(), cov.col[sel].tolist(), strict=True)
        ), i
    assert (cov.weight == 1).all()


def test_pixel_space_refuses_rotation() -> None:
    with pytest.raises(ValueError, match="rotated"):
        gr.pixel_space([box(0, 0, 1, 1)], Affine(1, 0.2, 0, 0, -1, 0))


# ------------------------------------------------------------------------------- zonal stats


@pytest.mark.parametrize("crs", [UTM48, "EPSG:3857"])
def test_zonal_stats_by_hand_in_the_rasters_crs_from_lonlat_zones(tmp_path: Path, crs: str) -> None:
    t = Affine(10, 0, X0, 0, -10, Y0) if crs == UTM48 else Affine(10, 0, 11.8e6, 0, -10, 6.2e6)
    path = write_tif(tmp_path / "r.tif", grid_4x4(), transform=t, crs=crs, nodata=-1)
    # zones are stored in lon/lat; the raster stays in its CRS and the zones are reprojected
    zones = gpd.GeoDataFrame(
        {"id": ["quarters", "centres", "outside"]},
        geometry=[
            to_lonlat(pixel_box(0.5, 0.5, 2.5, 2.5, t), crs),
            to_lonlat(pixel_box(0.4, 0.4, 2.6, 2.6, t), crs),
            to_lonlat(pixel_box(3.5, 3.5, 5.5, 5.5, t), crs),  # 1/4 in the raster
        ],
        crs="EPSG:4326",
    )
    w = rasters.zonal_stats(path, zones)
    # quarters: corners 0, 2, 20, 22 weigh 1/4, edges 1, 10, 12, 21 weigh 1/2, the centre is
    # nodata: valid weight 3 of 4, mean (0.25 * 44 + 0.5 * 44) / 3 = 11; cumulative weight
    # reaches 1.5 exactly at 10, so the median is (10 + 12) / 2
    q = w.iloc[0]
    assert q["pixels"] == pytest.approx(4, abs=1e-6)
    assert q["valid_pixels"] == pytest.approx(3, abs=1e-6)
    assert q["valid_share"] == pytest.approx(0.75, abs=1e-6)
    assert q["mean"] == pytest.approx(11, abs=1e-5)
    assert q["median"] == pytest.approx(11, abs=1e-5)
    assert (q["min"], q["max"]) == (0, 22)
    # outside: pixel (3, 3) = 33 covered by 1/4; the rest of its 4 pixels is off the raster
    o = w.iloc[2]
    assert o["pixels"] == pytest.approx(4, abs=1e-6)
    assert o["valid_share"] == pytest.approx(0.0625, abs=1e-6)
    assert o["mean"] == pytest.approx(33) and o["median"] == pytest.approx(33)
    # centre mode: the 3 x 3 pixels whose centre is inside, one of them nodata
    c = rasters.zonal_stats(path, zones, mode="centre").iloc[1]
    assert (c["pixels"], c["valid_pixels"]) == (9, 8)
    assert c["mean"] == pytest.approx(88 / 8) and c["median"] == pytest.approx(11)


def test_nan_and_nodata_are_not_valid_and_an_empty_zone_has_no_values() -> None:
    grid = gr.Grid(np.array([[np.nan, 2.0], [7.0, 9.0]], dtype=np.float32), nodata=9.0)
    windows = gr.plan_windows([box(0, 0, 2, 2), box(0, 0, 1, 1)])
    stats = gr.zonal_stats([(w, grid) for w in windows], 3)
    assert stats["valid_pixels"].tolist()[:2] == [2.0, 0.0]
    assert stats.loc[0, "mean"] == 4.5 and np.isnan(stats["mean"].to_numpy()[1])
    assert stats.loc[2, "pixels"] == 0 and np.isnan(stats["valid_share"].to_numpy()[2])


def test_weighted_median_by_hand() -> None:
    # weights 0.5, 1, 0.25 for values 3, 1, 2: half of 1.75 is reached at 2 (0.25 + 1 >= .875)
    grid = gr.Grid(np.array([[3.0, 1.0, 2.0]]))
    zone = shapely.Polygon([(0.5, 0), (2.25, 0), (2.25, 1), (0.5, 1)])
    stats = gr.zonal_stats([(gr.plan_windows([zone])[0], grid)], 1)
    assert stats.loc[0, "median"] == 1.0
    assert stats.loc[0, "mean"] == pytest.approx((1.5 + 1 + 0.5) / 1.75)


def test_windows_stay_within_the_zones_bounds_and_agree_with_one_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=(300, 400)).astype(np.float32)
    values[rng.random(values.shape) < 0.02] = -9999
    values[290:, 390:] = 1  # under the zone half off the raster
    t = Affine(10, 0, X0, 0, -10, Y0)
    path = write_tif(tmp_path / "big.tif", values, transform=t, crs=UTM48, nodata=-9999)
    px = random_blobs(40, rng, extent=290, radius=(1, 9))
    big = shapely.Polygon([(20, 30), (380, 60), (300, 280), (40, 200)])  # > max_pixels
    px = np.append(px, [big, box(390, 290, 410, 310)])  # the last one half off the raster
    zones = gpd.GeoDataFrame(geometry=gr.pixel_space(px, ~t), crs=UTM48)
    max_pixels = 48 * 48
    reads: list[Any] = []
    windowed = rasters.zonal_stats(path, zones, max_pixels=max_pixels, on_read=reads.append)
    plan = gr.plan_windows(
        rasters.zones_in_pixels(zones, rasters.raster_info(path)), max_pixels=max_pixels
    )
    assert len(reads) == len(plan) > 10
    for read, w in zip(reads, plan, strict=True):
        assert w.pixels <= max_pixels and read.width * read.height <= max_pixels
        # the block is the bounding box of the zone pieces it serves, and the read its part
        # inside the raster
        x0, y0, x1, y1 = shapely.total_bounds(w.geoms)
        assert (w.col_off, w.row_off) == (np.floor(x0), np.floor(y0))
        assert (w.col_off + w.width, w.row_off + w.height) == (np.ceil(x1), np.ceil(y1))
        assert read.col_off == max(w.col_off, 0) and read.row_off == max(w.row_off, 0)
        assert read.col_off + read.width == min(w.col_off + w.width, 400)
    once = rasters.zonal_stats(path, zones, max_pixels=10**8)
    np.testing.assert_allclose(windowed.to_numpy(), once.to_numpy(), rtol=1e-12, atol=1e-9)
    assert windowed.iloc[-1]["valid_share"] == pytest.approx(0.25)


def test_centre_mode_matches_rasterstats(tmp_path: Path) -> None:
    rasterstats = pytest.importorskip("rasterstats")
    rng = np.random.default_rng(6)
    values = rng.integers(-2000, 9000, size=(250, 250)).astype(np.int16)
    values[100:120, 100:140] = -32768
    t = Affine(10, 0, X0, 0, -10, Y0)
    path = write_tif(tmp_path / "ndvi.tif", values, transform=t, crs=UTM48, nodata=-32768)
    geoms = gr.pixel_space(random_blobs(80, rng, extent=250, radius=(1.5, 12)), ~t)
    zones = gpd.GeoDataFrame(geometry=geoms, crs=UTM48)
    ours = rasters.zonal_stats(path, zones, mode="centre", max_pixels=64 * 64)
    ref = rasterstats.zonal_stats(
        list(geoms), str(path), stats=["mean", "median", "count"], all_touched=False
    )
    counted = np.array([r["count"] for r in ref])
    assert (ours["valid_pixels"].to_numpy() == counted).all()
    has = counted > 0
    for column in ("mean", "median"):
        theirs = np.array([np.nan if r[column] is None else r[column] for r in ref])
        np.testing.assert_allclose(ours[column].to_numpy()[has], theirs[has], rtol=0, atol=1e-9)


# ------------------------------------------------------------------------------- terrain


def test_slope_of_a_plane_in_metres_and_in_lonlat() -> None:
    ramp = np.tile(np.arange(6.0) * 10 * np.tan(np.radians(30)), (5, 1))  # 30° east, 10 m px
    slope = gr.slope_degrees(ramp, xres=10, yres=10)
    assert np.isnan(slope[0]).all() and np.isnan(slope[:, 0]).all()
    np.testing.assert_allclose(slope[1:-1, 1:-1], 30, atol=1e-9)
    # a lon/lat DEM rising 1 m per metre northwards is 45°, as in a projected CRS
    t = Affine(1 / 3600, 0, 106.5, 0, -1 / 3600, 48.81)
    _, yres = gr.lonlat_pixel_metres(t, row_off=0, height=6)
    north = np.repeat((np.cumsum(yres[::-1])[::-1])[:, None], 6, axis=1)
    dem = gr.Dem(north, t, "EPSG:4326")
    np.testing.assert_allclose(dem.slope().values[1:-1, 1:-1], 45, atol=0.01)
    # nodata next to a pixel leaves its slope unknown
    holed = ramp.copy()
    holed[2, 2] = -9999
    assert np.isnan(gr.slope_degrees(holed, xres=10, yres=10, nodata=-9999)[1:4, 1:4]).all()


def steep_dem(tmp_path: Path) -> tuple[Path, Affine]:
    """A UTM DEM: flat (0°) in its west half, 40° in its east half (10 m pixels)."""
    t = Affine(10, 0, f.ORIGIN[0] - 500, 0, -10, f.ORIGIN[1] + 1500)
    cols = np.arange(200)
    rise = np.where(cols < 100, 0.0, (cols - 100) * 10 * np.tan(np.radians(40)))
    dem = np.tile(rise, (200, 1)).astype(np.float32)
    return write_tif(tmp_path / "dem.tif", dem, transform=t, crs=UTM48, nodata=-9999), t


def test_terrain_share_of_each_land_conclusion(tmp_path: Path) -> None:
    path, _ = steep_dem(tmp_path)
    # the DEM's west edge is 500 m west of the origin: flat up to x = 500 m, steep after
    lcs = f.frame(
        "land_conclusions",
        [
            f.land_conclusion("LC-flat", geometry=f.utm_box(-400, 0, 800, 400)),
            f.land_conclusion("LC-half", geometry=f.utm_box(250, 0, 500, 400)),
        ],
    )
    table = rasters.terrain(path, lcs, slope_limit_deg=15, share_limit=0.3, max_pixels=40 * 40)
    # Horn's 3 x 3 window sees the break at x = 500 m in the pixels on either side of it
    assert table.loc[0, "steep_share"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc[1, "steep_share"] == pytest.approx(0.5, abs=0.025)
    assert table.loc[1, "mean_slope_deg"] == pytest.approx(20, abs=1)
    assert table["over"].tolist() == [False, True]
    assert table.loc[1, "steep_ha"] == pytest.approx(0.5 * 20, rel=0.06)


def test_review_warns_of_steep_land_without_changing_the_verdict(tmp_path: Path) -> None:
    path, _ = steep_dem(tmp_path)
    settings = AnalysisSettings(slope_limit_deg=15, slope_share_limit=0.25)
    layers = {
        "land_conclusions": f.frame(
            "land_conclusions",
            [f.land_conclusion("LC-1", geometry=f.utm_box(-450, 100, 1400, 1000))],
        )
    }
    steep = gpd.GeoDataFrame(
        {"id": ["P-steep"], "land_conclusion_id": ["LC-1"]},
        geometry=[f.utm_box(700, 300, 200, 200)],
        crs=4326,
    )
    flat = steep.assign(id=["P-flat"]).set_geometry([f.utm_box(0, 300, 200, 200)])
    day = dt.date(2026, 6, 1)
    for proposal, expected in ((steep, 1), (flat, 0)):
        dem = rasters.read_dem(path, proposal)
        result = review(
            proposal, kind="parcel", layers=layers, today=day, settings=settings, dem=dem
        )
        found = [x for x in result["findings"] if x["code"] == "SLOPE_OVER_LIMIT"]
        assert len(found) == expected
        assert result["verdict"] == "clear"
        assert result["terrain"][0]["id"] == proposal["id"].iloc[0]
    assert found == [] and result["terrain"][0]["steep_share"] == 0
    steep_result = review(
        steep,
        kind="parcel",
        layers=layers,
        today=day,
        settings=settings,
        dem=rasters.read_dem(path, steep),
    )
    warn = next(x for x in steep_result["findings"] if x["code"] == "SLOPE_OVER_LIMIT")
    assert warn["severity"] == "warn" and warn["proposal_id"] == "P-steep"
    assert warn["overlap_ha"] == pytest.approx(4.0, rel=0.01)  # all of its 4 ha
    assert "40" not in warn["message_en"] and "15°" in warn["message_en"]
    assert "15°" in warn["message_mn"]
    # without a DEM the review is as before
    plain = review(steep, kind="parcel", layers=layers, today=day, settings=settings)
    assert "terrain" not in plain


# ------------------------------------------------------------------------------- recovery


def test_rehab_monitor_flags_zones_below_the_threshold(tmp_path: Path) -> None:
    t = Affine(10, 0, f.ORIGIN[0], 0, -10, f.ORIGIN[1] + 200)
    before = np.full((20, 30), 0.1, dtype=np.float32)
    after = before.copy()
    after[:, :10] = 0.5  # zone A's pixels recover by 0.4
    after[:, 10:20] = 0.12  # zone B's by 0.02
    after[:, 20:] = -9999  # zone C: clouds
    b = write_tif(tmp_path / "b.tif", before, transform=t, crs=UTM48, nodata=-9999)
    # the after raster comes in another CRS and grid: reproject it to lon/lat
    a = tmp_path / "a.tif"
    with rasterio.open(
        write_tif(tmp_path / "a_utm.tif", after, transform=t, crs=UTM48, nodata=-9999)
    ) as src:
        from rasterio.vrt import WarpedVRT

        with WarpedVRT(src, crs="EPSG:4326", resampling=rasterio.enums.Resampling.nearest) as vrt:
            rasterio.shutil.copy(vrt, a, driver="GTiff")
    rows = [
        f.rehab_zone("RZ-A", parcel_id=None, geometry=f.utm_box(20, 40, 60, 100)),
        f.rehab_zone("RZ-B", parcel_id=None, geometry=f.utm_box(120, 40, 60, 100)),
        f.rehab_zone("RZ-C", parcel_id=None, geometry=f.utm_box(220, 40, 60, 100)),
    ]
    db = tmp_path / "s.gpkg"
    with open_store(db) as store:
        store.write({"rehab_zones": f.frame("rehab_zones", rows)})

    def monitor(after: Path, *options: str) -> Result:
        """``gazar rehab-monitor`` over the store between ``b`` and ``after``."""
        args = ["--db", str(db), "--before", str(b), "--after", str(after), *options]
        return runner.invoke(app, ["rehab-monitor", *args])

    result = monitor(a, "--format", "json", "--threshold", "0.1")
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.output)
    assert data["min_recovery"] == 0.1
    by_id = {z["id"]: z for z in data["zones"]}
    assert by_id["RZ-A"]["change"] == pytest.approx(0.4, abs=1e-6)
    assert by_id["RZ-A"]["status"] == "recovering"
    assert by_id["RZ-B"]["change"] == pytest.approx(0.02, abs=1e-6)
    assert by_id["RZ-B"]["status"] == "below_min"
    assert by_id["RZ-B"]["status_en"] == "Recovery below the minimum"
    assert by_id["RZ-C"]["status"] == "no_data" and by_id["RZ-C"]["change"] is None
    assert by_id["RZ-C"]["after_valid_share"] == 0 and by_id["RZ-C"]["before_valid_share"] == 1
    geo = orjson.loads(monitor(a, "--format", "geojson").output)
    assert [x["properties"]["status"] for x in geo["features"]] == [
        "recovering",
        "below_min",
        "no_data",
    ]
    assert "RZ-B" in monitor(a, "--format", "csv").output
    missing = monitor(tmp_path / "nope.tif")
    assert missing.exit_code == 1 and "nope.tif" in missing.output


def test_a_raster_without_crs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.tif"
    with rasterio.open(
        path, "w", driver="GTiff", height=2, width=2, count=1, dtype="float32"
    ) as dst:
        dst.write(np.zeros((2, 2), dtype=np.float32), 1)
    with pytest.raises(InputFileError, match="no CRS"):
        rasters.raster_info(path)


# ------------------------------------------------------------------------------- COG export


def test_export_available_writes_a_cog_with_hand_counted_pixels(tmp_path: Path) -> None:
    db = tmp_path / "s.gpkg"
    # a 200 m x 100 m Land Conclusion on the 10 m grid; a 100 m x 100 m parcel takes its west
    # half. The grid snaps to multiples of 10 m, and ORIGIN is not on one: shift to it.
    ox, oy = (10 * np.ceil(np.array(f.ORIGIN) / 10) - np.array(f.ORIGIN)).tolist()
    with open_store(db) as store:
        store.write(
            {
                "land_conclusions": f.frame(
                    "land_conclusions",
                    [f.land_conclusion("LC-1", geometry=f.utm_box(ox, oy, 200, 100))],
                ),
                "contract_parcels": f.frame(
                    "contract_parcels", [f.parcel("P-1", geometry=f.utm_box(ox, oy, 100, 100))]
                ),
            }
        )
    out = tmp_path / "available.tif"

    def export(*options: str) -> Result:
        """``gazar export-raster available`` at 10 units a pixel on 1 June 2026."""
        where = ["--out", str(out), "--db", str(db), "--today", "2026-06-01"]
        return runner.invoke(app, ["export-raster", "available", "--res", "10", *options, *where])

    result = export()
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32648 and src.res == (10, 10) and src.nodata == 255
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        values = src.read(1)
    assert values.shape == (10, 20)
    assert (values[:, :10] == 0).all() and (values[:, 10:] == 1).all()
    assert "100 available pixels (≈1.0 ha) of 200" in result.output
    if shutil.which("gdalinfo"):
        info = subprocess.run(["gdalinfo", str(out)], capture_output=True, text=True, check=True)
        assert "LAYOUT=COG" in info.stdout and "NoData Value=255" in info.stdout
    # a CRS given: the same land in lon/lat degrees is refused at a metre-like resolution
    bad = export("--crs", "EPSG:4326")
    assert bad.exit_code == 1 and "degrees" in bad.output


def test_availability_block_outside_and_overviews_nearest(tmp_path: Path) -> None:
    block = gr.availability_block(
        [box(1, 1, 5, 3)], [box(1, 1, 3, 3)], row_off=0, col_off=0, height=4, width=6
    )
    assert block.tolist() == [
        [255] * 6,
        [255, 1, 1, 0, 0, 255],
        [255, 1, 1, 0, 0, 255],
        [255] * 6,
    ]


# ------------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    result = runner.invoke(app, ["demo", "--db", str(db), "--today", "2026-06-01"])
    assert result.exit_code == 0, result.output
    return db


def test_demo_registers_ndvi_and_dem_rasters(demo_db: Path) -> None:
    entries = rasters.registered(demo_db)
    kinds = {(e["kind"], e["area"]) for e in entries}
    assert {k for k, _ in kinds} == {"ndvi_before", "ndvi_after", "dem"}
    assert {a for _, a in kinds} == {"MN4310", "MN4322", "MN8201", "MN8404"}
    for e in entries:
        with rasterio.open(e["path"]) as src:
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert src.crs.to_string() == e["crs"]


def test_demo_recovery_varies_by_zone_and_stage(demo_db: Path) -> None:
    result = runner.invoke(app, ["rehab-monitor", "--db", str(demo_db), "--format", "json"])
    assert result.exit_code == 0, result.output
    zones = orjson.loads(result.output)["zones"]
    with open_store(demo_db) as store:
        assert len(zones) == len(store.read("rehab_zones"))
    status = {z["status"] for z in zones}
    assert {"recovering", "below_min"} <= status
    accepted = [z["change"] for z in zones if z["stage"] == "accepted"]
    required = [z["change"] for z in zones if z["stage"] == "required"]
    assert min(accepted) > 0.1 > max(required)
    assert any(z["after_valid_share"] < 1 for z in zones)  # the clouds


def test_demo_terrain_flags_the_mountain_soum(demo_db: Path) -> None:
    result = runner.invoke(app, ["terrain", "--db", str(demo_db), "--format", "json"])
    assert result.exit_code == 0, result.output
    features = orjson.loads(result.output)["features"]
    over = {x["id"] for x in features if x["over"]}
    assert over and all(i.startswith("LC-MN8404") for i in over)
    assert all(x["valid_share"] == 1 for x in features)


def test_geo_raster_examples() -> None:
    modules = [gr, gr.pixels, gr.zonal, gr.slope, gr.rehab, gr.grid]  # the package, by job
    results = [doctest.testmod(m, optionflags=doctest.NORMALIZE_WHITESPACE) for m in modules]
    failures, tried = sum(r.failed for r in results), sum(r.attempted for r in results)
    assert tried > 10 and failures == 0


def test_the_benchmark_agrees_with_rasterstats_on_a_small_raster(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("rasterstats")
    from bench import raster as bench

    assert bench.main(["--size", "400", "--zones", "60"]) == 0
    assert "agree to 1e-09: yes" in capsys.readouterr().out
