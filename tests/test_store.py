from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import shapely

from layers.errors import FeatureNotFound, LayerNotFound, StoreError
from layers.schema import REGISTRY
from layers.store import SCHEMA_VERSION, Store, open_store
from tests import factories as f
from tests.conftest import snapshot


def test_new_store_has_every_layer_empty(store: Store) -> None:
    infos = store.layers()
    assert [i.layer for i in infos] == [
        "land_conclusions",
        "contract_parcels",
        "rehab_zones",
        "aimags",
        "soums",
        "exclusions",
        "licences",
        "water",
        "roads",
        "settlements",
    ]
    assert all(i.count == 0 and i.bbox is None for i in infos)
    assert store.schema_version() == SCHEMA_VERSION


def test_round_trip_keeps_types_and_values(seeded: Store) -> None:
    lc = seeded.get("land_conclusions", "LC-1").iloc[0]
    assert lc["status"] == "issued"
    assert lc["proposed_on"] == dt.date(2024, 3, 1)
    assert lc["decision_ref"] == "АМГТГ-2024/117"
    p = seeded.get("contract_parcels", "P-1").iloc[0]
    assert int(p["members_women"]) == 3
    assert p["geometry"].geom_type == "Polygon"
    assert p["geometry"].equals_exact(f.parcel()["geometry"], tolerance=1e-12)
    z = seeded.get("rehab_zones", "R-1").iloc[0]
    assert z["accepted_on"] is None


def test_bbox_where_and_ids(seeded: Store) -> None:
    seeded.write(
        {
            "exclusions": f.frame(
                "exclusions", [f.exclusion("X-2", geometry=f.utm_box(90000, 0, 10, 10))]
            )
        }
    )
    assert seeded.ids("exclusions") == {"X-1", "X-2"}
    far = f.exclusion("X-2", geometry=f.utm_box(90000, 0, 10, 10))["geometry"]
    hit = seeded.read("exclusions", bbox=far.bounds)
    assert hit["id"].tolist() == ["X-2"]
    assert seeded.read("exclusions", where={"kind": "settlement"}).empty
    assert seeded.read("exclusions", ids=["X-1"])["id"].tolist() == ["X-1"]
    info = {i.layer: i for i in seeded.layers()}["exclusions"]
    assert info.count == 2
    assert info.bbox is not None and info.bbox[2] == pytest.approx(far.bounds[2])


def test_a_read_of_some_columns_is_the_whole_read_cut_to_them(filled: Store) -> None:
    """``columns=`` reads ``id``, those columns (in table order, whatever order they were
    asked in) and the geometry, with the values and dtypes of a whole read, on every layer and
    with every filter; an unknown column is refused by name, not read as empty."""
    for info in filled.layers():
        kind = REGISTRY[info.layer]
        names = [f.name for f in kind.fields]
        whole = filled.read(info.layer)
        for asked in ([], names[::-2], names, ["id", *names[:1]]):
            part = filled.read(info.layer, columns=asked)
            expected = ["id", *(n for n in names if n in asked), "geometry"]
            assert list(part.columns) == expected, (info.layer, asked)
            assert part.crs == whole.crs
            pd.testing.assert_frame_equal(
                pd.DataFrame(part.drop(columns="geometry")),
                pd.DataFrame(whole[expected[:-1]]),
                check_exact=True,
            )
            assert shapely.equals_exact(part.geometry.array, whole.geometry.array, 0).all()
        if info.bbox is not None and len(whole):
            first = whole.iloc[0]
            cut = filled.read(
                info.layer, bbox=first.geometry.bounds, ids=[first["id"]], columns=names[:1]
            )
            assert cut["id"].tolist() == [first["id"]]
            assert list(cut.columns) == ["id", *names[:1], "geometry"]
    with pytest.raises(KeyError, match="no column colour"):
        filled.read("contract_parcels", columns=["status", "colour"])


def test_unknown_layer_and_feature(seeded: Store) -> None:
    with pytest.raises(LayerNotFound, match="unknown layer 'parcels'"):
        seeded.read("parcels")
    with pytest.raises(FeatureNotFound, match="no feature with id 'P-9'"):
        seeded.get("contract_parcels", "P-9")


def test_batch_over_several_layers_is_all_or_nothing(seeded: Store) -> None:
    before = snapshot(seeded)
    batch = {
        "exclusions": f.frame("exclusions", [f.exclusion("X-new")]),
        # P-1 exists already: the second layer fails, so the first must not land either
        "contract_parcels": f.frame("contract_parcels", [f.parcel("P-1")]),
    }
    with pytest.raises(StoreError, match="contract_parcels"):
        seeded.write(batch)
    assert snapshot(seeded) == before


def test_replace_upsert_delete(seeded: Store) -> None:
    seeded.write(
        {"exclusions": f.frame("exclusions", [f.exclusion("X-1", name="new name")])}, mode="upsert"
    )
    assert seeded.get("exclusions", "X-1").iloc[0]["name"] == "new name"
    seeded.write({"exclusions": f.frame("exclusions", [f.exclusion("X-7")])}, mode="replace")
    assert seeded.ids("exclusions") == {"X-7"}
    assert seeded.delete("exclusions", ["X-7"]) == 1
    assert seeded.ids("exclusions") == set()
    assert {i.layer: i.bbox for i in seeded.layers()}["exclusions"] is None


def test_refuses_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    junk = tmp_path / "notes.gpkg"
    junk.write_text("this is not a database " * 100)
    with pytest.raises(StoreError, match="not a GeoPackage store"):
        open_store(junk)
    other = tmp_path / "plain.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a GeoPackage"):
        open_store(other)


def test_refuses_a_store_from_a_newer_gazar(store_path: Path) -> None:
    open_store(store_path).close()
    con = sqlite3.connect(store_path)
    con.execute(
        "UPDATE gazar_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer Gazar"):
        open_store(store_path)


def test_missing_store_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        open_store(tmp_path / "absent.gpkg", create=False)


def test_gdal_opens_the_store_as_a_geopackage(seeded: Store, store_path: Path) -> None:
    ogrinfo = shutil.which("ogrinfo")
    assert ogrinfo, "ogrinfo (Debian gdal-bin) is installed by scripts/test"
    seeded.close()
    program: str = ogrinfo

    def read_only(*args: str) -> str:
        """What ``ogrinfo -ro ARGS`` prints about the store."""
        done = subprocess.run([program, "-ro", *args], capture_output=True, text=True, check=True)
        return done.stdout

    listing = read_only("-q", str(store_path))
    for layer in ("land_conclusions", "contract_parcels", "rehab_zones", "licences"):
        assert f"{layer} (Multi Polygon)" in listing
    summary = read_only("-so", str(store_path), "contract_parcels")
    assert "Feature Count: 1" in summary
    assert "WGS 84" in summary
    # the rtree spatial index answers GDAL's own bbox filter
    far = read_only("-q", "-spat", "110", "45", "111", "46", str(store_path), "contract_parcels")
    assert "OGRFeature" not in far
    bounds = map(str, f.parcel()["geometry"].bounds)
    near = read_only("-q", "-spat", *bounds, str(store_path), "contract_parcels")
    assert "id (String) = P-1" in near


_WRITER = """
import sys
import geopandas as gpd, shapely
from layers.store import open_store
path, who, batches, per = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = open_store(path)
for b in range(batches):
    ids = [f"{who}-{b}-{i}" for i in range(per)]
    geoms = [shapely.box(106 + i * 1e-3, 48, 106 + i * 1e-3 + 5e-4, 48.0005) for i in range(per)]
    frame = gpd.GeoDataFrame({"id": ids, "kind": ["other"] * per, "name": [who] * per},
                             geometry=geoms, crs="EPSG:4326")
    store.write({"exclusions": frame})
store.close()
"""


def test_four_writer_processes_lose_nothing(store_path: Path) -> None:
    open_store(store_path).close()
    batches, per = 40, 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(store_path), f"w{k}", str(batches), str(per)]
        )
        for k in range(4)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    with open_store(store_path) as s:
        frame = s.read("exclusions")
        assert len(frame) == 4 * batches * per
        assert frame["id"].is_unique
        assert frame["name"].value_counts().to_dict() == {f"w{k}": batches * per for k in range(4)}
        con = sqlite3.connect(store_path)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rtree = con.execute('SELECT count(*) FROM "rtree_exclusions_geom"').fetchone()[0]
        con.close()
        assert rtree == 4 * batches * per


def test_a_crash_mid_write_leaves_the_store_as_it_was(seeded: Store, store_path: Path) -> None:
    before = snapshot(seeded)
    proc = subprocess.run(
        [sys.executable, "-c", f.crashing_writer("gpkg"), str(store_path)], check=False
    )
    assert proc.returncode == -9
    with open_store(store_path) as again:
        assert snapshot(again) == before


def test_multipolygon_round_trip(store: Store) -> None:
    two = shapely.MultiPolygon([f.utm_box(0, 0, 10, 10), f.utm_box(50, 0, 10, 10)])
    store.write({"exclusions": f.frame("exclusions", [f.exclusion("M", geometry=two)])})
    got = store.get("exclusions", "M").iloc[0]["geometry"]
    assert got.geom_type == "MultiPolygon"
    assert got.equals_exact(two, tolerance=1e-12)
