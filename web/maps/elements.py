"""The parts of a map: layers' features as GeoJSON (light geometry), the folium elements drawn
by ``gazar.js``, the labels they show and each layer's spec (properties, legend, plan)."""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from geo.area import official_ha
from geo.raster import RECOVERY_LABELS
from geo.rules import RULES, SEVERITY_LABELS
from layers.geojson import collection, property_features
from layers.labels import LABELS, Lang, label
from web.assets import (
    DRAW_CSS,
    DRAW_JS,
    GAZAR_CSS,
    GAZAR_JS,
    VECTORGRID_JS,
    localize,
)
from web.i18n import text
from web.maps.styles import PRECISION_DEG, Look, RemoteLoading
from web.safejson import script_json

# ------------------------------------------------------------------------------ data to JSON


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
    >>> float(round(shapely.get_coordinates(light_geometry([g], 1e-6)[0])[:, 0].min(), 9))
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
    cols = {k: np.asarray(v, dtype=object)[keep] for k, v in properties.items()}
    keys = list(cols)
    n = int(keep.sum())
    rows = zip(*(cols[k] for k in keys), strict=True) if keys else iter([()] * n)
    props = [dict(zip(keys, row, strict=True)) for row in rows]
    return script_json(collection(property_features(props, geoms[keep])))


#: the inlined layers' GeoJSON kept by frame (see :func:`layer_json`)
DATA_KEPT: Final = 32
_data_lock = threading.Lock()
_data: OrderedDict[tuple[object, ...], tuple[weakref.ref[gpd.GeoDataFrame], str]] = OrderedDict()


def layer_json(
    frame: gpd.GeoDataFrame,
    key: tuple[object, ...],
    properties: Callable[[], Mapping[str, Sequence[object]]],
    *,
    simplify_deg: float,
) -> str:
    """:func:`features_json` of ``frame``, kept for the same frame object and ``key`` (what
    else the JSON depends on: layer, language, fields): the layer cache hands out one frame
    per layer revision and never changes it in place, so a page rebuilt after a write
    serialises only the layers the write changed. At most :data:`DATA_KEPT` are kept; a frame
    that is gone is never matched (its entry holds it weakly)."""
    full = (id(frame), simplify_deg, *key)
    with _data_lock:
        hit = _data.get(full)
        if hit is not None and hit[0]() is frame:
            _data.move_to_end(full)
            return hit[1]
    data = features_json(frame, properties(), simplify_deg=simplify_deg)
    with _data_lock:
        _data[full] = (weakref.ref(frame), data)
        while len(_data) > DATA_KEPT:
            _data.popitem(last=False)
    return data


# ------------------------------------------------------------------------------ folium parts


class _Text(Element):  # type: ignore[misc]
    """Text placed in the page as it is (branca compiles an element's text as a template:
    seconds of Jinja lexing for a layer's GeoJSON, and its ``{{`` would be read as code)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


#: stands for a layer's GeoJSON while its script is rendered (then replaced by the text)
_DATA_MARK: Final = "__gazar_layer_data__"


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
        self.spec_json = script_json(spec)
        self.data_json = data if data is not None else "null"
        tiled = bool((spec.get("remote") or {}).get("tiles"))
        localize(self, [VECTORGRID_JS, GAZAR_JS] if tiled else [GAZAR_JS], [GAZAR_CSS])

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # branca: None here
        """As folium renders a layer, with the GeoJSON put in after the template ran."""
        data = self.data_json
        self.data_json = _DATA_MARK
        try:
            super().render(**kwargs)
        finally:
            self.data_json = data
        root = self.get_root()
        if not isinstance(root, Figure):
            return
        name = self.get_name()
        script = root.script._children[name].render()
        root.script.add_child(_Text(script.replace(_DATA_MARK, data, 1)), name=name)


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
        self.options_json = script_json(options)
        localize(self, [DRAW_JS, GAZAR_JS], [DRAW_CSS, GAZAR_CSS])


# ------------------------------------------------------------------------------ labels


@functools.cache
def _labels(lang: Lang) -> dict[str, dict[str, str]]:
    """Every label group of the catalogue in ``lang``, with the rules', severities',
    verdicts' and recovery classes': made once per language (the catalogue is read once per
    process) and shared by every layer of every map, so callers read it and never change it
    (a map asked for it once per layer, ~20,000 lookups a build)."""
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


def _texts(values: pd.Series | npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """``values`` as text, as ``astype(str)`` makes them, copied only when some value is not
    already a ``str`` (a findings column of ids or messages always is)."""
    arr = np.asarray(values, dtype=object)
    if pd.api.types.infer_dtype(arr, skipna=False) == "string":
        return arr
    return pd.Series(arr, dtype=object).astype(str).to_numpy(dtype=object)


class RulesIndex:
    """The messages of the rules each feature breaks, per layer, each layer's built only when
    a map asks for it: a layer drawn from its features by bounding box with more findings than
    a page inlines leaves its rules out, and a store whose contracts have all expired has tens
    of thousands of findings that such a map would otherwise index on every rebuild.

    Both features of a pair finding break the rule. Features come in the order they first
    appear (the ``a`` sides, then the ``b`` sides), each one's messages in row order, once.
    """

    def __init__(self, findings: pd.DataFrame | None, lang: Lang) -> None:
        self._rows: dict[str, npt.NDArray[np.intp]] = {}
        self._counts: dict[str, int] = {}
        if findings is None or len(findings) == 0:
            return
        sides = ("a", "b")
        layer = np.concatenate([findings[f"{s}_layer"].to_numpy(dtype=object) for s in sides])
        ids = np.concatenate([findings[f"{s}_id"].to_numpy(dtype=object) for s in sides])
        keep = np.flatnonzero(pd.notna(layer) & pd.notna(ids))
        message = _texts(findings["message_mn" if lang == "mn" else "message_en"])
        self._id = _texts(ids[keep])
        self._msg = np.concatenate([message, message])[keep]
        # each layer's rows in order, by one stable sort of their layer codes
        layer_codes, layers = pd.factorize(_texts(layer[keep]))
        order = np.argsort(layer_codes, kind="stable")
        cuts = np.searchsorted(layer_codes[order], np.arange(len(layers) + 1))
        for k, name in enumerate(layers.tolist()):
            self._rows[name] = order[cuts[k] : cuts[k + 1]]

    @property
    def layers(self) -> list[str]:
        return list(self._rows)

    def count(self, layer: str) -> int:
        """How many features of ``layer`` break a rule (counted when first asked: a map asks
        only for the layers it loads by bounding box)."""
        if layer not in self._counts:
            rows = self._rows.get(layer)
            self._counts[layer] = 0 if rows is None else len(pd.unique(self._id[rows]))
        return self._counts[layer]

    def get(self, layer: str) -> dict[str, list[str]] | None:
        """``{id: [message, ...]}`` of ``layer`` (None when none of its features breaks one):
        one sort and slices of one list, no group object per feature."""
        rows = self._rows.get(layer)
        if rows is None:
            return None
        # each message once per feature (a rule broken with two neighbours says so once)
        pairs, _ = pd.factorize(pd.Series(self._id[rows]) + "\x00" + pd.Series(self._msg[rows]))
        rows = rows[np.sort(np.unique(pairs, return_index=True)[1])]
        codes, _ = pd.factorize(self._id[rows])
        order = np.argsort(codes, kind="stable")
        starts = np.flatnonzero(np.diff(codes[order], prepend=-1))
        ends = [*starts[1:].tolist(), len(order)]
        msgs = self._msg[rows[order]].tolist()
        ids = self._id[rows[order[starts]]].tolist()
        return {
            fid: msgs[start:end] for fid, start, end in zip(ids, starts.tolist(), ends, strict=True)
        }


def rules_index(findings: pd.DataFrame | None, lang: Lang) -> dict[str, dict[str, list[str]]]:
    """The messages of the rules each feature breaks: ``{layer: {id: [message, ...]}}`` (every
    layer of :class:`RulesIndex` built).

    Examples
    --------
    >>> f = pd.DataFrame({"a_layer": ["contract_parcels"], "a_id": ["P-1"],
    ...     "b_layer": ["contract_parcels"], "b_id": ["P-2"], "message_mn": ["mn"],
    ...     "message_en": ["P-1 overlaps P-2"]})
    >>> rules_index(f, "en")["contract_parcels"]
    {'P-1': ['P-1 overlaps P-2'], 'P-2': ['P-1 overlaps P-2']}
    """
    index = RulesIndex(findings, lang)
    return {layer: index.get(layer) or {} for layer in index.layers}


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
    if look.label_zoom:
        props["label"] = _plain(_map_names(frame, lang))
    return props


def _map_names(frame: gpd.GeoDataFrame, lang: Lang) -> pd.Series:
    """The name a background feature shows on the map: its Mongolian ``name``, or in English
    its ``name_latin`` (the Mongolian name when it has none)."""
    empty = pd.Series(None, index=frame.index, dtype=object)
    mn = frame.get("name", empty)
    if lang == "mn":
        return mn
    latin = frame.get("name_latin", empty)
    return latin.where(latin.notna() & (latin.astype(str) != ""), mn)


def _tiles(remote: RemoteLoading, name: str) -> dict[str, str]:
    """The vector tiles a large layer is drawn from below ``remote.min_zoom``: their address
    template (``{z}/{y}/{x}``) and the tile layer's name (the collection's id)."""
    if remote.tiles_url is None:
        return {}
    url = remote.tiles_url.replace("{layer}", name)
    collection = url.split("/collections/", 1)[-1].split("/", 1)[0]
    return {"tiles": url, "tilesLayer": collection}


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
    if look.label_zoom:
        spec["names"] = {"key": look.label_key, "zoom": look.label_zoom}
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


def _broken(rules: Mapping[str, list[str]] | RulesIndex | None, layer: str) -> int:
    """How many features of ``layer`` break a rule, by ``rules`` (an index or one layer's)."""
    return rules.count(layer) if isinstance(rules, RulesIndex) else len(rules or ())


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
        rules: Mapping[str, list[str]] | RulesIndex | None,
        show: bool,
        remote: RemoteLoading | None,
        properties: Callable[[], Mapping[str, Sequence[object]]] | None = None,
    ) -> None:
        """``properties``: the popup values of an inlined layer (default: its look's fields),
        asked for only when the layer is inlined; ``rules``: the layer's rule messages, or the
        index to take them from (only when the popups show them)."""
        if frame is None or len(frame) == 0:
            return
        look = _in_language(look, self.lang)
        far = remote is not None and (
            len(frame) > remote.inline_limit
            or int(shapely.get_num_coordinates(frame.geometry.array).sum())
            > remote.inline_coordinates
        )
        remote_spec = None
        if far and remote is not None:
            remote_spec = {
                "url": remote.items_url.format(layer=name),
                **_tiles(remote, name),
                "minZoom": remote.min_zoom,
                "limit": remote.page_limit,
                "strings": {
                    "zoomIn": text("zoom_in_to_load", self.lang),
                    "details": text("zoom_in_for_details", self.lang),
                    "loading": text("loading", self.lang),
                    "failed": text("load_failed", self.lang),
                    "capped": text("shown_first", self.lang),
                },
            }
        if far and remote is not None and _broken(rules, name) > remote.inline_limit:
            # a layer too large to inline has too many findings to inline too: its popups
            # leave the rules out rather than say none are broken
            look = replace(look, rules=False)
        if isinstance(rules, RulesIndex):
            rules = rules.get(name) if look.rules else None
        spec = _spec(name, title, look, self.lang, rules=rules, remote=remote_spec)
        data = None
        if not far:
            key = (name, self.lang, look.fields, look.search, look.key, properties is None,
                   bool(look.label_zoom))  # fmt: skip
            data = layer_json(
                frame,
                key,
                properties or (lambda: _properties(name, frame, look, self.lang)),
                simplify_deg=look.simplify_deg,
            )
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
        if int(shapely.get_type_id(frame.geometry.array[:1])[0]) in (1, 5):  # lines: a stroke
            items = [{**item, "shape": "line"} for item in items]
        self.legend.append({"title": title, "items": items})


__all__ = [
    "GazarLayer",
    "GazarSetup",
    "RulesIndex",
    "features_json",
    "layer_json",
    "light_geometry",
    "rules_index",
]
