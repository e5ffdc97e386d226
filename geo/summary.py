"""The analysis-ready summary of a store: per soum, what land there is and how it is used."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import geopandas as gpd
import pandas as pd

from geo.area import official_ha
from geo.lifecycle import expiring
from geo.vocab import before, holds_land, in_force, rehab_accepted


def soum_summary(
    layers: Mapping[str, gpd.GeoDataFrame], *, today: dt.date, expiring_days: int = 60
) -> pd.DataFrame:
    """One row per soum holding Land Conclusions, plus a ``TOTAL`` row.

        Columns: ``soum_code``, ``soum``, ``land_conclusions``, ``issued``, ``issued_ha``,
        ``parcels``, ``active``, ``allocated_ha`` (parcels that hold land — applied, active and
    suspended, :func:`geo.vocab.holds_land` — in official hectares),
        ``members_women``, ``members_men``, ``expiring`` (contracts ending within
        ``expiring_days``, as ``geo.lifecycle.expiring`` lists them), ``rehab_zones``,
        ``rehab_overdue`` (due and not accepted). ``issued`` counts the Land Conclusions in force
        (:func:`geo.vocab.in_force`).

        Examples
        --------
        >>> soum_summary({"land_conclusions": lcs, "contract_parcels": parcels,
        ...               "rehab_zones": zones, "soums": soums}, today=dt.date(2026, 1, 1))
        ... # doctest: +SKIP
    """
    lcs = layers["land_conclusions"]
    parcels = layers["contract_parcels"]
    zones = layers["rehab_zones"]
    soums = layers.get("soums")

    lc = pd.DataFrame({"id": lcs["id"], "soum_code": lcs["soum_code"], "status": lcs["status"]})
    lc["ha"] = official_ha(lcs.geometry) if len(lcs) else []
    lc["issued"] = in_force(lcs, today)

    par = pd.DataFrame(
        {
            "soum_code": parcels["land_conclusion_id"].map(lc.set_index("id")["soum_code"]),
            "status": parcels["status"],
            "women": parcels["members_women"].fillna(0).astype(int),
            "men": parcels["members_men"].fillna(0).astype(int),
        }
    )
    par["ha"] = official_ha(parcels.geometry) if len(parcels) else []
    par["allocated"] = holds_land(parcels)
    soon = set(expiring(parcels, zones, today=today, days=expiring_days)["id"])
    par["expiring"] = parcels["id"].isin(soon).to_numpy()

    holder_soum = dict(zip(parcels["id"], par["soum_code"], strict=True))
    zone = pd.DataFrame({"soum_code": zones["parcel_id"].map(holder_soum)})
    zone["overdue"] = ~rehab_accepted(zones) & before(zones["due_on"], today)

    rows = lc.groupby("soum_code").agg(
        land_conclusions=("id", "size"),
        issued=("issued", "sum"),
        issued_ha=("ha", lambda s: float(s[lc.loc[s.index, "issued"]].sum())),
    )
    p = par.groupby("soum_code").agg(
        parcels=("status", "size"),
        active=("status", lambda s: int((s == "active").sum())),
        allocated_ha=("ha", lambda s: float(s[par.loc[s.index, "allocated"]].sum())),
        members_women=("women", "sum"),
        members_men=("men", "sum"),
        expiring=("expiring", "sum"),
    )
    z = zone.groupby("soum_code").agg(
        rehab_zones=("overdue", "size"), rehab_overdue=("overdue", "sum")
    )
    table = rows.join(p, how="outer").join(z, how="outer").fillna(0)
    ints = [c for c in table.columns if not c.endswith("_ha")]
    table[ints] = table[ints].astype(int)
    table = table.reset_index()
    names = {}
    if soums is not None and len(soums):
        names = dict(zip(soums["id"], soums["name_mn"].fillna(soums["name_en"]), strict=True))
    table.insert(1, "soum", table["soum_code"].map(names).astype(object).fillna(""))
    total = table.drop(columns=["soum_code", "soum"]).sum(numeric_only=True)
    total_row = pd.DataFrame([{"soum_code": "TOTAL", "soum": "", **total.to_dict()}])
    table = pd.concat([table, total_row], ignore_index=True)
    table[ints] = table[ints].astype(int)
    return table
