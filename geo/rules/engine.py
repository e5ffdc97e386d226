"""The engine: :func:`analyze` runs every rule over a whole store, :func:`pair_overlaps`
lists the overlaps of two layers, :func:`counts_by` counts findings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.overlaps import overlaps_between, overlaps_within
from geo.records import RULE as RECORD_INVALID
from geo.records import UsableRecords, checked_columns, layer_labels, usable_records
from geo.repair import Repaired, RepairedResult
from geo.rules.catalogue import RULES, Rule
from geo.rules.findings import (
    _containment,
    _dates,
    _day,
    _finish,
    _layer,
    _part,
    _unique_repairs,
    cap_findings,
    overlap_findings,
    reference_findings,
)
from geo.rules.tables import (
    CAPS,
    CONTAINMENT,
    DATE_RULES,
    LIVE,
    OVERLAP_PAIRS,
    REFERENCES,
    Live,
    OverlapPair,
    check_tables,
    pair_for,
)
from geo.settings import AnalysisSettings
from layers.schema import AREA_LAYERS, REGISTRY, STORE_CRS


@dataclass(frozen=True)
class Findings(RepairedResult):
    """The findings of :func:`analyze` and the features repaired to compute them.

    ``records``: GeoDataFrame (EPSG:4326) with ``FINDING_COLUMNS``, sorted by rule (catalogue
    order), soum, ``a_id``, ``b_id``.
    """

    def of(self, rule: str) -> gpd.GeoDataFrame:
        """The findings of one rule."""
        return self.records[self.records["rule"] == rule]


def counts_by(
    findings: Findings | pd.DataFrame, by: Sequence[str] = ("soum_code", "rule")
) -> pd.DataFrame:
    """How many findings (and how many hectares) per group.

    Parameters
    ----------
    findings : Findings or DataFrame
        The result of :func:`analyze`, or its ``records``.
    by : sequence of str
        Finding columns to group by, e.g. ``["soum_code", "rule"]``. A missing soum is
        counted under ``""``.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``count`` and ``overlap_ha`` (sum, 0 for rules without area),
        sorted by ``by`` (rules in catalogue order).

    Examples
    --------
    >>> records = pd.DataFrame({"soum_code": ["MN4322", "MN4322", "MN8201"],
    ...     "rule": ["PARCEL_OVERLAP", "PARCEL_OVERLAP", "REHAB_OVERDUE"],
    ...     "overlap_ha": [0.3, 0.2, None]})
    >>> counts_by(records).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'soum_code': 'MN4322', 'rule': 'PARCEL_OVERLAP', 'count': 2, 'overlap_ha': 0.5},
     {'soum_code': 'MN8201', 'rule': 'REHAB_OVERDUE', 'count': 1, 'overlap_ha': 0.0}]
    """
    records = findings.records if isinstance(findings, Findings) else findings
    keys = list(by)
    missing = [k for k in keys if k not in records.columns]
    if missing:
        raise ValueError(f"cannot count by {missing}: the findings have no such column")
    table = pd.DataFrame({k: records[k].astype(object).where(records[k].notna(), "") for k in keys})
    table["overlap_ha"] = pd.to_numeric(records["overlap_ha"], errors="coerce").fillna(0.0)
    grouped = (
        table.groupby(keys, sort=False, dropna=False)
        .agg(count=("overlap_ha", "size"), overlap_ha=("overlap_ha", "sum"))
        .reset_index()
    )
    order = [
        grouped[k].map(_RULE_ORDER).fillna(len(_RULE_ORDER)) if k == "rule" else grouped[k]
        for k in keys
    ]
    sorter = pd.DataFrame({f"k{i}": o for i, o in enumerate(order)})
    grouped = grouped.loc[sorter.sort_values(list(sorter.columns), kind="stable").index]
    grouped["count"] = grouped["count"].astype("int64")
    return grouped.reset_index(drop=True)


_RULE_ORDER: Final = {code: i for i, code in enumerate(RULES)}


# ------------------------------------------------------------------------------- the engine


def analyze(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    today: dt.date,
    settings: AnalysisSettings,
    pairs: Sequence[OverlapPair] = OVERLAP_PAIRS,
    live: Mapping[str, Live] = LIVE,
    rules: Mapping[str, Rule] = RULES,
) -> Findings:
    """Run every conflict rule over a whole store.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layers by name (``layers.schema.REGISTRY``) in EPSG:4326 with their schema columns,
        as ``Store.read`` returns them; a missing layer counts as empty.
    today : datetime.date
        The day dates are compared with.
    settings : AnalysisSettings
        ``overlap_tolerance_m2`` and ``parcel_cap_ha`` are used.
    pairs, live, rules
        The tables (default ``OVERLAP_PAIRS``, ``LIVE``, ``RULES``); pass changed copies to
        allow a pair or change which features count.

    Returns
    -------
    Findings
        ``records`` with ``FINDING_COLUMNS``: one row per broken rule and feature (pair);
        ``overlap_ha`` is the shared area, the area outside, or the feature's area for the
        cap, and missing for the reference and date rules; ``soum_code`` is the soum of the
        ``a`` feature (see ``SOUM_OF``). ``repaired``: invalid features repaired first.

    Raises
    ------
    ValueError
        For a table naming an unknown layer or rule, or a layer lacking a column a rule needs.
    InvalidGeometry
        For geometry no analysis can use (see :func:`geo.overlaps.overlaps_within`).

    Examples
    --------
    >>> from shapely import box
    >>> lcs = gpd.GeoDataFrame({"id": ["LC-1", "LC-2"], "status": ["issued", "proposed"],
    ...     "soum_code": ["MN4322", "MN4322"], "valid_until": [None, None]},
    ...     geometry=[box(106.0, 47.0, 106.02, 47.01), box(106.01, 47.0, 106.03, 47.01)],
    ...     crs=4326)
    >>> found = analyze({"land_conclusions": lcs}, today=dt.date(2025, 6, 30),
    ...                 settings=AnalysisSettings())
    >>> found.records[["rule", "a_id", "b_id", "soum_code"]].to_dict("records")
    [{'rule': 'LC_OVER_LC', 'a_id': 'LC-1', 'b_id': 'LC-2', 'soum_code': 'MN4322'}]
    """
    split = usable_records(
        {name: _layer(layers, name) for name in AREA_LAYERS},
        reported_references=REPORTED_REFERENCES,
    )
    return analyze_usable(
        split, today=today, settings=settings, pairs=pairs, live=live, rules=rules
    )


#: The references whose dangling values a rule reports (not ``RECORD_INVALID``).
REPORTED_REFERENCES: Final = frozenset((r.layer, r.reference) for r in REFERENCES)


def analyze_usable(
    split: UsableRecords,
    *,
    today: dt.date,
    settings: AnalysisSettings,
    pairs: Sequence[OverlapPair] = OVERLAP_PAIRS,
    live: Mapping[str, Live] = LIVE,
    rules: Mapping[str, Rule] = RULES,
) -> Findings:
    """:func:`analyze` over a store already split into usable and broken records
    (:func:`geo.records.usable_records` of every layer, with ``REPORTED_REFERENCES``), so a
    caller that keeps the split (:mod:`geo.incremental`) need not split it twice."""
    day = _day(today)
    check_tables(pairs, rules)
    tol = float(settings.overlap_tolerance_m2)
    frames = split.frames
    live_frames = {
        name: frame[live[name].mask(frame, day)] if name in live else frame
        for name, frame in frames.items()
    }
    parts: list[pd.DataFrame] = []
    repaired: list[Repaired] = []
    for pair in pairs:
        if pair.rule is None:
            continue
        part, fixed = overlap_findings(
            live_frames[pair.a_layer],
            live_frames[pair.b_layer],
            pair=pair,
            rule=rules[pair.rule],
            tolerance_m2=tol,
        )
        parts.append(part)
        repaired += fixed
    for c in CONTAINMENT:
        part, fixed = _containment(
            c,
            live_frames[c.part_layer],
            frames[c.container_layer],
            rule=rules[c.rule],
            tolerance_m2=tol,
        )
        parts.append(part)
        repaired += fixed
    for r in REFERENCES:
        parts.append(
            reference_findings(
                live_frames[r.layer], frames[r.target], ref=r, rule=rules[r.rule], today=day
            )
        )
    for cap in CAPS:
        limit = float(getattr(settings, cap.setting))
        parts.append(
            cap_findings(
                live_frames[cap.layer], layer=cap.layer, cap_ha=limit, rule=rules[cap.rule]
            )
        )
    for d in DATE_RULES:
        parts.append(_dates(d, frames[d.layer], rule=rules[d.rule], today=day))
    parts.append(_record_findings(split, rules.get(RECORD_INVALID, RULES[RECORD_INVALID])))
    records = _finish(parts, split.located, rules)
    return Findings(records=records, repaired=_unique_repairs(repaired))


def _record_findings(split: UsableRecords, rule: Rule) -> pd.DataFrame:
    """One ``RECORD_INVALID`` finding per broken record (:func:`geo.records.usable_records`)."""
    broken = split.broken
    names = [layer_labels(layer) for layer in broken["layer"]]
    values = {
        "a_id": broken["id"].astype(str).to_numpy(dtype=object),
        "kind_mn": np.array([n[0] for n in names], dtype=object),
        "kind_en": np.array([n[1] for n in names], dtype=object),
        "why_mn": broken["why_mn"].to_numpy(dtype=object),
        "why_en": broken["why_en"].to_numpy(dtype=object),
    }
    none = np.full(len(broken), None, dtype=object)
    return _part(
        rule,
        broken["layer"].to_numpy(dtype=object),
        values["a_id"],
        none,
        none,
        np.full(len(broken), np.nan),
        broken["geometry"].to_numpy(dtype=object),
        values,
    )


#: Columns of :func:`pair_overlaps` records, in order.
PAIR_OVERLAP_COLUMNS: Final = ("a_layer", "a_id", "b_layer", "b_id", "overlap_ha", "rule",
                               "geometry")  # fmt: skip


def pair_overlap_columns(
    a_layer: str,
    b_layer: str,
    *,
    pairs: Sequence[OverlapPair] = OVERLAP_PAIRS,
    live: Mapping[str, Live] = LIVE,
) -> dict[str, list[str]]:
    """The attribute columns :func:`pair_overlaps` of the two layers reads, by layer, in
    table order (``id`` and the geometry always: a store read of only these, ``columns=``,
    gives the same answer as a whole read at a fraction of the decoding).

    Every column whose values decide whether a row is broken (:func:`geo.records.
    checked_columns`), and when the pair has a rule, the ``live`` filters' columns and the
    pair's ``same_owner`` columns: each of them changes the answer when left out
    (``tests/test_rules.py``).

    Examples
    --------
    >>> pair_overlap_columns("contract_parcels", "contract_parcels")
    {'contract_parcels': ['holder_type', 'members_women', 'members_men', 'status']}
    >>> pair_overlap_columns("contract_parcels", "rehab_zones")["rehab_zones"]
    ['parcel_id', 'holder', 'stage']
    """
    wanted: dict[str, set[str]] = {a_layer: set(), b_layer: set()}
    for name, found in wanted.items():
        found.update(checked_columns(name))
    entry = pair_for(pairs, a_layer, b_layer)
    if entry is not None and entry.rule is not None:
        for name, found in wanted.items():
            if name in live:
                found.update(c for c in (live[name].column, live[name].until) if c is not None)
        for a_col, b_col in entry.same_owner:
            wanted[entry.a_layer].add(a_col)
            wanted[entry.b_layer].add(b_col)
    return {name: REGISTRY[name].only(found).columns[1:] for name, found in wanted.items()}


def pair_overlaps(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    a_layer: str,
    b_layer: str,
    today: dt.date,
    tolerance_m2: float,
    pairs: Sequence[OverlapPair] = OVERLAP_PAIRS,
    live: Mapping[str, Live] = LIVE,
) -> tuple[gpd.GeoDataFrame, tuple[Repaired, ...]]:
    """Every overlap between two layers (or within one), each with the rule it breaks.

    If the pair table gives the pair a rule, only the features that count (``live``) are
    compared, the holder's own pairs are left out and ``rule`` is its code; if the pair may
    overlap or is not listed, every feature is compared and ``rule`` is ``None``.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layers by name, as for :func:`analyze`.
    a_layer, b_layer : str
        The layers to compare (the same name: overlaps within the layer).
    today : datetime.date
        For the ``live`` filters.
    tolerance_m2 : float
        Shared areas of at most this many official m² are not overlaps.
    pairs, live
        The tables.

    Returns
    -------
    (GeoDataFrame, tuple of Repaired)
        Records with ``PAIR_OVERLAP_COLUMNS`` (the shared area as geometry), sorted by
        ``a_id, b_id``; the features repaired first.

    Examples
    --------
    >>> from shapely import box
    >>> lcs = gpd.GeoDataFrame({"id": ["LC-1", "LC-2"], "status": ["issued", "rejected"],
    ...     "valid_until": [None, None]},
    ...     geometry=[box(106.0, 47.0, 106.02, 47.01), box(106.01, 47.0, 106.03, 47.01)],
    ...     crs=4326)
    >>> found, _ = pair_overlaps({"land_conclusions": lcs}, a_layer="land_conclusions",
    ...     b_layer="land_conclusions", today=dt.date(2025, 6, 30), tolerance_m2=1.0)
    >>> len(found)  # LC-2 was rejected: it no longer counts
    0
    >>> found, _ = pair_overlaps({"land_conclusions": lcs}, a_layer="land_conclusions",
    ...     b_layer="land_conclusions", today=dt.date(2025, 6, 30), tolerance_m2=1.0,
    ...     pairs=())
    >>> found[["a_id", "b_id", "rule"]].to_dict("records")
    [{'a_id': 'LC-1', 'b_id': 'LC-2', 'rule': None}]
    """
    for name in (a_layer, b_layer):
        if name not in AREA_LAYERS:
            raise ValueError(f"unknown layer '{name}'; the layers are: {', '.join(AREA_LAYERS)}")
    day = _day(today)
    entry = pair_for(pairs, a_layer, b_layer)
    # broken records (RECORD_INVALID in analyze) take part in nothing
    # (references are analyze's to report: the layers they point to are not read here)
    usable = usable_records(
        {a_layer: _layer(layers, a_layer), b_layer: _layer(layers, b_layer)}, references=False
    )
    a, b = usable.frames[a_layer], usable.frames[b_layer]
    if entry is None or entry.rule is None:
        if a_layer == b_layer:
            result = overlaps_within(a, layer=a_layer, tolerance_m2=tolerance_m2)
        else:
            result = overlaps_between(
                a, b, a_layer=a_layer, b_layer=b_layer, tolerance_m2=tolerance_m2
            )
        records = result.records.assign(rule=None)
        return gpd.GeoDataFrame(records[list(PAIR_OVERLAP_COLUMNS)], crs=STORE_CRS), tuple(
            result.repaired
        )
    if (entry.a_layer, entry.b_layer) != (a_layer, b_layer):  # the table's order
        a, b, a_layer, b_layer = b, a, b_layer, a_layer
    a = a[live[a_layer].mask(a, day)] if a_layer in live else a
    b = b[live[b_layer].mask(b, day)] if b_layer in live else b
    part, repaired = overlap_findings(
        a, b, pair=entry, rule=RULES[entry.rule], tolerance_m2=tolerance_m2
    )
    geometry = gpd.GeoSeries(part.pop("geometry").to_numpy(dtype=object), crs=STORE_CRS)
    records = gpd.GeoDataFrame(part, geometry=geometry, crs=STORE_CRS)
    records = records[list(PAIR_OVERLAP_COLUMNS)]
    return records.reset_index(drop=True), _unique_repairs(repaired)
