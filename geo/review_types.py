"""The typed answer of a desk review (:func:`geo.review.review`).

A :class:`Review` holds what the review found, each finding with the geometry it is about (the
part of the proposal shared with the other feature, or the part outside its container), and
each proposed feature with its geometry, so that maps and reports draw what the review
computed instead of computing it again. :meth:`Review.as_json` writes the JSON document of
``gazar check --format json`` and ``POST /analysis/check``; a review also reads as that
document (``review["verdict"]``), for callers that only want the JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Final, Literal

from geo.repair import Repaired
from layers.labels import Pair, pair

Kind = Literal["land_conclusion", "parcel"]
Verdict = Literal["clear", "conflicts", "invalid"]

#: The severities, in the order a review lists them.
SEVERITIES: Final = ("block", "warn", "info")


def verdict_label(verdict: str) -> Pair:
    """A verdict as a person reads it: (Mongolian, English).

    Examples
    --------
    >>> verdict_label("clear")[1]
    'Clear'
    """
    return pair("review_verdict", verdict)


class _Record:
    """A record written as JSON: its fields in order, the geometry left out."""

    def as_json(self) -> dict[str, Any]:
        """The fields in order (the JSON keys), without ``geometry``."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "geometry"}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Problem:
    """A proposed feature no analysis can use (``index`` None: the proposal has none)."""

    index: int | None
    id: str | None
    reason_en: str
    reason_mn: str

    @property
    def reason(self) -> str:
        """The reason in English."""
        return self.reason_en

    def as_json(self) -> dict[str, Any]:
        """``index``, ``id``, ``reason`` (English), ``reason_en``, ``reason_mn``."""
        return dict(
            index=self.index, id=self.id, reason=self.reason_en, reason_en=self.reason_en,
            reason_mn=self.reason_mn,
        )  # fmt: skip


@dataclass(frozen=True)
class FeatureReview(_Record):
    """One proposed feature: its id, areas, UTM zone, verdict and geometry (EPSG:4326).

    ``geometry`` is the feature as given (reprojected to lon/lat), None when it has none;
    the areas and zone are None for an unusable feature (verdict ``invalid``).
    """

    id: str
    official_ha: float | None
    geodesic_ha: float | None
    utm_zone: int | None
    verdict: Verdict
    geometry: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SoumShare(_Record):
    """A soum the proposal touches, its hectares and share of the proposal."""

    soum_code: str
    name_mn: str | None
    name_en: str | None
    aimag_code: str | None
    overlap_ha: float
    share: float | None


@dataclass(frozen=True)
class AimagHit(_Record):
    """An aimag the proposal touches."""

    aimag_code: str
    name_mn: str | None
    name_en: str | None


@dataclass(frozen=True)
class ParcelLandConclusion(_Record):
    """A proposed parcel's Land Conclusion: named by the parcel, else the one it overlaps most."""

    proposal_id: str
    id: str | None
    found: bool
    name: str | None
    status: str | None
    valid_until: str | None
    overlap_ha: float


@dataclass(frozen=True)
class Finding(_Record):
    """A rule the proposal breaks (or a note for the reviewer).

    ``code`` is the rule, ``layer``/``id``/``holder`` the other feature (None for a rule on the
    proposal alone), ``overlap_ha`` the hectares concerned and ``geometry`` their shape
    (EPSG:4326): the part shared with the other feature, or the part outside the container;
    None for findings without an area (references, dates, the cap, repairs).
    """

    severity: str
    code: str
    title_mn: str
    title_en: str
    proposal_id: str | None
    layer: str | None
    id: str | None
    holder: str | None
    overlap_ha: float | None
    message_mn: str
    message_en: str
    geometry: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Overlap(_Record):
    """A stored feature the proposal shares land with (above the tolerance), in any layer.

    ``severity`` and ``code`` are those of the rule the overlap breaks; an overlap the rules
    allow (a parcel inside a proposed Land Conclusion, legacy rehabilitation land, the
    holder's own zone, a licence no longer in force) is ``info`` with ``code`` None.
    ``name`` is the feature's name, ``holder`` its holder, ``status`` its status, stage or
    kind (the value stored), ``live`` whether it takes part in the rules today, and
    ``overlap_ha`` the shared official hectares (UTM zone of the shared part's centroid);
    ``geometry`` the shared part (EPSG:4326).
    """

    severity: str
    code: str | None
    proposal_id: str
    layer: str
    id: str
    name: str | None
    holder: str | None
    status: str | None
    live: bool
    overlap_ha: float
    geometry: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Area(_Record):
    """Total hectares of the usable features: official (UTM) and geodesic."""

    official_ha: float
    geodesic_ha: float


@dataclass(frozen=True, eq=False)
class Review(Mapping[str, Any]):
    """The desk review of a proposal (see :mod:`geo.review` for the verdicts).

    ``terrain`` is set when the review had a DEM (one record per feature), ``dem`` the DEM's
    name and ``file`` the file reviewed, when the caller says (``dataclasses.replace``).
    Reading a review as a mapping reads its JSON document (:meth:`as_json`).
    """

    kind: Kind
    today: dt.date
    verdict: Verdict
    area: Area
    features: tuple[FeatureReview, ...]
    soums: tuple[SoumShare, ...]
    aimags: tuple[AimagHit, ...]
    proposing_soum: str | None
    outside_soum_ha: float | None
    outside_soum_share: float | None
    land_conclusions: tuple[ParcelLandConclusion, ...]
    findings: tuple[Finding, ...]
    counts: Mapping[str, int]
    repairs: tuple[Repaired, ...]
    problems: tuple[Problem, ...]
    terrain: tuple[Mapping[str, Any], ...] | None = None
    dem: str | None = None
    file: str | None = None
    #: every stored feature the proposal overlaps, in every layer (:class:`Overlap`)
    overlaps: tuple[Overlap, ...] = ()

    @property
    def verdict_mn(self) -> str:
        """The verdict in Mongolian."""
        return verdict_label(self.verdict)[0]

    @property
    def verdict_en(self) -> str:
        """The verdict in English."""
        return verdict_label(self.verdict)[1]

    def as_json(self) -> dict[str, Any]:
        """The JSON document of ``gazar check --format json`` and ``POST /analysis/check``.

        Keys in order: ``kind``, ``today``, ``verdict``, ``verdict_mn``, ``verdict_en``,
        ``area``, ``features``, ``soums``, ``aimags``, ``proposing_soum``,
        ``outside_soum_ha``, ``outside_soum_share``, ``land_conclusions``, ``findings``,
        ``counts``, ``repairs``, ``problems``, ``overlaps``, then ``terrain``, ``dem`` and
        ``file`` when set.
        Plain values only (no geometry): ready for ``orjson.dumps``.
        """
        return dict(self._json)

    @cached_property
    def _json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": self.kind,
            "today": self.today.isoformat(),
            "verdict": self.verdict,
            "verdict_mn": self.verdict_mn,
            "verdict_en": self.verdict_en,
            "area": self.area.as_json(),
            "features": [x.as_json() for x in self.features],
            "soums": [x.as_json() for x in self.soums],
            "aimags": [x.as_json() for x in self.aimags],
            "proposing_soum": self.proposing_soum,
            "outside_soum_ha": self.outside_soum_ha,
            "outside_soum_share": self.outside_soum_share,
            "land_conclusions": [x.as_json() for x in self.land_conclusions],
            "findings": [x.as_json() for x in self.findings],
            "counts": dict(self.counts),
            "repairs": [r.as_dict() for r in self.repairs],
            "problems": [p.as_json() for p in self.problems],
            "overlaps": [x.as_json() for x in self.overlaps],
        }
        if self.terrain is not None:
            doc["terrain"] = [dict(t) for t in self.terrain]
        if self.dem is not None:
            doc["dem"] = self.dem
        if self.file is not None:
            doc["file"] = self.file
        return doc

    to_dict = as_json

    # read as the JSON document (geo.allocation and callers wanting plain values)
    def __getitem__(self, key: str) -> Any:
        return self._json[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json)

    def __len__(self) -> int:
        return len(self._json)
