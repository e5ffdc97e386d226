"""Each layer's QGIS style, as the web map draws it: a QML document (QGIS's own style format) and
an SLD (OGC Styled Layer Descriptor 1.1), both built with :mod:`xml.etree.ElementTree`, so every
value and label is escaped.

A layer whose colour depends on a coded column (``status``, ``stage``, ``kind``) is categorised on
that column with one category per value of its vocabulary (``layers.labels``), labelled in the
legend in one language; the others have one symbol. Each symbol follows the layer's geometry
(``LayerKind.geometry``): a fill for polygons, a line for roads, a point marker for settlements;
the background layers (:data:`LABELLED`) carry labels from their names, the Mongolian name in the
Mongolian style and the Latin one (else the Mongolian) in the English. :data:`PAINTS` is the one
palette: the web
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
    """One symbol: Leaflet's ``fillColor``/``fillOpacity``/``color``/``weight``/``dashArray``
    (``fill`` None: outline only; the outline is opaque, as Leaflet's default). For a line
    layer ``line`` and ``width`` draw the line; for a point layer the marker is a circle of
    diameter ``size`` pixels filled with ``fill``, outlined with ``line``."""

    fill: str | None
    opacity: float
    line: str
    width: float
    dash: tuple[float, ...] = ()
    size: float = 0.0


def _stroke(colour: str, width: float, *dash: float) -> Paint:
    return Paint(None, 0.0, colour, width, dash)


def _marker(fill: str, size: float, *, line: str = "#ffffff", width: float = 1.0) -> Paint:
    return Paint(fill, 1.0, line, width, (), size)


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
    "water": LayerPaint(None, Paint("#a6cee3", 0.75, "#4a90c2", 1), {}),
    "roads": LayerPaint(None, _stroke("#9c6b3c", 1.6), {}),
    "settlements": LayerPaint(
        "kind",
        _marker("#404040", 6),
        {
            "aimag_centre": _marker("#b2182b", 10, width=1.5),
            "soum_centre": _marker("#404040", 7),
            "village": _marker("#737373", 5),
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
#: The layers labelled with a name: the column of the Mongolian label and of the Latin one.
LABELLED: Final[dict[str, tuple[str, str]]] = {
    "settlements": ("name", "name_latin"),
    "water": ("name", "name_latin"),
    "roads": ("name", "name_latin"),
}
#: From which zoom of the web map a labelled layer's names show, by the value of a column (the
#: column, and ``"*"`` for any other value); QGIS shows them from the matching scale
#: (:func:`zoom_scale`).
LABEL_ZOOM: Final[dict[str, tuple[str | None, dict[str, int]]]] = {
    "water": (None, {"*": 9}),
    "roads": (None, {"*": 11}),
    "settlements": ("kind", {"aimag_centre": 6, "soum_centre": 9, "*": 11}),
}
#: the ground scale (1:N) of the web map's zoom 11 at Mongolia's middle latitude: 1:288,895 at
#: the equator times cos 47° (QGIS measures scale on the ground; a Web Mercator pixel shrinks
#: by cos lat) ≈ 1:197,000, rounded to a map scale
ZOOM_11_SCALE: Final = 200_000


def zoom_scale(zoom: int) -> int:
    """The scale (1:N) in QGIS of the web map's ``zoom`` over Mongolia.

    >>> zoom_scale(11), zoom_scale(9), zoom_scale(6)
    (200000, 800000, 6400000)
    """
    return int(ZOOM_11_SCALE * 2 ** (11 - zoom))


def expression_literal(value: str) -> str:
    """A string literal of a QGIS expression.

    >>> expression_literal("Öndör'khaan")
    "'Öndör''khaan'"
    """
    return "'" + value.replace("'", "''") + "'"


def label_show_expression(layer: str) -> str:
    """A QGIS expression true where a feature's label shows at the map's scale, as the web
    map shows its name from :data:`LABEL_ZOOM`; empty for a layer labelled at every scale."""
    if layer not in LABEL_ZOOM:
        return ""
    key, zooms = LABEL_ZOOM[layer]
    rest = f"@map_scale <= {zoom_scale(zooms['*'])}"
    cases = [f'WHEN "{key}" = {expression_literal(v)} THEN @map_scale <= {zoom_scale(z)}'
             for v, z in zooms.items() if v != "*" and key is not None]  # fmt: skip
    return f"CASE {' '.join(cases)} ELSE {rest} END" if cases else rest


#: QGIS's ``layerGeometryType`` and symbol type of each declared geometry type
_QGIS_GEOMETRY: Final = {"Point": ("0", "marker"), "MultiLineString": ("1", "line"),
                         "MultiPolygon": ("2", "fill")}  # fmt: skip
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


def _geometry(layer: str) -> str:
    """The layer's declared geometry type (a derived collection's are MultiPolygons)."""
    kind = REGISTRY.get(layer)
    return "MultiPolygon" if kind is None else kind.geometry


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


def _qml_symbol(parent: ET.Element, tag: str, name: str, paint: Paint, kind: str = "fill") -> None:
    symbol = ET.SubElement(
        parent, tag, type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0"
    )
    cls = {"fill": "SimpleFill", "line": "SimpleLine", "marker": "SimpleMarker"}[kind]
    layer = ET.SubElement(
        symbol, "layer", {"class": cls, "pass": "0", "enabled": "1", "locked": "0"}
    )
    if kind == "line":
        _props(
            layer,
            {
                "line_color": _rgba(paint.line, 1.0),
                "line_width": f"{paint.width:g}",
                "line_width_unit": "Pixel",
                "line_style": "dash" if paint.dash else "solid",
                "use_custom_dash": "1" if paint.dash else "0",
                "customdash": ";".join(f"{d:g}" for d in paint.dash) or "5;2",
                "customdash_unit": "Pixel",
                "capstyle": "round",
                "joinstyle": "round",
            },
        )
        return
    if kind == "marker":
        _props(
            layer,
            {
                "name": "circle",
                "color": _rgba(paint.fill or "#000000", paint.opacity),
                "outline_color": _rgba(paint.line, 1.0),
                "outline_style": "solid",
                "outline_width": f"{paint.width:g}",
                "outline_width_unit": "Pixel",
                "size": f"{paint.size:g}",
                "size_unit": "Pixel",
            },
        )
        return
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
    geometry_type, kind = _QGIS_GEOMETRY[_geometry(layer)]
    labelled = layer in LABELLED
    root = ET.Element(
        "qgis",
        version=QGIS_VERSION,
        styleCategories="Symbology|Labeling" if labelled else "Symbology",
        labelsEnabled="1" if labelled else "0",
    )
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
            _qml_symbol(symbols, "symbol", str(i), paint, kind)
        source = ET.SubElement(renderer, "source-symbol")
        _qml_symbol(source, "symbol", "0", look.default, kind)
    else:
        renderer = ET.SubElement(
            root, "renderer-v2", type="singleSymbol", symbollevels="0", forceraster="0"
        )
        symbols = ET.SubElement(renderer, "symbols")
        _qml_symbol(symbols, "symbol", "0", look.default, kind)
    if labelled:
        _qml_labels(root, layer, lang, kind)
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerGeometryType").text = geometry_type
    body = ET.tostring(root, encoding="unicode")
    return f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n{body}\n"


def vector_tile_renderer(parent: ET.Element, layer: str, lang: Lang, title: str) -> None:
    """The basic renderer of a QGIS vector tile layer of ``layer``'s tiles (whose tile layer
    is named after it): one style per category of the coded column, with the web map's
    colours and the legend in ``lang`` (the tiles carry the column, their aggregates of small
    features too), after one for the features of no category; one style named ``title`` for a
    layer of one symbol."""
    look = layer_paint(layer)
    geometry, kind = _QGIS_GEOMETRY[_geometry(layer)]
    styles = ET.SubElement(ET.SubElement(parent, "renderer", type="basic"), "styles")

    def style(name: str, expression: str, paint: Paint) -> None:
        node = ET.SubElement(styles, "style", {
            "name": name, "layer": layer, "geometry": geometry, "expression": expression,
            "enabled": "1", "min-zoom": "-1", "max-zoom": "-1",
        })  # fmt: skip
        _qml_symbol(ET.SubElement(node, "symbols"), "symbol", "0", paint, kind)

    cats = categories(layer, lang)
    if not cats or look.key is None:
        style(title, "", look.default)
        return
    listed = ", ".join(expression_literal(value) for value, _text, _paint in cats)
    style(label("qgis_group", "other", lang),
          f'"{look.key}" IS NULL OR "{look.key}" NOT IN ({listed})', look.default)  # fmt: skip
    for value, text, paint in cats:
        style(text, f'"{look.key}" = {expression_literal(value)}', paint)


def label_expression(layer: str, lang: Lang) -> tuple[str, bool]:
    """The field (Mongolian) or expression (English: the Latin name, else the Mongolian) a
    layer's features are labelled with, and whether it is an expression."""
    mn, latin = LABELLED[layer]
    if lang == "mn":
        return mn, False
    return f'coalesce("{latin}", "{mn}")', True


def _qml_labels(root: ET.Element, layer: str, lang: Lang, kind: str) -> None:
    field, expression = label_expression(layer, lang)
    settings = ET.SubElement(ET.SubElement(root, "labeling", type="simple"), "settings")
    ET.SubElement(
        settings,
        "text-style",
        fieldName=field,
        isExpression="1" if expression else "0",
        fontFamily="DejaVu Sans",
        fontSize="8" if kind == "line" else "9",
        fontSizeUnit="Point",
        textColor=_rgba("#1a1a1a", 1.0),
        fontItalic="1" if layer == "water" else "0",
    )
    ET.SubElement(settings, "text-buffer", bufferDraw="1", bufferSize="1",
                  bufferSizeUnits="MM", bufferColor=_rgba("#ffffff", 1.0))  # fmt: skip
    # placement: around a point, along a line, inside a polygon
    placement = {"marker": "0", "line": "2", "fill": "1"}[kind]
    ET.SubElement(settings, "placement", placement=placement, dist="1", distUnits="MM")
    show = label_show_expression(layer)
    if show:  # names from the web map's zoom: a national view is not buried in road names
        dd = ET.SubElement(ET.SubElement(settings, "dd_properties"), "Option", type="Map")
        ET.SubElement(dd, "Option", type="QString", name="name", value="")
        props = ET.SubElement(dd, "Option", type="Map", name="properties")
        prop = ET.SubElement(props, "Option", type="Map", name="Show")
        ET.SubElement(prop, "Option", type="bool", name="active", value="true")
        ET.SubElement(prop, "Option", type="QString", name="expression", value=show)
        ET.SubElement(prop, "Option", type="int", name="type", value="3")
        ET.SubElement(dd, "Option", type="QString", name="type", value="collection")


# --- SLD ------------------------------------------------------------------------------------


def _svg(parent: ET.Element, tag: str, params: dict[str, str]) -> None:
    el = ET.SubElement(parent, tag)
    for name, value in params.items():
        ET.SubElement(el, "se:SvgParameter", name=name).text = value


def _sld_compare(parent: ET.Element, tag: str, key: str, value: str) -> None:
    """``key`` compared with the literal ``value`` (``tag``: ``ogc:PropertyIsEqualTo``...)."""
    compare = ET.SubElement(parent, tag)
    ET.SubElement(compare, "ogc:PropertyName").text = key
    ET.SubElement(compare, "ogc:Literal").text = value


def _sld_rule(
    fts: ET.Element, title: str, key: str | None, value: str | None, p: Paint, kind: str = "fill"
) -> None:
    rule = ET.SubElement(fts, "se:Rule")
    ET.SubElement(rule, "se:Name").text = title
    ET.SubElement(ET.SubElement(rule, "se:Description"), "se:Title").text = title
    if key is not None and value is not None:
        _sld_compare(ET.SubElement(rule, "ogc:Filter"), "ogc:PropertyIsEqualTo", key, value)
    if kind == "marker":
        graphic = ET.SubElement(ET.SubElement(rule, "se:PointSymbolizer"), "se:Graphic")
        mark = ET.SubElement(graphic, "se:Mark")
        ET.SubElement(mark, "se:WellKnownName").text = "circle"
        _svg(mark, "se:Fill", {"fill": p.fill or "#000000"})
        _svg(mark, "se:Stroke", {"stroke": p.line, "stroke-width": f"{p.width:g}"})
        ET.SubElement(graphic, "se:Size").text = f"{p.size:g}"
        return
    if kind == "line":
        line = {"stroke": p.line, "stroke-width": f"{p.width:g}", "stroke-linejoin": "round",
                "stroke-linecap": "round"}  # fmt: skip
        if p.dash:
            line["stroke-dasharray"] = " ".join(f"{d:g}" for d in p.dash)
        _svg(ET.SubElement(rule, "se:LineSymbolizer"), "se:Stroke", line)
        return
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
    kind = _QGIS_GEOMETRY[_geometry(layer)][1]
    for value, text, paint in cats:
        _sld_rule(fts, text, look.key, value, paint, kind)
    if not cats:
        _sld_rule(fts, layer_title(layer, lang), None, None, look.default, kind)
    if layer in LABELLED:
        _sld_labels(fts, layer, lang)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _sld_labels(fts: ET.Element, layer: str, lang: Lang) -> None:
    """Rules labelling the features with their names (the Latin ones in English) from the
    web map's zoom (:data:`LABEL_ZOOM`): one per value of the column named there with a zoom
    of its own, and one for the rest, each up to its scale (``MaxScaleDenominator``)."""
    mn, latin = LABELLED[layer]
    key, zooms = LABEL_ZOOM.get(layer, (None, {}))
    own = [v for v in zooms if v != "*"] if key else []
    groups: list[tuple[str | None, int | None]] = [(v, zooms[v]) for v in own]
    groups.append((None, zooms.get("*")))
    for value, zoom in groups:
        rule = ET.SubElement(fts, "se:Rule")
        ET.SubElement(rule, "se:Name").text = label("map_label", "names", lang) + (
            f" ({value})" if value else ""
        )
        if key and value:
            _sld_compare(ET.SubElement(rule, "ogc:Filter"), "ogc:PropertyIsEqualTo", key, value)
        elif key and own:  # every other value
            where = ET.SubElement(rule, "ogc:Filter")
            if len(own) > 1:
                where = ET.SubElement(where, "ogc:And")
            for other in own:
                _sld_compare(where, "ogc:PropertyIsNotEqualTo", key, other)
        if zoom is not None:
            ET.SubElement(rule, "se:MaxScaleDenominator").text = str(zoom_scale(zoom))
        text = ET.SubElement(rule, "se:TextSymbolizer")
        ET.SubElement(ET.SubElement(text, "se:Label"), "ogc:PropertyName").text = (
            mn if lang == "mn" else latin
        )
        _svg(text, "se:Font", {"font-family": "DejaVu Sans", "font-size": "11"})
        halo = ET.SubElement(text, "se:Halo")
        ET.SubElement(halo, "se:Radius").text = "1"
        _svg(halo, "se:Fill", {"fill": "#ffffff"})
        _svg(text, "se:Fill", {"fill": "#1a1a1a"})
