"""What the soum official's desk (``/desk``, :mod:`web.desk`) shows, read from the services.

For the soums an official may act in (a soum official: its soum; an aimag official: the soums
of its aimag; an administrator: every soum, or the one chosen): the Land Conclusions with
their pipeline step and days waiting (:meth:`api.services.pipeline.PipelineService.steps`,
i.e. :func:`geo.lifecycle.pipeline`), each Land Conclusion's queue with eligibility, objection
window and objections, the competing groups and their draws, the contracts ending within
``expiring_days`` with their renewal eligibility (:func:`geo.lifecycle.expiring`) and the
rehabilitation zones still to be accepted. Labels are in the page's language; reading writes
nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from api.services import Services
from api.services.allocation_checks import REHAB_ORDER, today_of
from geo.allocation import STATUS_LABELS
from geo.lifecycle import expiring
from layers.labels import Lang, label, pick
from layers.ledger import User

#: contract status moves offered on the desk (reactivation and expiry stay with the API)
CONTRACT_ACTIONS = ("suspended", "terminated")


def desk_soums(services: Services, user: User) -> list[tuple[str, str]]:
    """The soums ``user`` may act in, as (code, name) — every soum for an administrator."""
    soums = services.layers.get("soums")
    lcs = services.layers.get("land_conclusions")
    names = {
        str(r["id"]): str(r.get("name_mn") or r.get("name_en") or r["id"])
        for _, r in soums.iterrows()
    }
    aimag_of = dict(zip(soums["id"].astype(str), soums["aimag_code"].astype(str), strict=True))
    for _, r in lcs.iterrows():
        aimag_of.setdefault(str(r["soum_code"]), str(r["aimag_code"]))
    if user.role == "soum":
        codes = [user.soum_code] if user.soum_code else []
    elif user.role == "aimag":
        codes = sorted(c for c, a in aimag_of.items() if a == user.aimag_code)
    else:
        codes = sorted(aimag_of)
    return [(c, names.get(c, c)) for c in codes if c]


def soum_names(services: Services, lang: Lang) -> dict[str, str]:
    soums = services.layers.get("soums")
    first, second = ("name_mn", "name_en") if lang == "mn" else ("name_en", "name_mn")
    return {
        str(r["id"]): str(r.get(first) or r.get(second) or r["id"]) for _, r in soums.iterrows()
    }


def may_act(user: User | None, soum_code: object, aimag_code: object) -> bool:
    """Whether ``user`` is an official who may act on an object of this soum and aimag (the
    check the service makes; used to show a form, never instead of the service's check)."""
    if user is None:
        return False
    if user.role == "admin":
        return True
    if user.role == "soum":
        return bool(soum_code) and soum_code == user.soum_code
    if user.role == "aimag":
        return bool(aimag_code) and aimag_code == user.aimag_code
    return False


def _date(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return ""
    return str(value)[:10]


def _reasons(items: list[Mapping[str, Any]], lang: Lang) -> list[str]:
    return [str(r.get(f"message_{lang}") or r.get("code")) for r in items]


def desk_context(
    services: Services, user: User, *, lang: Lang, soum: str | None = None
) -> dict[str, Any]:
    """Everything the desk page shows for ``user`` (``soum``: one of its soums only)."""
    allocation = services.allocation
    settings = services.settings.analysis
    ledger = allocation.ledger()
    today = today_of(ledger.clock(), settings)
    soums = desk_soums(services, user)
    codes = [c for c, _ in soums if soum in (None, "", c)]
    names = soum_names(services, lang)

    steps = services.pipeline.steps(soums=codes, today=today)
    lcs = []
    for _, r in steps.iterrows():
        step = r["current_step"]
        lcs.append(
            {
                "id": r["id"],
                "name": r["name"],
                "soum_code": r["soum_code"],
                "soum_name": names.get(str(r["soum_code"]), str(r["soum_code"])),
                "status": r["status"],
                "status_label": label("land_conclusion_status", str(r["status"]), lang),
                "step": step,
                "days_in_step": None if pd.isna(r["days_in_step"]) else int(r["days_in_step"]),
                "limit_days": None if pd.isna(r["limit_days"]) else int(r["limit_days"]),
                "waiting_since": _date(r["waiting_since"]),
                "delayed": bool(r["delayed"]),
                "proposed_on": _date(r["proposed_on"]),
                "khural_approved_on": _date(r["khural_approved_on"]),
                "submitted_on": _date(r["submitted_on"]),
                "problems": str(r[f"problems_{lang}"] or ""),
            }
        )

    lc_names = {x["id"]: x["name"] for x in lcs}
    draws = [d for d in allocation.draws() if d["soum_code"] in codes]
    draw_of: dict[str, dict[str, Any]] = {}
    for d in draws:
        d["can_run"] = d["status"] == "announced" and today >= dt.date.fromisoformat(d["draw_date"])
        d["verification_text"] = (
            d["verification"][f"message_{lang}"] if d.get("verification") else ""
        )
        for n in d["applications"]:
            draw_of[n] = d
    objections: dict[str, list[dict[str, Any]]] = {}
    for record in ledger.records("objections"):
        objections.setdefault(str(record["application_id"]), []).append(record)

    # an approved application's contract (its decision names the parcel)
    parcel_of = {
        str(d["application_id"]): str(d["parcel_id"])
        for d in ledger.records("decisions")
        if d.get("parcel_id")
    }
    lc_soum = {str(x["id"]): str(x["soum_code"]) for x in lcs}
    queues: list[dict[str, Any]] = []
    for lc_id in [x["id"] for x in lcs]:
        rows = allocation.applications({"land_conclusion_id": lc_id})
        if not rows:
            continue
        apps = []
        for a in rows:
            until = a.get("objection_until")
            left = (dt.date.fromisoformat(until) - today).days if until else None
            status = str(a["status"])
            apps.append(
                {
                    "id": a["id"],
                    "holder": a["holder"],
                    "status": status,
                    "status_label": pick(STATUS_LABELS.get(status, (status, status)), lang),
                    "place": a["place"],
                    "position": a["position"],
                    "official_ha": a["official_ha"],
                    "filed_at": a["filed_at"],
                    "reasons": _reasons(a["reasons"], lang),
                    "objection_until": until or "",
                    "days_left": left,
                    "objections": objections.get(str(a["id"]), []),
                    "group": [g for g in a["group"] if g != a["id"]],
                    "draw": draw_of.get(str(a["id"])),
                    "decidable": status in ("pending", "ineligible"),
                    "decided": status in ("approved", "rejected"),
                    "parcel_id": parcel_of.get(str(a["id"])) if status == "approved" else None,
                }
            )
        queues.append(
            {
                "id": lc_id,
                "name": lc_names.get(lc_id, ""),
                "soum_code": lc_soum.get(str(lc_id), ""),
                "apps": apps,
            }
        )

    parcels = ledger.read("contract_parcels")
    in_scope = parcels["land_conclusion_id"].isin([x["id"] for x in lcs]).to_numpy(dtype=bool)
    zones = ledger.read("rehab_zones")
    soon = expiring(parcels[in_scope], zones, today=today, days=settings.expiring_days)
    contracts = [
        {
            "id": r["id"],
            "holder": r["holder"],
            "contract_no": r["contract_no"],
            "land_conclusion_id": r["land_conclusion_id"],
            "soum_code": lc_soum.get(str(r["land_conclusion_id"]), ""),
            "status": r["status"],
            "status_label": label("contract_status", str(r["status"]), lang),
            "expires_on": _date(r["expires_on"]),
            "days_left": int(r["days_left"]),
            "renewal_eligible": bool(r["renewal_eligible"]),
            "reason": r[f"reason_{lang}"],
        }
        for _, r in soon.iterrows()
    ]
    scope_parcels = set(parcels["id"][in_scope].astype(str))
    rehab = []
    for _, z in zones.iterrows():
        pid = z["parcel_id"]
        legacy = pid is None or (not isinstance(pid, str) and pd.isna(pid))
        if (legacy and not _in_scope_lcs(z.geometry, services, codes)) or (
            not legacy and str(pid) not in scope_parcels
        ):
            continue
        stage = str(z["stage"])
        if stage == "accepted":
            continue
        later = REHAB_ORDER[REHAB_ORDER.index(stage) + 1 :] if stage in REHAB_ORDER else ()
        rehab.append(
            {
                "id": z["id"],
                "parcel_id": "" if legacy else str(pid),
                "holder": z["holder"],
                "stage": stage,
                "stage_label": label("rehab_stage", stage, lang),
                "due_on": _date(z["due_on"]),
                "overdue": isinstance(z["due_on"], dt.date) and z["due_on"] < today,
                "next": [(s, label("rehab_stage", s, lang)) for s in later],
            }
        )
    return {
        "today": today.isoformat(),
        "soums": [(c, names.get(c, n)) for c, n in soums],
        "soum": soum or "",
        "land_conclusions": lcs,
        "queues": queues,
        "draws": draws,
        "contracts": contracts,
        "expiring_days": settings.expiring_days,
        "rehab": rehab,
        "contract_actions": [(s, label("contract_status", s, lang)) for s in CONTRACT_ACTIONS],
    }


def _in_scope_lcs(geom: Any, services: Services, codes: list[str]) -> bool:
    lcs = services.layers.get("land_conclusions")
    mine = lcs[lcs["soum_code"].isin(codes).to_numpy(dtype=bool)]
    if mine.empty or geom is None:
        return False
    point = geom.representative_point()
    return bool(mine.geometry.contains(point).any())
