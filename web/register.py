"""The allocation record on the public register page (``/register``).

The page shows what the feeds ``/register.json``, ``/register.geojson`` and ``/register.csv``
publish — the queue of each Land Conclusion, the decisions with their written reasons, the
objections, the draws with their seeds and the contracts about to expire with their renewal
eligibility, and the head of the hash-chained log — read by the same
:meth:`api.services.allocation.AllocationService.register` from the same ledger, then
filtered by soum and put in the page's language by :func:`allocation_record`.

The page reads the ledger the app opened, through the app's allocation service; reading the
register writes nothing. The only write is the ledger's own first open of a GeoPackage store
it has never opened (by the app, for the page or the feeds alike): it adds the ledger's tables
and logs each existing feature once. When the store's ledger cannot be opened at all
(:func:`read_register` returns None), the sections are shown empty with a note.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import pandas as pd

from api.services import Services
from api.services.allocation import AllocationService, LedgerUnavailable
from api.services.objects import soum_names
from geo.allocation import STATUS_LABELS
from geo.allocation.draws import DRAW_FORMAT
from layers.labels import Lang, label, message, pick
from layers.ledger import User
from web.i18n import text

_LOG = logging.getLogger("gazar.web.register")

#: a decision's outcome as the status it gives the application
_OUTCOME_STATUS: Final = {"approve": "approved", "reject": "rejected"}

#: the steps of a draw's recomputation, in order (labels ``draw_recipe.<step>``)
DRAW_STEPS: Final = ("input", "seed", "order", "command")

#: the feeds a soum can publish, linked from the page
FEEDS: Final = (
    "/register.json",
    "/register.geojson",
    "/register.csv",
    "/log.jsonl",
    "/log/head",
)


def read_register(allocation: AllocationService) -> dict[str, Any] | None:
    """The register (:meth:`AllocationService.register`), or None when the store's ledger
    cannot be opened (the reason is logged, not shown: it may name server paths).
    """
    try:
        return allocation.register()
    except LedgerUnavailable as exc:
        _LOG.warning("the register page shows no allocation records: %s", exc)
        return None


def _status(value: str, lang: Lang) -> str:
    return pick(STATUS_LABELS.get(value, (value, value)), lang)


def reason_rows(items: list[Mapping[str, Any]], lang: Lang) -> list[dict[str, str]]:
    """Eligibility reasons (``code``, ``title_*``, ``message_*``) in the page's language."""
    key = "mn" if lang == "mn" else "en"
    return [
        {
            "code": str(r["code"]),
            "title": str(r.get(f"title_{key}") or r["code"]),
            "message": str(r[f"message_{key}"]),
        }
        for r in items
    ]


def actor_names(
    users: Mapping[str, User],
    *,
    lang: Lang,
    soums: Callable[[object], tuple[str, str]],
) -> Callable[[object], str]:
    """How a page names who acted: the office, never the account name — the role and, for an
    official, the soum's or aimag's name (``soums(code)``: both names of a soum); "the system"
    for a write made outside Gazar, "a Gazar operator" for an account it does not know."""
    side = 0 if lang == "mn" else 1

    def name(actor: object) -> str:
        if actor is None or actor in {"", "system"}:
            return text("actor_system", lang)
        user = users.get(str(actor))
        if user is None:
            return text("actor_operator", lang)
        role = label("role", str(user.role), lang)
        if user.soum_code:
            return f"{role}, {soums(user.soum_code)[side]}"
        if user.aimag_code:
            return f"{role}, {text('field_aimag_code', lang)} {user.aimag_code}"
        return role

    return name


def register_actors(services: Services, lang: Lang) -> Callable[[object], str]:
    """:func:`actor_names` over the ledger's users and the store's soum names."""
    try:
        users = {u.name: u for u in services.allocation.ledger().users()}
    except LedgerUnavailable:
        users = {}
    return actor_names(users, lang=lang, soums=lambda code: soum_names(services, code))


def draw_recipe(draw: Mapping[str, Any], lang: Lang) -> list[str]:
    """How anyone recomputes a draw (``api.services.register.verify``, ``geo.allocation``), in
    words: the steps, with this draw's values filled in."""
    numbers = sorted(str(n) for n in draw["applications"])
    values = {
        "format": DRAW_FORMAT,
        "numbers": ", ".join(numbers),
        "draw_date": str(draw["draw_date"]),
        "public_value": str(draw["public_value"]),
        "id": str(draw["id"]),
    }
    return [message("draw_recipe", step, lang, **values) for step in DRAW_STEPS]


def _capped(rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    return {"rows": rows[:limit], "total": len(rows)}


def allocation_record(
    doc: Mapping[str, Any] | None,
    *,
    lang: Lang,
    soum: str | None,
    land_conclusions: pd.DataFrame,
    limit: int,
    actors: Callable[[object], str] | None = None,
) -> dict[str, Any]:
    """The register's sections for the page: filtered to ``soum``, labelled in ``lang``.

    Parameters
    ----------
    doc
        What :meth:`AllocationService.register` returns; None when the ledger cannot be read
        (every section is then empty and ``available`` is False).
    lang
        The page's language.
    soum
        Only this soum's records (applications and draws by their ``soum_code``, decisions
        and objections by their application's, expiring contracts by their Land
        Conclusion's); None for all. The log head always covers the whole store.
    land_conclusions
        The ``land_conclusions`` layer (``id``, ``name``, ``soum_code``): names for the queue's
        headings and the soum of each expiring contract.
    limit
        The most rows shown per section (the totals count all).
    actors
        How who acted is named (:func:`actor_names`); default: every actor as "a Gazar
        operator" (the account names are never shown).

    Returns
    -------
    dict
        ``available``, ``today``, ``generated_at``, ``queue`` (groups per
        Land Conclusion, each ``{"id", "name", "rows"}``, with ``total`` and ``shown``),
        ``decisions``, ``objections``, ``draws``, ``expiring`` (each ``{"rows", "total"}``)
        and ``log`` (None without a ledger).
    """
    lc_ids = land_conclusions["id"].astype(str)
    lc_name = dict(zip(lc_ids, land_conclusions["name"].fillna("").astype(str), strict=True))
    lc_soum = dict(zip(lc_ids, land_conclusions["soum_code"].astype(str), strict=True))
    if doc is None:
        empty: dict[str, Any] = {"rows": [], "total": 0}
        return {
            "available": False,
            "today": None,
            "generated_at": None,
            "queue": {"groups": [], "total": 0, "shown": 0},
            "decisions": empty,
            "objections": empty,
            "draws": empty,
            "expiring": empty,
            "log": None,
            "head": None,
        }
    name = actors or actor_names({}, lang=lang, soums=lambda c: (str(c), str(c)))
    today = str(doc["today"])
    apps = [q for q in doc["queue"] if not soum or q["soum_code"] == soum]
    in_soum = {str(q["id"]) for q in apps}
    queue = [_queue_row(q, lang=lang, today=today) for q in apps[:limit]]
    groups: dict[str, dict[str, Any]] = {}
    for row in queue:
        lc = row["land_conclusion_id"]
        group = groups.setdefault(lc, {"id": lc, "name": lc_name.get(lc, ""), "rows": []})
        group["rows"].append(row)
    decisions = [
        _decision_row(d, lang=lang, name=name)
        for d in doc["decisions"]
        if d["application_id"] in in_soum
    ]
    objections = [dict(o) for o in doc["objections"] if o["application_id"] in in_soum]
    draws = [
        _draw_row(w, lang=lang, name=name)
        for w in doc["draws"]
        if not soum or w["soum_code"] == soum
    ]
    expiring = [
        _expiring_row(e, lang=lang)
        for e in doc["expiring"]
        if not soum or lc_soum.get(str(e["land_conclusion_id"])) == soum
    ]
    return {
        "available": True,
        "today": today,
        "generated_at": doc["generated_at"],
        "queue": {
            "groups": sorted(groups.values(), key=lambda g: (lc_soum.get(g["id"], ""), g["id"])),
            "total": len(apps),
            "shown": len(queue),
        },
        "decisions": _capped(decisions, limit),
        "objections": _capped(objections, limit),
        "draws": _capped(draws, limit),
        "expiring": _capped(expiring, limit),
        "log": _log(doc["log"]),
        "head": doc.get("log_head"),
    }


def _queue_row(q: Mapping[str, Any], *, lang: Lang, today: str) -> dict[str, Any]:
    until = q["objection_until"]
    return {
        "id": str(q["id"]),
        "land_conclusion_id": str(q["land_conclusion_id"]),
        "filed_at": q["filed_at"],
        "place": q["place"],
        "position": q["position"],
        "holder": q["holder"],
        "holder_type": label("holder_type", str(q["holder_type"]), lang),
        "members": f"{q['members_women']} / {q['members_men']}",
        "official_ha": q["official_ha"],
        "status": q["status"],
        "status_label": _status(str(q["status"]), lang),
        "reasons": reason_rows(q["reasons"], lang),
        "notes": reason_rows(q["notes"], lang),
        "objection_until": until,
        "objection_open": until is not None and today <= str(until),
        "objection_count": q["objection_count"],
        "competing_now": [str(n) for n in q["group"] if n != q["id"]],
    }


def _decision_row(
    d: Mapping[str, Any], *, lang: Lang, name: Callable[[object], str]
) -> dict[str, Any]:
    outcome = str(d["outcome"])
    return {
        **d,
        "actor_name": name(d.get("actor")),
        "outcome_label": _status(_OUTCOME_STATUS.get(outcome, outcome), lang),
    }


def _draw_row(w: Mapping[str, Any], *, lang: Lang, name: Callable[[object], str]) -> dict[str, Any]:
    check = w["verification"]
    key = "mn" if lang == "mn" else "en"
    return {
        **w,
        "announced_name": name(w.get("announced_by")),
        "run_name": name(w.get("run_by")) if w.get("run_at") else None,
        "recipe": draw_recipe(w, lang),
        "status_label": text(f"draw_{w['status']}", lang),
        "verified": None if check is None else bool(check["ok"]),
        "verification": None if check is None else str(check[f"message_{key}"]),
        "verify_command": f"gazar verify-draw {w['id']}",
    }


def _expiring_row(e: Mapping[str, Any], *, lang: Lang) -> dict[str, Any]:
    return {
        **e,
        "status_label": label("contract_status", str(e["status"]), lang),
        "renewal": text("renewal_yes" if e["renewal_eligible"] else "renewal_no", lang),
        "reason": e["reason_mn"] if lang == "mn" else e["reason_en"],
    }


def _log(check: Mapping[str, Any]) -> dict[str, Any]:
    head = check["head"]
    return {
        "ok": bool(check["ok"]),
        "events": check["events"],
        "head_seq": head["seq"],
        "head_hash": head["hash"],
        "first_broken": check["first_broken"],
        "reason": check["reason"],
        "pending": check["pending"],
    }
