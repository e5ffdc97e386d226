"""Transparent parcel allocation: eligibility, the queue, competing applications and the draw.

Pure functions over layer frames (no I/O): the service in ``api.allocation`` reads the store,
calls these and writes the results in one transaction.

Eligibility
    An application (a polygon, one row) is eligible when every check passes; every failed
    check is a :class:`Reason` with a stable code and a message in Mongolian and English:

    * inside an issued, valid Land Conclusion, under the area cap, not on another parcel,
      excluded land or a licence in force — the proposal review of :mod:`geo.review`
      (``PARCEL_LC_NOT_VALID``, ``PARCEL_OUTSIDE_LC``, ``PARCEL_OVER_CAP``,
      ``PARCEL_OVERLAP``, ``PARCEL_OVER_EXCLUSION``, ``PARCEL_OVER_LICENCE``) with parcels of
      status ``applied``, ``active`` *and* ``suspended`` holding their land
      (:data:`ALLOCATING`: a suspension pauses work, not the contract);
    * ``APPLICATION_BEHIND_EARLIER``: no overlap with a pending application filed in an
      earlier window (the queue is first come, first served);
    * ``MEMBERS_BELOW_MIN``: at least ``min_members`` members, women and men together;
    * ``HOLDER_REHAB_OUTSTANDING``: the holder has no rehabilitation zone that is not accepted
      by the commission and is either past ``due_on`` or left from a contract that has ended
      (expired, terminated) or from no contract (a legacy zone). Zones of the holder's running
      contracts that are not yet due do not block: that work is still in time.

    Warnings of the review (e.g. another holder's rehabilitation zone under the parcel) are
    kept as notes, as are the competing applications.

Competing applications
    Pending applications whose land overlaps (above the tolerance) and whose local filing days
    are at most ``competing_window_days`` apart (0: the same day) compete; the groups are the
    connected components of that relation. A group is resolved by a draw.

The draw (anyone can re-run it)
    The seed is the SHA-256 (hex) of the UTF-8 text :func:`draw_input`::

        gazar-draw-v1
        <application numbers, sorted as text, one per line>
        <draw date, YYYY-MM-DD>
        <the public value the governor announced beforehand, as written>

    (lines joined by a single ``\\n``, no final newline). The order is the numbers sorted by
    ``SHA-256(seed + ":" + number)`` in hex (ties, which do not happen in practice, by the
    number): the first is the winner. With ``sha256sum`` only::

        printf 'gazar-draw-v1\\nMN4322-2026-0001\\nMN4322-2026-0002\\n2026-05-02\\n48213' \\
            | sha256sum
        printf '%s' "$SEED:MN4322-2026-0001" | sha256sum
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.availability import availability, require_in_force
from geo.overlaps import overlaps_between, overlaps_within
from geo.review import review
from geo.rules import LIVE, RULES, Live
from geo.settings import AnalysisSettings
from geo.suggest import suggest_parcels
from layers.labels import label
from layers.schema import REGISTRY, STORE_CRS

#: Contract statuses whose parcels hold their land against new applications.
ALLOCATING: Final = ("applied", "active", "suspended")

#: The overlap rules' ``LIVE`` table with suspended contracts holding their land too.
ALLOCATION_LIVE: Final[dict[str, Live]] = {
    **LIVE,
    "contract_parcels": Live("status", keep=ALLOCATING),
}

#: Application statuses.
APPLICATION_STATUSES: Final = ("pending", "ineligible", "approved", "rejected")

#: Application statuses as a person reads them (Mongolian, English).
STATUS_LABELS: Final[dict[str, tuple[str, str]]] = {
    "pending": ("Хүлээгдэж буй", "Pending"),
    "ineligible": ("Шаардлага хангаагүй", "Not eligible"),
    "approved": ("Зөвшөөрсөн", "Approved"),
    "rejected": ("Татгалзсан", "Rejected"),
}

#: Decision outcomes.
OUTCOMES: Final = ("approve", "reject")

#: The reasons this module gives (the review's rule codes are used as they are).
REASON_TITLES: Final[dict[str, tuple[str, str]]] = {
    "APPLICATION_BEHIND_EARLIER": ("Өмнөх өргөдөлтэй давхцсан", "Behind an earlier application"),
    "MEMBERS_BELOW_MIN": ("Гишүүдийн тоо хүрэлцэхгүй", "Too few members"),
    "HOLDER_REHAB_OUTSTANDING": ("Нөхөн сэргээлт дуусаагүй", "Rehabilitation outstanding"),
    "INVALID_GEOMETRY": ("Геометр буруу", "Unusable geometry"),
    "COMPETING": ("Өрсөлдөж буй өргөдөл", "Competing applications"),
    "OBJECTION_WINDOW_OPEN": ("Гомдлын хугацаа дуусаагүй", "Objection window still open"),
    "DRAW_REQUIRED": ("Сугалаа шаардлагатай", "A draw is needed"),
    "RANKED_BEHIND": ("Сугалаагаар хойно", "Ranked behind in the draw"),
    "NOT_PENDING": ("Шийдвэрлэгдсэн өргөдөл", "Not pending"),
    "NO_ROOM": ("Чөлөөт газар хүрэлцэхгүй", "No room"),
}

DRAW_FORMAT: Final = "gazar-draw-v1"

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Reason:
    """One reason an application is refused (or a note about it), in both languages."""

    code: str
    message_mn: str
    message_en: str
    #: the other features or applications the reason names
    ids: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        title = REASON_TITLES.get(self.code)
        if title is None and self.code in RULES:
            title = (RULES[self.code].title_mn, RULES[self.code].title_en)
        return {
            "code": self.code,
            "title_mn": title[0] if title else None,
            "title_en": title[1] if title else None,
            "message_mn": self.message_mn,
            "message_en": self.message_en,
            "ids": list(self.ids),
        }

    def __str__(self) -> str:
        return f"{self.message_mn} / {self.message_en}"


@dataclass(frozen=True)
class Eligibility:
    """The result of :func:`eligibility`."""

    eligible: bool
    #: every failed check (empty when eligible)
    reasons: tuple[Reason, ...]
    #: warnings and information that do not refuse the application
    notes: tuple[Reason, ...] = ()
    #: pending applications this one competes with (same window, overlapping land)
    competing: tuple[str, ...] = ()
    official_ha: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "eligible": self.eligible,
            "reasons": [r.as_dict() for r in self.reasons],
            "notes": [r.as_dict() for r in self.notes],
            "competing": list(self.competing),
            "official_ha": self.official_ha,
        }


# ------------------------------------------------------------------------------------ time


def local_day(stamp: dt.datetime, *, utc_offset_hours: float) -> dt.date:
    """The local calendar day of a server timestamp (naive timestamps are read as UTC).

    Examples
    --------
    >>> local_day(dt.datetime(2026, 5, 1, 17, 30, tzinfo=dt.UTC), utc_offset_hours=8)
    datetime.date(2026, 5, 2)
    """
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return (stamp.astimezone(dt.UTC) + dt.timedelta(hours=utc_offset_hours)).date()


def objection_until(filed_on: dt.date, *, days: int) -> dt.date:
    """The last local day objections may be filed for an application filed on ``filed_on``.

    Examples
    --------
    >>> objection_until(dt.date(2026, 5, 1), days=21)
    datetime.date(2026, 5, 22)
    """
    return filed_on + dt.timedelta(days=days)


def add_years(day: dt.date, years: int) -> dt.date:
    """``day`` plus whole years (29 February becomes 28 February in a common year).

    Examples
    --------
    >>> add_years(dt.date(2024, 2, 29), 3)
    datetime.date(2027, 2, 28)
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# ----------------------------------------------------------------------------- eligibility


def holder_key(name: object) -> str:
    """A holder's name for comparison: trimmed, white space collapsed, case ignored.

    Examples
    --------
    >>> holder_key("  Алтан   Шижир ")
    'алтан шижир'
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    return _SPACES.sub(" ", str(name)).strip().casefold()


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
    return Reason(
        "MEMBERS_BELOW_MIN",
        f"Өргөдөл гаргагч {n} гишүүнтэй; хамгийн багадаа {min_members} гишүүн шаардлагатай",
        f"The applicant has {n} member(s); at least {min_members} are required",
    )


def rehab_reason(
    holder: object,
    rehab_zones: pd.DataFrame,
    parcels: pd.DataFrame,
    *,
    today: dt.date,
) -> Reason | None:
    """``HOLDER_REHAB_OUTSTANDING`` when the holder leaves rehabilitation undone.

    A zone counts against the holder when its ``holder``, or the holder of the parcel its
    ``parcel_id`` names, is the applicant (see :func:`holder_key`), it is not ``accepted``,
    and it is overdue (``due_on`` before ``today``), or its parcel's contract has ended
    (``expired``/``terminated``), or it has no parcel (a legacy zone).

    Examples
    --------
    >>> zones = pd.DataFrame({"id": ["R-1"], "parcel_id": [None], "holder": ["Хас"],
    ...     "stage": ["technical_done"], "due_on": [None]})
    >>> parcels = pd.DataFrame({"id": [], "holder": [], "status": []})
    >>> rehab_reason("хас", zones, parcels, today=dt.date(2026, 1, 1)).ids
    ('R-1',)
    """
    key = holder_key(holder)
    if not key or len(rehab_zones) == 0:
        return None
    zones = rehab_zones[rehab_zones["stage"].astype("string").fillna("") != "accepted"]
    parcel_holder = dict(
        zip(parcels["id"].astype(str), parcels["holder"].map(holder_key), strict=True)
    )
    parcel_status = dict(zip(parcels["id"].astype(str), parcels["status"], strict=True))
    pid = zones["parcel_id"].astype(object).where(zones["parcel_id"].notna(), None)
    pid = pid.map(lambda v: str(v).strip() if v is not None and str(v).strip() else None)
    mine = (zones["holder"].map(holder_key) == key) | (pid.map(parcel_holder) == key)
    due = pd.to_datetime(zones["due_on"], errors="coerce")
    overdue = (due < pd.Timestamp(today)).fillna(False)
    ended = pid.map(parcel_status).isin(("expired", "terminated"))
    legacy = pid.isna()
    hit = zones[(mine & (overdue | ended | legacy)).to_numpy(dtype=bool)]
    if hit.empty:
        return None
    notes_mn, notes_en = [], []
    for zid, stage, d in zip(hit["id"], hit["stage"], hit["due_on"], strict=True):
        when_en = f"due {d.isoformat()}" if isinstance(d, dt.date) else "no due date"
        when_mn = f"эцсийн хугацаа {d.isoformat()}" if isinstance(d, dt.date) else "хугацаагүй"
        notes_mn.append(f"{zid} ({label('rehab_stage', str(stage), 'mn')}, {when_mn})")
        notes_en.append(f"{zid} ({label('rehab_stage', str(stage), 'en')}, {when_en})")
    return Reason(
        "HOLDER_REHAB_OUTSTANDING",
        f"Өргөдөл гаргагчийн нөхөн сэргээлтийг комисс хүлээн аваагүй: {', '.join(notes_mn)}",
        f"The applicant's rehabilitation is not accepted by the commission: {', '.join(notes_en)}",
        tuple(str(z) for z in hit["id"]),
    )


def _stamps(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def _days(values: pd.Series, utc_offset_hours: float) -> pd.Series:
    local = _stamps(values) + pd.Timedelta(hours=utc_offset_hours)
    return local.dt.tz_localize(None).dt.normalize()


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
    mine = _days(app["filed_at"], offset).iloc[0]
    mine_at = _stamps(app["filed_at"]).iloc[0]
    days = _days(hits["filed_at"], offset)
    gap = (days - mine).dt.days.abs()
    competing = tuple(sorted(hits.index[(gap <= settings.competing_window_days).to_numpy()]))
    earlier = hits.index[
        ((gap > settings.competing_window_days) & (_stamps(hits["filed_at"]) < mine_at))
        .fillna(False)
        .to_numpy(dtype=bool)
    ]
    if len(earlier) == 0:
        return [], competing
    names = ", ".join(sorted(earlier))
    return [
        Reason(
            "APPLICATION_BEHIND_EARLIER",
            f"Өмнө нь гаргасан, шийдвэрлэгдээгүй өргөдөл {names}-тэй газар давхцаж байна",
            f"The land overlaps the earlier pending application(s) {names}",
            tuple(sorted(earlier)),
        )
    ], competing


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
    ...     "holder": ["Хас"], "members_women": [2], "members_men": [1],
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
    for p in result["problems"]:
        reasons.append(
            Reason(
                "INVALID_GEOMETRY",
                f"Өргөдлийн {number} геометрийг ашиглах боломжгүй ({p['reason']})",
                f"The geometry of application {number} cannot be used ({p['reason']})",
            )
        )
    for f in result["findings"]:
        reason = Reason(f["code"], f["message_mn"], f["message_en"], (f["id"],) if f["id"] else ())
        (reasons if f["severity"] == "block" else notes).append(reason)
    competing: tuple[str, ...] = ()
    if queue and applications is not None and len(applications):
        behind, competing = queue_reasons(app, applications, settings=settings)
        reasons += behind
        if competing:
            names = ", ".join(competing)
            notes.append(
                Reason(
                    "COMPETING",
                    f"Нэг хугацаанд гаргасан өргөдөл {names}-тэй газар давхцаж байна: "
                    "сугалаагаар шийдвэрлэнэ",
                    f"Competes with {names} (overlapping land filed within the same window): "
                    "a draw decides",
                    competing,
                )
            )
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
        official_ha=float(result["area"]["official_ha"]),
    )


def _frame(layers: Mapping[str, gpd.GeoDataFrame], name: str) -> pd.DataFrame:
    frame = layers.get(name)
    if frame is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in REGISTRY[name].columns})
    return frame


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
        raise NoRoom(
            f"газрын дүгнэлт '{land_conclusion_id}' олдсонгүй",
            f"no Land Conclusion has the id '{land_conclusion_id}'",
        )
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
        raise NoRoom(
            f"газрын дүгнэлт '{land_conclusion_id}'-д чөлөөт газар үлдээгүй",
            f"Land Conclusion '{land_conclusion_id}' has no free land left",
        )
    result = suggest_parcels(land, ha=ha, count=1)
    if not result.fits:
        largest = result.largest_block_ha
        raise NoRoom(
            f"газрын дүгнэлт '{land_conclusion_id}'-д {ha:g} га талбай багтахгүй "
            f"(хамгийн том чөлөөт хэсэг {largest:.2f} га)",
            f"no {ha:g} ha parcel fits in the free land of Land Conclusion "
            f"'{land_conclusion_id}' (the largest free block is {largest:.2f} ha)",
        )
    return result.candidates.geometry.iloc[0]


def _geoframe(layers: Mapping[str, gpd.GeoDataFrame], name: str) -> gpd.GeoDataFrame:
    frame = layers.get(name)
    if frame is None:
        return gpd.GeoDataFrame(
            {c: pd.Series([], dtype=object) for c in REGISTRY[name].columns},
            geometry=gpd.GeoSeries([], crs=STORE_CRS),
            crs=STORE_CRS,
        )
    return frame


class NoRoom(ValueError):
    """No parcel of the requested size fits; the message is in Mongolian and English."""

    def __init__(self, mn: str, en: str) -> None:
        super().__init__(f"{mn} / {en}")
        self.reason = Reason("NO_ROOM", mn, en)


# ----------------------------------------------------------------------- competing groups


def competing_groups(applications: gpd.GeoDataFrame, *, settings: AnalysisSettings) -> pd.Series:
    """The competing group of each pending application (its smallest member's number).

    Two pending applications compete when their land overlaps by more than the tolerance and
    their local filing days are at most ``competing_window_days`` apart; a group is a
    connected set of competing applications. Applications that compete with none (and those
    not pending) get ``None``.

    Parameters
    ----------
    applications : GeoDataFrame
        ``id``, ``status``, ``filed_at`` (ISO timestamps) and polygons in EPSG:4326.
    settings : AnalysisSettings
        ``competing_window_days``, ``utc_offset_hours``, ``overlap_tolerance_m2``.

    Returns
    -------
    pandas.Series
        Indexed by application number.

    Examples
    --------
    >>> from shapely import box
    >>> apps = gpd.GeoDataFrame({"id": ["A-1", "A-2", "A-3"], "status": ["pending"] * 3,
    ...     "filed_at": ["2026-05-01T01:00:00Z", "2026-05-01T09:00:00Z",
    ...                  "2026-05-03T01:00:00Z"]},
    ...     geometry=[box(106, 47, 106.01, 47.01), box(106.005, 47, 106.015, 47.01),
    ...               box(106.009, 47, 106.02, 47.01)], crs=4326)
    >>> competing_groups(apps, settings=AnalysisSettings()).tolist()
    ['A-1', 'A-1', None]
    """
    ids = applications["id"].astype(str).to_numpy(dtype=object)
    out = pd.Series([None] * len(ids), index=pd.Index(ids, name="id"), dtype=object)
    live = applications[(applications["status"] == "pending").to_numpy(dtype=bool)]
    if len(live) < 2:
        return out
    frame = gpd.GeoDataFrame(
        {"id": live["id"].astype(str).to_numpy(dtype=object)},
        geometry=gpd.GeoSeries(np.asarray(live.geometry.array), crs=STORE_CRS),
    )
    pairs = overlaps_within(
        frame, layer="applications", tolerance_m2=settings.overlap_tolerance_m2
    ).records
    if pairs.empty:
        return out
    day = dict(
        zip(
            frame["id"],
            _days(live["filed_at"].reset_index(drop=True), settings.utc_offset_hours),
            strict=True,
        )
    )
    gap = np.array(
        [abs((day[a] - day[b]).days) for a, b in zip(pairs["a_id"], pairs["b_id"], strict=True)]
    )
    close = pairs[gap <= settings.competing_window_days]
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b in zip(close["a_id"], close["b_id"], strict=True):
        ra, rb = find(str(a)), find(str(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members = {str(x) for x in close["a_id"]} | {str(x) for x in close["b_id"]}
    for m in members:
        out[m] = find(m)
    return out


def group_closed(filed_at: Iterable[str], *, today: dt.date, settings: AnalysisSettings) -> bool:
    """Whether no new application could still join a group filed at these times.

    The window of the last filing stays open for ``competing_window_days`` more days.

    Examples
    --------
    >>> group_closed(["2026-05-01T01:00:00Z"], today=dt.date(2026, 5, 1),
    ...     settings=AnalysisSettings())
    False
    """
    days = _days(pd.Series(list(filed_at), dtype=object), settings.utc_offset_hours)
    last = days.max().date()
    return today > last + dt.timedelta(days=settings.competing_window_days)


# -------------------------------------------------------------------------------- the draw


def draw_input(numbers: Collection[str], *, draw_date: dt.date, public_value: str) -> str:
    """The published text the seed is the SHA-256 of (see the module docstring).

    Examples
    --------
    >>> draw_input(["B-2", "A-1"], draw_date=dt.date(2026, 5, 2), public_value="48213")
    'gazar-draw-v1\\nA-1\\nB-2\\n2026-05-02\\n48213'
    """
    if len(numbers) < 2:
        raise ValueError(f"a draw needs at least two applications, not {len(numbers)}")
    if len(set(numbers)) != len(numbers):
        raise ValueError("an application appears twice in the draw")
    for n in numbers:
        if not n or "\n" in n:
            raise ValueError(f"{n!r} is not an application number")
    if not public_value.strip() or "\n" in public_value:
        raise ValueError("the public value must be one non-empty line")
    return "\n".join([DRAW_FORMAT, *sorted(numbers), draw_date.isoformat(), public_value])


def draw_seed(numbers: Collection[str], *, draw_date: dt.date, public_value: str) -> str:
    """SHA-256 (hex) of :func:`draw_input`.

    Examples
    --------
    >>> draw_seed(["A-1", "B-2"], draw_date=dt.date(2026, 5, 2), public_value="48213")[:16]
    'e6cf87d1380ec7e7'
    """
    text = draw_input(numbers, draw_date=draw_date, public_value=public_value)
    return hashlib.sha256(text.encode()).hexdigest()


def draw_order(numbers: Iterable[str], *, seed: str) -> list[str]:
    """The numbers sorted by ``SHA-256(seed + ":" + number)``: the first wins.

    Examples
    --------
    >>> draw_order(["A-1", "B-2", "C-3"], seed="00")
    ['A-1', 'C-3', 'B-2']
    """

    def key(n: str) -> tuple[str, str]:
        return hashlib.sha256(f"{seed}:{n}".encode()).hexdigest(), n

    return sorted(numbers, key=key)


@dataclass(frozen=True)
class DrawCheck:
    """Whether a published draw follows from its published inputs."""

    ok: bool
    seed: str
    order: list[str]
    seed_matches: bool
    order_matches: bool
    message_mn: str
    message_en: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seed": self.seed,
            "order": self.order,
            "seed_matches": self.seed_matches,
            "order_matches": self.order_matches,
            "message_mn": self.message_mn,
            "message_en": self.message_en,
        }


def verify_draw(
    numbers: Collection[str],
    *,
    draw_date: dt.date,
    public_value: str,
    seed: str,
    order: Sequence[str],
) -> DrawCheck:
    """Recompute a draw from its inputs and compare with the published seed and order.

    Examples
    --------
    >>> s = draw_seed(["A-1", "B-2"], draw_date=dt.date(2026, 5, 2), public_value="7")
    >>> verify_draw(["A-1", "B-2"], draw_date=dt.date(2026, 5, 2), public_value="7",
    ...     seed=s, order=draw_order(["A-1", "B-2"], seed=s)).ok
    True
    """
    expect_seed = draw_seed(numbers, draw_date=draw_date, public_value=public_value)
    expect_order = draw_order(numbers, seed=expect_seed)
    seed_ok = expect_seed == seed
    order_ok = list(order) == expect_order
    if seed_ok and order_ok:
        mn = f"Сугалаа зөв: ялагч {expect_order[0]}, дараалал {', '.join(expect_order)}"
        en = f"The draw follows from its inputs: winner {expect_order[0]}, order " + ", ".join(
            expect_order
        )
    else:
        what_mn = [] if seed_ok else ["үр (seed) таарахгүй"]
        what_en = [] if seed_ok else [f"the seed should be {expect_seed}"]
        if not order_ok:
            what_mn.append(f"дараалал {', '.join(expect_order)} байх ёстой")
            what_en.append(f"the order should be {', '.join(expect_order)}")
        mn = "Сугалааны нийтэлсэн үр дүн оролтоос гарахгүй: " + "; ".join(what_mn)
        en = "The published draw does not follow from its inputs: " + "; ".join(what_en)
    return DrawCheck(
        ok=seed_ok and order_ok,
        seed=expect_seed,
        order=expect_order,
        seed_matches=seed_ok,
        order_matches=order_ok,
        message_mn=mn,
        message_en=en,
    )


# ----------------------------------------------------------------------------- approval


def approval_reasons(
    number: str,
    *,
    status: str,
    filed_on: dt.date,
    today: dt.date,
    competitors: Collection[str],
    order: Sequence[str] | None,
    statuses: Mapping[str, str],
    settings: AnalysisSettings,
) -> list[Reason]:
    """What stops an application being approved today, besides its eligibility.

    The application must be pending; its objection window must have closed; if it competes
    with other pending applications a draw must have ranked them, and no competitor ranked
    ahead of it may still be pending or approved.

    Examples
    --------
    >>> approval_reasons("A-2", status="pending", filed_on=dt.date(2026, 1, 1),
    ...     today=dt.date(2026, 3, 1), competitors=["A-1"], order=["A-1", "A-2"],
    ...     statuses={"A-1": "pending"}, settings=AnalysisSettings())[0].code
    'RANKED_BEHIND'
    """
    if status != "pending":
        mn_state, en_state = STATUS_LABELS.get(status, (status, status))
        return [
            Reason(
                "NOT_PENDING",
                f"Өргөдөл {number} хүлээгдэж буй биш ({mn_state})",
                f"Application {number} is not pending ({en_state})",
            )
        ]
    reasons = []
    until = objection_until(filed_on, days=settings.objection_window_days)
    if today <= until:
        reasons.append(
            Reason(
                "OBJECTION_WINDOW_OPEN",
                f"Гомдол гаргах хугацаа {until.isoformat()} хүртэл нээлттэй",
                f"Objections may be filed until {until.isoformat()}; decide after that day",
            )
        )
    rivals = [c for c in competitors if c != number]
    if rivals:
        if order is None or number not in order:
            names = ", ".join(sorted(rivals))
            reasons.append(
                Reason(
                    "DRAW_REQUIRED",
                    f"Өргөдөл {names}-тэй өрсөлдөж байна: эхлээд сугалаа явуулна",
                    f"Competes with {names}: a draw must rank them first",
                    tuple(sorted(rivals)),
                )
            )
        else:
            ahead = [
                c
                for c in order[: order.index(number)]
                if c in rivals and statuses.get(c) in ("pending", "approved")
            ]
            if ahead:
                names = ", ".join(ahead)
                reasons.append(
                    Reason(
                        "RANKED_BEHIND",
                        f"Сугалаагаар өргөдөл {names} түрүүлсэн бөгөөд шийдвэрлэгдээгүй "
                        "эсвэл зөвшөөрөгдсөн",
                        f"The draw ranked {names} ahead, still pending or approved",
                        tuple(ahead),
                    )
                )
    return reasons


def contract_parcel(
    app: gpd.GeoDataFrame,
    *,
    parcel_id: str,
    contract_no: str,
    signed_on: dt.date,
    term_years: int,
) -> gpd.GeoDataFrame:
    """The ``contract_parcels`` row an approved application becomes (status ``active``).

    Examples
    --------
    >>> from shapely import box
    >>> app = gpd.GeoDataFrame({"id": ["A-1"], "land_conclusion_id": ["LC-1"],
    ...     "holder": ["Хас"], "holder_type": ["partnership"], "members_women": [3],
    ...     "members_men": [4]}, geometry=[box(106, 47, 106.01, 47.01)], crs=4326)
    >>> row = contract_parcel(app, parcel_id="P-9", contract_no="C-9",
    ...     signed_on=dt.date(2026, 6, 1), term_years=3).iloc[0]
    >>> row.status, row.expires_on
    ('active', datetime.date(2029, 5, 31))
    """
    row = app.iloc[0]
    values: dict[str, Any] = {
        "id": parcel_id,
        "land_conclusion_id": row["land_conclusion_id"],
        "holder": row["holder"],
        "holder_type": row["holder_type"],
        "members_women": row["members_women"],
        "members_men": row["members_men"],
        "contract_no": contract_no,
        "status": "active",
        "signed_on": signed_on,
        "starts_on": signed_on,
        "expires_on": add_years(signed_on, term_years) - dt.timedelta(days=1),
    }
    columns = REGISTRY["contract_parcels"].columns
    return gpd.GeoDataFrame(
        {c: [values[c]] for c in columns},
        geometry=gpd.GeoSeries([app.geometry.iloc[0]], crs=STORE_CRS),
        crs=STORE_CRS,
    )
