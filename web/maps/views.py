"""Maps of one place: a soum, a Land Conclusion, the whole store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import FeatureNotFound
from layers.labels import Lang
from web.i18n import text
from web.maps.builder import _bounds_of, build_map
from web.maps.styles import BACKGROUND_LAYERS, RemoteLoading

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


#: how far around a soum or a Land Conclusion its map shows the background (degrees)
SOUM_SURROUNDINGS_DEG = 0.2
LC_SURROUNDINGS_DEG = 0.15


def _with_background(
    part: dict[str, gpd.GeoDataFrame],
    layers: Mapping[str, gpd.GeoDataFrame],
    area: Any,
    margin: float,
) -> dict[str, gpd.GeoDataFrame]:
    """``part`` with the background (lakes, roads, settlements) of ``area``'s surroundings:
    the towns, lakes and roads around a place, not only those touching it."""
    x0, y0, x1, y1 = area.bounds
    around = shapely.box(x0 - margin, y0 - margin, x1 + margin, y1 + margin)
    near = select_area({n: layers[n] for n in BACKGROUND_LAYERS if n in layers}, around)
    return {**part, **near}


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
    place_links: bool = False,
    applications: gpd.GeoDataFrame | None = None,
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
    part = _with_background(part, layers, outline, SOUM_SURROUNDINGS_DEG)
    name = _name(soum, lang)
    return build_map(
        part,
        names=layers,
        place_links=place_links,
        applications=_touching(applications, outline),
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
    place_links: bool = False,
    applications: gpd.GeoDataFrame | None = None,
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
    part = _with_background(part, layers, shape, LC_SURROUNDINGS_DEG)
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
        names=layers,
        place_links=place_links,
        applications=_touching(applications, shape),
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
    place_links: bool = False,
    applications: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Every soum and every feature of the store."""
    return build_map(
        layers,
        names=layers,
        place_links=place_links,
        applications=applications,
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


__all__ = [
    "land_conclusion_map",
    "overview_map",
    "select_area",
    "soum_map",
]
