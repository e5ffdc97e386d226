"""The conflict rules themselves: codes, severities and bilingual message templates.

The titles and message templates are read from the labels catalogue
(``layers/catalogue/rules.toml``: groups ``rule_title``, ``rule_message`` and ``severity``);
which rule has which severity is decided here, in :data:`SEVERITY_OF`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from string import Formatter
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from geo.templates import fill
from layers.labels import pair

Severity = Literal["block", "warn", "info"]

#: Severities from the most to the least serious.
SEVERITIES: Final[tuple[Severity, ...]] = ("block", "warn", "info")

#: Severity names as a person reads them (Mongolian, English).
SEVERITY_LABELS: Final[dict[str, tuple[str, str]]] = {s: pair("severity", s) for s in SEVERITIES}

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

#: Every placeholder a rule message may use.
PLACEHOLDERS: Final = frozenset(
    {"a_id", "b_id", "ha", "cap_ha", "date", "days", "status_mn", "status_en", "kind_mn",
     "kind_en", "why_mn", "why_en"}
)  # fmt: skip

Values = Mapping[str, str | Sequence[str] | npt.NDArray[np.object_]]


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

    @classmethod
    def from_catalogue(cls, code: str, severity: Severity) -> Rule:
        """The rule ``code`` with its title and messages from the labels catalogue."""
        return cls(code, severity, *pair("rule_title", code), *pair("rule_message", code))

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
        self, values: Values, n: int
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
        return fill(self.message_mn, values, n), fill(self.message_en, values, n)


#: The severity of each rule, in catalogue order (reports list the rules in this order).
SEVERITY_OF: Final[dict[str, Severity]] = {
    "PARCEL_OVERLAP": "block",
    "PARCEL_OUTSIDE_LC": "block",
    "PARCEL_LC_NOT_VALID": "block",
    "PARCEL_OVER_EXCLUSION": "block",
    "PARCEL_OVER_LICENCE": "block",
    "PARCEL_OVER_REHAB": "warn",
    "PARCEL_OVER_CAP": "block",
    "LC_OVER_LC": "block",
    "LC_OVER_LICENCE": "block",
    "LC_OVER_EXCLUSION": "block",
    "LC_OUTSIDE_SOUM": "block",
    "CONTRACT_ACTIVE_PAST_EXPIRY": "warn",
    "REHAB_OVERDUE": "warn",
    "RECORD_INVALID": "block",
    "GEOMETRY_REPAIRED": "info",
}

#: The rules, by code. Codes are stable: reports, filters and translations refer to them.
RULES: Final[dict[str, Rule]] = {
    code: Rule.from_catalogue(code, severity) for code, severity in SEVERITY_OF.items()
}
