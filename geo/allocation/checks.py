"""Whether an application may be allocated: the review, the queue, members, rehabilitation.

See :mod:`geo.allocation` for the checks. Parcels that hold their land are the vocabulary's
(:func:`geo.vocab.holds_land`: applied, active and suspended), as in the overlap rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Final

import geopandas as gpd
import pandas as pd
import shapely

from geo.allocation.reasons import Eligibility, Reason, local_days, stamps
from geo.availability import availability, require_in_force
from geo.frames import layer_or_empty
from geo.overlaps import overlaps_between
from geo.review import review
from geo.rules import LIVE, Live
from geo.settings import AnalysisSettings
from geo.suggest import suggest_parcels
from geo.vocab import (
    ENDED_STATUSES,
    HOLDING_STATUSES,
    holder_key,
    holder_keys,
    rehab_accepted,
)
from layers.labels import LABELS, Lang, message, messages, pair, pick
from layers.schema import STORE_CRS

#: Contract statuses whose parcels hold their land against new applications
#: (:data:`geo.vocab.HOLDING_STATUSES`).
ALLOCATING: Final = HOLDING_STATUSES

#: The overlap rules' ``LIVE`` table (suspended contracts hold their land there too).
ALLOCATION_LIVE: Final[dict[str, Live]] = dict(LIVE)

__all__ = [
    "ALLOCATING",
    "ALLOCATION_LIVE",
    "NoRoom",
    "eligibility",
    "holder_key",
    "members_reason",
    "parcel_of_size",
    "queue_reasons",
    "rehab_reason",
]


def _members(app: pd.Series) -> int:
    total = 0
    for column in ("members_women", "members_men"):
        value = app.get(column)
        if value is not None and not pd.isna(value):
            total += int(value)
    return total


def members_reason(app: pd.Series, *, min_members: int) -> Reason | None:
    """``MEMBERS_BELOW_MIN`` when the applicant has fewer than ``min_members`` members.

    Examples
    --------
    >>> members_reason(pd.Series({"members_women": 1, "members_men": 2}), min_members=5).code
    'MEMBERS_BELOW_MIN'
    """
    n = _members(app)
    if n >= min_members:
        return None
    return Reason.of("MEMBERS_BELOW_MIN", n=n, min_members=min_members)


def rehab_reason(
    holder: object,
    rehab_zones: pd.DataFrame,
    parcels: pd.DataFrame,
    *,
    today: dt.date,
) -> Reason | None:
    """``HOLDER_REHAB_OUTSTANDING`` when the holder leaves rehabilitation undone.

    A zone counts against the holder when its ``holder``, or the holder of the parcel its
    ``parcel_id`` names, is the applicant (see :func:`geo.vocab.holder_key`), it is not
    accepted (:func:`geo.vocab.rehab_accepted`), and it is overdue (``due_on`` before
    ``today``), or its parcel's contract has ended (``expired``/``terminated``), or it has
    no parcel (a legacy zone).

    Examples
    --------
    >>> zones = pd.DataFrame({"id": ["R-1"], "parcel_id": [None], "holder": ["Khas"],
    ...     "stage": ["technical_done"], "due_on": [None]})
    >>> parcels = pd.DataFrame({"id": [], "holder": [], "status": []})
    >>> rehab_reason("KHAS", zones, parcels, today=dt.date(2026, 1, 1)).ids
    ('R-1',)
    """
    key = holder_key(holder)
    if not key or len(rehab_zones) == 0:
        return None
    zones = rehab_zones[~rehab_accepted(rehab_zones)]
    parcel_holder = dict(
        zip(parcels["id"].astype(str), holder_keys(parcels["holder"]), strict=True)
    )
    parcel_status = dict(zip(parcels["id"].astype(str), parcels["status"], strict=True))
    pid = zones["parcel_id"].astype(object).where(zones["parcel_id"].notna(), None)
    pid = pid.map(lambda v: str(v).strip() if v is not None and str(v).strip() else None)
    mine = (holder_keys(zones["holder"]) == key) | (pid.map(parcel_holder) == key)
    due = pd.to_datetime(zones["due_on"], errors="coerce")
    overdue = (due < pd.Timestamp(today)).fillna(False)
    ended = pid.map(parcel_status).isin(ENDED_STATUSES)
    legacy = pid.isna()
    hit = zones[(mine & (overdue | ended | legacy)).to_numpy(dtype=bool)]
    if hit.empty:
        return None
    notes_mn: list[str] = []
    notes_en: list[str] = []
    for zid, stage, d in zip(hit["id"], hit["stage"], hit["due_on"], strict=True):
        stages = pair("rehab_stage", str(stage)) if str(stage) in LABELS["rehab_stage"] else None
        langs: tuple[tuple[Lang, list[str]], ...] = (("mn", notes_mn), ("en", notes_en))
        for lang, out in langs:
            stage_text = pick(stages, lang) if stages else str(stage)
            if isinstance(d, dt.date):
                out.append(message("rehab_zone_note", "dated", lang, zone=zid, stage=stage_text,
                                   date=d.isoformat()))  # fmt: skip
            else:
                out.append(message("rehab_zone_note", "undated", lang, zone=zid, stage=stage_text))
    mn, en = pair("reason_message", "HOLDER_REHAB_OUTSTANDING")
    return Reason(
        "HOLDER_REHAB_OUTSTANDING",
        mn.format(zones=", ".join(notes_mn)),
        en.format(zones=", ".join(notes_en)),
        tuple(str(z) for z in hit["id"]),
    )


def queue_reasons(
    app: gpd.GeoDataFrame,
    pending: gpd.GeoDataFrame,
    *,
    settings: AnalysisSettings,
) -> tuple[list[Reason], tuple[str, ...]]:
    """Pending applications filed before ``app`` on overlapping land.

    Those filed in an earlier window make ``app`` wait (``APPLICATION_BEHIND_EARLIER``); those
    filed within ``competing_window_days`` of it (before or after) compete with it.

    Parameters
    ----------
    app : GeoDataFrame
        One row with ``id``, ``filed_at`` (an ISO timestamp) and the polygon.
    pending : GeoDataFrame
        Other applications with ``id``, ``filed_at``, ``status`` and polygons; those not
        ``pending`` and ``app`` itself are ignored.
    settings : AnalysisSettings
        ``competing_window_days``, ``utc_offset_hours``, ``overlap_tolerance_m2``.

    Returns
    -------
    (reasons, competing)
        At most one reason naming every earlier application, and the competing numbers.
    """
    others = pending[
        (pending["status"] == "pending").to_numpy(dtype=bool)
        & (pending["id"].astype(str) != str(app["id"].iloc[0])).to_numpy(dtype=bool)
    ]
    if others.empty:
        return [], ()
    over = overlaps_between(
        app[["id", "geometry"]],
        others[["id", "geometry"]],
        a_layer="application",
        b_layer="applications",
        tolerance_m2=settings.overlap_tolerance_m2,
    ).records
    if over.empty:
        return [], ()
    hits = others.set_index(others["id"].astype(str)).loc[over["b_id"].astype(str).unique()]
    offset = settings.utc_offset_hours
    mine = local_days(app["filed_at"], offset).iloc[0]
    mine_at = stamps(app["filed_at"]).iloc[0]
    days = local_days(hits["filed_at"], offset)
    gap = (days - mine).dt.days.abs()
    competing = tuple(sorted(hits.index[(gap <= settings.competing_window_days).to_numpy()]))
    earlier = hits.index[
        ((gap > settings.competing_window_days) & (stamps(hits["filed_at"]) < mine_at))
        .fillna(False)
        .to_numpy(dtype=bool)
    ]
    if len(earlier) == 0:
        return [], competing
    names = ", ".join(sorted(earlier))
    return [Reason.of("APPLICATION_BEHIND_EARLIER", tuple(sorted(earlier)), names=names)], competing


def eligibility(
    app: gpd.GeoDataFrame,
    *,
    layers: Mapping[str, gpd.GeoDataFrame],
    applications: gpd.GeoDataFrame | None,
    today: dt.date,
    settings: AnalysisSettings,
    queue: bool = True,
) -> Eligibility:
    """Every check an application must pass, each failure with its reason in both languages.

    Parameters
    ----------
    app : GeoDataFrame
        One application in EPSG:4326 with ``id`` (its number), ``land_conclusion_id``,
        ``holder``, ``members_women``, ``members_men``, ``filed_at`` and its polygon.
    layers : mapping of str to GeoDataFrame
        The store's layers near the application (``land_conclusions`` must include the one
        named), ``rehab_zones`` and the ``contract_parcels`` they name for the holder check.
    applications : GeoDataFrame, optional
        Other applications (``id``, ``filed_at``, ``status``, polygon) for the queue rule.
    today : datetime.date
        The local day validity and due dates are compared with.
    settings : AnalysisSettings
        Cap, tolerance, ``min_members``, windows.
    queue : bool
        Apply the queue rule (``APPLICATION_BEHIND_EARLIER``) and find competitors; an
        approval checks the draw instead (:func:`draw_reasons`).

    Examples
    --------
    >>> from shapely import box
    >>> lcs = gpd.GeoDataFrame({"id": ["LC-1"], "status": ["issued"], "valid_until": [None],
    ...     "soum_code": ["MN4322"]}, geometry=[box(106, 47, 106.1, 47.1)], crs=4326)
    >>> app = gpd.GeoDataFrame({"id": ["A-1"], "land_conclusion_id": ["LC-1"],
    ...     "holder": ["Khas"], "members_women": [2], "members_men": [1],
    ...     "filed_at": ["2026-05-01T02:00:00Z"]},
    ...     geometry=[box(106.01, 47.01, 106.012, 47.012)], crs=4326)
    >>> result = eligibility(app, layers={"land_conclusions": lcs}, applications=None,
    ...     today=dt.date(2026, 5, 1), settings=AnalysisSettings())
    >>> result.eligible, [r.code for r in result.reasons]
    (False, ['MEMBERS_BELOW_MIN'])
    """
    if len(app) != 1:
        raise ValueError(f"one application at a time, not {len(app)}")
    row = app.iloc[0]
    number = str(row["id"])
    proposal = app[["id", "land_conclusion_id", "holder", "geometry"]]
    result = review(
        proposal,
        kind="parcel",
        layers=layers,
        today=today,
        settings=settings,
        live=ALLOCATION_LIVE,
    )
    reasons: list[Reason] = []
    notes: list[Reason] = []
    for p in result.problems:
        reasons.append(Reason.of("INVALID_GEOMETRY", number=number, reason=p.reason))
    for f in result.findings:
        reason = Reason(f.code, f.message_mn, f.message_en, (f.id,) if f.id else ())
        (reasons if f.severity == "block" else notes).append(reason)
    competing: tuple[str, ...] = ()
    if queue and applications is not None and len(applications):
        behind, competing = queue_reasons(app, applications, settings=settings)
        reasons += behind
        if competing:
            names = ", ".join(competing)
            notes.append(Reason.of("COMPETING", competing, names=names))
    members = members_reason(row, min_members=settings.min_members)
    if members is not None:
        reasons.append(members)
    zones = _frame(layers, "rehab_zones")
    rehab = rehab_reason(row["holder"], zones, _frame(layers, "contract_parcels"), today=today)
    if rehab is not None:
        reasons.append(rehab)
    return Eligibility(
        eligible=not reasons,
        reasons=tuple(reasons),
        notes=tuple(notes),
        competing=competing,
        official_ha=float(result.area.official_ha),
    )


_frame = layer_or_empty


# --------------------------------------------------------------------------- size requests


def parcel_of_size(
    land_conclusion_id: str,
    *,
    ha: float,
    layers: Mapping[str, gpd.GeoDataFrame],
    applications: gpd.GeoDataFrame | None,
    today: dt.date,
) -> shapely.Geometry:
    """A parcel of ``ha`` official hectares in the Land Conclusion's free land.

    Free land is the Land Conclusion's available land (:func:`geo.availability.availability`)
    without the land of pending applications; the parcel is the first suggestion of
    :func:`geo.suggest.suggest_parcels` (packed from the south-west).

    Raises
    ------
    geo.availability.LandConclusionNotInForce
        When the Land Conclusion is not in force on ``today``.
    NoRoom
        When no parcel of that size fits.
    """
    lcs = _frame(layers, "land_conclusions")
    lc = lcs[lcs["id"].astype(str) == land_conclusion_id]
    if lc.empty:
        raise NoRoom(*messages("reason_message", "NO_LAND_CONCLUSION", id=land_conclusion_id))
    require_in_force(gpd.GeoDataFrame(lc, crs=STORE_CRS), today=today)
    free = availability(
        gpd.GeoDataFrame(lc, crs=STORE_CRS),
        _geoframe(layers, "contract_parcels"),
        _geoframe(layers, "rehab_zones"),
        _geoframe(layers, "exclusions"),
        _geoframe(layers, "licences"),
        today=today,
    )
    land = free.geometry.iloc[0]
    if applications is not None and len(applications):
        waiting = applications[(applications["status"] == "pending").to_numpy(dtype=bool)]
        if len(waiting):
            land = shapely.difference(land, shapely.union_all(waiting.geometry.array))
    if land.is_empty:
        raise NoRoom(*messages("reason_message", "NO_FREE_LAND", id=land_conclusion_id))
    result = suggest_parcels(land, ha=ha, count=1)
    if not result.fits:
        largest = result.largest_block_ha
        raise NoRoom(
            *messages(
                "reason_message",
                "NO_FIT",
                id=land_conclusion_id,
                ha=f"{ha:g}",
                largest=f"{largest:.2f}",
            )
        )
    return result.candidates.geometry.iloc[0]


_geoframe = layer_or_empty


class NoRoom(ValueError):
    """No parcel of the requested size fits; the message is in Mongolian and English."""

    def __init__(self, mn: str, en: str) -> None:
        super().__init__(f"{mn} / {en}")
        self.reason = Reason("NO_ROOM", mn, en)
