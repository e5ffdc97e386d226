"""Contracts: which end soon and whether each may be renewed, which are open past their end.

A contract is *open* while its term runs (:func:`geo.vocab.open_contract`: ``active`` or
``suspended``); a rehabilitation zone not accepted by the commission
(:func:`geo.vocab.rehab_accepted`) blocks the renewal of its contract; holder names compare
as :func:`geo.vocab.holder_key` says. See :mod:`geo.lifecycle`.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import pandas as pd

from geo.lifecycle.common import (
    as_dates,
    date_stamps,
    day_of,
    days_between,
    empty_text,
    iso,
    require,
)
from geo.templates import fill_pair
from geo.vocab import OPEN_STATUSES, holder_keys, open_contract, rehab_accepted
from layers.labels import label, pair

#: contract statuses whose term is still running (:data:`geo.vocab.OPEN_STATUSES`)
OPEN_CONTRACT: Final = OPEN_STATUSES

#: the columns naming a contract, first in both lists below
_CONTRACT_COLUMNS: Final = [
    "id",
    "holder",
    "contract_no",
    "land_conclusion_id",
    "status",
    "expires_on",
]

EXPIRING_COLUMNS: Final = [
    *_CONTRACT_COLUMNS,
    "days_left",
    "renewal_eligible",
    "blocking_zones",
    "overdue_zones",
    "reason_mn",
    "reason_en",
]

OVERDUE_COLUMNS: Final = [
    *_CONTRACT_COLUMNS,
    "days_overdue",
    "reason_mn",
    "reason_en",
]


def _open_contracts(parcels: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    require(
        parcels,
        ["id", "holder", "contract_no", "land_conclusion_id", "status", "expires_on"],
        "contract_parcels",
    )
    open_ = parcels[open_contract(parcels)]
    table = pd.DataFrame(
        {
            "id": open_["id"].astype(str).to_numpy(),
            "holder": open_["holder"].to_numpy(),
            "contract_no": open_["contract_no"].to_numpy(),
            "land_conclusion_id": open_["land_conclusion_id"].to_numpy(),
            "status": open_["status"].astype(str).to_numpy(),
            "ends": date_stamps(open_, "expires_on", "contract").to_numpy(),
        }
    )
    table["days_left"] = days_between(table["ends"], pd.Timestamp(today))
    return table


def _blocking(contracts: pd.DataFrame, zones: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """One row per (contract, zone not accepted): the zones that block each contract's renewal."""
    require(zones, ["id", "parcel_id", "holder", "stage", "due_on"], "rehab_zones")
    open_ = zones[~rehab_accepted(zones)]
    z = pd.DataFrame(
        {
            "zone": open_["id"].astype(str).to_numpy(),
            "parcel_id": open_["parcel_id"].astype("string").str.strip().to_numpy(),
            "holder_key": holder_keys(open_["holder"]).to_numpy(),
            "stage": open_["stage"].astype(str).to_numpy(),
            "due": date_stamps(open_, "due_on", "rehab zone").to_numpy(),
            "legacy": empty_text(open_["parcel_id"]).to_numpy(),
        }
    )
    c = pd.DataFrame({"id": contracts["id"], "holder_key": holder_keys(contracts["holder"])})
    by_parcel = c[["id"]].merge(z[~z["legacy"]], left_on="id", right_on="parcel_id")
    named = z["holder_key"] != ""  # a nameless legacy zone belongs to nobody
    by_holder = c.merge(z[z["legacy"] & named], on="holder_key")
    keep = ["id", "zone", "stage", "due", "legacy"]
    pairs = pd.concat([by_parcel[keep], by_holder[keep]], ignore_index=True)
    pairs = pairs.drop_duplicates(["id", "zone"])
    pairs["overdue"] = (pairs["due"] < pd.Timestamp(today)).fillna(False).astype(bool)
    return pairs.sort_values(["id", "due", "zone"], na_position="last", ignore_index=True)


def _zone_notes(pairs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each blocking zone named with its stage and due date, in Mongolian and in English."""
    due = iso(pairs["due"])
    index = pairs.index
    stage = (
        pairs["stage"].map(lambda s: label("rehab_stage", s, "mn")),
        pairs["stage"].map(lambda s: label("rehab_stage", s, "en")),
    )
    undated = pairs["due"].isna().to_numpy()
    overdue = pairs["overdue"].to_numpy(dtype=bool)
    legacy = pairs["legacy"].to_numpy(dtype=bool)
    dated = fill_pair("blocking_zone", "due", index, date=due)
    late = fill_pair("blocking_zone", "overdue", index, date=due)
    never = pair("blocking_zone", "undated")
    old = pair("blocking_zone", "legacy")
    when_mn, when_en = (
        pd.Series(np.where(undated, never[k], np.where(overdue, late[k], dated[k])), index=index)
        for k in (0, 1)
    )
    mark_mn, mark_en = (pd.Series(np.where(legacy, old[k], ""), index=index) for k in (0, 1))
    return fill_pair(
        "blocking_zone",
        "note",
        index,
        zone=pairs["zone"],
        stage=stage,
        when=(when_mn, when_en),
        legacy=(mark_mn, mark_en),
    )


def expiring(
    parcels: pd.DataFrame,
    rehab_zones: pd.DataFrame,
    *,
    today: dt.date,
    days: int = 60,
) -> pd.DataFrame:
    """Open contracts ending within ``days`` of ``today``, each with whether it may be renewed.

    A contract is listed when its status is ``active`` or ``suspended`` and ``expires_on`` lies
    in ``[today, today + days]`` (both ends included). Renewal is refused while any
    rehabilitation zone of the contract is not accepted by the commission; the zones are those
    whose ``parcel_id`` is the contract's id, plus the holder's legacy zones (no ``parcel_id``)
    matched by holder name. The reason names each blocking zone with its stage label and due
    date, and says which are overdue (``due_on`` before ``today``).

    Parameters
    ----------
    parcels
        The ``contract_parcels`` layer (geometry not used).
    rehab_zones
        The ``rehab_zones`` layer (geometry not used).
    today
        The day the window starts on.
    days
        Length of the window in days (``AnalysisSettings.expiring_days``), at least 0.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, holder, contract_no, land_conclusion_id, status, expires_on`` (a date),
        ``days_left`` (Int64), ``renewal_eligible`` (bool), ``blocking_zones`` and
        ``overdue_zones`` (lists of zone ids), ``reason_mn``, ``reason_en``; soonest first.

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> parcels = pd.DataFrame({"id": ["P-1"], "holder": ["Khas"], "contract_no": ["C-1"],
    ...     "land_conclusion_id": ["LC-1"], "status": ["active"],
    ...     "expires_on": [dt.date(2026, 3, 11)]})
    >>> zones = pd.DataFrame({"id": ["R-1"], "parcel_id": ["P-1"], "holder": ["Khas"],
    ...     "stage": ["required"], "due_on": [dt.date(2026, 2, 1)]})
    >>> row = expiring(parcels, zones, today=dt.date(2026, 3, 1)).iloc[0]
    >>> int(row.days_left), bool(row.renewal_eligible), row.blocking_zones
    (10, False, ['R-1'])
    >>> row.reason_en
    'Renewal refused: rehabilitation not accepted in 1 zone(s): R-1 (Rehabilitation required, overdue, due 2026-02-01)'
    """  # noqa: E501
    day = day_of(today)
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 0:
        raise ValueError(f"days must be a whole number >= 0, not {days!r}")
    contracts = _open_contracts(parcels, day)
    soon = contracts[contracts["days_left"].between(0, int(days)).fillna(False).astype(bool)]
    soon = soon.sort_values(["ends", "id"], ignore_index=True)

    pairs = _blocking(soon, rehab_zones, day)
    pairs["note_mn"], pairs["note_en"] = _zone_notes(pairs)
    grouped = pairs.groupby("id", sort=False)
    blocking = grouped["zone"].agg(list)
    overdue = pairs[pairs["overdue"]].groupby("id", sort=False)["zone"].agg(list)
    notes_mn = grouped["note_mn"].agg(", ".join)
    notes_en = grouped["note_en"].agg(", ".join)

    table = soon[["id", "holder", "contract_no", "land_conclusion_id", "status"]].copy()
    table["expires_on"] = as_dates(soon["ends"])
    table["days_left"] = soon["days_left"]
    zones_of = table["id"].map(blocking)
    table["blocking_zones"] = [z if isinstance(z, list) else [] for z in zones_of]
    table["overdue_zones"] = [z if isinstance(z, list) else [] for z in table["id"].map(overdue)]
    count = table["blocking_zones"].map(len)
    table["renewal_eligible"] = (count == 0).astype(bool)
    n = count.astype(str)
    zones = (
        table["id"].map(notes_mn).astype(object).fillna(""),
        table["id"].map(notes_en).astype(object).fillna(""),
    )
    refused = fill_pair("renewal", "refused", table.index, n=n, zones=zones)
    possible = pair("renewal", "possible")
    table["reason_mn"] = np.where(table["renewal_eligible"], possible[0], refused[0])
    table["reason_en"] = np.where(table["renewal_eligible"], possible[1], refused[1])
    return table[EXPIRING_COLUMNS].reset_index(drop=True)


def overdue_contracts(parcels: pd.DataFrame, *, today: dt.date) -> pd.DataFrame:
    """Contracts whose record is still open (``active``/``suspended``) after ``expires_on``.

    The term ended but nobody recorded the expiry or the renewal: the register needs updating
    and the holder may be working without a valid contract. ``expires_on`` is the last valid
    day, so a contract ending today is not overdue (``expiring`` lists it with 0 days left).

    Returns
    -------
    pandas.DataFrame
        Columns ``id, holder, contract_no, land_conclusion_id, status, expires_on``,
        ``days_overdue`` (Int64, at least 1), ``reason_mn``, ``reason_en``; longest overdue first.

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> parcels = pd.DataFrame({"id": ["P-1"], "holder": ["Khas"], "contract_no": ["C-1"],
    ...     "land_conclusion_id": ["LC-1"], "status": ["active"],
    ...     "expires_on": [dt.date(2026, 2, 20)]})
    >>> int(overdue_contracts(parcels, today=dt.date(2026, 3, 1)).days_overdue.iloc[0])
    9
    """
    day = day_of(today)
    contracts = _open_contracts(parcels, day)
    late = contracts[(contracts["days_left"] < 0).fillna(False).astype(bool)]
    late = late.sort_values(["ends", "id"], ignore_index=True)
    table = late[["id", "holder", "contract_no", "land_conclusion_id", "status"]].copy()
    table["expires_on"] = as_dates(late["ends"])
    table["days_overdue"] = -late["days_left"]
    ends = iso(late["ends"])
    n = table["days_overdue"].astype(str)
    status = (
        table["status"].map(lambda s: label("contract_status", s, "mn")),
        table["status"].map(lambda s: label("contract_status", s, "en")),
    )
    table["reason_mn"], table["reason_en"] = fill_pair(
        "renewal", "overdue", table.index, date=ends, days=n, status=status
    )
    return table[OVERDUE_COLUMNS].reset_index(drop=True)
