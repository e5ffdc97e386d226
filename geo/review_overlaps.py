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
import numpy.typing as npt
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
    a_id = over["a_id"].astype(str).to_numpy(dtype=object)
    b_layer = over["b_layer"].astype(str).to_numpy(dtype=object)
    b_id = over["b_id"].astype(str).to_numpy(dtype=object)
    keep = np.isin(b_layer, FEATURE_LAYERS) & ~((b_layer == layer) & (a_id == b_id))
    if not keep.any():
        return ()
    a_id, b_layer, b_id = a_id[keep], b_layer[keep], b_id[keep]
    ha = over["overlap_ha"].to_numpy(dtype="float64")[keep]
    shapes = (
        np.asarray(over["geometry"].array, dtype=object)[keep]
        if "geometry" in over
        else np.full(len(a_id), None, dtype=object)
    )
    n = len(a_id)
    # an overlap a pair rule reported takes the code and severity of its first (most severe)
    # finding: the findings are sorted
    pair_rules = [p.rule for p in pairs if p.rule is not None]
    rule = np.full(n, None, dtype=object)
    severity = np.full(n, "info", dtype=object)
    broken = np.isin(findings["rule"].to_numpy(dtype=object), pair_rules) & findings[
        "b_id"
    ].notna().to_numpy(dtype=bool)
    if broken.any():
        at = np.flatnonzero(broken)
        f_keys = _keys(findings["a_id"], findings["b_layer"], findings["b_id"], at)
        first = ~pd.Index(f_keys).duplicated()
        where = pd.Index(f_keys[first]).get_indexer(pd.Index(_keys(a_id, b_layer, b_id)))
        hit = where >= 0
        rule[hit] = findings["rule"].to_numpy(dtype=object)[at[first]][where[hit]]
        severity[hit] = findings["severity"].to_numpy(dtype=object)[at[first]][where[hit]]
    name = np.full(n, None, dtype=object)
    holder = np.full(n, None, dtype=object)
    status = np.full(n, None, dtype=object)
    counts = np.ones(n, dtype=bool)
    for name_of in dict.fromkeys(b_layer.tolist()):  # one pass per layer (at most five)
        frame = near[str(name_of)]
        at = b_layer == name_of
        rows = frame.iloc[frame.index.get_indexer(b_id[at])]
        column = next((c for c in ("name", "name_en") if c in frame.columns), None)
        if column is not None:
            name[at] = rows[column].to_numpy(dtype=object)
        if "holder" in frame.columns:
            holder[at] = rows["holder"].to_numpy(dtype=object)
        if STATUS_COLUMN.get(str(name_of)) in frame.columns:
            status[at] = rows[STATUS_COLUMN[str(name_of)]].to_numpy(dtype=object)
        live_rule = live.get(str(name_of))
        if live_rule is not None:
            counts[at] = np.asarray(live_rule.mask(rows, day), dtype=bool)
    s_rank = np.array([SEVERITIES.index(v) for v in severity.tolist()])
    l_rank = np.array([FEATURE_LAYERS.index(v) for v in b_layer.tolist()])
    rank = np.lexsort((b_id, -ha, l_rank, s_rank, a_id))
    return tuple(
        Overlap(
            severity=str(severity[i]),
            code=text_or_none(rule[i]),
            proposal_id=str(a_id[i]),
            layer=str(b_layer[i]),
            id=str(b_id[i]),
            name=text_or_none(name[i]),
            holder=text_or_none(holder[i]),
            status=text_or_none(status[i]),
            live=bool(counts[i]),
            overlap_ha=rounded(ha[i]),
            geometry=_shape(shapes[i]),
        )
        for i in rank
    )


def _keys(
    a: object, layer: object, b: object, at: npt.NDArray[np.intp] | None = None
) -> npt.NDArray[np.object_]:
    """``(a_id, layer, b_id)`` as one text key per row (at positions ``at``)."""
    cols = [np.asarray(getattr(c, "array", c), dtype=object).astype(str) for c in (a, layer, b)]
    if at is not None:
        cols = [c[at] for c in cols]
    return np.char.add(np.char.add(np.char.add(np.char.add(cols[0], _SEP), cols[1]), _SEP),
                       cols[2]).astype(object)  # fmt: skip


_SEP: Final = "\x1f"


def _shape(value: object) -> shapely.Geometry | None:
    return value if isinstance(value, shapely.Geometry) and not value.is_empty else None


__all__ = ["FEATURE_LAYERS", "STATUS_COLUMN", "STATUS_GROUP", "feature_overlaps"]
