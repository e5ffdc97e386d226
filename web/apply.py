"""The ASM organisation's pages and the public objection form (issue 13).

``/apply`` (GET: the form and a map to draw on; POST: file the application), ``/my`` (the
signed-in organisation's applications), ``/my/{number}`` (one of them: eligibility with
every reason, the public number, the place in the queue, the objection window, objections,
draw, decision, contract renewal and documents), and ``/applications/{number}/objection-form``
(GET: the form; POST: file an objection — anyone, signed in or not; the JSON API's is
``POST /applications/{number}/objections``).

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
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from api.deps import ServicesDep
from api.services import Services
from api.services.access import Forbidden
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
from api.services.errors import NotFound, PayloadTooLarge, TooManyRequests, Unprocessable
from layers.errors import GazarError, InvalidGeometry
from layers.labels import LABELS, Lang, label, message
from layers.ledger import Conflict, RecordNotFound, User
from web import maps
from web.i18n import parse_lang, text
from web.render import map_parts, render
from web.safejson import script_json
from web.session import SignInNeeded, Viewer, ViewerDep, form_with_csrf, require

router = APIRouter(tags=["pages"], include_in_schema=False)

HOW: Final = ("draw", "file", "corners", "size")
#: roles that apply (an administrator may too)
APPLICANTS: Final = ("public",)
_CHUNK: Final = 1 << 20
Lang_ = Annotated[str | None, Query(description="mn (default) or en")]


def _page(
    request: Request, viewer: Viewer, template: str, lang: Lang, *, status: int = 200, **ctx: Any
) -> HTMLResponse:
    """A page with the viewer's CSRF field (web.session) and the anonymous cookie."""
    field = Markup('<input type="hidden" name="csrf_token" value="{}">').format(viewer.csrf)

    def doc_label(code: str) -> str:
        try:
            return label("document_kind", str(code), lang)
        except KeyError:
            return str(code)

    response = render(
        request, template, lang, status=status, viewer=viewer, csrf_field=lambda: field,
        doc_label=doc_label, **ctx,
    )  # fmt: skip
    anon = getattr(request.state, "new_anon", None)
    if anon:
        secure = request.url.scheme == "https"
        response.set_cookie("gazar_anon", anon, httponly=True, samesite="lax", secure=secure)
    return response


def _sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", 303)


def _lang_q(lang: Lang) -> str:
    return "?lang=en" if lang == "en" else ""


def _local(stamp: str | None) -> str:
    """A stored UTC time as Mongolia's time (UTC+8), without microseconds."""
    if not stamp:
        return ""
    moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (moment + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")


def _today(services: Services) -> dt.date:
    moment = services.allocation.ledger().clock()
    return (moment + dt.timedelta(hours=services.settings.analysis.utc_offset_hours)).date()


# ------------------------------------------------------------------------------ apply


def _apply_page(
    request: Request,
    services: Services,
    viewer: Viewer,
    lang: Lang,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    day = _today(services)
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
    return _page(
        request,
        viewer,
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
    try:
        require(viewer, *APPLICANTS)
    except SignInNeeded:
        return _sign_in(request)
    return _apply_page(request, services, viewer, parse_lang(lang))


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


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
    try:
        user = require(viewer, *APPLICANTS)
    except SignInNeeded:
        return _sign_in(request)
    form = await form_with_csrf(request, viewer)
    lang = parse_lang(_text(form, "lang") or None)
    keys = ("land_conclusion_id", "how", "holder", "holder_type", "members_women",
            "members_men", "drawn", "corners", "requested_ha")  # fmt: skip
    values = {k: _text(form, k) for k in keys}
    errors: dict[str, str] = {}
    settings = services.settings
    choices = {c["id"]: c for c in free_land_conclusions(services.available_land(_today(services)))}
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
        return _apply_page(request, services, viewer, lang, values=values, errors=errors,
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
        return _apply_page(request, services, viewer, lang, values=values, errors=errors,
                           status=409 if isinstance(exc, Conflict) else 422)  # fmt: skip
    sep = "&" if lang == "en" else "?"
    return RedirectResponse(f"/my/{answer['id']}{_lang_q(lang)}{sep}filed=1", 303)


# ------------------------------------------------------------------------------ my applications


def _reasons(items: list[dict[str, Any]], lang: Lang) -> list[dict[str, str]]:
    return [
        {"code": str(r["code"]), "title": str(r.get(f"title_{lang}") or r["code"]),
         "message": str(r.get(f"message_{lang}") or "")}
        for r in items
    ]  # fmt: skip


def _window(until: str | None, today: dt.date, lang: Lang) -> tuple[bool, str]:
    if not until:
        return False, "—"
    day = dt.date.fromisoformat(str(until)[:10])
    left = (day - today).days
    if left >= 0:
        return True, text("my_window_left", lang).format(until=day.isoformat(), days=left)
    return False, text("my_window_closed", lang).format(until=day.isoformat())


def _shown(app: dict[str, Any], lang: Lang, today: dt.date) -> dict[str, Any]:
    """One application as the organisation's pages show it."""
    open_, window = _window(app.get("objection_until"), today, lang)
    decision = app.get("decision")
    draw = app.get("draw")
    return {
        **app,
        "status_label": app.get(f"status_{lang}") or app["status"],
        "holder_type_label": app.get(f"holder_type_{lang}") or app["holder_type"],
        "filed_local": _local(app.get("filed_at")),
        "reasons_shown": _reasons(app.get("reasons") or [], lang),
        "notes_shown": _reasons(app.get("notes") or [], lang),
        "window_open": open_,
        "window_text": window,
        "objections_shown": [
            {**o, "filed_local": _local(o.get("filed_at"))} for o in app.get("objections") or []
        ],
        "decision_shown": None if not decision else {
            **decision,
            "decided_local": _local(decision.get("decided_at")),
            "outcome_label": label("application_status",
                                   "approved" if decision["outcome"] == "approve" else "rejected",
                                   lang),
        },
        "draw_shown": None if not draw else {
            **draw, "day": text("my_draw_set", lang).format(day=draw.get("draw_date")),
        },
    }  # fmt: skip


def _own(services: Services, number: str, user: User) -> dict[str, Any]:
    app = services.allocation.application(number)
    if app.get("applicant") != user.name and user.role != "admin":
        raise Forbidden(message("org_message", "not_yours", "en"))
    return app


def _documents(services: Services, number: str, user: User) -> dict[str, Any] | None:
    """The application's documents and what is still missing, once the allocation service
    keeps documents (the "alloc" helper's ``documents``/``missing_documents``)."""
    allocation: Any = services.allocation
    if not hasattr(allocation, "documents"):
        return None
    return {
        "items": allocation.documents(number, user=user),
        "missing": allocation.missing_documents(number, user=user),
        "required": list(getattr(services.settings.analysis, "required_documents", ()) or ()),
    }


@router.get("/my", response_class=HTMLResponse)
def my_applications(
    request: Request, services: ServicesDep, viewer: ViewerDep, lang: Lang_ = None
) -> Response:
    """The signed-in organisation's applications, newest first."""
    try:
        user = require(viewer, *APPLICANTS)
    except SignInNeeded:
        return _sign_in(request)
    language = parse_lang(lang)
    today = _today(services)
    rows = services.allocation.applications({"applicant": user.name})
    apps = [
        _shown(services.allocation.application(str(r["id"])), language, today)
        for r in reversed(rows)
    ]
    return _page(request, viewer, "my.html", language, title=text("my_title", language),
                 nav="my", apps=apps)  # fmt: skip


def _my_one(
    request: Request,
    services: Services,
    viewer: Viewer,
    user: User,
    number: str,
    lang: Lang,
    *,
    status: int = 200,
    doc_error: str = "",
    filed: bool = False,
) -> HTMLResponse:
    app = _shown(_own(services, number, user), lang, _today(services))
    return _page(
        request, viewer, "my_application.html", lang, status=status,
        title=f"{text('application_title', lang)} {number}", nav="my", app=app, filed=filed,
        documents=_documents(services, number, user), doc_error=doc_error,
        can_renew=hasattr(services.allocation, "request_renewal"),
    )  # fmt: skip


@router.get("/my/{number}", response_class=HTMLResponse)
def my_application(
    request: Request,
    number: str,
    services: ServicesDep,
    viewer: ViewerDep,
    lang: Lang_ = None,
    filed: str | None = None,
) -> Response:
    """One of the organisation's applications, all of it."""
    try:
        user = require(viewer, *APPLICANTS)
    except SignInNeeded:
        return _sign_in(request)
    return _my_one(request, services, viewer, user, number, parse_lang(lang), filed=bool(filed))


@router.post("/my/{number}/documents", response_class=HTMLResponse)
async def my_document_upload(
    request: Request, number: str, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Upload one required document (PDF, PNG, JPEG: the service checks size and type)."""
    try:
        user = require(viewer, *APPLICANTS)
    except SignInNeeded:
        return _sign_in(request)
    form = await form_with_csrf(request, viewer)
    lang = parse_lang(_text(form, "lang") or None)
    _own(services, number, user)
    kind = _text(form, "kind")
    try:
        name, data = await _upload(form, "file", services.settings.api.max_body_bytes)
        if not kind or not data:
            raise FormProblem("file", "document_missing")
        allocation: Any = services.allocation
        await run_in_threadpool(
            allocation.add_document, number, kind=kind, filename=name, data=data, user=user
        )
    except FormProblem as exc:
        return _my_one(request, services, viewer, user, number, lang, status=422,
                       doc_error=exc.text(lang))  # fmt: skip
    except (GazarError, Conflict) as exc:
        status = 413 if isinstance(exc, PayloadTooLarge) else 422
        return _my_one(request, services, viewer, user, number, lang, status=status,
                       doc_error=str(exc))  # fmt: skip
    return RedirectResponse(f"/my/{number}{_lang_q(lang)}#documents", 303)


@router.get("/my/{number}/documents/{doc_id}")
def my_document(
    request: Request, number: str, doc_id: str, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """One uploaded document: the applicant's and the officials' only (the service checks)."""
    if viewer.user is None:
        return _sign_in(request)
    if viewer.user.role == "public":
        _own(services, number, viewer.user)  # another organisation: 403
    allocation: Any = services.allocation
    if not hasattr(allocation, "document"):
        raise NotFound(f"no document {doc_id} of {number}")
    meta, data = allocation.document(number, doc_id, user=viewer.user)
    return Response(
        data,
        media_type=str(meta.get("media_type") or "application/octet-stream"),
        headers={"Content-Disposition": "attachment", "Cache-Control": "private, no-store"},
    )


@router.post("/my/{number}/renewal", response_class=HTMLResponse)
async def my_renewal(
    request: Request, number: str, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Request the renewal of the application's contract (``request_renewal``)."""
    try:
        user = require(viewer, *APPLICANTS)
    except SignInNeeded:
        return _sign_in(request)
    form = await form_with_csrf(request, viewer)
    lang = parse_lang(_text(form, "lang") or None)
    app = _own(services, number, user)
    allocation: Any = services.allocation
    try:
        await run_in_threadpool(allocation.request_renewal, app["parcel_id"], user=user)
    except (Conflict, Unprocessable) as exc:
        return _my_one(request, services, viewer, user, number, lang, status=409,
                       doc_error=str(exc))  # fmt: skip
    return RedirectResponse(f"/my/{number}{_lang_q(lang)}", 303)


# ------------------------------------------------------------------------------ objections


def _objection_page(
    request: Request,
    services: Services,
    viewer: Viewer,
    number: str,
    lang: Lang,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    filed: str = "",
    status: int = 200,
) -> HTMLResponse:
    app = _shown(services.allocation.application(number), lang, _today(services))
    return _page(
        request, viewer, "objection.html", lang, status=status,
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
    return _objection_page(request, services, viewer, number, parse_lang(lang),
                           filed=filed or "")  # fmt: skip


@router.post("/applications/{number}/objection-form", response_class=HTMLResponse)
async def objection_submit(
    request: Request, number: str, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """File an objection from the form: name and reason required, contact optional and
    private; refused after the window, and beyond the per-address rate limit (429)."""
    form = await form_with_csrf(request, viewer)
    lang = parse_lang(_text(form, "lang") or None)
    values = {k: _text(form, k) for k in ("name", "reason", "contact")}
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
        return _objection_page(request, services, viewer, number, lang, values=values,
                               errors=errors, status=422)  # fmt: skip
    user = viewer.user
    address = request.client.host if request.client else "unknown"
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
        page = _objection_page(request, services, viewer, number, lang, values=values,
                               errors=errors, status=429)  # fmt: skip
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except RecordNotFound:
        raise
    except (Conflict, Unprocessable) as exc:
        errors["form"] = str(exc)
        status = 409 if isinstance(exc, Conflict) else 422
        return _objection_page(request, services, viewer, number, lang, values=values,
                               errors=errors, status=status)  # fmt: skip
    sep = "&" if lang == "en" else "?"
    return RedirectResponse(
        f"/applications/{number}/objection-form{_lang_q(lang)}{sep}filed={row['id']}", 303
    )
