"""Import from files as people hand them over: every bad input is refused with a message that
names the problem, and the store is left exactly as it was."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from layers.store import Store
from tests import factories as f
from tests.conftest import SHARED, snapshot

runner = CliRunner()


def gazar(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def feature(props: dict[str, Any], geom: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": None if geom is None else shapely.geometry.mapping(geom),
    }


def geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


def lc_props(fid: str = "LC-9", **kw: Any) -> dict[str, Any]:
    props = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v)
        for k, v in f.land_conclusion(fid).items()
    }
    props.pop("geometry")
    props.update(kw)
    return props


def parcel_props(fid: str = "P-9", **kw: Any) -> dict[str, Any]:
    props = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in f.parcel(fid).items()}
    props.pop("geometry")
    props.update(kw)
    return props


BOX = f.utm_box(3000, 3000, 150, 150)


def lc_file(tmp: Path, props: dict[str, Any] | None = None, geom: Any = BOX) -> Path:
    return geojson(tmp / "in.geojson", [feature(props or lc_props(), geom)])


def _write(frame: gpd.GeoDataFrame, path: Path, **kw: Any) -> Path:
    import pyogrio

    pyogrio.write_dataframe(frame, path, **kw)
    return path


def _nan_fgb(tmp: Path) -> Path:
    ring = np.array([[106.5, 48.8], [np.nan, 48.8], [106.51, 48.81], [106.5, 48.8]])
    g = gpd.GeoDataFrame({"id": ["LC-9"]}, geometry=[shapely.Polygon(ring)], crs="EPSG:4326")
    for k, v in lc_props().items():
        g[k] = [v]
    return _write(g, tmp / "nan.gpkg")


def _inf_csv(tmp: Path) -> Path:
    p = tmp / "inf.csv"
    cols = lc_props()
    header = ",".join([*cols, "wkt"])
    row = ",".join([str(v) if v is not None else "" for v in cols.values()])
    p.write_text(
        f'{header}\n{row},"POLYGON ((106.5 48.8, inf 48.8, 106.51 48.81, 106.5 48.8))"\n', "utf-8"
    )
    return p


def _shp_without_prj(tmp: Path) -> Path:
    g = gpd.GeoDataFrame([lc_props()], geometry=[BOX], crs="EPSG:4326")
    path = _write(g.drop(columns=["khural_approved_on"]), tmp / "noprj.shp")
    path.with_suffix(".prj").unlink()
    return path


def _zip_without_shp(tmp: Path) -> Path:
    p = tmp / "parcels.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("readme.txt", "no shapefile here")
    return p


def _two_layer_gpkg(tmp: Path) -> Path:
    g = gpd.GeoDataFrame([lc_props()], geometry=[BOX], crs="EPSG:4326")
    p = tmp / "two.gpkg"
    _write(g, p, layer="a")
    _write(g, p, layer="b", append=False)
    return p


def _corner_csv(tmp: Path, body: str) -> Path:
    p = tmp / "corners.csv"
    p.write_text("id,point,lon,lat,kind,name\n" + body, "utf-8")
    return p


def _latin1_csv(tmp: Path) -> Path:
    p = tmp / "latin1.csv"
    p.write_bytes(
        'id,wkt,name\nX,"POLYGON ((106 48, 106.1 48, 106.1 48.1, 106 48))",Caf\xe9\n'.encode(
            "latin-1"
        )
    )
    return p


# (case name, layer, file factory, extra CLI args, text the message must contain)
Case = tuple[str, str, Callable[[Path], Path], list[str], str]
CASES: list[Case] = [
    ("missing file", "land_conclusions", lambda t: t / "nope.geojson", [], "no such file"),
    (
        "unknown file type",
        "land_conclusions",
        lambda t: (t / "a.txt").write_text("x") and t / "a.txt",
        [],
        "unknown file type '.txt'",
    ),
    (
        "broken json",
        "land_conclusions",
        lambda t: (t / "b.geojson").write_text("{ not json") and t / "b.geojson",
        [],
        "cannot be read as GeoJSON",
    ),
    ("no features", "land_conclusions", lambda t: geojson(t / "e.geojson", []), [], "no features"),
    (
        "required column missing",
        "land_conclusions",
        lambda t: lc_file(t, {k: v for k, v in lc_props().items() if k != "status"}),
        [],
        "required column 'status' is missing",
    ),
    (
        "id column missing",
        "land_conclusions",
        lambda t: lc_file(t, {k: v for k, v in lc_props().items() if k != "id"}),
        [],
        "required column 'id' is missing",
    ),
    ("empty id", "land_conclusions", lambda t: lc_file(t, lc_props(id="")), [], "id is missing"),
    (
        "duplicate ids",
        "land_conclusions",
        lambda t: geojson(
            t / "d.geojson",
            [
                feature(lc_props("A"), BOX),
                feature(lc_props("A", name="other"), f.utm_box(9000, 0, 10, 10)),
            ],
        ),
        [],
        "duplicate id 'A' (also feature #0)",
    ),
    (
        "id already stored",
        "land_conclusions",
        lambda t: lc_file(t, lc_props("LC-1")),
        [],
        "id 'LC-1' is already in the store",
    ),
    (
        "unknown status",
        "land_conclusions",
        lambda t: lc_file(t, lc_props(status="approved-ish")),
        [],
        "unknown value 'approved-ish'; allowed: proposed, khural_approved",
    ),
    (
        "unknown requested_by",
        "land_conclusions",
        lambda t: lc_file(t, lc_props(requested_by="governor")),
        [],
        "field 'requested_by': unknown value 'governor'",
    ),
    (
        "unparseable date",
        "land_conclusions",
        lambda t: lc_file(t, lc_props(proposed_on="31/31/2024")),
        [],
        "'31/31/2024' is not a date",
    ),
    (
        "required value empty",
        "land_conclusions",
        lambda t: lc_file(t, lc_props(name=None)),
        [],
        "required value 'name' is empty",
    ),
    (
        "members not a number",
        "contract_parcels",
        lambda t: geojson(
            t / "p.geojson",
            [feature(parcel_props(members_women="many"), f.utm_box(500, 500, 100, 100))],
        ),
        [],
        "'many' is not a number",
    ),
    (
        "members negative",
        "contract_parcels",
        lambda t: geojson(
            t / "p.geojson", [feature(parcel_props(members_men=-2), f.utm_box(500, 500, 100, 100))]
        ),
        [],
        "-2 is below the minimum 0",
    ),
    (
        "members fractional",
        "contract_parcels",
        lambda t: geojson(
            t / "p.geojson", [feature(parcel_props(members_men=2.5), f.utm_box(500, 500, 100, 100))]
        ),
        [],
        "'2.5' is not a whole number",
    ),
    (
        "unknown holder_type",
        "contract_parcels",
        lambda t: geojson(
            t / "p.geojson",
            [feature(parcel_props(holder_type="company"), f.utm_box(500, 500, 100, 100))],
        ),
        [],
        "unknown value 'company'",
    ),
    (
        "dangling reference",
        "contract_parcels",
        lambda t: geojson(
            t / "p.geojson",
            [feature(parcel_props(land_conclusion_id="LC-404"), f.utm_box(500, 500, 100, 100))],
        ),
        [],
        "refers to land_conclusions 'LC-404', which does not exist",
    ),
    (
        "dangling rehab reference",
        "rehab_zones",
        lambda t: geojson(
            t / "r.geojson",
            [
                feature(
                    {"id": "R-9", "parcel_id": "P-404", "holder": "x", "stage": "required"},
                    f.utm_box(500, 500, 10, 10),
                )
            ],
        ),
        [],
        "refers to contract_parcels 'P-404'",
    ),
    (
        "point geometry",
        "land_conclusions",
        lambda t: lc_file(t, geom=shapely.Point(106.5, 48.8)),
        [],
        "geometry is a Point; this layer needs Polygon or MultiPolygon",
    ),
    (
        "line geometry",
        "land_conclusions",
        lambda t: lc_file(t, geom=shapely.LineString([(106.5, 48.8), (106.6, 48.9)])),
        [],
        "geometry is a LineString",
    ),
    ("null geometry", "land_conclusions", lambda t: lc_file(t, geom=None), [], "empty geometry"),
    ("NaN coordinate", "land_conclusions", _nan_fgb, [], "coordinates contain NaN or Infinity"),
    (
        "Infinity coordinate",
        "land_conclusions",
        _inf_csv,
        ["--crs", "EPSG:4326"],
        "coordinates contain NaN or Infinity",
    ),
    (
        "outside Mongolia",
        "land_conclusions",
        lambda t: lc_file(t, geom=shapely.box(116.3, 39.9, 116.4, 40.0)),
        [],
        "coordinates outside Mongolia",
    ),
    (
        "swapped lat/lon",
        "land_conclusions",
        lambda t: lc_file(t, geom=shapely.box(48.8, 106.5, 48.81, 106.51)),
        [],
        "latitude and longitude look swapped",
    ),
    (
        "antimeridian",
        "land_conclusions",
        lambda t: lc_file(
            t, geom=shapely.Polygon([(179.9, 48), (-179.9, 48), (-179.9, 48.1), (179.9, 48.1)])
        ),
        [],
        "crosses the antimeridian",
    ),
    (
        "projected metres, wrong CRS",
        "land_conclusions",
        lambda t: lc_file(t, geom=shapely.box(500000, 5400000, 500100, 5400100)),
        [],
        "look like projected metres",
    ),
    (
        "csv wkt without crs",
        "exclusions",
        lambda t: (
            (t / "w.csv").write_text(
                'id,kind,wkt\nX,other,"POLYGON ((106 48, 106.1 48, 106.1 48.1, 106 48))"\n'
            )
            and t / "w.csv"
        ),
        [],
        "declares no coordinate reference system",
    ),
    (
        "bad wkt",
        "exclusions",
        lambda t: (
            (t / "w.csv").write_text('id,kind,wkt\nX,other,"POLYGON ((106 48, 106.1"\n')
            and t / "w.csv"
        ),
        ["--crs", "EPSG:4326"],
        "not valid WKT (CSV row 2)",
    ),
    (
        "shapefile without .prj",
        "land_conclusions",
        _shp_without_prj,
        [],
        "declares no coordinate reference system",
    ),
    ("zip without shapefile", "land_conclusions", _zip_without_shp, [], "holds no .shp file"),
    (
        "csv neither wkt nor corners",
        "exclusions",
        lambda t: (t / "n.csv").write_text("a,b\n1,2\n") and t / "n.csv",
        [],
        "needs either a WKT column",
    ),
    (
        "corner list bad DMS",
        "exclusions",
        lambda t: _corner_csv(
            t,
            "X,1,106 27 30,48 61 00,other,a\nX,2,106 28 30,48 50 00,other,a\nX,3,106 28 30,48 51 00,other,a\n",
        ),
        [],
        "48 61 00",
    ),
    (
        "corner list two corners",
        "exclusions",
        lambda t: _corner_csv(t, "X,1,106.5,48.8,other,a\nX,2,106.6,48.8,other,a\n"),
        [],
        "id=X: only 2 distinct corner(s)",
    ),
    (
        "map to unknown field",
        "land_conclusions",
        lc_file,
        ["--map", "colour=name"],
        "'colour' is not a field of land_conclusions",
    ),
    (
        "map from absent column",
        "land_conclusions",
        lc_file,
        ["--map", "name=NAME_MN"],
        "the file has no column 'NAME_MN'",
    ),
    (
        "malformed map",
        "land_conclusions",
        lc_file,
        ["--map", "name"],
        "must look like FIELD=SOURCE_COLUMN",
    ),
    (
        "bad crs",
        "land_conclusions",
        lc_file,
        ["--crs", "EPSG:999999"],
        "is not a coordinate reference system",
    ),
    (
        "gpkg with several layers",
        "land_conclusions",
        _two_layer_gpkg,
        [],
        "holds several layers (a, b)",
    ),
    ("not utf-8 csv", "exclusions", _latin1_csv, ["--crs", "EPSG:4326"], "not UTF-8"),
    ("unknown layer", "parcels", lc_file, [], "unknown layer 'parcels'"),
    (
        "unrepairable geometry",
        "land_conclusions",
        lambda t: lc_file(
            t, geom=shapely.Polygon([(106.5, 48.8), (106.6, 48.9), (106.5, 48.8), (106.5, 48.8)])
        ),
        [],
        "cannot be repaired",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_nothing_is_written(
    case: Case, seeded: Store, store_path: Path, tmp_path: Path
) -> None:
    # on the GeoPackage only (store_path): the checks refuse these before the store is written,
    # whichever backend; the other import tests below run on both
    _, layer, make, extra, expected = case
    path = make(tmp_path)
    before = snapshot(seeded)
    result = gazar("import", layer, str(path), "--db", str(store_path), *extra)
    message = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code != 0, message
    assert expected in " ".join(message.split()), message
    assert snapshot(seeded) == before


def test_there_are_at_least_thirty_distinct_bad_inputs() -> None:
    assert len({c[0] for c in CASES}) >= 30


def test_every_problem_is_listed_at_once(seeded: Store, tmp_path: Path) -> None:
    path = geojson(
        tmp_path / "many.geojson",
        [
            feature(lc_props("A", status="nope"), BOX),
            feature(lc_props("B", proposed_on="yesterday"), shapely.Point(106.5, 48.8)),
            feature(lc_props("C"), shapely.box(48.8, 106.5, 48.81, 106.51)),
        ],
    )
    result = gazar("import", "land_conclusions", str(path), "--db", seeded.location)
    assert result.exit_code == 1
    text = result.output
    assert "3 problem(s)" in text or "4 problem(s)" in text
    assert "feature #0, id=A, field 'status'" in text
    assert "feature #1, id=B, field 'proposed_on'" in text
    assert "feature #1, id=B, field 'geometry'" in text
    assert "feature #2, id=C, field 'geometry'" in text
    assert "nothing was written" in text


def test_self_intersection_is_repaired_and_reported(seeded: Store, tmp_path: Path) -> None:
    b = f.utm_box(4000, 4000, 100, 100).bounds
    bowtie = shapely.Polygon([(b[0], b[1]), (b[2], b[3]), (b[2], b[1]), (b[0], b[3])])
    path = lc_file(tmp_path, lc_props("LC-bow"), bowtie)
    result = gazar("import", "land_conclusions", str(path), "--db", seeded.location)
    assert result.exit_code == 0, result.output
    assert "id=LC-bow, field 'geometry': invalid geometry (Self-intersection" in " ".join(
        result.output.split()
    )
    stored = seeded.get("land_conclusions", "LC-bow").iloc[0]["geometry"]
    assert stored.is_valid
    assert stored.area == pytest.approx(shapely.make_valid(bowtie).area)


def test_dry_run_writes_nothing(seeded: Store, tmp_path: Path) -> None:
    before = snapshot(seeded)
    result = gazar(
        "import", "land_conclusions", str(lc_file(tmp_path)), "--dry-run", "--db", seeded.location
    )
    assert result.exit_code == 0, result.output
    assert "nothing was written" in result.output
    assert snapshot(seeded) == before
    result = gazar("validate", "land_conclusions", str(lc_file(tmp_path)), "--db", seeded.location)
    assert result.exit_code == 0
    assert snapshot(seeded) == before


def test_labels_in_either_language_are_accepted(seeded: Store, tmp_path: Path) -> None:
    path = geojson(
        tmp_path / "labels.geojson",
        [
            feature(lc_props("LC-mn", status="Олгосон"), f.utm_box(3000, 0, 100, 100)),
            feature(lc_props("LC-en", status="Under review"), f.utm_box(3200, 0, 100, 100)),
        ],
    )
    assert gazar("import", "land_conclusions", str(path), "--db", seeded.location).exit_code == 0
    got = seeded.read("land_conclusions", ids=["LC-mn", "LC-en"]).set_index("id")["status"]
    assert got.to_dict() == {"LC-mn": "issued", "LC-en": "under_review"}


def test_utm_file_is_reprojected(seeded: Store, tmp_path: Path) -> None:
    box = f.utm_box(6000, 6000, 100, 100)
    utm = gpd.GeoDataFrame([lc_props("LC-utm")], geometry=[box], crs="EPSG:4326").to_crs(
        "EPSG:32648"
    )
    path = _write(utm, tmp_path / "utm.gpkg")
    result = gazar("import", "land_conclusions", str(path), "--db", seeded.location)
    assert result.exit_code == 0, result.output
    assert "reprojected from EPSG:32648" in result.output
    got = seeded.get("land_conclusions", "LC-utm").iloc[0]["geometry"]
    assert got.equals_exact(box, tolerance=1e-9)


def test_replace_refuses_to_orphan_parcels(seeded: Store, tmp_path: Path) -> None:
    before = snapshot(seeded)
    result = gazar(
        "import",
        "land_conclusions",
        str(lc_file(tmp_path, lc_props("LC-2"))),
        "--replace",
        "--db",
        seeded.location,
    )
    assert result.exit_code == 1
    assert "would leave 1 feature(s) of contract_parcels pointing at ids" in " ".join(
        result.output.split()
    )
    assert snapshot(seeded) == before


def test_replace_swaps_the_layer(seeded: Store, tmp_path: Path) -> None:
    path = geojson(
        tmp_path / "x.geojson",
        [feature({"id": "X-9", "kind": "settlement", "name": "Түнхэл"}, BOX)],
    )
    result = gazar("import", "exclusions", str(path), "--replace", "--db", seeded.location)
    assert result.exit_code == 0, result.output
    assert seeded.ids("exclusions") == {"X-9"}


def test_real_soums_import_as_published(store: Store) -> None:
    src = SHARED / "hdx_codab_mng_v3" / "mng_adm2_soums.geojson"
    result = gazar(
        "import", "soums", str(src), "--db", store.location,
        "--map", "id=ADM2_PCODE", "--map", "name_en=ADM2_EN",
        "--map", "name_mn=ADM2_MN_from_eiti", "--map", "aimag_code=ADM1_PCODE",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    soums = store.read("soums")
    assert len(soums) == 339
    mandal = soums.set_index("id").loc["MN4322"]
    assert (mandal["name_en"], mandal["name_mn"], mandal["aimag_code"]) == (
        "Mandal",
        "Мандал",
        "MN43",
    )


def test_real_eiti_licences_import(store: Store) -> None:
    src = SHARED / "eiti_mongolia_licenses" / "eiti_mongolia_mineral_licenses_2019.geojson"
    refused = gazar(
        "import", "licences", str(src), "--map", "id=LICENSE_NUMBER", "--db", store.location
    )
    assert refused.exit_code == 1
    assert "--duplicate-ids drop-identical" in refused.output
    assert store.layers()[6].count == 0
    result = gazar(
        "import", "licences", str(src), "--map", "id=LICENSE_NUMBER",
        "--duplicate-ids", "drop-identical", "--db", store.location,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "8 exact repeat(s) dropped" in result.output
    assert "id=XV-00020535, field 'geometry': invalid geometry" in " ".join(result.output.split())
    lic = store.read("licences")
    assert len(lic) == 3447 - 8
    assert lic["kind"].value_counts().to_dict() == {"XV": 1715, "MV": 1697, "other": 27}
    one = lic.set_index("id").loc["MV-00021252"]
    assert (one["holder"], one["reported_ha"]) == ("UMNIIN GOVIIN BAYALAG", 49.2816)
    assert lic.geometry.is_valid.all()


def test_msk1942_gauss_kruger_file_is_reprojected(seeded: Store, tmp_path: Path) -> None:
    """Legacy MSK-1942 (Pulkovo 1942 / Gauss-Krüger zone 18) data lands where it belongs."""
    box = f.utm_box(7000, 7000, 250, 250)
    gk = gpd.GeoDataFrame([lc_props("LC-gk")], geometry=[box], crs="EPSG:4326").to_crs("EPSG:28418")
    assert gk.total_bounds[0] > 18_000_000  # false easting carries the zone number
    path = _write(gk, tmp_path / "msk42.shp")
    result = gazar("import", "land_conclusions", str(path), "--db", seeded.location)
    assert result.exit_code == 0, result.output
    assert "reprojected from EPSG:28418" in result.output
    got = seeded.get("land_conclusions", "LC-gk").iloc[0]["geometry"]
    assert shapely.normalize(got).equals_exact(shapely.normalize(box), tolerance=1e-7)
