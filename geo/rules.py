"""Conflict rules: what may not overlap, what must lie inside what, and what is overdue.

Each rule has a stable ``code`` (``PARCEL_OVERLAP``, ...), a severity (``block``: the land
cannot be allocated as it is; ``warn``: a person must look at it; ``info``: for the record) and
a message in Mongolian and English with ``{placeholders}``. Which rule applies where is data,
not code, in five small tables:

``OVERLAP_PAIRS``
    For each pair of layers, whether their features may overlap (``rule=None``, as the national
    land system lists compatible land uses) or which rule an overlap breaks.
``LIVE``
    Which features of each layer take part in the overlap rules (e.g. parcels with status
    ``applied`` or ``active``; Land Conclusions not rejected, revoked or expired; licences
    not past ``expires_on``).
``CONTAINMENT``
    A feature must lie inside the feature it names (a parcel inside its Land Conclusion, a
    Land Conclusion inside its soum): the area outside above the tolerance is a finding.
``REFERENCES``
    A feature must name a valid feature (a parcel's Land Conclusion must be issued and not
    past ``valid_until``).
``CAPS`` and ``DATE_RULES``
    A feature larger than a setting (the parcel cap), or past a date and not closed
    (contracts still open after ``expires_on``, rehabilitation past ``due_on`` and not
    accepted).

:func:`analyze` runs every rule over a whole store and returns :class:`Findings`;
:func:`counts_by` counts them (e.g. by soum and rule). Dates are compared with ``today``: a
date is *past* when it is before ``today`` (``expires_on``, ``valid_until`` and ``due_on`` are
the last day that still counts). Overlaps and outside areas are measured in official hectares
by :mod:`geo.overlaps` with the tolerance of ``AnalysisSettings.overlap_tolerance_m2``.

Choices made where the issue left room:

* The containment and reference rules apply to the features that count (``LIVE``): a revoked
  Land Conclusion outside its soum, or an expired contract outside its Land Conclusion, is
  history, not a conflict. A part whose container id is not in the store is left to the
  reference rule (``PARCEL_LC_NOT_VALID`` says "not in the store"); a Land Conclusion whose
  ``soum_code`` is not in the soums layer is not checked (the soums layer may be partial).
* ``CONTRACT_ACTIVE_PAST_EXPIRY`` covers ``active`` and ``suspended`` contracts, like
  ``geo.lifecycle.overdue_contracts``.
* ``PARCEL_OVER_REHAB`` (``warn``) is a parcel over a rehabilitation zone not yet accepted
  that belongs to someone else (another ``parcel_id`` and another holder).
* ``GEOMETRY_REPAIRED`` (``info``) is used by the proposal review; ``analyze`` lists repaired
  store features in ``Findings.repaired`` instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from string import Formatter
from typing import Final, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.area import official_ha
from geo.overlaps import outside_area, overlaps_between, overlaps_within
from geo.repair import Repaired
from geo.settings import AnalysisSettings
from layers.labels import LABELS
from layers.schema import REGISTRY, STORE_CRS

Severity = Literal["block", "warn", "info"]

#: Severities from the most to the least serious.
SEVERITIES: Final[tuple[Severity, ...]] = ("block", "warn", "info")

#: Severity names as a person reads them (Mongolian, English).
SEVERITY_LABELS: Final[dict[str, tuple[str, str]]] = {
    "block": ("Хориглох зөрчил", "Blocking conflict"),
    "warn": ("Анхааруулга", "Warning"),
    "info": ("Мэдээлэл", "Information"),
}

#: Columns of a finding, in order (``geometry``: the shared area, the part outside, or the
#: feature itself for rules that are not about area).
FINDING_COLUMNS: Final = (
    "rule",
    "severity",
    "a_layer",
    "a_id",
    "b_layer",
    "b_id",
    "overlap_ha",
    "soum_code",
    "message_mn",
    "message_en",
    "geometry",
)


# ------------------------------------------------------------------------------ the catalogue


@dataclass(frozen=True)
class Rule:
    """One conflict rule: a stable code, a severity and a bilingual message template.

    The messages may use these placeholders (filled by the engine as text): ``a_id``,
    ``b_id``, ``ha`` (hectares), ``cap_ha``, ``date`` (ISO), ``days``, ``status_mn`` /
    ``status_en``, ``kind_mn`` / ``kind_en``, ``why_mn`` / ``why_en``.
    """

    code: str
    severity: Severity
    #: a short name for tables and legends
    title_mn: str
    title_en: str
    message_mn: str
    message_en: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"rule {self.code}: severity {self.severity!r} is not one of "
                f"{', '.join(SEVERITIES)}"
            )
        unknown = self.placeholders - PLACEHOLDERS
        if unknown:
            raise ValueError(f"rule {self.code}: unknown placeholder(s) {sorted(unknown)}")

    @property
    def placeholders(self) -> frozenset[str]:
        """The ``{names}`` used by either message."""
        return frozenset(
            name
            for text in (self.message_mn, self.message_en)
            for _, name, _, _ in Formatter().parse(text)
            if name
        )

    def render(
        self, values: Mapping[str, str | Sequence[str] | npt.NDArray[np.object_]], n: int
    ) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
        """The Mongolian and English messages of ``n`` findings.

        Each value is a text shared by all findings or a sequence of ``n`` texts; the messages
        are assembled column-wise (no loop over findings).

        Examples
        --------
        >>> mn, en = RULES["PARCEL_OVERLAP"].render({"a_id": ["P-1"], "b_id": ["P-2"],
        ...                                          "ha": ["0.50"]}, 1)
        >>> en[0]
        'Contract parcel P-1 overlaps contract parcel P-2 by 0.50 ha'
        """
        return _fill(self.message_mn, values, n), _fill(self.message_en, values, n)


#: Every placeholder a rule message may use.
PLACEHOLDERS: Final = frozenset(
    {"a_id", "b_id", "ha", "cap_ha", "date", "days", "status_mn", "status_en", "kind_mn",
     "kind_en", "why_mn", "why_en"}
)  # fmt: skip


def _fill(
    template: str, values: Mapping[str, str | Sequence[str] | npt.NDArray[np.object_]], n: int
) -> npt.NDArray[np.object_]:
    out = np.full(n, "", dtype=object)
    for literal, name, _, _ in Formatter().parse(template):
        out = out + literal
        if name:
            if name not in values:
                raise KeyError(f"no value for the placeholder {{{name}}} of '{template}'")
            value = values[name]
            part = value if isinstance(value, str) else np.asarray(value, dtype=object)
            out = out + part
    return out


_R = Rule
#: The rules, by code. Codes are stable: reports, filters and translations refer to them.
RULES: Final[dict[str, Rule]] = {
    r.code: r
    for r in (
        _R("PARCEL_OVERLAP", "block",
           "Гэрээт талбай давхцсан", "Parcels overlap",
           "Гэрээт талбай {a_id} нь гэрээт талбай {b_id}-тэй {ha} га давхцаж байна",
           "Contract parcel {a_id} overlaps contract parcel {b_id} by {ha} ha"),
        _R("PARCEL_OUTSIDE_LC", "block",
           "Газрын дүгнэлтээс гадна", "Parcel outside its Land Conclusion",
           "Гэрээт талбай {a_id}-ийн {ha} га нь өөрийн газрын дүгнэлт {b_id}-ээс гадна байна",
           "{ha} ha of contract parcel {a_id} lies outside its Land Conclusion {b_id}"),
        _R("PARCEL_LC_NOT_VALID", "block",
           "Газрын дүгнэлт хүчингүй", "Land Conclusion not valid",
           "Гэрээт талбай {a_id}-ийн газрын дүгнэлт {b_id} хүчин төгөлдөр бус ({why_mn})",
           "The Land Conclusion {b_id} of contract parcel {a_id} is not valid ({why_en})"),
        _R("PARCEL_OVER_EXCLUSION", "block",
           "Хориглосон газартай давхцсан", "Parcel on excluded land",
           "Гэрээт талбай {a_id} нь хориглосон газар {b_id} ({kind_mn})-тэй {ha} га "
           "давхцаж байна",
           "Contract parcel {a_id} overlaps excluded land {b_id} ({kind_en}) by {ha} ha"),
        _R("PARCEL_OVER_LICENCE", "block",
           "Тусгай зөвшөөрөлтэй давхцсан", "Parcel on a mineral licence",
           "Гэрээт талбай {a_id} нь тусгай зөвшөөрөл {b_id} ({kind_mn})-тэй {ha} га "
           "давхцаж байна",
           "Contract parcel {a_id} overlaps licence {b_id} ({kind_en}) by {ha} ha"),
        _R("PARCEL_OVER_REHAB", "warn",
           "Бусдын нөхөн сэргээлттэй давхцсан", "Parcel on another's rehabilitation",
           "Гэрээт талбай {a_id} нь бусдын нөхөн сэргээлтийн бүс {b_id} ({kind_mn})-тэй "
           "{ha} га давхцаж байна",
           "Contract parcel {a_id} overlaps rehabilitation zone {b_id} of another holder "
           "({kind_en}) by {ha} ha"),
        _R("PARCEL_OVER_CAP", "block",
           "Талбайн дээд хэмжээнээс их", "Parcel above the area cap",
           "Гэрээт талбай {a_id} нь {ha} га буюу дээд хэмжээ {cap_ha} га-аас их байна",
           "Contract parcel {a_id} covers {ha} ha, more than the cap of {cap_ha} ha"),
        _R("LC_OVER_LC", "block",
           "Газрын дүгнэлт давхцсан", "Land Conclusions overlap",
           "Газрын дүгнэлт {a_id} нь газрын дүгнэлт {b_id}-тэй {ha} га давхцаж байна",
           "Land Conclusion {a_id} overlaps Land Conclusion {b_id} by {ha} ha"),
        _R("LC_OVER_LICENCE", "block",
           "Тусгай зөвшөөрөлтэй давхцсан", "Land Conclusion on a mineral licence",
           "Газрын дүгнэлт {a_id} нь тусгай зөвшөөрөл {b_id} ({kind_mn})-тэй {ha} га "
           "давхцаж байна",
           "Land Conclusion {a_id} overlaps licence {b_id} ({kind_en}) by {ha} ha"),
        _R("LC_OVER_EXCLUSION", "block",
           "Хориглосон газартай давхцсан", "Land Conclusion on excluded land",
           "Газрын дүгнэлт {a_id} нь хориглосон газар {b_id} ({kind_mn})-тэй {ha} га "
           "давхцаж байна",
           "Land Conclusion {a_id} overlaps excluded land {b_id} ({kind_en}) by {ha} ha"),
        _R("LC_OUTSIDE_SOUM", "block",
           "Сумын хилээс гадна", "Land Conclusion outside its soum",
           "Газрын дүгнэлт {a_id}-ийн {ha} га нь өөрийн сум {b_id}-ийн хилээс гадна байна",
           "{ha} ha of Land Conclusion {a_id} lies outside its soum {b_id}"),
        _R("CONTRACT_ACTIVE_PAST_EXPIRY", "warn",
           "Хугацаа дууссан гэрээ", "Contract open past expiry",
           "Гэрээт талбай {a_id}-ийн гэрээний хугацаа {date}-нд дууссан ({days} хоногийн "
           "өмнө) боловч төлөв нь '{status_mn}' хэвээр байна",
           "The contract of parcel {a_id} ended on {date} ({days} days ago) but is still "
           "recorded as '{status_en}'"),
        _R("REHAB_OVERDUE", "warn",
           "Нөхөн сэргээлт хоцорсон", "Rehabilitation overdue",
           "Нөхөн сэргээлтийн бүс {a_id}-ийн хугацаа {date}-нд дууссан ({days} хоног "
           "хэтэрсэн), комисс хүлээн аваагүй ({status_mn})",
           "Rehabilitation zone {a_id} was due on {date} ({days} days overdue) and is not "
           "accepted by the commission ({status_en})"),
        _R("GEOMETRY_REPAIRED", "info",
           "Геометр зассан", "Geometry repaired",
           "{a_id}-ийн геометр буруу байсныг шинжилгээний өмнө зассан ({why_mn})",
           "The geometry of {a_id} was invalid and was repaired before analysis ({why_en})"),
    )
}  # fmt: skip


# ------------------------------------------------------------------------ the tables (data)


@dataclass(frozen=True)
class Live:
    """Which features of a layer count: by the values of one column and an end date.

    ``keep``: the values of ``column`` kept (``None``: any); ``drop``: values left out;
    ``until``: a date column, features whose date is before ``today`` are left out (an empty
    date never ends).
    """

    column: str | None = None
    keep: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    until: str | None = None

    def mask(self, frame: pd.DataFrame, today: dt.date) -> npt.NDArray[np.bool_]:
        """True for the rows of ``frame`` that count on ``today``.

        Examples
        --------
        >>> parcels = pd.DataFrame({"status": ["active", "expired", "applied"]})
        >>> LIVE["contract_parcels"].mask(parcels, dt.date(2025, 1, 1)).tolist()
        [True, False, True]
        """
        ok = np.ones(len(frame), dtype=bool)
        if self.column is not None:
            values = _column(frame, self.column).astype("string").fillna("").to_numpy()
            if self.keep is not None:
                ok &= np.isin(values, self.keep)
            if self.drop:
                ok &= ~np.isin(values, self.drop)
        if self.until is not None:
            ok &= ~_before(_column(frame, self.until), today)
        return ok


@dataclass(frozen=True)
class OverlapPair:
    """Whether features of two layers may overlap, and if not, which rule an overlap breaks.

    ``same_owner``: pairs of columns ``(column of a, column of b)``; an overlap of two
    features with equal values in any of them is the holder's own business, not a finding
    (a parcel over its own rehabilitation zone).
    """

    a_layer: str
    b_layer: str
    #: the rule broken; ``None``: the pair may overlap
    rule: str | None = None
    same_owner: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ContainmentRule:
    """Each ``part_layer`` feature must lie inside the ``container_layer`` feature whose id
    is in its ``reference`` column; the area outside (above the tolerance) is a finding.
    Parts whose container is not in the layer are left to ``REFERENCES``."""

    rule: str
    part_layer: str
    container_layer: str
    reference: str


@dataclass(frozen=True)
class ReferenceRule:
    """Each ``layer`` feature's ``reference`` must name a ``target`` feature that is ``valid``."""

    rule: str
    layer: str
    reference: str
    target: str
    valid: Live


@dataclass(frozen=True)
class CapRule:
    """``layer`` features larger (official hectares) than the setting ``setting``."""

    rule: str
    layer: str
    setting: str


@dataclass(frozen=True)
class DateRule:
    """``layer`` features still open (``open``) whose ``date`` column is before today."""

    rule: str
    layer: str
    date: str
    open: Live


_P = OverlapPair
#: Which layers may overlap. Pairs not listed are not checked (they may overlap).
OVERLAP_PAIRS: Final[tuple[OverlapPair, ...]] = (
    _P("contract_parcels", "contract_parcels", "PARCEL_OVERLAP"),
    _P("contract_parcels", "exclusions", "PARCEL_OVER_EXCLUSION"),
    _P("contract_parcels", "licences", "PARCEL_OVER_LICENCE"),
    _P("contract_parcels", "rehab_zones", "PARCEL_OVER_REHAB",
       same_owner=(("id", "parcel_id"), ("holder", "holder"))),
    _P("contract_parcels", "land_conclusions"),  # parcels lie in Land Conclusions
    _P("land_conclusions", "land_conclusions", "LC_OVER_LC"),
    _P("land_conclusions", "licences", "LC_OVER_LICENCE"),
    _P("land_conclusions", "exclusions", "LC_OVER_EXCLUSION"),
    _P("land_conclusions", "rehab_zones"),  # legacy disturbed land is where ASM goes
    _P("rehab_zones", "rehab_zones"),
    _P("licences", "licences"),
    _P("licences", "exclusions"),
    _P("exclusions", "exclusions"),
)  # fmt: skip

#: Which features take part in the overlap rules (layers not listed: all of them).
LIVE: Final[dict[str, Live]] = {
    "contract_parcels": Live("status", keep=("applied", "active")),
    "land_conclusions": Live("status", drop=("rejected", "revoked", "expired"),
                             until="valid_until"),
    "licences": Live(until="expires_on"),
    "rehab_zones": Live("stage", drop=("accepted",)),
}  # fmt: skip

CONTAINMENT: Final[tuple[ContainmentRule, ...]] = (
    ContainmentRule("PARCEL_OUTSIDE_LC", "contract_parcels", "land_conclusions",
                    "land_conclusion_id"),
    ContainmentRule("LC_OUTSIDE_SOUM", "land_conclusions", "soums", "soum_code"),
)  # fmt: skip

#: A Land Conclusion is valid while issued and not past ``valid_until``.
VALID_LAND_CONCLUSION: Final = Live("status", keep=("issued",), until="valid_until")

REFERENCES: Final[tuple[ReferenceRule, ...]] = (
    ReferenceRule("PARCEL_LC_NOT_VALID", "contract_parcels", "land_conclusion_id",
                  "land_conclusions", VALID_LAND_CONCLUSION),
)  # fmt: skip

CAPS: Final[tuple[CapRule, ...]] = (
    CapRule("PARCEL_OVER_CAP", "contract_parcels", "parcel_cap_ha"),
)

#: Open contracts are ``active`` or ``suspended`` (a suspension pauses work, not the term), as
#: in :func:`geo.lifecycle.overdue_contracts`, so both reports list the same contracts.
DATE_RULES: Final[tuple[DateRule, ...]] = (
    DateRule("CONTRACT_ACTIVE_PAST_EXPIRY", "contract_parcels", "expires_on",
             Live("status", keep=("active", "suspended"))),
    DateRule("REHAB_OVERDUE", "rehab_zones", "due_on", Live("stage", drop=("accepted",))),
)  # fmt: skip

#: How a feature's soum is found: its own column, or through the feature it refers to
#: (``(column, referenced layer)``); features left without one are placed by location.
SOUM_OF: Final[dict[str, tuple[str, str | None]]] = {
    "land_conclusions": ("soum_code", None),
    "licences": ("soum_code", None),
    "soums": ("id", None),
    "contract_parcels": ("land_conclusion_id", "land_conclusions"),
    "rehab_zones": ("parcel_id", "contract_parcels"),
}


def pair_for(pairs: Iterable[OverlapPair], a_layer: str, b_layer: str) -> OverlapPair | None:
    """The entry of ``pairs`` for two layers in either order (``None`` if not listed).

    Examples
    --------
    >>> pair_for(OVERLAP_PAIRS, "licences", "land_conclusions").rule
    'LC_OVER_LICENCE'
    """
    for p in pairs:
        if (p.a_layer, p.b_layer) in ((a_layer, b_layer), (b_layer, a_layer)):
            return p
    return None


def check_tables(
    pairs: Iterable[OverlapPair] = OVERLAP_PAIRS, rules: Mapping[str, Rule] = RULES
) -> None:
    """Refuse a table naming an unknown layer or rule (a typo would silently check nothing).

    Raises
    ------
    ValueError
        Naming the entry.
    """
    entries: list[tuple[str, tuple[str, ...], str | None]] = [
        (repr(p), (p.a_layer, p.b_layer), p.rule) for p in pairs
    ]
    entries += [(repr(c), (c.part_layer, c.container_layer), c.rule) for c in CONTAINMENT]
    entries += [(repr(r), (r.layer, r.target), r.rule) for r in REFERENCES]
    entries += [(repr(c), (c.layer,), c.rule) for c in CAPS]
    entries += [(repr(d), (d.layer,), d.rule) for d in DATE_RULES]
    for what, layers, rule in entries:
        for layer in layers:
            if layer not in REGISTRY:
                raise ValueError(f"{what}: unknown layer '{layer}'")
        if rule is not None and rule not in rules:
            raise ValueError(f"{what}: unknown rule '{rule}'")


# --------------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Findings:
    """The findings of :func:`analyze` and the features repaired to compute them."""

    #: GeoDataFrame (EPSG:4326) with ``FINDING_COLUMNS``, sorted by rule (catalogue order),
    #: soum, ``a_id``, ``b_id``
    records: gpd.GeoDataFrame
    repaired: tuple[Repaired, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.records)

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
    day = _day(today)
    check_tables(pairs, rules)
    tol = float(settings.overlap_tolerance_m2)
    frames = {name: _layer(layers, name) for name in REGISTRY}
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
    records = _finish(parts, frames, rules)
    return Findings(records=records, repaired=_unique_repairs(repaired))


#: Columns of :func:`pair_overlaps` records, in order.
PAIR_OVERLAP_COLUMNS: Final = ("a_layer", "a_id", "b_layer", "b_id", "overlap_ha", "rule",
                               "geometry")  # fmt: skip


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
        if name not in REGISTRY:
            raise ValueError(f"unknown layer '{name}'; the layers are: {', '.join(REGISTRY)}")
    day = _day(today)
    entry = pair_for(pairs, a_layer, b_layer)
    a, b = _layer(layers, a_layer), _layer(layers, b_layer)
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


# --------------------------------------------------------------------- the rules, one by one


def overlap_findings(
    a: gpd.GeoDataFrame,
    b: gpd.GeoDataFrame,
    *,
    pair: OverlapPair,
    rule: Rule,
    tolerance_m2: float,
) -> tuple[pd.DataFrame, list[Repaired]]:
    """Findings of one overlap rule between (already filtered) features of two layers.

    Within one layer (``a_layer == b_layer``) ``a`` is used and each pair is listed once.
    Returns the findings (without soum) and the repaired features.
    """
    if pair.a_layer == pair.b_layer:
        result = overlaps_within(a, layer=pair.a_layer, tolerance_m2=tolerance_m2)
        b = a
    else:
        result = overlaps_between(
            a, b, a_layer=pair.a_layer, b_layer=pair.b_layer, tolerance_m2=tolerance_m2
        )
    return overlap_part(result.records, a, b, pair=pair, rule=rule), list(result.repaired)


def overlap_part(
    records: pd.DataFrame,
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    pair: OverlapPair,
    rule: Rule,
) -> pd.DataFrame:
    """Findings from overlap records (``geo.overlaps.OVERLAP_COLUMNS``) of ``a`` and ``b``
    features: the holder's own pairs (``pair.same_owner``) dropped, messages written."""
    rec = records
    if pair.same_owner and len(rec):
        own = np.zeros(len(rec), dtype=bool)
        for a_col, b_col in pair.same_owner:
            if a_col not in a.columns or b_col not in b.columns:
                continue
            a_val = _lookup(a, rec["a_id"], a_col).map(_owner_key)
            b_val = _lookup(b, rec["b_id"], b_col).map(_owner_key)
            own |= (a_val.to_numpy() == b_val.to_numpy()) & a_val.notna().to_numpy()
        rec = rec[~own]
    kind_mn, kind_en = _kind_labels(pair.b_layer, b, rec["b_id"])
    values = {
        "a_id": rec["a_id"].astype(str).to_numpy(dtype=object),
        "b_id": rec["b_id"].astype(str).to_numpy(dtype=object),
        "ha": format_ha(rec["overlap_ha"].to_numpy()),
        "kind_mn": kind_mn,
        "kind_en": kind_en,
    }
    return _part(
        rule,
        rec["a_layer"],
        rec["a_id"],
        rec["b_layer"],
        rec["b_id"],
        rec["overlap_ha"],
        rec.geometry,
        values,
    )


def _containment(
    c: ContainmentRule,
    parts: gpd.GeoDataFrame,
    containers: gpd.GeoDataFrame,
    *,
    rule: Rule,
    tolerance_m2: float,
) -> tuple[pd.DataFrame, list[Repaired]]:
    ref = _column(parts, c.reference)
    known = ref.isin(pd.Index(containers["id"].astype(str))).to_numpy() & ref.notna().to_numpy()
    sel = parts[known]
    if len(sel) == 0:
        return outside_part(_NO_OUTSIDE, [], part_layer=c.part_layer,
                            container_layer=c.container_layer, rule=rule), []  # fmt: skip
    dedup = containers.drop_duplicates("id")
    shapes = dedup.geometry.set_axis(dedup["id"].astype(str)).reindex(ref[known].astype(str))
    result = outside_area(
        sel,
        shapes,
        part_layer=c.part_layer,
        container_layer=c.container_layer,
        tolerance_m2=tolerance_m2,
    )
    part = outside_part(
        result.records,
        shapes.index,
        part_layer=c.part_layer,
        container_layer=c.container_layer,
        rule=rule,
    )
    return part, list(result.repaired)


_NO_OUTSIDE: Final = pd.DataFrame({"id": [], "outside_ha": [], "geometry": []}).astype(
    {"id": object, "outside_ha": "float64", "geometry": object}
)


def outside_part(
    records: pd.DataFrame,
    container_ids: Sequence[str] | pd.Index,
    *,
    part_layer: str,
    container_layer: str,
    rule: Rule,
) -> pd.DataFrame:
    """Findings of a containment rule from ``geo.overlaps.outside_area`` records and the ids
    of the containers they were aligned with: the parts with an area outside."""
    b_all = np.asarray(container_ids, dtype=object).astype(str).astype(object)
    outside = records["outside_ha"].to_numpy(dtype="float64") > 0
    rec = records[outside]
    b_ids = b_all[outside]
    values = {
        "a_id": rec["id"].astype(str).to_numpy(dtype=object),
        "b_id": b_ids,
        "ha": format_ha(rec["outside_ha"].to_numpy()),
    }
    n = len(rec)
    return _part(
        rule,
        np.full(n, part_layer, dtype=object),
        rec["id"],
        np.full(n, container_layer, dtype=object),
        b_ids,
        rec["outside_ha"],
        rec["geometry"],
        values,
    )


def reference_findings(
    parts: gpd.GeoDataFrame,
    targets: gpd.GeoDataFrame,
    *,
    ref: ReferenceRule,
    rule: Rule,
    today: dt.date,
    none_why: tuple[str, str] = ("лавлагаа хоосон", "none is named"),
) -> pd.DataFrame:
    """Findings of a reference rule: features whose referenced feature is missing or not
    valid on ``today``. The reason (``why_mn``/``why_en``) is the status, the end date, "not
    in the store" for an unknown id, or ``none_why`` (Mongolian, English) for an empty one."""
    day = _day(today)
    refs = _column(parts, ref.reference).astype("string")
    table = targets.drop_duplicates("id")
    table = table.set_axis(table["id"].astype(str), axis=0)
    found = refs.isin(table.index).fillna(False).to_numpy(dtype=bool)
    ok = np.zeros(len(parts), dtype=bool)
    status_bad = np.zeros(len(parts), dtype=bool)
    ended = np.zeros(len(parts), dtype=bool)
    status = pd.Series([None] * len(parts), dtype=object)
    ends = pd.Series([None] * len(parts), dtype=object)
    if found.any():
        hit = table.loc[refs[found].astype(str)]
        valid = ref.valid.mask(hit, day)
        ok[found] = valid
        if ref.valid.column is not None:
            status[found] = hit[ref.valid.column].to_numpy(dtype=object)
            status_bad[found] = ~Live(ref.valid.column, ref.valid.keep, ref.valid.drop).mask(
                hit, day
            )
        if ref.valid.until is not None:
            ends[found] = hit[ref.valid.until].to_numpy(dtype=object)
            ended[found] = _before(hit[ref.valid.until], day)
    bad = ~ok
    group = _enum_group(ref.target, ref.valid.column)
    empty = refs.isna().to_numpy(dtype=bool)
    why_mn = np.where(empty, none_why[0], "бүртгэлд байхгүй").astype(object)
    why_en = np.where(empty, none_why[1], "not in the store").astype(object)
    end_text = _iso(ends)
    status_mn = "төлөв: " + _labels(group, status, "mn")
    status_en = "status: " + _labels(group, status, "en")
    end_mn = "хүчинтэй хугацаа " + end_text + "-нд дууссан"
    end_en = "valid until " + end_text
    both = found & status_bad & ended
    for mask, mn, en in (
        (found & ended, end_mn, end_en),
        (found & status_bad, status_mn, status_en),
        (both, status_mn + "; " + end_mn, status_en + "; " + end_en),
    ):
        why_mn = np.where(mask, mn, why_mn)
        why_en = np.where(mask, en, why_en)
    sel = np.flatnonzero(bad)
    ids = parts["id"].astype(str).to_numpy(dtype=object)[sel]
    b_ids = refs.fillna("—").astype(str).to_numpy(dtype=object)[sel]
    values = {"a_id": ids, "b_id": b_ids, "why_mn": why_mn[sel], "why_en": why_en[sel]}
    n = len(sel)
    return _part(
        rule,
        np.full(n, ref.layer, dtype=object),
        ids,
        np.full(n, ref.target, dtype=object),
        b_ids,
        np.full(n, np.nan),
        parts.geometry.iloc[sel],
        values,
    )


def cap_findings(parts: gpd.GeoDataFrame, *, layer: str, cap_ha: float, rule: Rule) -> pd.DataFrame:
    """Findings of a cap rule: features whose official area is above ``cap_ha``."""
    ha = official_ha(parts.geometry) if len(parts) else np.array([], dtype=float)
    sel = np.flatnonzero(ha > cap_ha)
    ids = parts["id"].astype(str).to_numpy(dtype=object)[sel]
    n = len(sel)
    values = {"a_id": ids, "ha": format_ha(ha[sel]), "cap_ha": f"{cap_ha:g}"}
    none = np.full(n, None, dtype=object)
    return _part(
        rule,
        np.full(n, layer, dtype=object),
        ids,
        none,
        none,
        ha[sel],
        parts.geometry.iloc[sel],
        values,
    )


def _dates(d: DateRule, frame: gpd.GeoDataFrame, *, rule: Rule, today: dt.date) -> pd.DataFrame:
    late = d.open.mask(frame, today) & _before(_column(frame, d.date), today)
    sel = np.flatnonzero(late)
    rows = frame.iloc[sel]
    stamps = _stamps(rows[d.date])
    days = (pd.Timestamp(today) - stamps).dt.days.astype("Int64").astype(str)
    group = _enum_group(d.layer, d.open.column)
    status = _column(rows, d.open.column) if d.open.column else pd.Series([""] * len(rows))
    ids = rows["id"].astype(str).to_numpy(dtype=object)
    values = {
        "a_id": ids,
        "date": _iso(rows[d.date]),
        "days": days.to_numpy(dtype=object),
        "status_mn": _labels(group, status, "mn"),
        "status_en": _labels(group, status, "en"),
    }
    n = len(sel)
    none = np.full(n, None, dtype=object)
    return _part(
        rule,
        np.full(n, d.layer, dtype=object),
        ids,
        none,
        none,
        np.full(n, np.nan),
        rows.geometry,
        values,
    )


# ---------------------------------------------------------------------------------- helpers


def format_ha(ha: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Hectares as text: two decimals, four below 0.01 ha (so 1 m² does not read as 0).

    Examples
    --------
    >>> format_ha([0.5, 12.345, 0.0003]).tolist()
    ['0.50', '12.35', '0.0003']
    """
    arr = np.asarray(ha, dtype="float64")
    if arr.size == 0:
        return np.array([], dtype=object)
    two = np.char.mod("%.2f", arr)
    four = np.char.mod("%.4f", arr)
    return np.where(np.abs(arr) < 0.01, four, two).astype(object)


def _part(
    rule: Rule,
    a_layer: object,
    a_id: object,
    b_layer: object,
    b_id: object,
    overlap_ha: object,
    geometry: object,
    values: Mapping[str, str | Sequence[str] | npt.NDArray[np.object_]],
) -> pd.DataFrame:
    geoms = np.asarray(getattr(geometry, "array", geometry), dtype=object)
    n = len(geoms)
    mn, en = rule.render(values, n) if n else (np.array([], object), np.array([], object))
    return pd.DataFrame(
        {
            "rule": np.full(n, rule.code, dtype=object),
            "severity": np.full(n, rule.severity, dtype=object),
            "a_layer": np.asarray(a_layer, dtype=object),
            "a_id": np.asarray(a_id, dtype=object),
            "b_layer": np.asarray(b_layer, dtype=object),
            "b_id": np.asarray(b_id, dtype=object),
            "overlap_ha": np.asarray(overlap_ha, dtype="float64"),
            "message_mn": mn,
            "message_en": en,
            "geometry": geoms,
        }
    )


def _finish(
    parts: list[pd.DataFrame], frames: Mapping[str, gpd.GeoDataFrame], rules: Mapping[str, Rule]
) -> gpd.GeoDataFrame:
    table = pd.concat([p for p in parts if len(p)] or [parts[0]], ignore_index=True)
    table["soum_code"] = None
    for layer in table["a_layer"].dropna().unique():
        at = (table["a_layer"] == layer).to_numpy()
        table.loc[at, "soum_code"] = soum_codes(frames, layer, table.loc[at, "a_id"])
    order = np.lexsort(
        (
            table["b_id"].fillna("").astype(str).to_numpy(),
            table["a_id"].astype(str).to_numpy(),
            table["soum_code"].fillna("").astype(str).to_numpy(),
            table["rule"].map({c: i for i, c in enumerate(rules)}).to_numpy(),
        )
    )
    table = table.iloc[order].reset_index(drop=True)
    table["overlap_ha"] = table["overlap_ha"].astype("float64")
    geometry = gpd.GeoSeries(table.pop("geometry").to_numpy(dtype=object), crs=STORE_CRS)
    out = gpd.GeoDataFrame(table, geometry=geometry, crs=STORE_CRS)
    return out[list(FINDING_COLUMNS)]


def soum_codes(
    frames: Mapping[str, gpd.GeoDataFrame], layer: str, ids: Iterable[str]
) -> npt.NDArray[np.object_]:
    """The soum code of each feature ``ids`` of ``layer``: from its own column or the feature
    it refers to (``SOUM_OF``), else the soum containing a point of it (``None`` if none)."""
    ids_s = pd.Series(list(ids), dtype=object).astype(str)
    frame = frames.get(layer)
    if frame is None or len(frame) == 0 or len(ids_s) == 0:
        return np.full(len(ids_s), None, dtype=object)
    dedup = frame.drop_duplicates("id")
    by_id = dedup.set_axis(dedup["id"].astype(str), axis=0)
    codes = pd.Series([None] * len(ids_s), dtype=object)
    how = SOUM_OF.get(layer)
    if how is not None and how[0] in by_id.columns:
        column, via = how
        values = ids_s.map(by_id[column].astype(object).where(by_id[column].notna(), None))
        if via is None:
            codes = values.astype(object)
        else:
            known = values.notna()
            codes[known] = soum_codes(frames, via, values[known].astype(str))
    missing = codes.isna().to_numpy() & ids_s.isin(by_id.index).to_numpy()
    soums = frames.get("soums")
    if missing.any() and soums is not None and len(soums):
        geoms = by_id.geometry.reindex(ids_s[missing]).to_numpy(dtype=object)
        usable = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        points = np.where(
            usable, shapely.point_on_surface(np.where(usable, geoms, shapely.Point(0, 0))), None
        )
        tree = shapely.STRtree(np.asarray(soums.geometry.array, dtype=object))
        where = np.flatnonzero(usable)
        i, j = tree.query(points[where], predicate="within")
        found = np.full(len(geoms), None, dtype=object)
        first = np.unique(i, return_index=True)[1]
        found[where[i[first]]] = soums["id"].astype(str).to_numpy(dtype=object)[j[first]]
        codes[np.flatnonzero(missing)] = found
    return codes.to_numpy(dtype=object)


def _layer(layers: Mapping[str, gpd.GeoDataFrame], name: str) -> gpd.GeoDataFrame:
    frame = layers.get(name)
    if frame is None:
        columns = REGISTRY[name].columns
        return gpd.GeoDataFrame(
            {c: pd.Series([], dtype=object) for c in columns},
            geometry=gpd.GeoSeries([], crs=STORE_CRS),
            crs=STORE_CRS,
        )
    if "id" not in frame.columns:
        raise ValueError(f"layer '{name}' has no 'id' column to name its features")
    return frame


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise ValueError(
            f"the rules need a '{name}' column; the layer has: {', '.join(map(str, frame.columns))}"
        )
    return frame[name]


def _lookup(frame: pd.DataFrame, ids: pd.Series, column: str) -> pd.Series:
    table = frame.drop_duplicates("id")
    values = pd.Series(table[column].to_numpy(dtype=object), index=table["id"].astype(str))
    return pd.Series(ids.astype(str).map(values).to_numpy(dtype=object), index=ids.index)


def _owner_key(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = " ".join(str(value).split()).casefold()
    return text or None


def _kind_labels(
    layer: str, frame: pd.DataFrame, ids: pd.Series
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Labels of the ``kind`` (or ``stage``) of features, e.g. "Protected area"."""
    column = next((c for c in ("kind", "stage") if c in frame.columns), None)
    if column is None or len(ids) == 0:
        blank = np.full(len(ids), "—", dtype=object)
        return blank, blank
    values = _lookup(frame, ids, column)
    group = _enum_group(layer, column)
    return _labels(group, values, "mn"), _labels(group, values, "en")


def _enum_group(layer: str, column: str | None) -> str | None:
    if column is None or layer not in REGISTRY:
        return None
    try:
        return REGISTRY[layer].field(column).enum
    except KeyError:
        return None


def _labels(
    group: str | None, values: pd.Series, lang: Literal["mn", "en"]
) -> npt.NDArray[np.object_]:
    table = LABELS.get(group or "", {})
    k = 0 if lang == "mn" else 1
    mapped = {value: pair[k] for value, pair in table.items()}
    text = pd.Series(values.to_numpy(dtype=object)).map(
        lambda v: "—" if v is None or pd.isna(v) else mapped.get(v, str(v))
    )
    return text.to_numpy(dtype=object)


def _stamps(values: pd.Series) -> pd.Series:
    """Dates as datetime64 (NaT for empty ones); a value that is no date is refused."""
    raw = pd.Series(values.to_numpy(dtype=object))
    stamps = pd.to_datetime(raw, errors="coerce")
    bad = stamps.isna() & raw.notna()
    if bad.any():
        raise ValueError(f"'{values.name}' holds {raw[bad].iloc[0]!r}, which is not a date")
    return stamps


def _before(values: pd.Series, today: dt.date) -> npt.NDArray[np.bool_]:
    """True where the date is before ``today`` (False for an empty date)."""
    return (_stamps(values) < pd.Timestamp(today)).to_numpy(dtype=bool)


def _iso(values: pd.Series) -> npt.NDArray[np.object_]:
    stamps = _stamps(values)
    return stamps.dt.strftime("%Y-%m-%d").fillna("—").to_numpy(dtype=object)


def _day(today: dt.date) -> dt.date:
    if isinstance(today, dt.datetime):
        return today.date()
    if not isinstance(today, dt.date):
        raise ValueError(f"today must be a date, not {today!r}")
    return today


def _unique_repairs(repaired: Iterable[Repaired]) -> tuple[Repaired, ...]:
    seen: dict[tuple[str, str], Repaired] = {}
    for r in repaired:
        seen.setdefault((r.layer, r.feature_id), r)
    return tuple(seen.values())
