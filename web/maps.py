"""Map builders: layers (GeoDataFrames in EPSG:4326) in, a ``folium.Map`` out.

Pure: no files, no server, no network. Every script and stylesheet is a local ``/static/``
address (:mod:`web.assets`); :func:`web.assets.inline_assets` turns a rendered map into one
self-contained file.

What a map shows, each a layer the user can switch off: the soum and aimag outlines (the offline
background; the store has no roads or lakes), Land Conclusions coloured by status, contract
parcels by contract status, rehabilitation zones by stage, excluded land and licences by kind,
the overlaps of :func:`geo.rules.analyze` in red and the available land of
:func:`geo.availability.availability` in green, and — where vegetation rasters are registered —
the rehabilitation zones coloured by their recovery (``layers.rasters.rehab_registered``); an
online tile basemap is an optional layer, off by default. Popups list the feature's fields,
its official hectares and the rules it breaks, in Mongolian or English. Controls: layer
switcher, legend, metric scale bar, measurement (line and area), full screen, search by id or
holder.

Large layers stay light: paths are drawn on a canvas (``prefer_canvas``), geometry is
simplified and coordinates are rounded to six decimals (~0.1 m); with :class:`RemoteLoading`
a layer of more than ``inline_limit`` features is not inlined at all: the page loads the
features in view from the API's OGC items endpoint as the user pans.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, cast

import folium
import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.plugins import Fullscreen
from folium.template import Template

from geo.area import official_ha
from geo.raster import RECOVERY_LABELS
from geo.review_types import Review, verdict_label
from geo.rules import FINDING_COLUMNS, RULES, SEVERITY_LABELS
from layers.errors import FeatureNotFound
from layers.labels import LABELS, Lang, label
from layers.schema import MONGOLIA_BOUNDS, STORE_CRS
from web.assets import (
    DRAW_CSS,
    DRAW_JS,
    FULLSCREEN_CSS,
    FULLSCREEN_JS,
    GAZAR_CSS,
    GAZAR_JS,
    LEAFLET_CSS,
    LEAFLET_JS,
    localize,
)
from web.i18n import DRAW_LOCAL_MN, text

Bounds = tuple[float, float, float, float]
Style = dict[str, Any]

#: Coordinates are rounded to this grid (degrees): six decimals, ~0.1 m.
PRECISION_DEG: Final = 1e-6

#: The online basemap (an image tile address, not a script); off unless the user turns it on.
BASEMAP_TILES: Final = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
BASEMAP_ATTRIBUTION: Final = "© OpenStreetMap contributors"


@dataclass(frozen=True)
class Look:
    """How one layer is drawn, labelled and searched."""

    #: the column the colour depends on, and the ``layers.labels`` group of its values
    key: str | None
    group: str | None
    style: Style
    styles: dict[str, Style] = field(default_factory=dict)
    #: popup rows: (property, labels group or None)
    fields: tuple[tuple[str, str | None], ...] = ()
    search: tuple[str, ...] = ()
    #: simplification tolerance in degrees (topology preserved)
    simplify_deg: float = 2e-6
    #: whether popups list the rules the feature breaks
    rules: bool = True


def _fill(color: str, opacity: float, *, weight: float = 1.5, line: str | None = None) -> Style:
    return {"color": line or color, "fillColor": color, "fillOpacity": opacity, "weight": weight}


#: Layers from bottom to top, and how each is drawn.
LOOKS: Final[dict[str, Look]] = {
    "aimags": Look(
        None,
        None,
        {"color": "#555555", "weight": 2.5, "fillOpacity": 0, "dashArray": "8 5", "fill": False},
        fields=(("name", None),),
        simplify_deg=1e-3,
        rules=False,
    ),
    "soums": Look(
        None,
        None,
        {"color": "#7a7a7a", "weight": 1, "fillColor": "#f6f3ea", "fillOpacity": 0.55},
        fields=(("name", None), ("aimag_code", None)),
        search=("id", "name"),
        simplify_deg=3e-4,
        rules=False,
    ),
    "land_conclusions": Look(
        "status",
        "land_conclusion_status",
        _fill("#2166ac", 0.08, weight=2),
        {
            "proposed": _fill("#c2a5cf", 0.12, weight=2),
            "khural_approved": _fill("#9970ab", 0.12, weight=2),
            "submitted": _fill("#762a83", 0.12, weight=2),
            "under_review": _fill("#f4a582", 0.15, weight=2),
            "issued": _fill("#2166ac", 0.10, weight=2.5),
            "rejected": _fill("#878787", 0.08, weight=1.5) | {"dashArray": "4 4"},
            "revoked": _fill("#4d4d4d", 0.08, weight=1.5) | {"dashArray": "4 4"},
            "expired": _fill("#bababa", 0.08, weight=1.5) | {"dashArray": "4 4"},
        },
        fields=(
            ("name", None),
            ("status", "land_conclusion_status"),
            ("soum_code", None),
            ("requested_by", "requested_by"),
            ("decision_ref", None),
            ("official_ha", None),
            ("proposed_on", None),
            ("khural_approved_on", None),
            ("submitted_on", None),
            ("decided_on", None),
            ("valid_until", None),
        ),
        search=("id", "name", "decision_ref"),
    ),
    "exclusions": Look(
        "kind",
        "exclusion_kind",
        _fill("#525252", 0.25),
        {
            "protected_area": _fill("#1b7837", 0.22, line="#00441b"),
            "water_protection": _fill("#4393c3", 0.30, line="#053061"),
            "settlement": _fill("#8c6d31", 0.30),
            "other": _fill("#525252", 0.25),
        },
        fields=(("name", None), ("kind", "exclusion_kind"), ("official_ha", None)),
        search=("id", "name"),
    ),
    "licences": Look(
        "kind",
        "licence_kind",
        _fill("#c51b7d", 0.18),
        {
            "MV": _fill("#c51b7d", 0.22),
            "XV": _fill("#de77ae", 0.15),
            "other": _fill("#b8a1c4", 0.15),
        },
        fields=(
            ("holder", None),
            ("kind", "licence_kind"),
            ("mineral", None),
            ("official_ha", None),
            ("reported_ha", None),
            ("given_on", None),
            ("expires_on", None),
        ),
        search=("id", "holder"),
    ),
    "rehab_zones": Look(
        "stage",
        "rehab_stage",
        _fill("#8c510a", 0.45),
        {
            "required": _fill("#8c510a", 0.55),
            "technical_done": _fill("#bf812d", 0.50),
            "biological_done": _fill("#dfc27d", 0.50, line="#8c510a"),
            "accepted": _fill("#f6e8c3", 0.35, line="#8c510a"),
        },
        fields=(
            ("holder", None),
            ("stage", "rehab_stage"),
            ("parcel_id", None),
            ("official_ha", None),
            ("due_on", None),
            ("accepted_on", None),
        ),
        search=("id", "holder", "parcel_id"),
    ),
    "contract_parcels": Look(
        "status",
        "contract_status",
        _fill("#e66101", 0.45),
        {
            "applied": _fill("#fdb863", 0.55, line="#b35806"),
            "active": _fill("#e66101", 0.55, line="#7f3b08"),
            "suspended": _fill("#8073ac", 0.50),
            "expired": _fill("#bdbdbd", 0.45, line="#636363"),
            "terminated": _fill("#636363", 0.35),
        },
        fields=(
            ("holder", None),
            ("holder_type", "holder_type"),
            ("members", None),
            ("contract_no", None),
            ("status", "contract_status"),
            ("land_conclusion_id", None),
            ("official_ha", None),
            ("signed_on", None),
            ("starts_on", None),
            ("expires_on", None),
        ),
        search=("id", "holder", "contract_no"),
    ),
}

#: Extra layers drawn above the store's layers.
AVAILABLE_LOOK: Final = Look(
    None,
    None,
    _fill("#1a9850", 0.45, weight=1, line="#006837"),
    fields=(
        ("name", None),
        ("soum_code", None),
        ("available_ha", None),
        ("area_ha", None),
        ("allocated_ha", None),
        ("rehab_blocked_ha", None),
        ("excluded_ha", None),
    ),
    rules=False,
)
OVERLAP_LOOK: Final = Look(
    "severity",
    "severity",
    _fill("#e31a1c", 0.65, weight=1.5, line="#99000d"),
    {"warn": _fill("#fd8d3c", 0.6, weight=1.5, line="#bd0026")},
    fields=(
        ("rule", "rule"),
        ("severity", "severity"),
        ("a_id", None),
        ("b_id", None),
        ("overlap_ha", None),
        ("message", None),
    ),
    rules=False,
)
#: Rehabilitation zones by their vegetation recovery (``geo.raster.recovery_table`` statuses).
RECOVERY_LOOK: Final = Look(
    "status",
    "recovery",
    _fill("#969696", 0.5),
    {
        "recovering": _fill("#01665e", 0.6, line="#003c30"),
        "below_min": _fill("#f46d43", 0.65, line="#a50026"),
        "no_data": _fill("#bdbdbd", 0.5, line="#636363") | {"dashArray": "3 3"},
    },
    fields=(
        ("holder", None),
        ("stage", "rehab_stage"),
        ("status", "recovery"),
        ("before_mean", None),
        ("after_mean", None),
        ("change", None),
        ("before_valid_pct", None),
        ("after_valid_pct", None),
        ("official_ha", None),
    ),
    search=(),
    rules=False,
)
PROPOSAL_LOOK: Final = Look(
    "verdict",
    "verdict",
    {"color": "#000000", "weight": 3, "fillColor": "#ffff33", "fillOpacity": 0.25},
    fields=(("verdict", "verdict"), ("official_ha", None), ("geodesic_ha", None)),
    rules=True,
)

#: Store layers in drawing order.
LAYER_ORDER: Final = tuple(LOOKS)
#: Layers whose features the conflict rules talk about.
CORE_LAYERS: Final = (
    "land_conclusions",
    "exclusions",
    "licences",
    "rehab_zones",
    "contract_parcels",
)


@dataclass(frozen=True)
class RemoteLoading:
    """Serve large layers by bounding box instead of inlining them (pages served by the API).

    A layer with more than ``inline_limit`` features is left out of the page; the page asks
    ``items_url`` (``{layer}`` is replaced by the layer name) for the features in view, at
    zoom ``min_zoom`` and closer, at most ``page_limit`` at a time.
    """

    items_url: str = "/collections/{layer}/items"
    inline_limit: int = 3000
    min_zoom: int = 11
    page_limit: int = 5000


# ------------------------------------------------------------------------------ data to JSON


def _json(value: object) -> str:
    """JSON safe to place inside a ``<script>`` element."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode().replace("</", "<\\/")


def _plain(values: pd.Series) -> list[object]:
    """A column as JSON-ready values: dates as ISO text, missing values as None."""
    out: list[object] = []
    for v in values.to_numpy(dtype=object):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
            out.append(None)
        elif hasattr(v, "isoformat"):
            out.append(v.isoformat()[:10])
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return out


def light_geometry(geoms: Sequence[Any] | np.ndarray, simplify_deg: float) -> np.ndarray:
    """Simplified (topology kept) and rounded to six decimals, for drawing only.

    Examples
    --------
    >>> g = shapely.box(106.123456789, 47.0, 106.2, 47.1)
    >>> shapely.get_coordinates(light_geometry([g], 1e-6)[0]).max(axis=0).tolist()
    [106.2, 47.1]
    >>> round(shapely.get_coordinates(light_geometry([g], 1e-6)[0])[:, 0].min(), 9)
    106.123457
    """
    arr = np.asarray(geoms, dtype=object)
    if simplify_deg > 0:
        arr = shapely.simplify(arr, simplify_deg, preserve_topology=True)
    return np.asarray(shapely.set_precision(arr, PRECISION_DEG, mode="pointwise"), dtype=object)


def features_json(
    frame: gpd.GeoDataFrame, properties: Mapping[str, Sequence[object]], *, simplify_deg: float
) -> str:
    """A GeoJSON FeatureCollection of ``frame``'s non-empty geometries with ``properties``."""
    geoms = light_geometry(frame.geometry.array, simplify_deg)
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    texts = shapely.to_geojson(geoms[keep])
    cols = {k: np.asarray(v, dtype=object)[keep] for k, v in properties.items()}
    keys = list(cols)
    rows = zip(*(cols[k] for k in keys), strict=True) if keys else iter([()] * len(texts))
    feats = [
        {
            "type": "Feature",
            "properties": dict(zip(keys, row, strict=True)),
            "geometry": orjson.Fragment(g),
        }
        for row, g in zip(rows, texts, strict=True)
    ]
    return _json({"type": "FeatureCollection", "features": feats})


# ------------------------------------------------------------------------------ folium parts


class GazarLayer(JSCSSMixin, Layer):  # type: ignore[misc]
    """A GeoJSON layer drawn by ``gazar.layer`` (web/static/gazar.js): style by a property,
    bilingual popups built in the browser, and optionally loaded by bounding box."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = gazar.layer(
                {{ this._parent.get_name() }}, {{ this.spec_json }}, {{ this.data_json }});
        {% endmacro %}
        """
    )

    def __init__(self, name: str, spec: Mapping[str, Any], data: str | None, *, show: bool):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GazarLayer"
        self.layer = spec["layer"]
        self.spec = dict(spec)
        self.spec_json = _json(spec)
        self.data_json = data if data is not None else "null"
        localize(self, [GAZAR_JS], [GAZAR_CSS])


class GazarSetup(JSCSSMixin, MacroElement):  # type: ignore[misc]
    """The map's controls (``gazar.setup``): scale, legend, search, measurement, drawing."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            gazar.setup({{ this._parent.get_name() }}, {{ this.options_json }});
        {% endmacro %}
        """
    )

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "GazarSetup"
        self.options = dict(options)
        self.options_json = _json(options)
        localize(self, [DRAW_JS, GAZAR_JS], [DRAW_CSS, GAZAR_CSS])


# ------------------------------------------------------------------------------ labels


def _labels(lang: Lang) -> dict[str, dict[str, str]]:
    groups = {g: {v: label(g, v, lang) for v in values} for g, values in LABELS.items()}
    side = 0 if lang == "mn" else 1
    groups["rule"] = {code: (r.title_mn, r.title_en)[side] for code, r in RULES.items()}
    groups["severity"] = {k: v[side] for k, v in SEVERITY_LABELS.items()}
    groups["verdict"] = {k: v[side] for k, v in LABELS["review_verdict"].items()}
    groups["recovery"] = {k: v[side] for k, v in RECOVERY_LABELS.items()}
    return groups


def _field_label(key: str, lang: Lang) -> str:
    return text(f"field_{key.removesuffix('_mn').removesuffix('_en')}", lang)


def _in_language(look: Look, lang: Lang) -> Look:
    """``message`` fields become ``message_mn`` or ``message_en`` (the API's columns)."""
    fields = tuple((f"{k}_{lang}" if k == "message" else k, g) for k, g in look.fields)
    return replace(look, fields=fields)


def rules_index(findings: pd.DataFrame | None, lang: Lang) -> dict[str, dict[str, list[str]]]:
    """The messages of the rules each feature breaks: ``{layer: {id: [message, ...]}}``.

    Both features of a pair finding break the rule.

    Examples
    --------
    >>> f = pd.DataFrame({"a_layer": ["contract_parcels"], "a_id": ["P-1"],
    ...     "b_layer": ["contract_parcels"], "b_id": ["P-2"], "message_mn": ["мн"],
    ...     "message_en": ["P-1 overlaps P-2"]})
    >>> rules_index(f, "en")["contract_parcels"]
    {'P-1': ['P-1 overlaps P-2'], 'P-2': ['P-1 overlaps P-2']}
    """
    out: dict[str, dict[str, list[str]]] = {}
    if findings is None or len(findings) == 0:
        return out
    message = findings["message_mn" if lang == "mn" else "message_en"].astype(str)
    sides = [
        pd.DataFrame({"layer": findings[f"{s}_layer"], "id": findings[f"{s}_id"], "msg": message})
        for s in ("a", "b")
    ]
    table = pd.concat(sides, ignore_index=True).dropna(subset=["layer", "id"])
    table = table.drop_duplicates()
    for (layer, fid), msgs in table.groupby(["layer", "id"], sort=False)["msg"]:
        out.setdefault(str(layer), {})[str(fid)] = msgs.tolist()
    return out


# ------------------------------------------------------------------------------ layer specs


def _properties(name: str, frame: gpd.GeoDataFrame, look: Look, lang: Lang) -> dict[str, list]:
    props: dict[str, list[object]] = {"id": _plain(frame["id"].astype(str))}
    wanted = [k for k, _ in look.fields] + list(look.search)
    if look.key:
        wanted.append(look.key)
    for key in dict.fromkeys(wanted):
        if key in props:
            continue
        if key == "official_ha":
            props[key] = _plain(pd.Series(_official(frame)).round(4))
        elif key == "members":
            for k in ("members_women", "members_men"):
                if k in frame.columns:
                    props[k] = _plain(frame[k])
        elif key == "name" and name in ("soums", "aimags"):
            first, second = ("name_mn", "name_en") if lang == "mn" else ("name_en", "name_mn")
            one = frame.get(first, pd.Series(None, index=frame.index))
            other = frame.get(second, pd.Series(None, index=frame.index))
            props[key] = _plain(one.where(one.notna() & (one.astype(str) != ""), other))
        elif key in frame.columns:
            col = frame[key]
            ha = key.endswith("_ha")
            props[key] = _plain(pd.to_numeric(col, errors="coerce").round(4) if ha else col)
    return props


def _official(frame: gpd.GeoDataFrame) -> np.ndarray:
    if "official_ha" in frame.columns:
        return np.asarray(frame["official_ha"], dtype=float)
    geoms = np.asarray(frame.geometry.array, dtype=object)
    out = np.full(len(geoms), np.nan)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.any():
        out[ok] = official_ha(geoms[ok])
    return out


def _spec(
    name: str,
    title: str,
    look: Look,
    lang: Lang,
    *,
    rules: Mapping[str, list[str]] | None,
    remote: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    groups = {g for _, g in look.fields if g} | ({look.group} if look.group else set())
    all_labels = _labels(lang)
    spec: dict[str, Any] = {
        "layer": name,
        "title": title,
        "key": look.key,
        "style": look.style,
        "styles": look.styles,
        "fields": [
            {"key": k, "label": _field_label(k, lang), "group": g, "ha": k.endswith("_ha")}
            for k, g in look.fields
        ],
        "labels": {g: all_labels[g] for g in sorted(groups) if g in all_labels},
        "search": list(look.search),
        "remote": remote,
    }
    if look.rules:
        spec["rules"] = dict(rules or {})
        spec["rulesLabel"] = text("field_rules", lang)
        spec["noRules"] = text("no_rules_broken", lang)
    return spec


def _legend_items(look: Look, values: Collection[str] | None, lang: Lang) -> list[dict[str, Any]]:
    if not look.key or not look.styles:
        return []
    labels = _labels(lang).get(look.group or "", {})
    keep = [v for v in look.styles if values is None or v in values]
    return [{"label": labels.get(v, v), "style": look.style | look.styles[v]} for v in keep]


@dataclass
class _Plan:
    """The layers of one map before they become folium elements."""

    lang: Lang
    elements: list[GazarLayer] = field(default_factory=list)
    legend: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        name: str,
        frame: gpd.GeoDataFrame | None,
        look: Look,
        *,
        title: str,
        rules: Mapping[str, list[str]] | None,
        show: bool,
        remote: RemoteLoading | None,
        properties: Mapping[str, Sequence[object]] | None = None,
    ) -> None:
        if frame is None or len(frame) == 0:
            return
        look = _in_language(look, self.lang)
        far = remote is not None and len(frame) > remote.inline_limit
        remote_spec = None
        if far and remote is not None:
            remote_spec = {
                "url": remote.items_url.format(layer=name),
                "minZoom": remote.min_zoom,
                "limit": remote.page_limit,
                "strings": {
                    "zoomIn": text("zoom_in_to_load", self.lang),
                    "loading": text("loading", self.lang),
                    "failed": text("load_failed", self.lang),
                    "capped": text("shown_first", self.lang),
                },
            }
        if far and remote is not None and rules is not None and len(rules) > remote.inline_limit:
            # a layer too large to inline has too many findings to inline too: its popups
            # leave the rules out rather than say none are broken
            look = replace(look, rules=False)
        spec = _spec(name, title, look, self.lang, rules=rules, remote=remote_spec)
        data = None
        if not far:
            props = (
                properties if properties is not None else _properties(name, frame, look, self.lang)
            )
            data = features_json(frame, props, simplify_deg=look.simplify_deg)
        count = f"{len(frame):,}".replace(",", " ")
        self.elements.append(GazarLayer(f"{title} ({count})", spec, data, show=show))
        values = (
            None
            if far or not look.key or look.key not in frame.columns
            else set(frame[look.key].dropna().astype(str))
        )
        items = _legend_items(look, values, self.lang)
        if not items:
            items = [{"label": title, "style": look.style}]
        self.legend.append({"title": title, "items": items})


# ------------------------------------------------------------------------------ the builders


def _bounds_of(frames: Sequence[gpd.GeoDataFrame | None]) -> Bounds | None:
    boxes = [f.total_bounds for f in frames if f is not None and len(f)]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return None
    arr = np.vstack(boxes)
    return (
        float(arr[:, 0].min()),
        float(arr[:, 1].min()),
        float(arr[:, 2].max()),
        float(arr[:, 3].max()),
    )


def _overlap_frame(findings: gpd.GeoDataFrame | None, lang: Lang) -> gpd.GeoDataFrame | None:
    """Findings with an area shared with another feature (or lying outside its container)."""
    if findings is None or len(findings) == 0 or "geometry" not in findings:
        return None
    mask = findings["b_layer"].notna() & pd.to_numeric(findings["overlap_ha"]).notna()
    geoms = np.asarray(findings.geometry.array, dtype=object)
    mask &= ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    part = findings[mask.to_numpy()]
    if len(part) == 0:
        return None
    out = gpd.GeoDataFrame(
        {
            "id": [f"{a} × {b}" for a, b in zip(part["a_id"], part["b_id"], strict=True)],
            "rule": part["rule"].to_numpy(),
            "severity": part["severity"].to_numpy(),
            "a_id": part["a_id"].to_numpy(),
            "b_id": part["b_id"].to_numpy(),
            "overlap_ha": pd.to_numeric(part["overlap_ha"]).round(4).to_numpy(),
            "message_mn": part["message_mn"].to_numpy(),
            "message_en": part["message_en"].to_numpy(),
        },
        geometry=part.geometry.to_numpy(),
        crs=STORE_CRS,
    )
    return out


def recovery_properties(recovery: gpd.GeoDataFrame) -> dict[str, list[object]]:
    """The popup values of the recovery layer: means and change to three decimals, valid
    pixels as percentages (one decimal), the zone's fields and official hectares.

    Examples
    --------
    >>> from shapely import box
    >>> z = gpd.GeoDataFrame({"id": ["RZ-1"], "status": ["recovering"], "before_mean": [0.1],
    ...     "after_mean": [0.41234], "change": [0.31234], "before_valid_share": [1.0],
    ...     "after_valid_share": [0.8756]}, geometry=[box(106, 47, 106.001, 47.001)], crs=4326)
    >>> p = recovery_properties(z)
    >>> p["after_mean"], p["change"], p["after_valid_pct"]
    ([0.412], [0.312], [87.6])
    """
    props: dict[str, list[object]] = {
        "id": _plain(recovery["id"].astype(str)),
        "status": _plain(recovery["status"].astype(str)),
        "official_ha": _plain(pd.Series(_official(recovery)).round(4)),
    }
    for key in ("holder", "stage"):
        if key in recovery.columns:
            props[key] = _plain(recovery[key])
    for key in ("before_mean", "after_mean", "change"):
        props[key] = _plain(pd.to_numeric(recovery[key], errors="coerce").round(3))
    for side in ("before", "after"):
        share = pd.to_numeric(recovery[f"{side}_valid_share"], errors="coerce")
        props[f"{side}_valid_pct"] = _plain((100 * share).round(1))
    return props


def _draw_local(lang: Lang) -> dict[str, Any] | None:
    return DRAW_LOCAL_MN if lang == "mn" else None


def build_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    lang: Lang = "mn",
    title: str | None = None,
    findings: gpd.GeoDataFrame | None = None,
    available: gpd.GeoDataFrame | None = None,
    proposal: gpd.GeoDataFrame | None = None,
    proposal_rules: Mapping[str, list[str]] | None = None,
    bounds: Bounds | None = None,
    remote: RemoteLoading | None = None,
    basemap: bool = True,
    draw_field: str | None = None,
    hidden: Collection[str] = (),
    recovery: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """A map of the store's layers with the analysis results on top.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Store layers by name (``Store.read``), EPSG:4326; missing or empty ones are left out.
    lang : {"mn", "en"}
        The language of every label, legend and popup.
    title : str, optional
        Shown on the map.
    findings : GeoDataFrame, optional
        ``geo.rules.analyze(...).records``: pairs with an area become the red overlaps layer,
        and every finding is listed in the popups of both features.
    available : GeoDataFrame, optional
        ``geo.availability.availability(...)``: the green available land.
    proposal : GeoDataFrame, optional
        A proposal under review (``id``, ``verdict``, ``official_ha``, ``geodesic_ha``),
        drawn on top; ``proposal_rules`` lists the findings by proposal id.
    bounds : (minx, miny, maxx, maxy), optional
        What the map opens on (default: the features shown, else Mongolia).
    remote : RemoteLoading, optional
        Load layers larger than ``remote.inline_limit`` from the API by bounding box.
        Without it every feature is inlined (standalone files).
    basemap : bool
        Offer the online tile basemap as an optional layer (never shown by default).
    draw_field : str, optional
        The id of a form field that receives a polygon drawn on the map (GeoJSON).
    hidden : collection of str
        Layer names (store layers, ``"overlaps"``, ``"available"``, ``"rehab_recovery"``) off
        when the map opens.
    recovery : GeoDataFrame, optional
        Rehabilitation zones with their recovery (``layers.rasters.rehab_registered``: the
        zones' fields, ``status``, ``before_mean``, ``after_mean``, ``change``,
        ``before_valid_share``, ``after_valid_share``): a layer coloured by ``status``.
        Always inlined (no API collection serves it).

    Returns
    -------
    folium.Map
        Rendered with ``map.get_root().render()``; every asset address is ``/static/...``.

    Examples
    --------
    >>> from shapely import box
    >>> soums = gpd.GeoDataFrame({"id": ["MN4322"], "aimag_code": ["MN43"],
    ...     "name_mn": ["Мандал"], "name_en": ["Mandal"]},
    ...     geometry=[box(106.0, 48.5, 107.0, 49.2)], crs=4326)
    >>> m = build_map({"soums": soums}, lang="en")
    >>> [e.layer_name for e in m._children.values() if isinstance(e, GazarLayer)]
    ['Soums (1)']
    """
    for name, frame in layers.items():
        if frame.crs is not None and frame.crs.to_epsg() != 4326:
            raise ValueError(f"layer '{name}' must be in EPSG:4326, not {frame.crs}")
    plan = _Plan(lang)
    index = rules_index(findings, lang)
    for name in LAYER_ORDER:
        frame = layers.get(name)
        plan.add(
            name,
            frame,
            LOOKS[name],
            title=label("layer", name, lang),
            rules=index.get(name),
            show=name not in hidden,
            remote=remote if name not in ("soums", "aimags") else None,
        )
    shown_recovery = _non_empty(recovery)
    plan.add(
        "rehab_recovery",
        shown_recovery,
        RECOVERY_LOOK,
        title=text("layer_recovery", lang),
        rules=None,
        show="rehab_recovery" not in hidden,
        remote=None,
        properties=None if shown_recovery is None else recovery_properties(shown_recovery),
    )
    plan.add(
        "available",
        _non_empty(available),
        AVAILABLE_LOOK,
        title=text("layer_available", lang),
        rules=None,
        show="available" not in hidden,
        remote=None,
    )
    plan.add(
        "overlaps",
        _overlap_frame(findings, lang),
        OVERLAP_LOOK,
        title=text("layer_overlaps", lang),
        rules=None,
        show="overlaps" not in hidden,
        remote=remote,
    )
    plan.add(
        "proposal",
        proposal,
        PROPOSAL_LOOK,
        title=text("layer_proposal", lang),
        rules=proposal_rules,
        show=True,
        remote=None,
    )

    box = (
        bounds
        or _bounds_of([proposal, *(layers.get(n) for n in CORE_LAYERS)])
        or _bounds_of([layers.get("soums")])
        or MONGOLIA_BOUNDS
    )
    m = folium.Map(
        location=[(box[1] + box[3]) / 2, (box[0] + box[2]) / 2],
        zoom_start=6,
        tiles=None,
        prefer_canvas=True,
        control_scale=False,
        min_zoom=4,
        max_zoom=19,
    )
    localize(m, [LEAFLET_JS], [LEAFLET_CSS])
    if basemap:
        folium.TileLayer(
            tiles=BASEMAP_TILES,
            attr=BASEMAP_ATTRIBUTION,
            name=text("layer_basemap", lang),
            overlay=True,
            control=True,
            show=False,
            max_zoom=19,
        ).add_to(m)
    for element in plan.elements:
        element.add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    localize(
        Fullscreen(
            position="topleft",
            title=text("fullscreen", lang),
            title_cancel=text("fullscreen_exit", lang),
            force_separate_button=True,
        ),
        [FULLSCREEN_JS],
        [FULLSCREEN_CSS],
    ).add_to(m)
    options: dict[str, Any] = {
        "title": title,
        "legend": {"title": text("legend", lang), "sections": plan.legend},
        "search": {"placeholder": text("search", lang), "none": text("search_none", lang)},
        "measure": {
            "line": text("measure_line", lang),
            "areaTool": text("measure_area", lang),
            "clear": text("measure_clear", lang),
            "length": text("measure_length", lang),
            "area": text("measure_area_value", lang),
            "perimeter": text("measure_perimeter", lang),
            "ha": "га" if lang == "mn" else "ha",
            "km": "км" if lang == "mn" else "km",
            "m": "м" if lang == "mn" else "m",
        },
        "drawLocal": _draw_local(lang),
        "note": html.escape(text("offline_note", lang)),
    }
    if draw_field:
        options["draw"] = {"field": draw_field}
    GazarSetup(options).add_to(m)
    m.fit_bounds([[box[1], box[0]], [box[3], box[2]]], padding=(12, 12))
    return m


def page_html(m: folium.Map, *, title: str, lang: Lang) -> str:
    """The whole HTML page of a map, titled, with its ``/static/`` addresses still to be
    inlined (:func:`web.assets.inline_assets`)."""
    root = cast(Figure, m.get_root())
    root.header.add_child(Element(f"<title>{html.escape(title)}</title>"), name="gazar_title")
    return str(root.render()).replace("<html>", f'<html lang="{lang}">', 1)


def _non_empty(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if frame is None or len(frame) == 0:
        return None
    geoms = np.asarray(frame.geometry.array, dtype=object)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    return frame[keep]


def layer_names(m: folium.Map) -> list[str]:
    """The store/analysis layer names of a built map, in drawing order."""
    return [e.layer for e in m._children.values() if isinstance(e, GazarLayer)]


def gazar_layers(m: folium.Map) -> list[GazarLayer]:
    """The data layers of a built map, in drawing order."""
    return [e for e in m._children.values() if isinstance(e, GazarLayer)]


# ------------------------------------------------------------------------------ selections


def _touching(frame: gpd.GeoDataFrame | None, area: Any) -> gpd.GeoDataFrame | None:
    if frame is None or len(frame) == 0:
        return frame
    hits = frame.sindex.query(area, predicate="intersects")
    return frame.iloc[np.sort(hits)]


def _one(frame: gpd.GeoDataFrame | None, layer: str, feature_id: str) -> gpd.GeoDataFrame:
    if frame is None or len(frame) == 0:
        raise FeatureNotFound(layer, feature_id)
    row = frame[frame["id"].astype(str) == str(feature_id)]
    if len(row) == 0:
        raise FeatureNotFound(layer, feature_id)
    return row.iloc[:1]


def _with_findings(
    layers: Mapping[str, gpd.GeoDataFrame],
    findings: gpd.GeoDataFrame | None,
) -> gpd.GeoDataFrame | None:
    """Findings whose features are both (or whose single feature is) among ``layers``."""
    if findings is None or len(findings) == 0:
        return findings
    ids = {name: set(frame["id"].astype(str)) for name, frame in layers.items() if len(frame)}

    def known(side: str) -> np.ndarray:
        lay = findings[f"{side}_layer"]
        fid = findings[f"{side}_id"].astype(str)
        ok = lay.isna().to_numpy().copy()
        for name, names in ids.items():
            ok |= (lay == name).to_numpy() & fid.isin(names).to_numpy()
        return ok

    return findings[known("a") & known("b")]


def select_area(layers: Mapping[str, gpd.GeoDataFrame], area: Any) -> dict[str, gpd.GeoDataFrame]:
    """The features of every layer that touch ``area`` (a shapely geometry in EPSG:4326)."""
    out: dict[str, gpd.GeoDataFrame] = {}
    for name, frame in layers.items():
        part = _touching(frame, area)
        if part is not None:
            out[name] = part
    return out


def soum_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    code: str,
    *,
    lang: Lang = "mn",
    findings: gpd.GeoDataFrame | None = None,
    available: gpd.GeoDataFrame | None = None,
    remote: RemoteLoading | None = None,
    basemap: bool = True,
    recovery: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """One soum: its outline and every feature touching it.

    Raises
    ------
    FeatureNotFound
        When the store has no soum ``code``.
    """
    soum = _one(layers.get("soums"), "soums", code)
    outline = soum.geometry.iloc[0]
    part = select_area({k: v for k, v in layers.items() if k != "aimags"}, outline)
    name = _name(soum, lang)
    return build_map(
        part,
        lang=lang,
        title=f"{text('title_soum', lang)}: {name} ({code})",
        findings=_with_findings(part, findings),
        available=_touching(available, outline),
        bounds=tuple(soum.total_bounds),  # type: ignore[arg-type]
        remote=remote,
        basemap=basemap,
        recovery=_touching(recovery, outline),
    )


def land_conclusion_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    land_conclusion_id: str,
    *,
    lang: Lang = "mn",
    findings: gpd.GeoDataFrame | None = None,
    available: gpd.GeoDataFrame | None = None,
    basemap: bool = True,
    recovery: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """One Land Conclusion with its parcels and zones and everything it touches.

    Raises
    ------
    FeatureNotFound
        When the store has no Land Conclusion ``land_conclusion_id``.
    """
    lc = _one(layers.get("land_conclusions"), "land_conclusions", land_conclusion_id)
    shape = lc.geometry.iloc[0]
    part = select_area({k: v for k, v in layers.items() if k != "aimags"}, shape)
    parcels = layers.get("contract_parcels")
    if parcels is not None and len(parcels):
        own = parcels[parcels["land_conclusion_id"].astype(str) == str(land_conclusion_id)]
        part["contract_parcels"] = _union_rows(part.get("contract_parcels"), own)
    zones = layers.get("rehab_zones")
    if zones is not None and len(zones) and "contract_parcels" in part:
        tied = zones[
            zones["parcel_id"].astype(str).isin(part["contract_parcels"]["id"].astype(str))
        ]
        part["rehab_zones"] = _union_rows(part.get("rehab_zones"), tied)
    free = None
    if available is not None and len(available):
        free = available[available["id"].astype(str) == str(land_conclusion_id)]
    name = lc["name"].iloc[0] if "name" in lc.columns else ""
    box = _bounds_of([lc, part.get("contract_parcels"), part.get("rehab_zones")])
    shown = part.get("rehab_zones")
    if recovery is not None and shown is not None:
        recovery = recovery[recovery["id"].astype(str).isin(shown["id"].astype(str))]
    return build_map(
        part,
        lang=lang,
        title=f"{text('title_land_conclusion', lang)}: {land_conclusion_id} {name or ''}".strip(),
        findings=_with_findings(part, findings),
        available=free,
        bounds=box,
        basemap=basemap,
        recovery=recovery if shown is not None else None,
    )


def overview_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    lang: Lang = "mn",
    findings: gpd.GeoDataFrame | None = None,
    available: gpd.GeoDataFrame | None = None,
    remote: RemoteLoading | None = None,
    basemap: bool = True,
    recovery: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Every soum and every feature of the store."""
    return build_map(
        layers,
        lang=lang,
        title=text("title_overview", lang),
        findings=findings,
        available=available,
        remote=remote,
        basemap=basemap,
        recovery=recovery,
    )


def _union_rows(a: gpd.GeoDataFrame | None, b: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if a is None or len(a) == 0:
        return b
    both = pd.concat([a, b])
    return both[~both["id"].astype(str).duplicated()]


def _name(row: gpd.GeoDataFrame, lang: Lang) -> str:
    first, second = ("name_mn", "name_en") if lang == "mn" else ("name_en", "name_mn")
    for col in (first, second):
        if col in row.columns:
            value = row[col].iloc[0]
            if isinstance(value, str) and value:
                return value
    return str(row["id"].iloc[0])


# ------------------------------------------------------------------------------ reviews

#: Rules whose area is the part of the proposal outside a container (not a shared area).


def review_overlaps(result: Review) -> gpd.GeoDataFrame:
    """The findings of a review that have an area, with the geometry the review kept.

    A pair finding's area is the proposal's part shared with the other feature; an
    outside finding's (``PARCEL_OUTSIDE_LC``, ``LC_OUTSIDE_SOUM``) the part outside it.
    Findings without an area or another feature (references, dates, the cap, the terrain)
    are left out.

    Returns
    -------
    GeoDataFrame
        ``FINDING_COLUMNS`` (``a_layer`` is ``"proposal"``), EPSG:4326.
    """
    rows: list[dict[str, Any]] = []
    for f in result.findings:
        if f.overlap_ha is None or f.layer is None or f.id is None:
            continue
        shape = _polygonal(f.geometry)
        if shape is None:
            continue
        rows.append(
            {
                "rule": f.code,
                "severity": f.severity,
                "a_layer": "proposal",
                "a_id": f.proposal_id,
                "b_layer": f.layer,
                "b_id": f.id,
                "overlap_ha": f.overlap_ha,
                "soum_code": None,
                "message_mn": f.message_mn,
                "message_en": f.message_en,
                "geometry": shape,
            }
        )
    columns = list(FINDING_COLUMNS)
    if not rows:
        return gpd.GeoDataFrame(
            {c: [] for c in columns if c != "geometry"}, geometry=[], crs=STORE_CRS
        )
    return gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs=STORE_CRS)


def _polygonal(shape: Any) -> Any:
    """The polygons of a geometry (a collection's lines and points dropped), or None."""
    if shape is None or shape.is_empty:
        return None
    if shape.geom_type in ("Polygon", "MultiPolygon"):
        return shape
    parts = [g for g in getattr(shape, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else None


def proposal_frame(result: Review) -> gpd.GeoDataFrame:
    """The reviewed features (as given, EPSG:4326) with their id, verdict and areas."""
    feats = result.features
    return gpd.GeoDataFrame(
        {
            "id": np.array([x.id for x in feats], dtype=object),
            "verdict": [x.verdict for x in feats],
            "official_ha": [x.official_ha for x in feats],
            "geodesic_ha": [x.geodesic_ha for x in feats],
        },
        geometry=gpd.GeoSeries([x.geometry for x in feats], crs=STORE_CRS),
        crs=STORE_CRS,
    )


def review_map(
    result: Review,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    lang: Lang = "mn",
    margin_deg: float = 0.02,
    basemap: bool = True,
    draw_field: str | None = None,
) -> folium.Map:
    """A reviewed proposal, the overlaps it has in red and the features around it.

    Parameters
    ----------
    result : Review
        :func:`geo.review.review`'s answer: its features and the findings' areas are drawn.
    layers : mapping of str to GeoDataFrame
        The store's layers; features within ``margin_deg`` of the proposal are drawn.
    """
    shown = proposal_frame(result)
    geoms = np.asarray(shown.geometry.array, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.any():
        x0, y0, x1, y1 = shapely.total_bounds(geoms[ok])
        near = select_area(
            {k: v for k, v in layers.items() if k != "aimags"},
            shapely.box(x0 - margin_deg, y0 - margin_deg, x1 + margin_deg, y1 + margin_deg),
        )
        bounds: Bounds | None = (float(x0), float(y0), float(x1), float(y1))
    else:
        near, bounds = {"soums": layers["soums"]} if "soums" in layers else {}, None
    findings = review_overlaps(result)
    index = rules_index(
        pd.DataFrame(
            {
                "a_layer": "proposal",
                "a_id": [str(f.proposal_id) for f in result.findings],
                "b_layer": None,
                "b_id": None,
                "message_mn": [f.message_mn for f in result.findings],
                "message_en": [f.message_en for f in result.findings],
            }
        ),
        lang,
    )
    verdict = verdict_label(result.verdict)
    return build_map(
        near,
        lang=lang,
        title=f"{text('title_review', lang)}: {verdict[0] if lang == 'mn' else verdict[1]}",
        findings=findings,
        proposal=shown[ok],
        proposal_rules=index.get("proposal"),
        bounds=bounds,
        basemap=basemap,
        draw_field=draw_field,
    )
