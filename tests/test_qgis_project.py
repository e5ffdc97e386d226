"""``gazar qgis-project`` without QGIS: the .qgz holds one .qgs with every layer grouped, styled
with the layers' QML and read from the GeoPackage, PostGIS or a server's OGC API (QGIS itself
opens the projects in tests/test_qgis.py); bad --out and --url are refused by name, nothing
written."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner, Result

from api.cli import app
from api.services.qgis_project import FEATURES_FROM_SCALE, Source, datasource
from layers.labels import label
from layers.qgis_styles import categories, layer_paint, qml
from layers.schema import REGISTRY
from layers.store import open_store
from web.maps.styles import RemoteLoading

CORE = ["gazar_rehab_zones", "gazar_contract_parcels", "gazar_land_conclusions"]
REFERENCE = {f"gazar_{n}" for n, kind in REGISTRY.items() if kind.role == "reference"}


def gazar(*argv: str) -> Result:
    return CliRunner().invoke(app, list(argv))


@pytest.fixture
def gpkg(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "g.gpkg"
    path.parent.mkdir()
    open_store(path, create=True).close()
    return path


def project(path: Path) -> ET.Element:
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [f"{path.stem}.qgs"]
        return ET.fromstring(archive.read(f"{path.stem}.qgs"))


def groups(root: ET.Element) -> dict[str, list[str]]:
    tree = root.find("layer-tree-group")
    assert tree is not None
    return {
        g.get("name", ""): [n.get("id", "") for n in g.findall("layer-tree-layer")]
        for g in tree.findall("layer-tree-group")
    }


def check_reference(listed: list[str]) -> None:
    assert set(listed) == REFERENCE
    # outlines (aimags) above the filled soums, so no fill hides them
    assert listed.index("gazar_aimags") < listed.index("gazar_soums")
    # the background's points above its lines above its water, all above the areas' fills
    order = [listed.index(f"gazar_{n}") for n in ("settlements", "roads", "water", "soums")]
    assert order == sorted(order)


#: QGIS's geometry family of each declared type
FAMILY = {"MultiPolygon": "Polygon", "MultiLineString": "Line", "Point": "Point"}


def map_layers(root: ET.Element) -> dict[str, ET.Element]:
    return {el.findtext("id", ""): el for el in root.iter("maplayer")}


def test_the_file_project_groups_and_styles_every_layer(gpkg: Path, tmp_path: Path) -> None:
    out = tmp_path / "gazar.qgz"
    done = gazar("qgis-project", "--out", str(out), "--db", str(gpkg))
    assert done.exit_code == 0, done.output
    assert not (tmp_path / "gazar.qgz.part").exists()
    root = project(out)
    assert root.findtext("title") == label("qgis_group", "project", "mn")
    tree = groups(root)
    assert list(tree) == [label("qgis_group", g, "mn") for g in ("core", "reference")]
    assert tree[label("qgis_group", "core", "mn")] == CORE
    check_reference(tree[label("qgis_group", "reference", "mn")])
    layers = map_layers(root)
    assert set(layers) == {f"gazar_{n}" for n in REGISTRY}
    for name in REGISTRY:
        el = layers[f"gazar_{name}"]
        assert el.findtext("datasource") == f"./data/g.gpkg|layername={name}"  # relative
        assert el.findtext("provider") == "ogr"
        declared = REGISTRY[name].geometry
        assert el.get("wkbType") == declared and el.get("geometry") == FAMILY[declared], name
        assert el.findtext("layername") == label("layer", name, "mn")
        assert el.findtext("srs/spatialrefsys/authid") == "EPSG:4326"
        style = ET.fromstring(qml(name, "mn")).find("renderer-v2")
        assert style is not None
        renderer = el.find("renderer-v2")
        assert renderer is not None
        assert ET.tostring(renderer) == ET.tostring(style), name  # the layer's QML, as it is
    paths = root.find("properties/Paths/Absolute")
    assert paths is not None and paths.text == "false"


def test_the_english_project_and_a_rewrite_replace_the_file(gpkg: Path, tmp_path: Path) -> None:
    out = tmp_path / "gazar.qgz"
    out.write_bytes(b"an older project")
    done = gazar("qgis-project", "--out", str(out), "--db", str(gpkg), "--lang", "en")
    assert done.exit_code == 0, done.output
    root = project(out)
    assert list(groups(root)) == ["Gazar layers", "Reference layers"]
    parcels = map_layers(root)["gazar_contract_parcels"]
    assert parcels.findtext("layername") == label("layer", "contract_parcels", "en")
    assert [c.get("label") for c in parcels.iter("category")][:2] == ["Applied", "Active"]


def test_the_postgis_project_names_the_tables_without_the_password(
    pg_database: str, tmp_path: Path
) -> None:
    with open_store(pg_database):
        pass  # a Gazar store
    parts = urlsplit(pg_database)
    url = parts._replace(netloc=f"{parts.username}:s3cret@{parts.hostname}:{parts.port}").geturl()
    out = tmp_path / "pg.qgz"
    done = gazar("qgis-project", "--out", str(out), "--db", url)
    assert done.exit_code == 0, done.output
    raw = zipfile.ZipFile(out).read("pg.qgs").decode()
    assert "s3cret" not in raw
    el = map_layers(project(out))["gazar_contract_parcels"]
    assert el.findtext("provider") == "postgres"
    assert el.findtext("datasource") == (
        f"dbname='{parts.path.lstrip('/')}' host='{parts.hostname}' port='{parts.port}' "
        f"user='{parts.username}' sslmode=prefer key='fid' srid=4326 type=MultiPolygon "
        """checkPrimaryKeyUnicity='0' table="public"."contract_parcels" (geom)"""
    )


def test_a_postgis_schema_from_the_url_names_the_tables() -> None:
    url = "postgresql://planner:s3cret@db.example:5433/gazar?options=-csearch_path%3Dgz,public"
    uri = datasource(Source("postgis", url), "soums", Path("/"))
    assert uri == (
        "dbname='gazar' host='db.example' port='5433' user='planner' sslmode=prefer key='fid' "
        """srid=4326 type=MultiPolygon checkPrimaryKeyUnicity='0' table="gz"."soums" (geom)"""
    )


def test_the_server_project_adds_the_derived_collections(tmp_path: Path) -> None:
    out = tmp_path / "api.qgz"
    done = gazar("qgis-project", "--out", str(out), "--url", "http://127.0.0.1:8000/")
    assert done.exit_code == 0, done.output
    root = project(out)
    tree = groups(root)
    assert list(tree) == [
        label("qgis_group", g, "mn") for g in ("tiles", "derived", "core", "reference")
    ]
    assert tree[label("qgis_group", "derived", "mn")] == ["gazar_overlaps", "gazar_available_land"]
    assert tree[label("qgis_group", "core", "mn")] == CORE
    check_reference(tree[label("qgis_group", "reference", "mn")])
    # the overview: the large layers' tiles, in the tree's order of their features
    tiled = [f"gazar_tiles_{n}" for n in ("overlaps", "available_land", "rehab_zones",
             "contract_parcels", "land_conclusions", "licences", "exclusions")]  # fmt: skip
    assert tree[label("qgis_group", "tiles", "mn")] == tiled
    layers = map_layers(root)
    for layer_id, el in layers.items():
        if layer_id.startswith("gazar_tiles_"):
            continue
        name = layer_id.removeprefix("gazar_")
        assert el.findtext("provider") == "OAPIF"
        assert el.findtext("datasource") == (
            f"url='http://127.0.0.1:8000' typename='{name}' pagingEnabled='true'"
        )
        kind = REGISTRY.get(name)
        assert el.get("wkbType") == ("MultiPolygon" if kind is None else kind.geometry)
        # a layer with tiles draws its features zoomed in only, the others at every scale
        switched = f"gazar_tiles_{name}" in tiled
        assert el.get("hasScaleBasedVisibilityFlag") == ("1" if switched else "0"), name
        if switched:
            assert el.get("minScale") == str(FEATURES_FROM_SCALE)
    for layer_id in tiled:
        el, name = layers[layer_id], layer_id.removeprefix("gazar_tiles_")
        assert el.get("type") == "vector-tile" and el.findtext("provider") == "vectortile"
        assert el.findtext("datasource") == (
            "type=xyz&url=http://127.0.0.1:8000/collections/"
            f"{name}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}&zmax=14&zmin=0"
        )
        # the complement of the features' range: tiles from 1:200,000 out
        assert el.get("maxScale") == str(FEATURES_FROM_SCALE) and el.get("minScale") == "0"
        styles = el.findall("renderer/styles/style")
        assert {s.get("layer") for s in styles} == {name}  # the tile's layer: the collection
        cats = categories(name, "mn") if name in REGISTRY else []
        if cats:  # one style per category (the legend in Mongolian), and one for the rest
            assert [s.get("name") for s in styles[1:]] == [text for _v, text, _p in cats]
            key = layer_paint(name).key
            assert [s.get("expression") for s in styles[1:]] == [
                f"\"{key}\" = '{v}'" for v, _t, _p in cats
            ]
            assert styles[0].get("expression", "").startswith(f'"{key}" IS NULL OR')
        else:
            assert len(styles) == 1 and styles[0].get("expression") == ""
        colours = [s.find("symbols/symbol/layer/prop[@k='color']") for s in styles]
        assert all(c is not None for c in colours)


def test_the_overview_switches_where_the_web_map_does() -> None:
    """The tiles give way to the features at the web map's zoom 11, taken at Mongolia's middle
    latitude (QGIS measures scale on the ground; a Web Mercator pixel shrinks by cos lat)."""
    zoom = RemoteLoading.__dataclass_fields__["min_zoom"].default
    at_47 = 559_082_264.0287178 / 2**zoom * math.cos(math.radians(47)) * 96 / 90.7142857
    assert abs(at_47 - FEATURES_FROM_SCALE) / FEATURES_FROM_SCALE < 0.05


@pytest.mark.parametrize(
    ("out", "extra", "told"),
    [
        ("gazar.txt", [], "must end in .qgz"),
        ("missing/gazar.qgz", [], "no such folder"),
        ("folder.qgz", [], "is a folder"),
        ("gazar.qgz", ["--url", "http://x' y"], "--url"),
    ],
)
def test_bad_out_or_url_is_refused_by_name_and_nothing_written(
    gpkg: Path, tmp_path: Path, out: str, extra: list[str], told: str
) -> None:
    (tmp_path / "folder.qgz").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    done = gazar("qgis-project", "--out", str(tmp_path / out), "--db", str(gpkg), *extra)
    assert done.exit_code != 0
    assert told in done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_the_project_opens_at_gazars_own_layers(gpkg: Path, tmp_path: Path) -> None:
    from shapely import box

    from tests import factories as f

    with open_store(gpkg) as store:
        store.write(
            {
                "soums": f.frame("soums", [f.soum(geometry=box(105.0, 46.0, 108.0, 48.5))]),
                "land_conclusions": f.frame(
                    "land_conclusions", [f.land_conclusion(geometry=box(106.2, 47.1, 106.4, 47.2))]
                ),
            }
        )
    out = tmp_path / "gazar.qgz"
    assert gazar("qgis-project", "--out", str(out), "--db", str(gpkg)).exit_code == 0
    view = project(out).find("ProjectViewSettings/DefaultViewExtent")
    assert view is not None  # the Land Conclusion's bounds, not the soum's
    got = [float(view.get(k, "nan")) for k in ("xmin", "ymin", "xmax", "ymax")]
    assert got == pytest.approx([106.2, 47.1, 106.4, 47.2])
    assert view.findtext("spatialrefsys/authid") == "EPSG:4326"
    canvas = project(out).find("mapcanvas/extent")
    assert canvas is not None and float(canvas.findtext("xmin", "nan")) == pytest.approx(106.2)
    # an empty store: no extent (QGIS opens at the layers' full extent)
    empty = tmp_path / "empty.gpkg"
    open_store(empty).close()
    assert gazar("qgis-project", "--out", str(out), "--db", str(empty)).exit_code == 0
    assert project(out).find("ProjectViewSettings") is None
