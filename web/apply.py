"""The ASM organisation's application form and the public objection form (issue 13).

``/apply`` (GET: the form and a map to draw on; POST: file the application) and
``/applications/{number}/objection-form`` (GET: the form alone; POST: file an objection —
anyone, signed in or not; the JSON API's is ``POST /applications/{number}/objections``; the
application's page ``/applications/{number}`` shows the same form while the window is open).
"My applications" are in :mod:`web.my`.

Every write calls the :class:`api.services.allocation.AllocationService` methods the JSON API
calls, with the signed-in viewer's user (anonymous objections act as ``anonymous``), after
:func:`web.session.form_with_csrf`. A refused form is shown again with its values and the
error next to its field; nothing is written. The parcel is checked first by
:mod:`api.services.applying` (the parsers and caps of ``/check``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from api.deps import ServicesDep
from api.services import Services
from api.services.allocation import ApplicationInput
from api.services.allocation_checks import check_contact
from api.services.applying import (
    FormProblem,
    check_parcel,
    corners_polygon,
    drawn_polygon,
    file_polygon,
    free_land_conclusions,
)
from api.services.errors import PayloadTooLarge, TooManyRequests, Unprocessable
from api.services.objects import local_today
from layers.errors import InvalidGeometry
from layers.labels import LABELS, Lang, label, message
from layers.ledger import Conflict, RecordNotFound
from web import maps
from web.i18n import parse_lang, text
from web.render import map_parts, render
from web.safejson import script_json
from web.session import ViewerDep, client_address, form_with_csrf, require

router = APIRouter(tags=["pages"], include_in_schema=False)

HOW: Final = ("draw", "file", "corners", "size")
#: roles that apply (an administrator may too)
APPLICANTS: Final = ("public",)
_CHUNK: Final = 1 << 20
Lang_ = Annotated[str | None, Query(description="mn (default) or en")]


def one_language(said: str, lang: Lang) -> str:
    """A service's refusal (written ``"mn / en"``) in the page's language."""
    mn, sep, en = said.partition(" / ")
    return (mn if lang == "mn" else en) if sep else said


def lang_query(lang: Lang) -> str:
    return "?lang=en" if lang == "en" else ""


def form_text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def shown(app: dict[str, Any], lang: Lang, today: dt.date) -> dict[str, Any]:
    """One application as the organisation's pages show it."""
    open_, window = _window(app.get("objection_until"), today, lang)
    decision = app.get("decision")
    draw = app.get("draw")
    return {
        **app,
        "status_label": app.get(f"status_{lang}") or app["status"],
        "holder_type_label": app.get(f"holder_type_{lang}") or app["holder_type"],
        "reasons_shown": _reasons(app.get("reasons") or [], lang),
        "notes_shown": _reasons(app.get("notes") or [], lang),
        "window_open": open_,
        "window_text": window,
        "decision_shown": None if not decision else {
            **decision,
            "outcome_label": label("application_status",
                                   "approved" if decision["outcome"] == "approve" else "rejected",
                                   lang),
        },
        "draw_shown": None if not draw else {
            **draw, "day": text("my_draw_set", lang).format(day=draw.get("draw_date")),
        },
    }  # fmt: skip


def _reasons(items: list[dict[str, Any]], lang: Lang) -> list[dict[str, str]]:
    return [
        {"code": str(r["code"]), "title": str(r.get(f"title_{lang}") or r["code"]),
         "message": str(r.get(f"message_{lang}") or "")}
        for r in items
    ]  # fmt: skip


def _window(until: str | None, today: dt.date, lang: Lang) -> tuple[bool, str]:
    if not until:
        return False, "\u2014"
    day = dt.date.fromisoformat(str(until)[:10])
    left = (day - today).days
    if left >= 0:
        return True, text("my_window_left", lang).format(until=day.isoformat(), days=left)
    return False, text("my_window_closed", lang).format(until=day.isoformat())


# ------------------------------------------------------------------------------ apply


def _apply_page(
    request: Request,
    services: Services,
    lang: Lang,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    day = local_today(services)
    free = services.available_land(day)
    choices = free_land_conclusions(free)
    frames = services.layers.all(("soums", "land_conclusions", "contract_parcels"))
    lcs = frames["land_conclusions"]
    shown = lcs[lcs["id"].astype(str).isin([c["id"] for c in choices])]
    m = maps.build_map(
        {**frames, "land_conclusions": shown},
        lang=lang,
        available=free,
        draw_field="drawn",
        bounds=maps._bounds_of([shown]) if len(shown) else None,
    )
    bounds = {
        str(i): [[float(b[1]), float(b[0])], [float(b[3]), float(b[2])]]
        for i, b in zip(shown["id"], shown.geometry.bounds.to_numpy(), strict=True)
    }
    form = {"how": "draw", "holder_type": "partnership", "members_women": "", "members_men": ""}
    form |= values or {}
    return render(
        request,
        "apply.html",
        lang,
        status=status,
        title=text("apply_title", lang),
        nav="apply",
        choices=choices,
        form=form,
        errors=errors or {},
        holder_types=[(c, label("holder_type", c, lang)) for c in LABELS["holder_type"]],
        cap=services.settings.analysis.parcel_cap_ha,
        lc_bounds=script_json(bounds),
        **map_parts(m),
    )


@router.get("/apply", response_class=HTMLResponse)
def apply_form(
    request: Request, services: ServicesDep, viewer: ViewerDep, lang: Lang_ = None
) -> Response:
    """The application form: a Land Conclusion with free land, the parcel, the members."""
    require(viewer, *APPLICANTS)
    return _apply_page(request, services, parse_lang(lang))


async def _upload(form: FormData, key: str, cap: int) -> tuple[str, bytes]:
    upload = form.get(key)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return "", b""
    parts, size = [], 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > cap:
            raise PayloadTooLarge(f"{upload.filename}: larger than {cap:,} bytes")
        parts.append(chunk)
    return upload.filename, b"".join(parts)


def _count(values: dict[str, str], key: str, errors: dict[str, str], lang: Lang) -> int:
    try:
        n = int(values[key])
    except ValueError:
        n = -1
    if not 0 <= n <= 100_000:
        errors[key] = message("org_message", "members_invalid", lang)
    return n


@router.post("/apply", response_class=HTMLResponse)
async def apply_submit(request: Request, services: ServicesDep, viewer: ViewerDep) -> Response:
    """File the application and show its answer (a 303 to ``/my/{number}``), or the form
    again with its values and every error next to its field (nothing written)."""
    user = require(viewer, *APPLICANTS)
    form = await form_with_csrf(request, viewer)
    lang = parse_lang(form_text(form, "lang") or None)
    keys = ("land_conclusion_id", "how", "holder", "holder_type", "members_women",
            "members_men", "drawn", "corners", "requested_ha")  # fmt: skip
    values = {k: form_text(form, k) for k in keys}
    errors: dict[str, str] = {}
    settings = services.settings
    free = services.available_land(local_today(services))
    choices = {c["id"]: c for c in free_land_conclusions(free)}
    lc_id = values["land_conclusion_id"]
    if lc_id not in choices:
        errors["land_conclusion_id"] = message("org_message", "no_land_conclusion", lang)
    if not values["holder"]:
        errors["holder"] = message("org_message", "holder_empty", lang)
    if values["holder_type"] not in LABELS["holder_type"]:
        errors["holder_type"] = message("org_message", "holder_type_invalid", lang)
    women = _count(values, "members_women", errors, lang)
    men = _count(values, "members_men", errors, lang)
    how = values["how"]
    geom, size = None, None
    try:
        if how == "draw":
            geom = drawn_polygon(values["drawn"], settings=settings.api)
        elif how == "corners":
            geom = corners_polygon(values["corners"], max_corners=settings.api.max_vertices)
        elif how == "file":
            name, data = await _upload(form, "file", settings.api.max_body_bytes)
            geom = await run_in_threadpool(file_polygon, name, data, settings=settings.api)
        elif how == "size":
            try:
                size = float(values["requested_ha"].replace(",", "."))
            except ValueError:
                size = -1.0
            if not 0 < size <= settings.analysis.parcel_cap_ha:
                cap = f"{settings.analysis.parcel_cap_ha:g}"
                raise FormProblem("requested_ha", "size_invalid", cap=cap)
        else:
            errors["how"] = message("org_message", "how_invalid", lang)
        if geom is not None and lc_id in choices:
            lcs = services.layers.get("land_conclusions")
            region = lcs.geometry[(lcs["id"].astype(str) == lc_id).to_numpy()].iloc[0]
            field = {"draw": "drawn", "corners": "corners", "file": "file"}[how]
            check_parcel(geom, field=field, land_conclusion_id=lc_id, land_conclusion=region,
                         max_vertices=settings.api.max_vertices)  # fmt: skip
    except FormProblem as exc:
        errors[exc.field] = exc.text(lang)
    except PayloadTooLarge as exc:
        errors["file"] = str(exc)
    if errors:
        return _apply_page(request, services, lang, values=values, errors=errors,
                           status=422)  # fmt: skip
    filing = ApplicationInput(
        land_conclusion_id=lc_id,
        holder=values["holder"],
        holder_type=values["holder_type"],
        members_women=women,
        members_men=men,
        geometry=geom,
        requested_ha=size,
    )
    try:
        answer = await run_in_threadpool(services.allocation.apply, filing, user=user)
    except (Conflict, Unprocessable, InvalidGeometry) as exc:
        field = "requested_ha" if how == "size" else "form"
        errors[field] = message("org_message", "refused", lang, why=str(exc))
        return _apply_page(request, services, lang, values=values, errors=errors,
                           status=409 if isinstance(exc, Conflict) else 422)  # fmt: skip
    sep = "&" if lang == "en" else "?"
    return RedirectResponse(f"/my/{answer['id']}{lang_query(lang)}{sep}filed=1", 303)


# ------------------------------------------------------------------------------ objections


def _objection_page(
    request: Request,
    services: Services,
    number: str,
    lang: Lang,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    filed: str = "",
    status: int = 200,
) -> HTMLResponse:
    app = shown(services.allocation.application(number), lang, local_today(services))
    return render(
        request, "objection.html", lang, status=status,
        title=f"{text('objection_title', lang)} · {number}", nav="register", app=app,
        objection={"values": values or {}, "errors": errors or {}, "filed": filed},
    )  # fmt: skip


@router.get("/applications/{number}/objection-form", response_class=HTMLResponse)
def objection_form(
    request: Request,
    number: str,
    services: ServicesDep,
    viewer: ViewerDep,
    lang: Lang_ = None,
    filed: str | None = None,
) -> Response:
    """The application's public summary and the objection form (anyone)."""
    return _objection_page(request, services, number, parse_lang(lang),
                           filed=filed or "")  # fmt: skip


@router.post("/applications/{number}/objection-form", response_class=HTMLResponse)
async def objection_submit(
    request: Request, number: str, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """File an objection from the form: name and reason required, contact optional and
    private; refused after the window, and beyond the per-address rate limit (429)."""
    form = await form_with_csrf(request, viewer)
    lang = parse_lang(form_text(form, "lang") or None)
    values = {k: form_text(form, k) for k in ("name", "reason", "contact")}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = message("org_message", "objection_name", lang)
    if not values["reason"]:
        errors["reason"] = message("allocation_message", "objection_reason", lang)
    try:
        check_contact(values["contact"])
    except Unprocessable:
        errors["contact"] = message("org_message", "contact_invalid", lang)
    if errors:
        return _objection_page(request, services, number, lang, values=values,
                               errors=errors, status=422)  # fmt: skip
    user = viewer.user
    address = client_address(request) or "unknown"
    api = services.settings.api
    try:
        services.allocation.application(number)  # 404 before a hit is counted
        services.limits.take(
            "objection",
            f"address:{address}",
            limit=api.objection_limit,
            window_s=api.objection_limit_window_s,
        )
        row = await run_in_threadpool(
            lambda: services.allocation.object_to(
                number, name=values["name"], reason=values["reason"],
                contact=values["contact"] or None, user=user,
            )
        )  # fmt: skip
    except TooManyRequests as exc:
        errors["form"] = message("org_message", "rate_limited", lang, limit=api.objection_limit,
                                 minutes=max(1, exc.retry_after // 60))  # fmt: skip
        page = _objection_page(request, services, number, lang, values=values,
                               errors=errors, status=429)  # fmt: skip
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except RecordNotFound:
        raise
    except (Conflict, Unprocessable) as exc:
        errors["form"] = str(exc)
        status = 409 if isinstance(exc, Conflict) else 422
        return _objection_page(request, services, number, lang, values=values,
                               errors=errors, status=status)  # fmt: skip
    # the application's own page, which lists the objection and says it was recorded
    sep = "&" if lang == "en" else "?"
    return RedirectResponse(
        f"/applications/{number}{lang_query(lang)}{sep}objection={row['id']}#objection", 303
    )
