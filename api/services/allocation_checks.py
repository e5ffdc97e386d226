"""What an allocation write checks before it writes: the input, the polygon, the layers near
an application, what still blocks an approval, and which status moves are allowed.

Everything here reads through the write's transaction (:class:`layers.ledger.LedgerTx`), so
the checks see what the write will be judged against; a refusal raises and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from api.services.errors import Unprocessable
from api.services.messages import both
from geo.allocation import Reason, approval_reasons, eligibility, local_day, queue_reasons
from geo.overlaps import overlaps_between
from geo.repair import check_polygons, repair_polygons
from geo.settings import AnalysisSettings
from layers.errors import InvalidGeometry
from layers.labels import LABELS, label, message, pair
from layers.ledger import Conflict, LedgerTx, RecordNotFound, parse_json_list
from layers.schema import MONGOLIA_BOUNDS, STORE_CRS

#: how far around an application the layers are read for its checks (degrees, ~100 m)
PAD_DEG: Final = 0.001

#: contract status changes a soum official may make
CONTRACT_MOVES: Final[dict[str, tuple[str, ...]]] = {
    "active": ("suspended", "terminated", "expired"),
    "suspended": ("active", "terminated", "expired"),
}

REHAB_ORDER: Final = ("required", "technical_done", "biological_done", "accepted")

#: Land Conclusion review steps MRPAM may take: from -> allowed targets
REVIEW_MOVES: Final[dict[str, tuple[str, ...]]] = {
    "submitted": ("under_review",),
    "under_review": ("issued", "rejected"),
}


@dataclass(frozen=True)
class ApplicationInput:
    """What an applicant sends: a polygon, or a size in hectares to be placed for them."""

    land_conclusion_id: str
    holder: str
    holder_type: str
    members_women: int
    members_men: int
    geometry: shapely.Geometry | None = None
    requested_ha: float | None = None


def today_of(moment: dt.datetime, settings: AnalysisSettings) -> dt.date:
    """The local day (``settings.utc_offset_hours``) of a server time."""
    return local_day(moment, utc_offset_hours=settings.utc_offset_hours)


def text_or_none(value: Any) -> str | None:
    """A cell as text; None when missing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def one(tx: LedgerTx, table: str, record_id: str) -> gpd.GeoDataFrame:
    """The record ``record_id`` of a layer, read in ``tx``, as a frame of one row
    (RecordNotFound, 404, when there is none)."""
    frame = tx.read(table, ids=[record_id])
    if frame.empty:
        raise RecordNotFound(table, record_id)
    return frame


def land_conclusion(tx: LedgerTx, lc_id: str) -> pd.Series:
    """The Land Conclusion an application names (422 when there is none)."""
    lcs = tx.read("land_conclusions", ids=[lc_id])
    if lcs.empty:
        raise Unprocessable(both("allocation_message", "no_land_conclusion", id=lc_id))
    return lcs.iloc[0]


def pad(geom: shapely.Geometry) -> tuple[float, float, float, float]:
    """The bounds of ``geom`` grown by :data:`PAD_DEG`."""
    x0, y0, x1, y1 = shapely.bounds(geom)
    return (x0 - PAD_DEG, y0 - PAD_DEG, x1 + PAD_DEG, y1 + PAD_DEG)


def near(tx: LedgerTx, geom: shapely.Geometry, lc_id: str) -> dict[str, gpd.GeoDataFrame]:
    """The layers an application's checks need, read inside the transaction."""
    bbox = pad(geom)
    layers = {
        name: tx.read(name, bbox=bbox)
        for name in ("land_conclusions", "contract_parcels", "exclusions", "licences", "soums")
    }
    if lc_id not in set(layers["land_conclusions"]["id"]):
        layers["land_conclusions"] = _concat(
            layers["land_conclusions"], tx.read("land_conclusions", ids=[lc_id])
        )
    zones = tx.read("rehab_zones")  # every zone: the holder check looks at all of them
    layers["rehab_zones"] = zones
    named = [str(p) for p in zones["parcel_id"].dropna().unique()]
    if named:
        layers["contract_parcels"] = _concat(
            layers["contract_parcels"], tx.read("contract_parcels", ids=named)
        )
    return layers


def _concat(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if b.empty:
        return a
    if a.empty:
        return b
    both_ = pd.concat([a, b], ignore_index=True).drop_duplicates("id")
    return gpd.GeoDataFrame(both_, geometry="geometry", crs=STORE_CRS)


def check_vertices(geom: shapely.Geometry, cap: int | None) -> None:
    """Refuse (422) a polygon with more than ``cap`` vertices, before anything reads it."""
    count = int(shapely.get_num_coordinates(geom))
    if cap is not None and count > cap:
        raise Unprocessable(
            message(
                "upload_message",
                "application_vertices",
                "en",
                size=f"{count:,}",
                limit=f"{cap:,}",
                setting="GAZAR_MAX_VERTICES",
            )
        )


def check_geometry(geom: shapely.Geometry, *, what: str = "application") -> shapely.Geometry:
    """The polygon of an application (or a proposed Land Conclusion: ``what``), repaired if
    invalid; refused when no analysis can use it."""
    if geom is None or geom.is_empty:
        raise InvalidGeometry(f"the {what} has no polygon (empty geometry)")
    arr = np.array([geom], dtype=object)
    check_polygons(arr, layer=what, ids=[what])
    x0, y0, x1, y1 = MONGOLIA_BOUNDS
    bx0, by0, bx1, by1 = shapely.bounds(geom)
    if not (x0 <= bx0 and bx1 <= x1 and y0 <= by0 and by1 <= y1):
        hint = " (latitude and longitude look swapped)" if y0 <= bx0 and bx1 <= y1 else ""
        raise InvalidGeometry(
            f"the {what}'s polygon lies outside Mongolia (lon {x0}–{x1}, lat {y0}–{y1}){hint}"
        )
    fixed, _ = repair_polygons(arr, layer=what, ids=[what])
    if fixed[0] is None or fixed[0].is_empty:
        raise InvalidGeometry(f"the {what}'s polygon has no area once repaired")
    return fixed[0]


#: an objector's contact: an e-mail address, or a phone number (digits, spaces, + - ( ))
_EMAIL: Final = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,190}\.[A-Za-z]{2,24}$")
_PHONE: Final = re.compile(r"^\+?[0-9 ()\-]{6,24}$")


def check_contact(contact: str | None) -> str | None:
    """An objector's contact as kept (None for none); refused (422) unless it reads as an
    e-mail address or a phone number."""
    text = (contact or "").strip()
    if not text:
        return None
    digits = sum(ch.isdigit() for ch in text)
    if len(text) <= 254 and (_EMAIL.match(text) or (_PHONE.match(text) and digits >= 6)):
        return text
    raise Unprocessable(both("org_message", "contact_invalid"))


def check_input(data: ApplicationInput, settings: AnalysisSettings) -> None:
    """Refuse (422) an application that cannot be filed at all."""
    if not data.holder.strip():
        raise Unprocessable(both("allocation_message", "holder_empty"))
    if data.holder_type not in LABELS["holder_type"]:
        raise Unprocessable(
            f"holder_type '{data.holder_type}' is not one of {', '.join(LABELS['holder_type'])}"
        )
    if min(data.members_women, data.members_men) < 0:
        raise Unprocessable("member counts cannot be negative")
    if (data.geometry is None) == (data.requested_ha is None):
        raise Unprocessable(both("allocation_message", "polygon_or_size"))
    if data.requested_ha is not None and not (
        np.isfinite(data.requested_ha) and 0 < data.requested_ha <= settings.parcel_cap_ha
    ):
        raise Unprocessable(
            f"requested_ha must be a number of hectares above 0 and at most the cap of "
            f"{settings.parcel_cap_ha:g} ha, not {data.requested_ha!r}"
        )


def check_move(
    kind: str, record_id: str, *, now: str, to: str, moves: dict[str, tuple[str, ...]]
) -> None:
    """Refuse (409) a status change of a Land Conclusion or contract that ``moves`` forbids.

    ``kind`` is ``land_conclusion`` or ``contract``; the statuses are labelled from the
    catalogue's ``land_conclusion_status`` or ``contract_status``.
    """
    allowed = moves.get(now, ())
    if to in allowed:
        return
    group = f"{kind}_status"
    what_mn, what = pair("allocation_object", kind)
    raise Conflict(
        both(
            "allocation_message",
            "move",
            what=what,
            what_mn=what_mn,
            id=record_id,
            now=now,
            to=to,
            now_mn=label(group, now),
            to_mn=label(group, to),
            allowed=", ".join(allowed) or "none",
        )
    )


def accepted_day(day: dt.date | None, today: dt.date) -> dt.date:
    """The commission's acceptance day of a rehabilitation zone: given, and not after
    ``today`` (422 otherwise)."""
    if day is None:
        raise Unprocessable(both("pipeline_message", "accepted_on_needed"))
    if day > today:
        raise Unprocessable(
            both("pipeline_message", "date_future", date=day.isoformat(), today=today.isoformat())
        )
    return day


def approval_blockers(
    tx: LedgerTx, frame: gpd.GeoDataFrame, *, today: dt.date, settings: AnalysisSettings
) -> list[Reason]:
    """Every reason the application in ``frame`` cannot be approved now (none: it can).

    It must be pending, its objection window closed, first among its pending competitors by
    a draw, and still eligible (above all: no overlap with any parcel holding land).
    """
    app = frame.iloc[0]
    number = str(app["id"])
    others = tx.read("applications", bbox=pad(app.geometry))
    competitors: tuple[str, ...] = ()
    if app["status"] == "pending":
        _, competitors = queue_reasons(frame, others, settings=settings)
    order = None
    for draw in tx.records("draws"):
        members = parse_json_list(draw["applications"])
        if number in members and draw["seed"]:
            order = parse_json_list(draw["result"])
    statuses = dict(zip(others["id"].astype(str), others["status"].astype(str), strict=True))
    reasons = approval_reasons(
        number,
        status=str(app["status"]),
        filed_on=app["filed_on"],
        today=today,
        competitors=competitors,
        order=order,
        statuses=statuses,
        settings=settings,
    )
    if app["status"] != "pending":
        return reasons
    layers = near(tx, app.geometry, str(app["land_conclusion_id"]))
    now = eligibility(
        frame, layers=layers, applications=None, today=today, settings=settings, queue=False
    )
    return reasons + list(now.reasons)


def overlapping_pending(
    tx: LedgerTx, frame: gpd.GeoDataFrame, settings: AnalysisSettings
) -> list[tuple[str, str | None]]:
    """The other pending applications over the land of the application in ``frame`` (sharing
    more than ``overlap_tolerance_m2``), each ``(number, its reasons JSON)``."""
    number = str(frame["id"].iloc[0])
    near_ = tx.read("applications", bbox=pad(frame.geometry.iloc[0]))
    keep = (near_["status"] == "pending").to_numpy(dtype=bool) & (
        near_["id"].astype(str) != number
    ).to_numpy(dtype=bool)
    others = near_[keep]
    if others.empty:
        return []
    over = overlaps_between(
        frame[["id", "geometry"]],
        others[["id", "geometry"]],
        a_layer="application",
        b_layer="applications",
        tolerance_m2=settings.overlap_tolerance_m2,
    ).records
    hit = set(over["b_id"].astype(str))
    return [
        (str(i), text_or_none(r))
        for i, r in zip(others["id"], others["reasons"], strict=True)
        if str(i) in hit
    ]


def soum_of_parcel(tx: LedgerTx, parcel: pd.Series) -> tuple[str | None, str | None]:
    """The soum and aimag of a contract parcel (those of its Land Conclusion)."""
    lcs = tx.read("land_conclusions", ids=[str(parcel["land_conclusion_id"])])
    if lcs.empty:
        return None, None
    return text_or_none(lcs["soum_code"].iloc[0]), text_or_none(lcs["aimag_code"].iloc[0])


def soum_of_zone(tx: LedgerTx, zone: pd.Series) -> tuple[str | None, str | None]:
    """The soum and aimag of a rehabilitation zone: its parcel's, or for a legacy zone (no
    parcel) those of the Land Conclusion it lies in."""
    pid = text_or_none(zone["parcel_id"])
    if pid:
        parcels = tx.read("contract_parcels", ids=[pid])
        return soum_of_parcel(tx, parcels.iloc[0]) if len(parcels) else (None, None)
    point = zone.geometry.representative_point()
    lcs = tx.read("land_conclusions", bbox=(point.x, point.y, point.x, point.y))
    inside = lcs[lcs.geometry.contains(point)]
    if inside.empty:
        return None, None
    return text_or_none(inside["soum_code"].iloc[0]), text_or_none(inside["aimag_code"].iloc[0])
