"""Competing applications, the draw anyone can re-run, approval and the contract register.

See :mod:`geo.allocation` for the draw's published recipe.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.allocation.reasons import (
    STATUS_LABELS,
    Reason,
    add_years,
    local_days,
    objection_until,
)
from geo.overlaps import overlaps_within
from geo.settings import AnalysisSettings
from layers.labels import messages, pair
from layers.schema import REGISTRY, STORE_CRS

DRAW_FORMAT: Final = "gazar-draw-v1"


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
            local_days(live["filed_at"].reset_index(drop=True), settings.utc_offset_hours),
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
    days = local_days(pd.Series(list(filed_at), dtype=object), settings.utc_offset_hours)
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
        return dataclasses.asdict(self)


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
    listed = ", ".join(expect_order)
    if seed_ok and order_ok:
        mn, en = messages("draw_check", "ok", winner=expect_order[0], order=listed)
    else:
        what: list[tuple[str, str]] = (
            [] if seed_ok else [messages("draw_check", "seed", seed=expect_seed)]
        )
        if not order_ok:
            what.append(messages("draw_check", "order", order=listed))
        mn, en = (
            messages("draw_check", "wrong", what="; ".join(w[0] for w in what))[0],
            messages("draw_check", "wrong", what="; ".join(w[1] for w in what))[1],
        )
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
        mn, en = pair("reason_message", "NOT_PENDING")
        return [
            Reason(
                "NOT_PENDING",
                mn.format(number=number, status=mn_state),
                en.format(number=number, status=en_state),
            )
        ]
    reasons = []
    until = objection_until(filed_on, days=settings.objection_window_days)
    if today <= until:
        reasons.append(Reason.of("OBJECTION_WINDOW_OPEN", until=until.isoformat()))
    rivals = [c for c in competitors if c != number]
    if rivals:
        if order is None or number not in order:
            names = ", ".join(sorted(rivals))
            reasons.append(Reason.of("DRAW_REQUIRED", tuple(sorted(rivals)), names=names))
        else:
            ahead = [
                c
                for c in order[: order.index(number)]
                if c in rivals and statuses.get(c) in ("pending", "approved")
            ]
            if ahead:
                names = ", ".join(ahead)
                reasons.append(Reason.of("RANKED_BEHIND", tuple(ahead), names=names))
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
    ...     "holder": ["Khas"], "holder_type": ["partnership"], "members_women": [3],
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
