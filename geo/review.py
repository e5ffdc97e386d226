"""The desk review of a proposed Land Conclusion or contract parcel (``gazar check``).

What MRPAM does by hand today, in one call: is the geometry usable (and what was repaired), its
official and true hectares, the soums and aimags it falls in and the share outside the
proposing soum, every overlap with every layer the rules care about (hectares, the other
feature's id and holder), the rules it breaks (``geo.rules``), and a verdict:

``invalid``
    At least one feature cannot be analysed: no geometry, not a polygon, a NaN/infinite
    coordinate, or coordinates outside Mongolia (swapped lat/lon, projected metres). The
    usable features are still reviewed and their findings listed.
``conflicts``
    At least one finding of severity ``block``.
``clear``
    Otherwise. ``warn`` and ``info`` findings (another holder's rehabilitation zone under a
    parcel, a repaired geometry) may be present with a clear verdict: they are for the
    reviewer to read, not reasons to refuse.

The rules come from the tables of :mod:`geo.rules` (the pairs where the proposal's layer meets
another layer, the containment, reference and cap rules), so a review and ``analyze`` agree.
A proposed parcel's Land Conclusion is the one named in its ``land_conclusion_id`` column, else
the Land Conclusion (of any status) it overlaps most; a proposed Land Conclusion's soum is
``soum_code``, else its ``soum_code`` column, else the soum it overlaps most.

Reviews are fast because a :class:`ReviewContext` indexes each layer once (one ``STRtree`` per
layer); the work of one review is proportional to the features near the proposal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.area import areas
from geo.outside import outside_area
from geo.overlaps import overlap_records, overlapping_pairs
from geo.raster import Dem, as_records, terrain, terrain_findings
from geo.repair import Repaired, layer_arrays, repair_polygons
from geo.review_input import (
    REVIEW_LAYERS,
    ReviewContext,
    proposal_frame,
    proposal_problems,
)
from geo.review_overlaps import feature_overlaps
from geo.review_report import (
    REVIEW_RULES,
    build_review,
    rounded,
    sorted_findings,
    text_or_none,
)
from geo.review_types import (
    AimagHit,
    Area,
    FeatureReview,
    Finding,
    Kind,
    Overlap,
    ParcelLandConclusion,
    Problem,
    Review,
    SoumShare,
    Verdict,
)
from geo.rules import (
    LIVE,
    OVERLAP_PAIRS,
    RULES,
    VALID_LAND_CONCLUSION,
    Live,
    OverlapPair,
    ReferenceRule,
    cap_findings,
    outside_part,
    overlap_findings,
    overlap_part,
    reference_findings,
)
from geo.settings import AnalysisSettings
from layers.labels import LABELS
from layers.labels import pair as label_pair
from layers.schema import STORE_CRS

__all__ = [
    "KIND_LAYER",
    "PROPOSAL",
    "REVIEW_LAYERS",
    "REVIEW_RULES",
    "VERDICT_LABELS",
    "AimagHit",
    "Area",
    "FeatureReview",
    "Finding",
    "Kind",
    "Overlap",
    "ParcelLandConclusion",
    "Problem",
    "Review",
    "ReviewContext",
    "SoumShare",
    "Verdict",
    "review",
]

#: The layer a proposal of each kind would join.
KIND_LAYER: Final[dict[str, str]] = {
    "land_conclusion": "land_conclusions",
    "parcel": "contract_parcels",
}

#: The verdicts as a person reads them (Mongolian, English), from the catalogue.
VERDICT_LABELS: Final[Mapping[str, tuple[str, str]]] = LABELS["review_verdict"]

#: The name of the proposal in overlap records and repair reports.
PROPOSAL: Final = "proposal"


def review(
    proposal: gpd.GeoDataFrame,
    *,
    kind: Kind,
    layers: Mapping[str, gpd.GeoDataFrame] | ReviewContext,
    today: dt.date,
    settings: AnalysisSettings,
    soum_code: str | None = None,
    pairs: Sequence[OverlapPair] = OVERLAP_PAIRS,
    live: Mapping[str, Live] = LIVE,
    dem: Dem | None = None,
) -> Review:
    """Review a proposed Land Conclusion or contract parcel against every layer.

    Parameters
    ----------
    proposal : GeoDataFrame
        One or more features (each reviewed; totals over all), with a CRS (reprojected to
        EPSG:4326 if needed). Optional columns: ``id`` (else ``#1``, ``#2``, ...), for a
        parcel ``land_conclusion_id`` and ``holder``, for a Land Conclusion ``soum_code``.
    kind : {"land_conclusion", "parcel"}
        What is proposed.
    layers : mapping of str to GeoDataFrame, or ReviewContext
        The store's layers (``REVIEW_LAYERS``); a :class:`ReviewContext` to review many
        proposals without indexing the layers again.
    today : datetime.date
        The day validity dates are compared with.
    settings : AnalysisSettings
        ``overlap_tolerance_m2`` and ``parcel_cap_ha``.
    soum_code : str, optional
        The proposing soum (default: see the module's description).
    pairs, live
        The tables of :mod:`geo.rules`.
    dem : geo.raster.Dem, optional
        Elevations over the proposal (``layers.rasters.read_dem``): the share of each feature
        steeper than ``settings.slope_limit_deg`` is reported under ``terrain``, and a
        ``SLOPE_OVER_LIMIT`` warning given above ``settings.slope_share_limit``.

    Returns
    -------
    Review
        Typed (:mod:`geo.review_types`): each finding keeps the geometry it is about and each
        feature its own. ``Review.as_json()`` (and reading the review as a mapping) gives the
        JSON document: ``kind``, ``today``, ``verdict`` with ``verdict_mn``/``verdict_en``,
        ``area`` ``{official_ha, geodesic_ha}`` (totals), ``features`` (per feature: id,
        areas, UTM zone, verdict), ``soums`` (each soum touched: code, names, aimag,
        ``overlap_ha``, ``share``), ``aimags``, ``proposing_soum``, ``outside_soum_ha`` and
        ``outside_soum_share``, ``land_conclusions`` (a parcel's Land Conclusion per feature),
        ``findings`` (each: ``severity``, ``code``, ``title_mn``/``title_en``,
        ``proposal_id``, ``layer``, ``id``, ``holder``, ``overlap_ha``, ``message_mn``,
        ``message_en``), ``counts`` per severity, ``repairs``, ``problems`` and ``overlaps``
        (every stored feature the proposal shares land with, in every layer: ``severity``
        (``info`` where the rules allow the pair), ``code``, ``proposal_id``, ``layer``,
        ``id``, ``name``, ``holder``, ``status``, ``live``, ``overlap_ha``); with a
        ``dem``, ``terrain`` (per feature: ``id``, ``mean_slope_deg``, ``steep_share``,
        ``steep_ha``, ``valid_share``, ``over``).

    Raises
    ------
    ValueError
        For an unknown ``kind``, a proposal that is not a GeoDataFrame or has no CRS.

    Examples
    --------
    >>> from shapely import box
    >>> lcs = gpd.GeoDataFrame({"id": ["LC-1"], "status": ["issued"], "valid_until": [None],
    ...     "soum_code": ["MN4322"]}, geometry=[box(106, 47, 106.1, 47.1)], crs=4326)
    >>> parcel = gpd.GeoDataFrame(geometry=[box(106.01, 47.01, 106.012, 47.012)], crs=4326)
    >>> result = review(parcel, kind="parcel", layers={"land_conclusions": lcs},
    ...                 today=dt.date(2025, 6, 30), settings=AnalysisSettings())
    >>> result.verdict, round(result.area.official_ha, 2), result.findings
    ('clear', 3.38, ())
    >>> result.as_json()["verdict_en"]
    'Clear'

    """
    if kind not in KIND_LAYER:
        raise ValueError(f"kind must be one of {', '.join(KIND_LAYER)}, not {kind!r}")
    ctx = layers if isinstance(layers, ReviewContext) else ReviewContext(layers)
    day = today.date() if isinstance(today, dt.datetime) else today
    tol = float(settings.overlap_tolerance_m2)
    layer = KIND_LAYER[kind]
    frame = proposal_frame(proposal)
    problems = proposal_problems(frame)
    usable = np.ones(len(frame), dtype=bool)
    for p in problems:
        if p.index is not None:
            usable[p.index] = False
    ok = frame[usable]
    ids = ok["id"].to_numpy(dtype=object)
    geoms, fixed = repair_polygons(
        np.asarray(ok.geometry.array, dtype=object), layer=PROPOSAL, ids=ids
    )
    ok = ok.set_geometry(gpd.GeoSeries(geoms, index=ok.index, crs=STORE_CRS))
    size = (
        areas(ok) if len(ok) else pd.DataFrame(columns=["official_ha", "geodesic_ha", "utm_zone"])
    )

    near = {name: ctx.near(name, geoms) for name in REVIEW_LAYERS}
    over, repairs = _overlaps(ok, near, tol)
    repairs = [*fixed, *repairs]
    parts: list[pd.DataFrame] = []
    b_layers = over["b_layer"].to_numpy(dtype=object)
    a_ids, b_ids = over["a_id"].to_numpy(dtype=object), over["b_id"].to_numpy(dtype=object)
    for pair in pairs:
        if pair.rule is None or layer not in (pair.a_layer, pair.b_layer):
            continue
        other = pair.b_layer if pair.a_layer == layer else pair.a_layer
        in_other = b_layers == other
        if in_other.any():  # (a pair with no overlap has no findings: nothing to write)
            flip = pair.a_layer != layer
            owner = tuple((b, a) if flip else (a, b) for a, b in pair.same_owner)
            others = _live(near[other], other, live, day)
            keep = in_other & np.isin(b_ids, others["id"].to_numpy(dtype=object))
            if other == layer:  # re-checking a stored feature: it does not overlap itself
                keep &= a_ids != b_ids
            hits = over[keep]
            if len(hits):
                as_pair = OverlapPair(PROPOSAL, other, pair.rule, owner)
                parts.append(overlap_part(hits, ok, others, pair=as_pair, rule=RULES[pair.rule]))
        if other == layer and len(ok) > 1:  # the proposed features among themselves
            among = OverlapPair(PROPOSAL, PROPOSAL, pair.rule)
            part, more = overlap_findings(ok, ok, pair=among, rule=RULES[pair.rule],
                                          tolerance_m2=tol)  # fmt: skip
            parts.append(part)
            repairs += more

    soums = _soum_shares(over, near["soums"], size)
    lc_rows: list[dict[str, Any]] = []
    if kind == "parcel":
        lc_of, lc_rows, lcs = _parcel_land_conclusions(ok, over, ctx)
        rule_parts, more = _parcel_rules(
            ok, lc_of, lcs, day=day, settings=settings, tol=tol,
            hectares=size["official_ha"].to_numpy(dtype="float64"),
        )  # fmt: skip
        parts += rule_parts
        repairs += more
        lc_soum = dict(zip(lcs["id"].astype(str), lcs["soum_code"], strict=True))
        home = soum_code or next((lc_soum[c] for c in lc_of if c in lc_soum), None)
        in_home = sum(s["overlap_ha"] for s in soums if s["soum_code"] == home)
        total = float(size["official_ha"].sum())
        outside_ha = None if home is None or not len(ctx.by_id("soums", [home])) else (
            max(total - in_home, 0.0))  # fmt: skip
    else:
        home = _home_soum(ok, soum_code, soums)
        outside_ha, part, more = _outside_soum(ok, ctx, home, tol=tol)
        parts.append(part)
        repairs += more
    parts.append(_repair_findings(fixed))
    slopes = None
    if dem is not None and len(ok):
        limit, share = float(settings.slope_limit_deg), float(settings.slope_share_limit)
        slopes = terrain(ok, dem, slope_limit_deg=limit, share_limit=share)
        parts.append(terrain_findings(ids, slopes, layer=PROPOSAL, slope_limit_deg=limit,
                                      share_limit=share))  # fmt: skip
        slopes.insert(0, "id", ids)

    findings = sorted_findings(parts, near)
    report = build_review(
        kind=kind,
        day=day,
        frame=frame,
        usable=usable,
        size=size,
        findings=findings,
        soums=soums,
        aimags=_aimags(over, soums, ctx),
        home=home,
        outside_ha=outside_ha,
        lc_rows=lc_rows,
        repairs=repairs,
        problems=problems,
    )
    listed = feature_overlaps(over, near, findings, layer=layer, pairs=pairs, live=live, day=day)
    report = replace(report, overlaps=listed)
    if slopes is not None:
        report = replace(report, terrain=tuple(as_records(slopes.round(6))))
    return report


def _live(
    frame: gpd.GeoDataFrame, layer: str, live: Mapping[str, Live], day: dt.date
) -> gpd.GeoDataFrame:
    rule = live.get(layer)
    return frame if rule is None or len(frame) == 0 else frame[rule.mask(frame, day)]


# ------------------------------------------------------------------------------- the rules


def _overlaps(
    ok: gpd.GeoDataFrame, near: Mapping[str, gpd.GeoDataFrame], tol: float
) -> tuple[pd.DataFrame, list[Repaired]]:
    """Every overlap of the proposal with the features near it, all layers in one pass.

    Returns records with ``a_id``, ``b_layer``, ``b_id``, ``overlap_ha`` and ``geometry``.
    """
    names = [n for n in REVIEW_LAYERS if len(near[n])]
    none = np.array([], dtype=object)
    layer_of = np.concatenate([np.full(len(near[n]), n, dtype=object) for n in names] or [none])
    id_of = np.concatenate(
        [near[n]["id"].astype(str).to_numpy(dtype=object) for n in names] or [none]
    )
    shapes = np.concatenate(
        [np.asarray(near[n].geometry.array, dtype=object) for n in names] or [none]
    )
    a_geoms, a_ids = layer_arrays(ok, layer=PROPOSAL)
    # the near features of every layer in one pass, reported as the layer "store"
    found = overlapping_pairs(
        a_geoms, a_ids, shapes, id_of, a_layer=PROPOSAL, b_layer="store", tolerance_m2=tol
    )
    rec = overlap_records(
        a_layer=PROPOSAL,
        a_ids=a_ids[found.i],
        b_layer=layer_of[found.j],
        b_ids=id_of[found.j],
        overlap_ha=found.overlap_ha,
        geoms=found.geoms,
    )
    return rec, list(found.repaired)


def _parcel_land_conclusions(
    ok: gpd.GeoDataFrame, over: pd.DataFrame, ctx: ReviewContext
) -> tuple[list[str | None], list[dict[str, Any]], gpd.GeoDataFrame]:
    """Each proposed parcel's Land Conclusion: the one it names, else the one it overlaps most;
    the rows of the report, and the Land Conclusions named (indexed by id)."""
    named = (
        ok["land_conclusion_id"].astype(object).where(ok["land_conclusion_id"].notna(), None)
        if "land_conclusion_id" in ok.columns
        else pd.Series([None] * len(ok), index=ok.index, dtype=object)
    )
    # the Land Conclusion each proposed parcel overlaps most (the first of equal ones)
    by_overlap: dict[str, str] = {}
    most: dict[str, float] = {}
    shared: dict[tuple[str, str], float] = {}
    for a, b, ha in zip(*_columns(over, "land_conclusions"), strict=True):
        if a not in most or ha > most[a]:
            by_overlap[a], most[a] = b, ha
        shared[a, b] = shared.get((a, b), 0.0) + ha
    lc_of: list[str | None] = [
        str(n).strip() if n is not None and str(n).strip() else by_overlap.get(i)
        for i, n in zip(ok["id"], named, strict=True)
    ]
    lcs = ctx.by_id("land_conclusions", [c for c in lc_of if c is not None])
    rows: list[dict[str, Any]] = []
    for pid, lc in zip(ok["id"], lc_of, strict=True):
        found = lc is not None and lc in lcs.index
        rows.append(
            {
                "proposal_id": pid,
                "id": lc,
                "found": found,
                "name": text_or_none(lcs.at[lc, "name"]) if found and "name" in lcs else None,
                "status": text_or_none(lcs.at[lc, "status"]) if found and "status" in lcs else None,
                "valid_until": (
                    text_or_none(lcs.at[lc, "valid_until"])
                    if found and "valid_until" in lcs
                    else None
                ),
                "overlap_ha": rounded(0.0 if lc is None else shared.get((str(pid), lc), 0.0)),
            }
        )
    return lc_of, rows, lcs


def _parcel_rules(
    ok: gpd.GeoDataFrame,
    lc_of: list[str | None],
    lcs: gpd.GeoDataFrame,
    *,
    day: dt.date,
    settings: AnalysisSettings,
    tol: float,
    hectares: npt.NDArray[np.float64],
) -> tuple[list[pd.DataFrame], list[Repaired]]:
    """PARCEL_OUTSIDE_LC, PARCEL_LC_NOT_VALID and PARCEL_OVER_CAP for proposed parcels
    (``hectares``: their official areas, measured once for the report)."""
    refs = pd.Series(lc_of, index=ok.index, dtype=object)
    with_lc = ok.assign(land_conclusion_id=refs)
    shapes = lcs.geometry
    found = refs.isin(shapes.index).to_numpy(dtype=bool)
    parts: list[pd.DataFrame] = []
    repaired: list[Repaired] = []
    if found.any():
        containers = shapes.reindex(refs[found].astype(str))
        result = outside_area(with_lc[found], containers, part_layer=PROPOSAL,
                              container_layer="land_conclusions", tolerance_m2=tol,
                              part_ha=hectares[found])  # fmt: skip
        parts.append(outside_part(result.records, containers.index, part_layer=PROPOSAL,
                                  container_layer="land_conclusions",
                                  rule=RULES["PARCEL_OUTSIDE_LC"]))  # fmt: skip
        repaired += result.repaired
    ref = ReferenceRule(
        "PARCEL_LC_NOT_VALID", PROPOSAL, "land_conclusion_id", "land_conclusions",
        VALID_LAND_CONCLUSION,
    )  # fmt: skip
    parts.append(
        reference_findings(
            with_lc,
            lcs,
            ref=ref,
            rule=RULES["PARCEL_LC_NOT_VALID"],
            today=day,
            none_why=label_pair("review_problem", "in_no_land_conclusion"),
        )
    )
    cap = float(settings.parcel_cap_ha)
    parts.append(cap_findings(ok, layer=PROPOSAL, cap_ha=cap, rule=RULES["PARCEL_OVER_CAP"],
                              hectares=hectares))  # fmt: skip
    return parts, repaired


def _home_soum(
    ok: gpd.GeoDataFrame, soum_code: str | None, soums: list[dict[str, Any]]
) -> str | None:
    """The proposing soum of a Land Conclusion proposal."""
    if soum_code:
        return soum_code
    if "soum_code" in ok.columns:
        given = [str(v) for v in ok["soum_code"].dropna().unique() if str(v).strip()]
        if given:
            return given[0]
    return soums[0]["soum_code"] if soums else None


def _outside_soum(
    ok: gpd.GeoDataFrame, ctx: ReviewContext, home: str | None, *, tol: float
) -> tuple[float | None, pd.DataFrame, list[Repaired]]:
    """Hectares of a proposed Land Conclusion outside the proposing soum, as findings."""
    soum = ctx.by_id("soums", [home]) if home else ctx.frame("soums").iloc[:0]
    if len(ok) == 0 or len(soum) == 0:
        return None, _no_findings(), []
    containers = gpd.GeoSeries(
        np.repeat(np.asarray(soum.geometry.array, dtype=object)[:1], len(ok)),
        index=pd.Index([str(home)] * len(ok)),
        crs=STORE_CRS,
    )
    result = outside_area(ok, containers, part_layer=PROPOSAL, container_layer="soums",
                          tolerance_m2=tol)  # fmt: skip
    part = outside_part(result.records, containers.index, part_layer=PROPOSAL,
                        container_layer="soums", rule=RULES["LC_OUTSIDE_SOUM"])  # fmt: skip
    return float(part["overlap_ha"].sum()), part, list(result.repaired)


def _soum_shares(
    over: pd.DataFrame, near: gpd.GeoDataFrame, size: pd.DataFrame
) -> list[dict[str, Any]]:
    """Each soum the proposal touches, with hectares and share of the proposal, largest first."""
    ha = _hectares_by_id(over, "soums")
    total = float(size["official_ha"].sum())
    info = near
    return [
        {
            "soum_code": code,
            "name_mn": text_or_none(info.at[code, "name_mn"]) if "name_mn" in info else None,
            "name_en": text_or_none(info.at[code, "name_en"]) if "name_en" in info else None,
            "aimag_code": text_or_none(info.at[code, "aimag_code"])
            if "aimag_code" in info
            else None,
            "overlap_ha": rounded(value),
            "share": rounded(value / total, 6) if total > 0 else None,
        }
        for code, value in ha
    ]


def _aimags(
    over: pd.DataFrame, soums: list[dict[str, Any]], ctx: ReviewContext
) -> list[dict[str, Any]]:
    """The aimags the proposal touches: from the aimags layer, and the soums' aimag codes."""
    codes = [str(c) for c, _ in _hectares_by_id(over, "aimags")]
    codes += [s["aimag_code"] for s in soums if s["aimag_code"] and s["aimag_code"] not in codes]
    info = ctx.by_id("aimags", codes)
    return [
        {
            "aimag_code": code,
            "name_mn": text_or_none(info.at[code, "name_mn"]) if code in info.index else None,
            "name_en": text_or_none(info.at[code, "name_en"]) if code in info.index else None,
        }
        for code in codes
    ]


def _columns(over: pd.DataFrame, layer: str) -> tuple[list[str], list[str], list[float]]:
    """``a_id``, ``b_id`` and ``overlap_ha`` of the overlaps with ``layer``'s features, in
    order, as lists: a few rows, read without building a frame for them."""
    sel = over["b_layer"].to_numpy(dtype=object) == layer
    return (
        over["a_id"].to_numpy(dtype=object)[sel].tolist(),
        over["b_id"].to_numpy(dtype=object)[sel].tolist(),
        over["overlap_ha"].to_numpy(dtype="float64")[sel].tolist(),
    )


def _hectares_by_id(over: pd.DataFrame, layer: str) -> list[tuple[str, float]]:
    """The overlap hectares with each feature of ``layer``, largest first (equal ones by id)."""
    total: dict[str, float] = {}
    for _a, b, ha in zip(*_columns(over, layer), strict=True):
        total[b] = total.get(b, 0.0) + ha
    return sorted(total.items(), key=lambda item: (-item[1], item[0]))


def _no_findings() -> pd.DataFrame:
    return _repair_findings([])


def _repair_findings(fixed: list[Repaired]) -> pd.DataFrame:
    rule = RULES["GEOMETRY_REPAIRED"]
    ids = np.array([r.feature_id for r in fixed], dtype=object)
    reasons = np.array([r.reason for r in fixed], dtype=object)
    n = len(fixed)
    mn, en = rule.render({"a_id": ids, "why_mn": reasons, "why_en": reasons}, n)
    return pd.DataFrame(
        {
            "rule": rule.code,
            "severity": rule.severity,
            "a_layer": PROPOSAL,
            "a_id": ids,
            "b_layer": None,
            "b_id": None,
            "overlap_ha": np.full(n, np.nan),
            "message_mn": mn,
            "message_en": en,
            "geometry": np.full(n, None, dtype=object),
        }
    )
