"""The map of a reviewed proposal, drawn from the typed review (:class:`geo.review_types.Review`):
its features and the areas of its findings, as the review kept them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.review_types import Review, verdict_label
from geo.rules import FINDING_COLUMNS
from layers.labels import Lang, label
from layers.schema import STORE_CRS
from web.i18n import text
from web.maps.builder import build_map
from web.maps.elements import rules_index
from web.maps.styles import Bounds
from web.maps.views import select_area

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


def allowed_overlaps(result: Review) -> gpd.GeoDataFrame:
    """The overlaps the rules allow (``Review.overlaps`` of severity ``info``: a parcel inside
    a proposed Land Conclusion, legacy rehabilitation land...), as ``review_overlaps`` rows
    of severity ``info`` (drawn blue), their message naming the feature and hectares."""
    rows: list[dict[str, Any]] = []
    for o in result.overlaps:
        shape = _polygonal(o.geometry)
        if o.code is not None or shape is None:
            continue
        who = o.name or o.holder
        words = {
            lang: f"{text('doc_allowed', lang)}: {label('layer', o.layer, lang)} {o.id}"
            f"{' · ' + who if who else ''} · {o.overlap_ha:.2f} ha"
            for lang in ("mn", "en")
        }
        rows.append({"rule": "", "severity": "info", "a_layer": "proposal",
                     "a_id": o.proposal_id, "b_layer": o.layer, "b_id": o.id,
                     "overlap_ha": o.overlap_ha, "soum_code": None, "message_mn": words["mn"],
                     "message_en": words["en"], "geometry": shape})  # fmt: skip
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
    allowed = allowed_overlaps(result)
    if len(allowed):
        findings = gpd.GeoDataFrame(
            pd.concat([findings, allowed], ignore_index=True), geometry="geometry", crs=STORE_CRS
        )
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


__all__ = [
    "allowed_overlaps",
    "proposal_frame",
    "review_map",
    "review_overlaps",
]
