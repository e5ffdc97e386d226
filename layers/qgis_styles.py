"""Each layer's QGIS style, as the web map draws it: a QML document (QGIS's own style format) and
an SLD (OGC Styled Layer Descriptor 1.1), both built with :mod:`xml.etree.ElementTree`, so every
value and label is escaped.

A layer whose colour depends on a coded column (``status``, ``stage``, ``kind``) is categorised on
that column with one category per value of its vocabulary (``layers.labels``), labelled in the
legend in one language; the others have one symbol. :data:`PAINTS` is the one palette: the web
map draws the store's layers from it too (``web.maps.styles.LOOKS``: fill, opacity, outline,
width and dashes), so QGIS and the browser show the same colours. :mod:`layers.style_table`
writes the documents into the store's ``layer_styles`` table.

Examples
--------
>>> import xml.etree.ElementTree as ET
>>> root = ET.fromstring(qml("contract_parcels", "en"))
>>> renderer = root.find("renderer-v2")
>>> renderer.get("type"), renderer.get("attr")
('categorizedSymbol', 'status')
>>> [c.get("label") for c in renderer.iter("category")][:2]
['Applied', 'Active']
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from layers.labels import LABELS, Lang, label
from layers.schema import REGISTRY

QGIS_VERSION: Final = "3.22.0-Białowieża"
_SLD_NS: Final = {
    "xmlns": "http://www.opengis.net/sld",
    "xmlns:ogc": "http://www.opengis.net/ogc",
    "xmlns:se": "http://www.opengis.net/se",
    "xmlns:xlink": "http://www.w3.org/1999/xlink",
    "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xsi:schemaLocation": "http://www.opengis.net/sld "
    "http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd",
}


@dataclass(frozen=True)
class Paint:
    """One polygon symbol: Leaflet's ``fillColor``/``fillOpacity``/``color``/``weight``/
    ``dashArray`` (``fill`` None: outline only; the outline is opaque, as Leaflet's default)."""

    fill: str | None
    opacity: float
    line: str
    width: float
    dash: tuple[float, ...] = ()


def _paint(fill: str, opacity: float, *, width: float = 1.5, line: str | None = None) -> Paint:
    return Paint(fill, opacity, line or fill, width)


def _dashed(p: Paint, *dash: float) -> Paint:
    return Paint(p.fill, p.opacity, p.line, p.width, dash)


@dataclass(frozen=True)
class LayerPaint:
    """How a layer is drawn: the coded column its colour follows (None: one symbol), the
    symbol of a value with none of its own, and one symbol per value."""

    key: str | None
    default: Paint
    values: dict[str, Paint]


#: The store's layers' colours, for QGIS here and for the web map (``web.maps.styles.LOOKS``).
PAINTS: Final[dict[str, LayerPaint]] = {
    "aimags": LayerPaint(None, Paint(None, 0.0, "#555555", 2.5, (8, 5)), {}),
    "soums": LayerPaint(None, Paint("#f6f3ea", 0.55, "#7a7a7a", 1), {}),
    "land_conclusions": LayerPaint(
        "status",
        _paint("#2166ac", 0.08, width=2),
        {
            "proposed": _paint("#c2a5cf", 0.12, width=2),
            "khural_approved": _paint("#9970ab", 0.12, width=2),
            "submitted": _paint("#762a83", 0.12, width=2),
            "under_review": _paint("#f4a582", 0.15, width=2),
            "issued": _paint("#2166ac", 0.10, width=2.5),
            "rejected": _dashed(_paint("#878787", 0.08, width=1.5), 4, 4),
            "revoked": _dashed(_paint("#4d4d4d", 0.08, width=1.5), 4, 4),
            "expired": _dashed(_paint("#bababa", 0.08, width=1.5), 4, 4),
        },
    ),
    "exclusions": LayerPaint(
        "kind",
        _paint("#525252", 0.25),
        {
            "protected_area": _paint("#1b7837", 0.22, line="#00441b"),
            "water_protection": _paint("#4393c3", 0.30, line="#053061"),
            "settlement": _paint("#8c6d31", 0.30),
            "other": _paint("#525252", 0.25),
        },
    ),
    "licences": LayerPaint(
        "kind",
        _paint("#c51b7d", 0.18),
        {
            "MV": _paint("#c51b7d", 0.22),
            "XV": _paint("#de77ae", 0.15),
            "other": _paint("#b8a1c4", 0.15),
        },
    ),
    "rehab_zones": LayerPaint(
        "stage",
        _paint("#8c510a", 0.45),
        {
            "required": _paint("#8c510a", 0.55),
            "technical_done": _paint("#bf812d", 0.50),
            "biological_done": _paint("#dfc27d", 0.50, line="#8c510a"),
            "accepted": _paint("#f6e8c3", 0.35, line="#8c510a"),
        },
    ),
    "contract_parcels": LayerPaint(
        "status",
        _paint("#e66101", 0.45),
        {
            "applied": _paint("#fdb863", 0.55, line="#b35806"),
            "active": _paint("#e66101", 0.55, line="#7f3b08"),
            "suspended": _paint("#8073ac", 0.50),
            "expired": _paint("#bdbdbd", 0.45, line="#636363"),
            "terminated": _paint("#636363", 0.35),
        },
    ),
}
#: A layer with no look of its own (a layer added to the registry before its colours).
_PLAIN: Final = LayerPaint(None, _paint("#969696", 0.3), {})

#: ``(value, legend label, symbol)`` of each category of a layer.
Category = tuple[str, str, Paint]
Labeller = Callable[[str, str], str]


def layer_paint(layer: str) -> LayerPaint:
    return PAINTS.get(layer, _PLAIN)


def categories(layer: str, lang: Lang, labeller: Labeller | None = None) -> list[Category]:
    """One category per value of the layer's coded column, in the vocabulary's order (none for a
    layer of one symbol); ``labeller(group, value)`` gives the label (default: the catalogue)."""
    look = layer_paint(layer)
    if look.key is None:
        return []
    group = REGISTRY[layer].field(look.key).enum
    assert group is not None, f"{layer}.{look.key} is not a coded column"
    name = labeller or (lambda g, v: label(g, v, lang))
    return [(v, name(group, v), look.values.get(v, look.default)) for v in LABELS[group]]


def layer_title(layer: str, lang: Lang) -> str:
    return label("layer", layer, lang)


# --- QML ------------------------------------------------------------------------------------


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(alpha * 255)}"


def _props(parent: ET.Element, props: dict[str, str]) -> None:
    for k, v in props.items():
        ET.SubElement(parent, "prop", k=k, v=v)


def _qml_symbol(parent: ET.Element, tag: str, name: str, paint: Paint) -> None:
    symbol = ET.SubElement(
        parent, tag, type="fill", name=name, alpha="1", clip_to_extent="1", force_rhr="0"
    )
    layer = ET.SubElement(
        symbol, "layer", {"class": "SimpleFill", "pass": "0", "enabled": "1", "locked": "0"}
    )
    _props(
        layer,
        {
            "color": _rgba(paint.fill or "#000000", paint.opacity if paint.fill else 0.0),
            "style": "solid" if paint.fill else "no",
            "outline_color": _rgba(paint.line, 1.0),
            "outline_style": "dash" if paint.dash else "solid",
            "outline_width": f"{paint.width:g}",
            "outline_width_unit": "Pixel",
            "joinstyle": "round",
            "offset": "0,0",
            "offset_unit": "Pixel",
        },
    )


def qml(layer: str, lang: Lang, labeller: Labeller | None = None) -> str:
    """The layer's QGIS style (a ``.qml`` document): categorised on its coded column with the
    web map's colours and the legend in ``lang``, or one symbol."""
    look = layer_paint(layer)
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology")
    cats = categories(layer, lang, labeller)
    if cats:
        renderer = ET.SubElement(
            root,
            "renderer-v2",
            type="categorizedSymbol",
            attr=look.key or "",
            symbollevels="0",
            forceraster="0",
            enableorderby="0",
        )
        listed = ET.SubElement(renderer, "categories")
        symbols = ET.SubElement(renderer, "symbols")
        for i, (value, text, paint) in enumerate(cats):
            ET.SubElement(listed, "category", value=value, symbol=str(i), label=text, render="true")
            _qml_symbol(symbols, "symbol", str(i), paint)
        source = ET.SubElement(renderer, "source-symbol")
        _qml_symbol(source, "symbol", "0", look.default)
    else:
        renderer = ET.SubElement(
            root, "renderer-v2", type="singleSymbol", symbollevels="0", forceraster="0"
        )
        symbols = ET.SubElement(renderer, "symbols")
        _qml_symbol(symbols, "symbol", "0", look.default)
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerGeometryType").text = "2"
    body = ET.tostring(root, encoding="unicode")
    return f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n{body}\n"


# --- SLD ------------------------------------------------------------------------------------


def _svg(parent: ET.Element, tag: str, params: dict[str, str]) -> None:
    el = ET.SubElement(parent, tag)
    for name, value in params.items():
        ET.SubElement(el, "se:SvgParameter", name=name).text = value


def _sld_rule(fts: ET.Element, title: str, key: str | None, value: str | None, p: Paint) -> None:
    rule = ET.SubElement(fts, "se:Rule")
    ET.SubElement(rule, "se:Name").text = title
    ET.SubElement(ET.SubElement(rule, "se:Description"), "se:Title").text = title
    if key is not None and value is not None:
        equal = ET.SubElement(ET.SubElement(rule, "ogc:Filter"), "ogc:PropertyIsEqualTo")
        ET.SubElement(equal, "ogc:PropertyName").text = key
        ET.SubElement(equal, "ogc:Literal").text = value
    symbolizer = ET.SubElement(rule, "se:PolygonSymbolizer")
    if p.fill:
        _svg(symbolizer, "se:Fill", {"fill": p.fill, "fill-opacity": f"{p.opacity:g}"})
    stroke = {"stroke": p.line, "stroke-width": f"{p.width:g}", "stroke-linejoin": "round"}
    if p.dash:
        stroke["stroke-dasharray"] = " ".join(f"{d:g}" for d in p.dash)
    _svg(symbolizer, "se:Stroke", stroke)


def sld(layer: str, lang: Lang, labeller: Labeller | None = None) -> str:
    """The layer's SLD 1.1: one Rule per category (an ``ogc:PropertyIsEqualTo`` filter on the
    coded column), or one Rule for a layer of one symbol."""
    look = layer_paint(layer)
    root = ET.Element("StyledLayerDescriptor", {"version": "1.1.0", **_SLD_NS})
    named = ET.SubElement(root, "NamedLayer")
    ET.SubElement(named, "se:Name").text = layer
    user = ET.SubElement(named, "UserStyle")
    ET.SubElement(user, "se:Name").text = layer
    ET.SubElement(ET.SubElement(user, "se:Description"), "se:Title").text = layer_title(layer, lang)
    fts = ET.SubElement(user, "se:FeatureTypeStyle")
    cats = categories(layer, lang, labeller)
    for value, text, paint in cats:
        _sld_rule(fts, text, look.key, value, paint)
    if not cats:
        _sld_rule(fts, layer_title(layer, lang), None, None, look.default)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
