"""The map builder: layers in, a ``folium.Map`` out (:func:`build_map`), and reading a map back."""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure
from folium.plugins import Fullscreen

from layers.geojson import collection, dumps, property_features
from layers.labels import Lang, label
from layers.schema import MONGOLIA_BOUNDS, STORE_CRS
from web.assets import (
    FULLSCREEN_CSS,
    FULLSCREEN_JS,
    LEAFLET_CSS,
    LEAFLET_JS,
    localize,
)
from web.i18n import DRAW_LOCAL_MN, text
from web.maps.elements import (
    GazarLayer,
    GazarSetup,
    RulesIndex,
    _official,
    _plain,
    _Plan,
    light_geometry,
)
from web.maps.styles import (
    APPLICATION_LOOK,
    AVAILABLE_LOOK,
    BACKGROUND_LAYERS,
    BASEMAP_ATTRIBUTION,
    BASEMAP_TILES,
    CORE_LAYERS,
    LAYER_ORDER,
    LOOKS,
    OVERLAP_LOOK,
    PROPOSAL_LOOK,
    RECOVERY_LOOK,
    Bounds,
    RemoteLoading,
)

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


def recovery_collection(recovery: gpd.GeoDataFrame, *, matched: int) -> bytes:
    """The recovery layer's features as a GeoJSON FeatureCollection (``numberMatched`` of
    them in the request's box; light geometry, the popup values of
    :func:`recovery_properties`): what a map page loads by bounding box.

    Examples
    --------
    >>> from shapely import box
    >>> z = gpd.GeoDataFrame({"id": ["RZ-1"], "status": ["recovering"], "before_mean": [0.1],
    ...     "after_mean": [0.4], "change": [0.3], "before_valid_share": [1.0],
    ...     "after_valid_share": [1.0]}, geometry=[box(106, 47, 106.001, 47.001)], crs=4326)
    >>> import orjson
    >>> doc = orjson.loads(recovery_collection(z, matched=1))
    >>> doc["numberMatched"], doc["features"][0]["id"], doc["features"][0]["properties"]["change"]
    (1, 'RZ-1', 0.3)
    """
    shown = _non_empty(recovery)
    if shown is None or len(shown) == 0:
        return dumps(collection([], {"numberMatched": matched, "numberReturned": 0}))
    geoms = light_geometry(shown.geometry.array, RECOVERY_LOOK.simplify_deg)
    props = recovery_properties(shown)
    keys = list(props)
    rows = [dict(zip(keys, row, strict=True)) for row in zip(*props.values(), strict=True)]
    features = property_features(rows, geoms)
    for feature, row in zip(features, rows, strict=True):
        feature["id"] = row["id"]
    members = {"numberMatched": matched, "numberReturned": len(features)}
    return dumps(collection(features, members))


def _collection(remote: RemoteLoading | None, collection: str) -> RemoteLoading | None:
    """``remote`` asking the OGC collection ``collection`` (a layer named otherwise)."""
    if remote is None:
        return None
    tiles = remote.tiles_url
    return replace(
        remote,
        items_url=remote.items_url.replace("{layer}", collection),
        tiles_url=None if tiles is None else tiles.replace("{layer}", collection),
    )


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
    names: Mapping[str, gpd.GeoDataFrame] | None = None,
    place_links: bool = False,
    applications: gpd.GeoDataFrame | None = None,
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
        Loaded by bounding box from ``remote.recovery_url`` when larger than
        ``remote.inline_limit`` (as the store's large layers), else inlined.
    names : mapping of str to GeoDataFrame, optional
        Where popups take soum and aimag names from (``soums``, ``aimags``; default ``layers``):
        a ``soum_code`` or ``aimag_code`` shows as "name (code)".
    place_links : bool
        A soum's name links to its map page ``/map/soum/{code}`` (served pages only).
    applications : GeoDataFrame, optional
        Pending applications as the public register shows them (``id`` is the public number,
        ``position`` the place in its Land Conclusion's queue): a dashed layer above the parcels.

    Returns
    -------
    folium.Map
        Rendered with ``map.get_root().render()``; every asset address is ``/static/...``.

    Examples
    --------
    >>> from shapely import box
    >>> soums = gpd.GeoDataFrame({"id": ["MN4322"], "aimag_code": ["MN43"],
    ...     "name_mn": ["Mandal (mn)"], "name_en": ["Mandal"]},
    ...     geometry=[box(106.0, 48.5, 107.0, 49.2)], crs=4326)
    >>> m = build_map({"soums": soums}, lang="en")
    >>> [e.layer_name for e in m._children.values() if isinstance(e, GazarLayer)]
    ['Soums (1)']
    """
    for name, frame in layers.items():
        if frame.crs is not None and frame.crs.to_epsg() != 4326:
            raise ValueError(f"layer '{name}' must be in EPSG:4326, not {frame.crs}")
    plan = _Plan(lang)
    index = RulesIndex(findings, lang)
    for name in LAYER_ORDER:
        frame = layers.get(name)
        plan.add(
            name,
            frame,
            LOOKS[name],
            title=label("layer", name, lang),
            rules=index,
            show=name not in hidden,
            remote=remote if name not in ("soums", "aimags", *BACKGROUND_LAYERS) else None,
        )
    shown_recovery = _non_empty(recovery)
    plan.add(
        "rehab_recovery",
        shown_recovery,
        RECOVERY_LOOK,
        title=text("layer_recovery", lang),
        rules=None,
        show="rehab_recovery" not in hidden,
        remote=None
        if remote is None
        else replace(remote, items_url=remote.recovery_url, tiles_url=None),
        properties=None if shown_recovery is None else lambda: recovery_properties(shown_recovery),
    )
    derived = remote if remote is not None and remote.derived else None
    extra = (  # name, features, look, rules, remote: above the store's layers
        (
            "available",
            _non_empty(available),
            AVAILABLE_LOOK,
            None,
            _collection(derived, "available_land"),
        ),
        ("overlaps", _overlap_frame(findings, lang), OVERLAP_LOOK, None, derived),
        ("applications", _non_empty(applications), APPLICATION_LOOK, None, None),
        ("proposal", proposal, PROPOSAL_LOOK, proposal_rules, None),
    )
    for name, frame, look, rules, far in extra:
        plan.add(
            name,
            frame,
            look,
            title=text(f"layer_{name}", lang),
            rules=rules,
            show=name == "proposal" or name not in hidden,
            remote=far,
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
            **{unit: label("map_unit", unit, lang) for unit in ("ha", "km", "m")},
        },
        "drawLocal": _draw_local(lang),
        "note": html.escape(text("offline_note", lang)),
        # narrow screens (a phone): the layer list behind a button, the legend folded
        "narrow": {"layers": text("map_layers_button", lang), "maxWidth": 640},
        "print": {
            "title": title or text("print_map", lang),
            **{
                k: text(f"print_{k}", lang)
                for k in ("map", "paper", "orientation", "portrait", "landscape", "go", "date")
            },
            "north": text("north", lang),
        },
    }
    options["places"] = _places(names or layers, lang, links=place_links)
    if draw_field:
        options["draw"] = {"field": draw_field}
    else:  # the view (centre, zoom, layers, open feature) in the address, for links
        options["share"] = True
    GazarSetup(options).add_to(m)
    m.fit_bounds([[box[1], box[0]], [box[3], box[2]]], padding=(12, 12))
    return m


def _places(
    layers: Mapping[str, gpd.GeoDataFrame], lang: Lang, *, links: bool
) -> dict[str, dict[str, Any]]:
    """The soum and aimag names popups show for ``soum_code``/``aimag_code`` (in ``lang``, the
    other language when it is missing); on a served page a soum also links to its map page."""
    out: dict[str, dict[str, Any]] = {}
    for field, name in (("soum_code", "soums"), ("aimag_code", "aimags")):
        frame = layers.get(name)
        if frame is None or len(frame) == 0:
            continue
        first, second = ("name_mn", "name_en") if lang == "mn" else ("name_en", "name_mn")
        names = frame[first].where(frame[first].notna() & (frame[first] != ""), frame[second])
        keep = names.notna().to_numpy()
        entry: dict[str, Any] = {
            "names": dict(zip(frame["id"].astype(str)[keep], names[keep].astype(str), strict=True))
        }
        if links and field == "soum_code":
            entry["href"] = "/map/soum/{code}" + ("?lang=en" if lang == "en" else "")
        out[field] = entry
    return out


def page_html(m: folium.Map, *, title: str, lang: Lang) -> str:
    """The whole HTML page of a map, titled, with its ``/static/`` addresses still to be
    inlined (:func:`web.assets.inline_assets`)."""
    root = cast(Figure, m.get_root())
    root.header.add_child(Element(f"<title>{html.escape(title)}</title>"), name="gazar_title")
    page = str(root.render()).replace("<html>", f'<html lang="{lang}">', 1)
    # folium's viewport tag forbids pinch-zoom: allow it
    return re.sub(
        r'<meta name="viewport"[^>]*user-scalable=no[^>]*>',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        page,
        count=1,
    )


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


__all__ = [
    "build_map",
    "gazar_layers",
    "layer_names",
    "page_html",
    "recovery_collection",
    "recovery_properties",
]
