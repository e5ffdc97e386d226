"""The printed decisions, for the decision file: ``/applications/{number}/decision.pdf`` and
``.html`` (an application's approval or rejection) and ``/land_conclusions/{id}/decision.pdf``
and ``.html`` (a Land Conclusion's issuance or rejection), and :func:`respond`, which answers
any :class:`web.document.Document` as a printable page or a PDF named after its subject and
day (``Content-Disposition``). They read the service layer as the JSON API does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ServicesDep
from api.services import Services
from api.services.errors import hide_paths
from api.services.provenance import Provenance, provenance
from layers.errors import GazarError
from layers.labels import Lang
from web.docpdf import document_pdf
from web.document import Document, document_html
from web.headers import add_nonce, request_nonce
from web.i18n import parse_lang, text
from web.render import render

router = APIRouter(tags=["pages"], include_in_schema=False)

LangQuery = Annotated[str | None, Query(description="mn (default) or en")]


def viewer_name(request: Request) -> str | None:
    """The signed-in user's name (``request.state.viewer.user.name``), None otherwise."""
    viewer = getattr(request.state, "viewer", None)
    user = getattr(viewer, "user", None)
    name = getattr(user, "name", None)
    return str(name) if name else None


def provenance_of(services: Services) -> Provenance:
    """The store revision and the log head a document prints."""
    return provenance(services.layers, services.allocation)


def respond(request: Request, services: Services, doc: Document, fmt: str) -> Response:
    """``doc`` as a PDF (``fmt == "pdf"``, attached as ``<stem>.pdf``) or a printable page."""
    if fmt == "pdf":
        pdf = document_pdf(doc, font_dir=services.settings.files.pdf_font_dir)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{doc.file_name("pdf")}"'},
        )
    body = add_nonce(document_html(doc), request_nonce(request.scope))
    return HTMLResponse(
        body, headers={"Content-Disposition": f'inline; filename="{doc.file_name("html")}"'}
    )


def _missing(request: Request, lang: Lang, message: str, services: Services) -> HTMLResponse:
    return render(
        request, "error.html", lang, status=404, title=text("not_found", lang),
        heading=text("not_found", lang), message=hide_paths(message, services.settings.db),
        nav="register", back="/register",
    )  # fmt: skip


def _application(request: Request, services: Services, number: str, lang: Lang, fmt: str
                 ) -> Response:  # fmt: skip
    from web.decision_doc import application_document

    try:
        app = services.allocation.application(number)
        prov = provenance_of(services)
        doc = application_document(app, lang=lang, frames=services.frames(),
                                   revision=prov.revision, head_seq=prov.head_seq,
                                   head_hash=prov.head_hash)  # fmt: skip
    except (LookupError, GazarError) as exc:
        return _missing(request, lang, str(exc), services)
    return respond(request, services, doc, fmt)


@router.get("/applications/{number}/decision.pdf")
def application_decision_pdf(
    request: Request, number: str, services: ServicesDep, lang: LangQuery = None
) -> Response:
    """The decision on an application as an A4 PDF."""
    return _application(request, services, number, parse_lang(lang), "pdf")


@router.get("/applications/{number}/decision.html", response_class=HTMLResponse)
def application_decision_html(
    request: Request, number: str, services: ServicesDep, lang: LangQuery = None
) -> Response:
    """The decision on an application as a printable page."""
    return _application(request, services, number, parse_lang(lang), "html")


def _land_conclusion(request: Request, services: Services, lc_id: str, lang: Lang, fmt: str
                     ) -> Response:  # fmt: skip
    from web.decision_doc import land_conclusion_document, lc_decision_events

    frames = services.frames()
    lcs = frames["land_conclusions"]
    hit = lcs[lcs["id"].astype(str) == lc_id]
    if hit.empty:
        return _missing(request, lang, f"land_conclusions/{lc_id}", services)
    try:
        prov = provenance_of(services)
        try:
            event = lc_decision_events(services.allocation.events(), lc_id)
        except GazarError:
            event = None
        doc = land_conclusion_document(hit.iloc[0], lang=lang, frames=frames, event=event,
                                       revision=prov.revision, head_seq=prov.head_seq,
                                       head_hash=prov.head_hash)  # fmt: skip
    except LookupError as exc:
        return _missing(request, lang, str(exc), services)
    return respond(request, services, doc, fmt)


@router.get("/land_conclusions/{lc_id}/decision.pdf")
def land_conclusion_decision_pdf(
    request: Request, lc_id: str, services: ServicesDep, lang: LangQuery = None
) -> Response:
    """A Land Conclusion's issuance or rejection as an A4 PDF."""
    return _land_conclusion(request, services, lc_id, parse_lang(lang), "pdf")


@router.get("/land_conclusions/{lc_id}/decision.html", response_class=HTMLResponse)
def land_conclusion_decision_html(
    request: Request, lc_id: str, services: ServicesDep, lang: LangQuery = None
) -> Response:
    """A Land Conclusion's issuance or rejection as a printable page."""
    return _land_conclusion(request, services, lc_id, parse_lang(lang), "html")


__all__ = ["provenance_of", "respond", "router", "viewer_name"]
