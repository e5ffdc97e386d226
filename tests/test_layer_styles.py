"""layers.qgis_styles and layers.style_table: every layer's QGIS style in ``layer_styles``.

The store tests run on both backends (``store_location``); the rows are read back with sqlite3 or
psycopg, as QGIS reads them.
"""

from __future__ import annotations

import re
import sqlite3
import xml.etree.ElementTree as ET
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import app
from layers.labels import LABELS
from layers.qgis_styles import LABEL_ZOOM, PAINTS, qml, sld
from layers.schema import REGISTRY
from layers.store import open_store
from layers.style_table import OWNER, STYLE_NAMES, STYLE_TABLE, write_styles
from web.maps.styles import LOOKS

SE = "{http://www.opengis.net/se}"
OGC = "{http://www.opengis.net/ogc}"
CYRILLIC = re.compile("[\u0400-\u04ff]")
COLUMNS = [
    "id",
    "f_table_catalog",
    "f_table_schema",
    "f_table_name",
    "f_geometry_column",
    "stylename",
    "styleqml",
    "stylesld",
    "useasdefault",
    "description",
    "owner",
    "ui",
    "update_time",
]
CODED = {k: PAINTS[k].key for k in REGISTRY if PAINTS[k].key is not None}


def _rows(location: str) -> list[dict[str, Any]]:
    query = (
        "SELECT f_table_name, styleName, styleQML, styleSLD, useAsDefault, owner, description, "
        f"f_geometry_column FROM {STYLE_TABLE} ORDER BY id"
    )
    keys = ["table", "name", "qml", "sld", "default", "owner", "description", "geom"]
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as pg:
            rows = pg.execute(query.replace("styleQML", "styleQML::text").replace(
                "styleSLD", "styleSLD::text")).fetchall()  # fmt: skip
    else:
        with sqlite3.connect(location) as conn:
            rows = conn.execute(query).fetchall()
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _columns(location: str) -> list[str]:
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as pg:
            found = pg.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position",
                (STYLE_TABLE,),
            ).fetchall()
        return [r[0] for r in found]
    with sqlite3.connect(location) as conn:
        return [r[1].lower() for r in conn.execute(f"PRAGMA table_info({STYLE_TABLE})")]


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return ",".join(str(int(h[i : i + 2], 16)) for i in (0, 2, 4)) + f",{round(alpha * 255)}"


def _categories(doc: str) -> tuple[str | None, str | None, list[tuple[str, str, dict[str, str]]]]:
    """(renderer type, field, [(value, label, symbol props)]) of a QML document."""
    renderer = ET.fromstring(doc).find("renderer-v2")
    assert renderer is not None
    symbols = {
        s.get("name"): {p.get("k", ""): p.get("v", "") for p in s.iter("prop")}
        for s in renderer.findall("symbols/symbol")
    }
    cats = [
        (c.get("value") or "", c.get("label") or "", symbols[c.get("symbol")])
        for c in renderer.iter("category")
    ]
    return renderer.get("type"), renderer.get("attr"), cats


def test_the_palette_is_the_web_maps() -> None:
    """The web map's looks are drawn from the palette the QGIS styles use, value for value."""
    for layer, look in LOOKS.items():
        paint = PAINTS[layer]
        assert paint.key == look.key, layer
        if paint.key is not None:
            assert REGISTRY[layer].field(paint.key).enum == look.group
        pairs = [(paint.default, look.style)] + [
            (paint.values[v], s) for v, s in look.styles.items()
        ]
        for p, s in pairs:
            assert p.line == s["color"] and p.width == s.get("weight", 3), (layer, s)
            if s.get("fill", True):
                assert p.fill == s["fillColor"] and p.opacity == s["fillOpacity"], (layer, s)
            else:
                assert p.fill is None
            dash = tuple(float(d) for d in s["dashArray"].split()) if "dashArray" in s else ()
            assert p.dash == dash, (layer, s)
    assert set(REGISTRY) <= set(PAINTS)


@pytest.mark.parametrize("layer", sorted(CODED))
def test_qml_is_categorised_with_the_web_maps_colours(layer: str) -> None:
    key = CODED[layer]
    group = REGISTRY[layer].field(key).enum
    assert group is not None
    for lang in ("mn", "en"):
        kind, attr, cats = _categories(qml(layer, lang))
        assert (kind, attr) == ("categorizedSymbol", key)
        assert [v for v, _, _ in cats] == list(LABELS[group])
        for value, text, props in cats:
            look = LOOKS[layer].styles.get(value, LOOKS[layer].style)
            assert props["color"] == _rgba(look["fillColor"], look["fillOpacity"])
            assert props["outline_color"] == _rgba(look["color"], 1.0)
            assert text == LABELS[group][value][0 if lang == "mn" else 1]
            assert bool(CYRILLIC.search(text)) == (lang == "mn"), text


@pytest.mark.parametrize("layer", sorted(REGISTRY))
def test_sld_has_one_rule_per_category(layer: str) -> None:
    root = ET.fromstring(sld(layer, "mn"))
    assert root.tag == "{http://www.opengis.net/sld}StyledLayerDescriptor"
    # the background layers' name labels are a rule of their own (a TextSymbolizer)
    rules = [r for r in root.iter(f"{SE}Rule") if r.find(f"{SE}TextSymbolizer") is None]
    _, _, cats = _categories(qml(layer, "mn"))
    assert len(rules) == max(1, len(cats))
    for rule, (value, text, _) in zip(rules, cats, strict=False):
        equal = rule.find(f"{OGC}Filter/{OGC}PropertyIsEqualTo")
        assert equal is not None
        assert equal.findtext(f"{OGC}PropertyName") == CODED[layer]
        assert equal.findtext(f"{OGC}Literal") == value
        assert rule.findtext(f"{SE}Name") == text
        fill = {p.get("name"): p.text for p in rule.iter(f"{SE}SvgParameter")}
        look = LOOKS[layer].style | LOOKS[layer].styles.get(value, {})
        assert fill["fill"] == look["fillColor"] and fill["stroke"] == look["color"]
        if REGISTRY[layer].geometry == "Point":  # a circle marker of the web map's size
            assert rule.find(f"{SE}PointSymbolizer/{SE}Graphic/{SE}Mark") is not None
            assert float(rule.findtext(f"{SE}PointSymbolizer/{SE}Graphic/{SE}Size") or 0) == (
                2 * look["radius"]
            )


def test_a_hostile_label_is_escaped() -> None:
    hostile = "</category><x a=\"1\">&amp; 'Ш' ]]> <!--"
    doc = qml("contract_parcels", "mn", lambda g, v: hostile + v)
    _, _, cats = _categories(doc)
    assert [t for _, t, _ in cats] == [hostile + v for v in LABELS["contract_status"]]
    rules = ET.fromstring(sld("contract_parcels", "mn", lambda g, v: hostile)).iter(f"{SE}Rule")
    assert {r.findtext(f"{SE}Name") for r in rules} == {hostile}


def test_every_layer_has_its_default_style_in_the_store(store_location: str) -> None:
    open_store(store_location).close()
    assert set(COLUMNS) <= set(_columns(store_location))
    rows = _rows(store_location)
    assert len(rows) == 2 * len(REGISTRY)
    for layer in REGISTRY:
        mine = {r["name"]: r for r in rows if r["table"] == layer}
        mn, en = mine[STYLE_NAMES["mn"]], mine[STYLE_NAMES["en"]]
        assert bool(mn["default"]) and not en["default"]
        assert mn["owner"] == en["owner"] == OWNER and mn["geom"] == "geom"
        for row, lang in ((mn, "mn"), (en, "en")):
            kind, attr, cats = _categories(row["qml"])
            assert ET.fromstring(row["sld"]).tag.endswith("StyledLayerDescriptor")
            if layer in CODED:
                assert (kind, attr) == ("categorizedSymbol", CODED[layer])
                assert all(bool(CYRILLIC.search(t)) == (lang == "mn") for _, t, _ in cats)
            else:
                assert kind == "singleSymbol"


@pytest.mark.gpkg_only
def test_the_geopackage_registers_the_table_as_attributes(store_path: Any) -> None:
    open_store(store_path).close()
    with sqlite3.connect(store_path) as conn:
        row = conn.execute(
            "SELECT data_type, identifier FROM gpkg_contents WHERE table_name = ?", (STYLE_TABLE,)
        ).fetchone()
    assert row == ("attributes", STYLE_TABLE)


def _add_user_style(location: str, *, default: bool) -> None:
    values = ("contract_parcels", "geom", "my style", "<qgis/>", default, "alice")
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as pg:
            pg.execute(
                f"INSERT INTO {STYLE_TABLE} (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, useAsDefault, owner) VALUES "
                "(current_database(), current_schema(), %s, %s, %s, %s::xml, %s, %s)",
                values,
            )
    else:
        with sqlite3.connect(location) as conn:
            conn.execute(
                f"INSERT INTO {STYLE_TABLE} (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, useAsDefault, owner) VALUES "
                "('', '', ?, ?, ?, ?, ?, ?)",
                values,
            )


def test_rewriting_replaces_gazars_rows_and_keeps_a_users(store_location: str) -> None:
    open_store(store_location).close()
    _add_user_style(store_location, default=False)
    write_styles(store_location)
    write_styles(store_location)
    open_store(store_location).close()
    rows = _rows(store_location)
    assert len(rows) == 2 * len(REGISTRY) + 1
    assert [r["name"] for r in rows if r["owner"] == "alice"] == ["my style"]
    parcels = {r["name"]: bool(r["default"]) for r in rows if r["table"] == "contract_parcels"}
    assert parcels == {STYLE_NAMES["mn"]: True, STYLE_NAMES["en"]: False, "my style": False}


def test_a_users_chosen_default_is_kept(store_location: str) -> None:
    open_store(store_location).close()
    _add_user_style(store_location, default=True)
    write_styles(store_location)
    defaults = [r["name"] for r in _rows(store_location) if r["default"]]
    assert "my style" in defaults and len(defaults) == len(REGISTRY)


def test_stale_styles_are_rewritten_on_open(store_location: str) -> None:
    open_store(store_location).close()
    stale = f"UPDATE {STYLE_TABLE} SET description = 'old' WHERE owner = 'gazar'"
    if store_location.startswith("postgresql://"):
        with psycopg.connect(store_location) as pg:
            pg.execute(stale)
    else:
        with sqlite3.connect(store_location) as conn:
            conn.execute(stale)
    open_store(store_location).close()
    rows = _rows(store_location)
    assert len(rows) == 2 * len(REGISTRY) and all(r["description"] != "old" for r in rows)


def test_a_copied_database_names_itself_in_its_styles(pg_database: str) -> None:
    """A store copied under a new name (``CREATE DATABASE ... TEMPLATE``, a restore elsewhere)
    holds rows naming the original database, which QGIS does not look up: the copy's first open
    replaces them with one set naming the copy, and a user's row is left as it was."""
    from urllib.parse import urlsplit

    from tests.conftest import pg_url

    open_store(pg_database).close()
    _add_user_style(pg_database, default=False)
    source = urlsplit(pg_database).path.lstrip("/")
    copy = f"{source}_copy"
    copy_url = pg_url(copy)
    with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')
        try:
            open_store(copy_url).close()
            open_store(copy_url).close()
            with psycopg.connect(copy_url) as pg:
                rows = pg.execute(
                    f"SELECT f_table_catalog, owner FROM {STYLE_TABLE} ORDER BY id"
                ).fetchall()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    gazars = [catalog for catalog, owner in rows if owner == OWNER]
    assert gazars == [copy] * (2 * len(REGISTRY))
    assert [catalog for catalog, owner in rows if owner == "alice"] == [source]


def test_styles_break_neither_the_audit_nor_the_feed(store_location: str) -> None:
    from tests import factories as f

    with open_store(store_location) as store:
        seq = store.change_seq("land_conclusions")
        lc = f.land_conclusion()
        store.write({"land_conclusions": f.frame("land_conclusions", [lc])})
        _add_user_style(store_location, default=False)
        write_styles(store_location)
        changes = store.changes("land_conclusions", seq)
        assert changes is not None and changes.upserted == (lc["id"],)
        assert changes.deleted == ()
    result = CliRunner().invoke(app, ["audit", "verify", "--db", store_location])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


#: the QML symbol type, SLD symbolizer and ``layerGeometryType`` of each declared type
SYMBOLS = {
    "MultiPolygon": ("fill", "PolygonSymbolizer", "2"),
    "MultiLineString": ("line", "LineSymbolizer", "1"),
    "Point": ("marker", "PointSymbolizer", "0"),
}


@pytest.mark.parametrize("layer", sorted(REGISTRY))
def test_each_layer_is_drawn_as_its_geometry_type(layer: str) -> None:
    """Roads get a line symbol, settlements a point marker, polygons a fill, in QML and SLD."""
    symbol, symbolizer, code = SYMBOLS[REGISTRY[layer].geometry]
    for lang in ("mn", "en"):
        root = ET.fromstring(qml(layer, lang))
        assert {s.get("type") for s in root.iter("symbol")} == {symbol}, layer
        assert root.findtext("layerGeometryType") == code
        doc = ET.fromstring(sld(layer, lang))
        drawn = {
            child.tag.removeprefix(SE)
            for rule in doc.iter(f"{SE}Rule")
            for child in rule
            if child.tag.endswith("Symbolizer")
        }
        assert drawn - {"TextSymbolizer"} == {symbolizer}, layer


@pytest.mark.parametrize("layer", ["settlements", "water", "roads"])
def test_the_background_is_labelled_by_name_in_each_language(layer: str) -> None:
    mn = ET.fromstring(qml(layer, "mn"))
    assert mn.get("labelsEnabled") == "1"
    style = mn.find("labeling/settings/text-style")
    assert style is not None
    assert (style.get("fieldName"), style.get("isExpression")) == ("name", "0")
    en = ET.fromstring(qml(layer, "en")).find("labeling/settings/text-style")
    assert en is not None and en.get("isExpression") == "1"
    assert en.get("fieldName") == 'coalesce("name_latin", "name")'
    for lang, field in (("mn", "name"), ("en", "name_latin")):
        text = ET.fromstring(sld(layer, lang)).find(f".//{SE}TextSymbolizer")
        assert text is not None
        assert text.findtext(f"{SE}Label/{OGC}PropertyName") == field
    # the polygon layers carry no labels
    assert ET.fromstring(qml("contract_parcels", "mn")).get("labelsEnabled") == "0"


def test_names_show_from_the_web_maps_zoom_in_the_sld_too() -> None:
    """The SLD's label rules end at the scale of the web map's label zoom: the settlements'
    aimag centres from 1:6,400,000 in, soum centres from 1:800,000, the rest from 1:200,000."""
    rules = [
        r for r in ET.fromstring(sld("settlements", "en")).iter(f"{SE}Rule")
        if r.find(f"{SE}TextSymbolizer") is not None
    ]  # fmt: skip
    seen = {}
    for rule in rules:
        equal = rule.find(f"{OGC}Filter/{OGC}PropertyIsEqualTo/{OGC}Literal")
        value = equal.text if equal is not None else "*"
        seen[value] = int(rule.findtext(f"{SE}MaxScaleDenominator") or 0)
        if value == "*":  # the rest: neither of the two with a zoom of their own
            others = {e.text for e in rule.iter(f"{OGC}Literal")}
            assert others == {"aimag_centre", "soum_centre"}
    assert seen == {"aimag_centre": 6_400_000, "soum_centre": 800_000, "*": 200_000}
    (roads,) = [r for r in ET.fromstring(sld("roads", "mn")).iter(f"{SE}Rule")
                if r.find(f"{SE}TextSymbolizer") is not None]  # fmt: skip
    assert roads.findtext(f"{SE}MaxScaleDenominator") == "200000"
    assert roads.find(f"{OGC}Filter") is None
    # the web map and QGIS read the same table
    assert LOOKS["settlements"].label_zoom == LABEL_ZOOM["settlements"][1]
    assert LOOKS["settlements"].label_key == LABEL_ZOOM["settlements"][0]
