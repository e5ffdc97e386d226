"""The rule tables: which layers may overlap, which features count, what lies in what.

Which rule applies where is data, not code (see :mod:`geo.rules`); the filters of ``LIVE``,
``REFERENCES`` and ``DATE_RULES`` are the vocabulary's (:mod:`geo.vocab`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from geo.rules.catalogue import RULES, Rule
from geo.vocab import (
    HOLDS_LAND,
    IN_FORCE,
    LC_STANDING,
    LICENCE_IN_FORCE,
    OPEN_CONTRACT,
    REHAB_OPEN,
    Live,
)
from layers.schema import REGISTRY

__all__ = ["Live"]


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
#: The filters are the vocabulary's (:mod:`geo.vocab`): parcels that hold land (applied,
#: active and suspended), Land Conclusions not rejected, revoked, expired or past
#: ``valid_until``, licences not past ``expires_on``, rehabilitation not yet accepted.
LIVE: Final[dict[str, Live]] = {
    "contract_parcels": HOLDS_LAND,
    "land_conclusions": LC_STANDING,
    "licences": LICENCE_IN_FORCE,
    "rehab_zones": REHAB_OPEN,
}

CONTAINMENT: Final[tuple[ContainmentRule, ...]] = (
    ContainmentRule("PARCEL_OUTSIDE_LC", "contract_parcels", "land_conclusions",
                    "land_conclusion_id"),
    ContainmentRule("LC_OUTSIDE_SOUM", "land_conclusions", "soums", "soum_code"),
)  # fmt: skip

#: A Land Conclusion is valid while issued and not past ``valid_until``.
VALID_LAND_CONCLUSION: Final = IN_FORCE

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
             OPEN_CONTRACT),
    DateRule("REHAB_OVERDUE", "rehab_zones", "due_on", REHAB_OPEN),
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
