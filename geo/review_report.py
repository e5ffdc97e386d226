"""The report of a desk review (:mod:`geo.review`): the findings sorted and named, and the
typed :class:`geo.review_types.Review` built from the review's tables."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.raster import SLOPE_RULE
from geo.repair import Repaired
from geo.review_types import (
    AimagHit,
    Area,
    FeatureReview,
    Finding,
    Kind,
    ParcelLandConclusion,
    Problem,
    Review,
    SoumShare,
    Verdict,
)
from geo.rules import RULES, SEVERITY_LABELS, Rule

#: The rules a review may report: ``geo.rules``' and the terrain rule of ``geo.raster``.
REVIEW_RULES: Final[dict[str, Rule]] = {**RULES, SLOPE_RULE.code: SLOPE_RULE}


def sorted_findings(
    parts: list[pd.DataFrame], near: Mapping[str, gpd.GeoDataFrame]
) -> pd.DataFrame:
    """The review's finding tables in one, with the other feature's holder (or name), sorted by
    severity, rule (catalogue order), proposed feature and other feature."""
    table = pd.concat([p for p in parts if len(p)] or [parts[-1]], ignore_index=True)
    n = len(table)
    b_layer = table["b_layer"].to_numpy(dtype=object)
    b_id = table["b_id"].to_numpy(dtype=object)
    holder = np.full(n, None, dtype=object)
    for layer in pd.unique(b_layer[pd.notna(b_layer)]):
        frame = near.get(str(layer))
        if frame is None:
            continue
        column = next((c for c in ("holder", "name", "name_en") if c in frame.columns), None)
        if column is None:
            continue
        at = b_layer == layer
        where = frame.index.get_indexer(pd.Index(b_id[at].astype(str)))
        names = np.append(frame[column].to_numpy(dtype=object), np.nan)  # -1: not near, NaN
        holder[at] = names[where]
    table["holder"] = pd.Series(holder, index=table.index, dtype=object)
    # by severity, rule (catalogue order), proposed feature, other feature; missing first
    severity = {s: i for i, s in enumerate(SEVERITY_LABELS)}
    order = {code: i for i, code in enumerate(REVIEW_RULES)}
    keys = list(
        zip(
            [severity.get(v, math.nan) for v in table["severity"].tolist()],
            [order.get(v, math.nan) for v in table["rule"].tolist()],
            table["a_id"].tolist(),
            b_id.tolist(),
            strict=True,
        )
    )
    rank = sorted(range(n), key=lambda i: tuple(_na_first(v) for v in keys[i]))
    return table.iloc[rank].reset_index(drop=True)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """``table.to_dict("records")`` (Python values, the geometry as is) read column by column:
    a review's few findings, without pandas' per-row machinery."""
    columns = [str(c) for c in table.columns]
    values = [table[c].tolist() for c in table.columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _na_first(value: object) -> tuple[bool, object]:
    """A sort key placing a missing value before every other (``na_position="first"``)."""
    missing = value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
    return (False, 0) if missing else (True, value)


def build_review(
    *,
    kind: Kind,
    day: dt.date,
    frame: gpd.GeoDataFrame,
    usable: npt.NDArray[np.bool_],
    size: pd.DataFrame,
    findings: pd.DataFrame,
    soums: list[dict[str, Any]],
    aimags: list[dict[str, Any]],
    home: str | None,
    outside_ha: float | None,
    lc_rows: list[dict[str, Any]],
    repairs: list[Repaired],
    problems: list[Problem],
) -> Review:
    """The typed review of the tables a review computed: verdicts, areas, findings."""
    rows = _records(findings)
    blocked = {str(r["a_id"]) for r in rows if r["severity"] == "block"}
    if frame.empty or not usable.all():
        verdict: Verdict = "invalid"
    elif blocked:
        verdict = "conflicts"
    else:
        verdict = "clear"
    sizes = size.reset_index(drop=True)
    shapes = np.asarray(frame.geometry.array, dtype=object)
    features = []
    k = 0
    for i, fid in enumerate(frame["id"]):
        shape = shapes[i] if shapes[i] is not None and not shapely.is_missing(shapes[i]) else None
        if usable[i]:
            features.append(
                FeatureReview(
                    id=fid,
                    official_ha=rounded(sizes.at[k, "official_ha"]),
                    geodesic_ha=rounded(sizes.at[k, "geodesic_ha"]),
                    utm_zone=zone_or_none(sizes.at[k, "utm_zone"]),
                    verdict="conflicts" if fid in blocked else "clear",
                    geometry=shape,
                )
            )
            k += 1
        else:
            features.append(FeatureReview(fid, None, None, None, "invalid", geometry=shape))
    official = float(size["official_ha"].sum()) if len(size) else 0.0
    counts = Counter(r["severity"] for r in rows)
    return Review(
        kind=kind,
        today=day,
        verdict=verdict,
        area=Area(
            official_ha=rounded(official),
            geodesic_ha=rounded(float(size["geodesic_ha"].sum()) if len(size) else 0.0),
        ),
        features=tuple(features),
        soums=tuple(SoumShare(**s) for s in soums),
        aimags=tuple(AimagHit(**a) for a in aimags),
        proposing_soum=home,
        outside_soum_ha=None if outside_ha is None else rounded(outside_ha),
        outside_soum_share=(
            None if outside_ha is None or official <= 0 else rounded(outside_ha / official, 6)
        ),
        land_conclusions=tuple(ParcelLandConclusion(**r) for r in lc_rows),
        findings=tuple(_finding(r) for r in rows),
        counts={s: counts[s] for s in SEVERITY_LABELS},
        repairs=tuple(repairs),
        problems=tuple(problems),
    )


def _finding(r: Mapping[Any, Any]) -> Finding:
    rule: Rule = REVIEW_RULES[str(r["rule"])]
    shape = r.get("geometry")
    return Finding(
        severity=r["severity"],
        code=r["rule"],
        title_mn=rule.title_mn,
        title_en=rule.title_en,
        proposal_id=text_or_none(r["a_id"]),
        layer=text_or_none(r["b_layer"]),
        id=text_or_none(r["b_id"]),
        holder=text_or_none(r["holder"]),
        overlap_ha=None if pd.isna(r["overlap_ha"]) else rounded(r["overlap_ha"]),
        message_mn=r["message_mn"],
        message_en=r["message_en"],
        geometry=shape if isinstance(shape, shapely.Geometry) and not shape.is_empty else None,
    )


def text_or_none(value: Any) -> str | None:
    """A value as text (a date in ISO form), None for a missing one."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def zone_or_none(value: Any) -> int | None:
    """A UTM zone number, None for a missing one."""
    return None if pd.isna(value) else int(value)


def rounded(value: Any, digits: int = 4) -> float:
    """``value`` as a float rounded to ``digits`` decimals (hectares: 4, shares: 6)."""
    return round(float(value), digits)
