"""The ASM organisation's "My applications" (issue 13).

``/my`` (the signed-in organisation's applications, newest first), ``/my/{number}`` (one of
them: eligibility with every reason, the public number, the place in the queue, the objection
window, objections, draw, decision; the documents the soum requires, what is still missing and
the upload; the contract and, while it ends within the renewal window, the renewal request),
``POST /my/{number}/documents``, ``GET /my/{number}/documents/{doc_id}`` and
``POST /my/{number}/renewal``.

The documents are the :class:`api.services.documents.DocumentOps` of the allocation service:
an upload declaring more than the cap is refused before its form is read, one whose size is
over it before its bytes are read, and its type is checked by its content
(``check_document``), never by its name. The renewal request is
:meth:`api.services.renewal.RenewalOps.request_renewal` for the contract's holder.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import ServicesDep
from api.services import Services
from api.services.access import Forbidden
from api.services.errors import PayloadTooLarge, Unprocessable
from api.services.messages import both
from api.services.objects import local_today
from layers.labels import Lang, message
from layers.ledger import Conflict, RecordNotFound, User
from web.apply import APPLICANTS, Lang_, form_text, lang_query, one_language, shown
from web.i18n import parse_lang, text
from web.render import render
from web.session import ViewerDep, form_with_csrf, require

router = APIRouter(tags=["pages"], include_in_schema=False)

#: what a multipart form adds around a document (boundaries, the kind, the CSRF token): a
#: request declaring more than the cap and this is refused before it is read
FORM_SLACK: Final = 64 * 1024


def _own(services: Services, number: str, user: User) -> dict[str, Any]:
    """The application with its documents, when ``user`` filed it (or is an administrator)."""
    app = services.allocation.application(number, user=user)
    if app.get("applicant") != user.name and user.role != "admin":
        raise Forbidden(both("org_message", "not_yours"))
    return app


def _contract(services: Services, app: dict[str, Any]) -> dict[str, Any] | None:
    """The contract of an approved application: its renewal window (``renewal``: None
    outside it), the renewals asked for and decided, and whether one may be requested now."""
    decision = app.get("decision") or {}
    parcel_id = decision.get("parcel_id")
    if not parcel_id:
        return None
    try:
        contract = services.allocation.contract(str(parcel_id))
    except RecordNotFound:
        return None
    requested = [r for r in contract["renewals"] if r["outcome"] == "requested"]
    contract["requested"] = requested[-1] if requested else None
    contract["can_request"] = contract["renewal"] is not None and not requested
    return contract


def _my_one(
    request: Request,
    services: Services,
    user: User,
    number: str,
    lang: Lang,
    *,
    status: int = 200,
    doc_error: str = "",
    renew_error: str = "",
    filed: bool = False,
) -> HTMLResponse:
    app = _own(services, number, user)
    allocation = services.allocation
    return render(
        request, "my_application.html", lang, status=status,
        title=f"{text('application_title', lang)} {number}", nav="my",
        app=shown(app, lang, local_today(services)), filed=filed,
        documents={
            "items": app.get("documents") or [],
            "missing": app.get("documents_missing") or [],
            "required": allocation.required(),
            "open": app["status"] in ("pending", "ineligible"),
            "cap_mb": f"{allocation.max_document_bytes / 1_000_000:g}",
        },
        doc_error=doc_error, contract=_contract(services, app), renew_error=renew_error,
    )  # fmt: skip


@router.get("/my", response_class=HTMLResponse)
def my_applications(
    request: Request, services: ServicesDep, viewer: ViewerDep, lang: Lang_ = None
) -> Response:
    """The signed-in organisation's applications, newest first."""
    user = require(viewer, *APPLICANTS)
    language = parse_lang(lang)
    today = local_today(services)
    rows = services.allocation.applications({"applicant": user.name})
    apps = [
        shown(services.allocation.application(str(r["id"]), user=user), language, today)
        for r in reversed(rows)
    ]
    return render(request, "my.html", language, title=text("my_title", language), nav="my",
                  apps=apps)  # fmt: skip


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
    user = require(viewer, *APPLICANTS)
    return _my_one(request, services, user, number, parse_lang(lang), filed=bool(filed))


@router.post("/my/{number}/documents", response_class=HTMLResponse)
async def my_document_upload(
    request: Request, number: str, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Upload one required document (PDF, PNG, JPEG: the service checks size and content)."""
    user = require(viewer, *APPLICANTS)
    allocation = services.allocation
    lang = parse_lang(request.query_params.get("lang"))
    cap = allocation.max_document_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap + FORM_SLACK:  # refused before it is read
        _own(services, number, user)
        said = message("workflow_message", "document_size", lang, name="upload",
                       size=int(declared), limit=cap)  # fmt: skip
        return _my_one(request, services, user, number, lang, status=413, doc_error=said)
    form = await form_with_csrf(request, viewer)
    try:
        lang = parse_lang(form_text(form, "lang") or None)
        _own(services, number, user)
        kind = form_text(form, "kind")
        upload = form.get("file")
        if not kind or not isinstance(upload, UploadFile) or not upload.filename:
            said = message("org_message", "document_missing", lang)
            return _my_one(request, services, user, number, lang, status=422, doc_error=said)
        name = upload.filename
        allocation.check_document_size(name, upload.size)  # before its bytes are read
        data = await upload.read(cap + 1)
        await run_in_threadpool(allocation.add_document, number, kind, name, data, user)
    except (Unprocessable, PayloadTooLarge, Conflict) as exc:
        status = {PayloadTooLarge: 413, Conflict: 409}.get(type(exc), 422)
        return _my_one(request, services, user, number, lang, status=status,
                       doc_error=one_language(str(exc), lang))  # fmt: skip
    finally:
        await form.close()
    return RedirectResponse(f"/my/{number}{lang_query(lang)}#documents", 303)


@router.get("/my/{number}/documents/{doc_id:path}")
def my_document(number: str, doc_id: str, services: ServicesDep, viewer: ViewerDep) -> Response:
    """One uploaded document, for its applicant (the officials read it through the API;
    the service checks who may)."""
    user = require(viewer, *APPLICANTS)
    _own(services, number, user)  # another organisation's: 403
    if "/" not in doc_id:  # the short form D1 of "<number>/D1"
        doc_id = f"{number}/{doc_id}"
    data, media_type, filename = services.allocation.document(number, doc_id, user)
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in filename) or "document"
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{safe}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/my/{number}/renewal", response_class=HTMLResponse)
async def my_renewal(
    request: Request, number: str, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Request the renewal of the application's contract (within the renewal window)."""
    user = require(viewer, *APPLICANTS)
    form = await form_with_csrf(request, viewer)
    lang = parse_lang(form_text(form, "lang") or None)
    app = _own(services, number, user)
    parcel_id = (app.get("decision") or {}).get("parcel_id")
    try:
        if not parcel_id:
            raise Conflict(both("org_message", "no_contract", number=number))
        await run_in_threadpool(
            lambda: services.allocation.request_renewal(str(parcel_id), user=user)
        )
    except Conflict as exc:  # not within the window, not running, asked for already
        return _my_one(request, services, user, number, lang, status=409,
                       renew_error=one_language(str(exc), lang))  # fmt: skip
    return RedirectResponse(f"/my/{number}{lang_query(lang)}#contract", 303)
