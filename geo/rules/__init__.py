"""Conflict rules: what may not overlap, what must lie inside what, and what is overdue.

Each rule has a stable ``code`` (``PARCEL_OVERLAP``, ...), a severity (``block``: the land
cannot be allocated as it is; ``warn``: a person must look at it; ``info``: for the record) and
a message in Mongolian and English with ``{placeholders}``. Which rule applies where is data,
not code, in five small tables:

``OVERLAP_PAIRS``
    For each pair of layers, whether their features may overlap (``rule=None``, as the national
    land system lists compatible land uses) or which rule an overlap breaks.
``LIVE``
    Which features of each layer take part in the overlap rules, as :mod:`geo.vocab` defines
    them: parcels that hold land (status ``applied``, ``active`` or ``suspended``: a
    suspended contract may be reinstated); Land Conclusions not rejected, revoked or expired;
    licences not past ``expires_on``; rehabilitation not yet accepted.
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
  that belongs to someone else (another ``parcel_id`` and another holder, names compared
  by :func:`geo.vocab.holder_key`).
* ``GEOMETRY_REPAIRED`` (``info``) is used by the proposal review; ``analyze`` lists repaired
  store features in ``Findings.repaired`` instead.

The package: :mod:`geo.rules.catalogue` (the rules: codes, severities, messages from
``layers/catalogue/rules.toml``), :mod:`geo.rules.tables` (the tables),
:mod:`geo.rules.findings` (each kind of rule) and :mod:`geo.rules.engine` (:func:`analyze`,
:func:`pair_overlaps`, :func:`counts_by`). Every name is importable from ``geo.rules``.
"""

from geo.rules.catalogue import (
    FINDING_COLUMNS,
    PLACEHOLDERS,
    RULES,
    SEVERITIES,
    SEVERITY_LABELS,
    SEVERITY_OF,
    Rule,
    Severity,
)
from geo.rules.engine import (
    PAIR_OVERLAP_COLUMNS,
    REPORTED_REFERENCES,
    Findings,
    analyze,
    analyze_usable,
    counts_by,
    pair_overlap_columns,
    pair_overlaps,
)
from geo.rules.findings import (
    cap_findings,
    format_ha,
    outside_part,
    overlap_findings,
    overlap_part,
    reference_findings,
    soum_codes,
)
from geo.rules.tables import (
    CAPS,
    CONTAINMENT,
    DATE_RULES,
    LIVE,
    OVERLAP_PAIRS,
    REFERENCES,
    SOUM_OF,
    VALID_LAND_CONCLUSION,
    CapRule,
    ContainmentRule,
    DateRule,
    Live,
    OverlapPair,
    ReferenceRule,
    check_tables,
    pair_for,
)

__all__ = [
    "CAPS",
    "CONTAINMENT",
    "DATE_RULES",
    "FINDING_COLUMNS",
    "LIVE",
    "OVERLAP_PAIRS",
    "PAIR_OVERLAP_COLUMNS",
    "PLACEHOLDERS",
    "REFERENCES",
    "REPORTED_REFERENCES",
    "RULES",
    "SEVERITIES",
    "SEVERITY_LABELS",
    "SEVERITY_OF",
    "SOUM_OF",
    "VALID_LAND_CONCLUSION",
    "CapRule",
    "ContainmentRule",
    "DateRule",
    "Findings",
    "Live",
    "OverlapPair",
    "ReferenceRule",
    "Rule",
    "Severity",
    "analyze",
    "analyze_usable",
    "cap_findings",
    "check_tables",
    "counts_by",
    "format_ha",
    "outside_part",
    "overlap_findings",
    "overlap_part",
    "pair_for",
    "pair_overlap_columns",
    "pair_overlaps",
    "reference_findings",
    "soum_codes",
]
