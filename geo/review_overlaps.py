"""Every stored feature a proposal overlaps, in every layer (:class:`geo.review_types.Overlap`).

The review's rules report the overlaps that break a rule; MRPAM also reads the overlaps the
rules allow (the ASM parcels already inside a proposed Land Conclusion, legacy
rehabilitation land, a licence no longer in force). This module lists them all from the
overlap records the review already computed in one bulk ``STRtree`` pass
(:func:`geo.review._overlaps`): no feature is measured twice. An overlap that breaks a rule
keeps the severity and code of its finding; every other one is ``info``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.review_report import rounded, text_or_none
from geo.review_types import SEVERITIES, Overlap
from geo.rules import OverlapPair
from geo.vocab import Live

#: The layers whose features an overlap list names (soums and aimags are listed as the
#: review's ``soums`` and ``aimags``), in the order they are listed.
FEATURE_LAYERS: Final = (
    "land_conclusions",
    "contract_parcels",
    "rehab_zones",
    "licences",
    "exclusions",
)

#: The column read as each layer's status.
STATUS_COLUMN: Final[dict[str, str]] = {
    "land_conclusions": "status",
    "contract_parcels": "status",
    "rehab_zones": "stage",
    "licences": "kind",
    "exclusions": "kind",
}

#: The catalogue group of each layer's status values (``layers.labels.label``).
STATUS_GROUP: Final[dict[str, str]] = {
    "land_conclusions": "land_conclusion_status",
    "contract_parcels": "contract_status",
    "rehab_zones": "rehab_stage",
    "licences": "licence_kind",
    "exclusions": "exclusion_kind",
}


def feature_overlaps(
    over: pd.DataFrame,
    near: Mapping[str, gpd.GeoDataFrame],
    findings: pd.DataFrame,
    *,
    layer: str,
    pairs: Sequence[OverlapPair],
    live: Mapping[str, Live],
    day: dt.date,
) -> tuple[Overlap, ...]:
    """The overlaps of the proposal with stored features, each with its severity.

    Parameters
    ----------
    over : DataFrame
        The review's overlap records (``a_id``, ``b_layer``, ``b_id``, ``overlap_ha``,
        ``geometry``), one per proposed feature and stored feature sharing land.
    near : mapping of str to GeoDataFrame
        The features near the proposal per layer, indexed by id (``ReviewContext.near``).
    findings : DataFrame
        The review's sorted findings (``rule``, ``severity``, ``a_id``, ``b_layer``,
        ``b_id``): an overlap a pair rule reported takes its severity and code.
    layer : str
        The layer the proposal would join (a stored feature re-checked does not overlap
        itself).
    pairs, live
        The tables of :mod:`geo.rules`.
    day : datetime.date
        The day ``live`` is read on.

    Returns
    -------
    tuple of Overlap
        By proposed feature, then severity, then layer (``FEATURE_LAYERS`` order), largest
        shared area first.
    """
    if len(over) == 0:
        return ()
    rec = over[over["b_layer"].isin(FEATURE_LAYERS).to_numpy()]
    rec = rec[~((rec["b_layer"] == layer) & (rec["a_id"] == rec["b_id"])).to_numpy()]
    if len(rec) == 0:
        return ()
    rec = rec.reset_index(drop=True)
    pair_rules = {p.rule for p in pairs if p.rule is not None}
    broken = findings[findings["rule"].isin(pair_rules).to_numpy() & findings["b_id"].notna()]
    broken = broken.drop_duplicates(["a_id", "b_layer", "b_id"])  # sorted: the most severe
    keyed = rec.merge(
        broken[["a_id", "b_layer", "b_id", "rule", "severity"]],
        on=["a_id", "b_layer", "b_id"],
        how="left",
    )
    n = len(keyed)
    name = np.full(n, None, dtype=object)
    holder = np.full(n, None, dtype=object)
    status = np.full(n, None, dtype=object)
    counts = np.ones(n, dtype=bool)
    for name_of in keyed["b_layer"].unique():  # one pass per layer (at most five)
        frame = near[str(name_of)]
        at = (keyed["b_layer"] == name_of).to_numpy()
        ids = pd.Index(keyed.loc[at, "b_id"].astype(str))
        pos = frame.index.get_indexer(ids)
        rows = frame.iloc[pos]
        column = next((c for c in ("name", "name_en") if c in frame.columns), None)
        if column is not None:
            name[at] = rows[column].to_numpy(dtype=object)
        if "holder" in frame.columns:
            holder[at] = rows["holder"].to_numpy(dtype=object)
        if STATUS_COLUMN.get(str(name_of)) in frame.columns:
            status[at] = rows[STATUS_COLUMN[str(name_of)]].to_numpy(dtype=object)
        rule = live.get(str(name_of))
        if rule is not None:
            counts[at] = np.asarray(rule.mask(rows, day), dtype=bool)
    severity = keyed["severity"].where(keyed["severity"].notna(), "info").to_numpy(dtype=object)
    order = pd.DataFrame(
        {
            "a": keyed["a_id"].astype(str),
            "s": pd.Series(severity).map({s: i for i, s in enumerate(SEVERITIES)}),
            "l": keyed["b_layer"].map({x: i for i, x in enumerate(FEATURE_LAYERS)}),
            "ha": -keyed["overlap_ha"].astype(float),
            "id": keyed["b_id"].astype(str),
        }
    )
    rank = order.sort_values(["a", "s", "l", "ha", "id"], kind="stable").index.to_numpy()
    shapes = np.asarray(keyed["geometry"], dtype=object) if "geometry" in keyed else None
    return tuple(
        Overlap(
            severity=str(severity[i]),
            code=text_or_none(keyed.at[i, "rule"]),
            proposal_id=str(keyed.at[i, "a_id"]),
            layer=str(keyed.at[i, "b_layer"]),
            id=str(keyed.at[i, "b_id"]),
            name=text_or_none(name[i]),
            holder=text_or_none(holder[i]),
            status=text_or_none(status[i]),
            live=bool(counts[i]),
            overlap_ha=rounded(keyed.at[i, "overlap_ha"]),
            geometry=_shape(None if shapes is None else shapes[i]),
        )
        for i in rank
    )


def _shape(value: object) -> shapely.Geometry | None:
    return value if isinstance(value, shapely.Geometry) and not value.is_empty else None


__all__ = ["FEATURE_LAYERS", "STATUS_COLUMN", "STATUS_GROUP", "feature_overlaps"]
