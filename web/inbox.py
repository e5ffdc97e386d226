"""MRPAM's inbox: the Land Conclusions waiting for its decision, their review, the decision.

``GET /inbox``
    The Land Conclusions submitted to MRPAM or under its review across the country, oldest
    submission first (:func:`api.services.inbox.inbox_rows`: the pipeline's days and overdue
    flag, ``AnalysisSettings.pipeline_limit_days``).
``GET /inbox/{id}``
    One Land Conclusion's full review against the rest of the store
    (:meth:`api.services.review.ReviewService.check_stored`), its map, and the decision forms
    (``web/templates/actions/land_conclusion_inbox.html``, also on the Land Conclusion's page).
``POST /inbox/{id}/start``, ``/inbox/{id}/issue``, ``/inbox/{id}/reject``
    The review steps, through :meth:`AllocationService.review_land_conclusion` with the
    signed-in user (the log names them): ``under_review``; ``issued`` with a decision reference
    and the last valid day (required, after today); ``rejected`` with a reason or decision
    reference (required). A refused form is shown again with its values and the error next to
    the field; a step taken redirects (303) to the review page with a notice.

Only MRPAM (role ``mrpam``) and administrators see these pages or take these steps; every POST
checks the form's CSRF token first (:func:`web.session.form_with_csrf`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.services import Services
from api.services.errors import NotFound, Unprocessable
from api.services.inbox import inbox_rows, land_conclusion_facts, local_today, moves_of
from layers.labels import Lang, text
from layers.ledger import Conflict, User
from web import maps
from web.i18n import parse_lang
from web.render import map_parts, render
from web.session import ViewerDep, form_with_csrf, require

router = APIRouter(tags=["pages"], include_in_schema=False)

#: who may use the inbox (administrators always may)
ROLES: Final = ("mrpam",)

#: each form's step: the status it moves to
STEPS: Final = {"start": "under_review", "issue": "issued", "reject": "rejected"}

Lang_ = Annotated[str | None, Query(description="mn (default) or en")]


def _url(path: str, lang: Lang, **query: str) -> str:
    params = {**query, **({"lang": "en"} if lang == "en" else {})}
    return path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request, services: ServicesDep, viewer: ViewerDep, lang: Lang_ = None
) -> HTMLResponse:
    """The Land Conclusions waiting at MRPAM, oldest first."""
    require(viewer, *ROLES)
    language = parse_lang(lang)
    settings = services.settings.analysis
    today = local_today(settings)
    frames = services.layers.all(("land_conclusions", "soums", "aimags"))
    rows = inbox_rows(
        frames["land_conclusions"],
        soums=frames["soums"],
        aimags=frames["aimags"],
        today=today,
        settings=settings,
        lang=language,
    )
    return render(
        request,
        "inbox.html",
        language,
        title=text("inbox_title", language),
        nav="inbox",
        rows=rows,
        overdue=sum(1 for r in rows if r["overdue"]),
        today=today.isoformat(),
    )


def _review_page(
    request: Request,
    services: Services,
    lc_id: str,
    lang: Lang,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
) -> HTMLResponse:
    today = local_today(services.settings.analysis)
    try:
        row, result = services.review.check_stored(lc_id, today=today)
    except NotFound:
        return render(
            request,
            "error.html",
            lang,
            status=404,
            title=text("not_found", lang),
            heading=text("not_found", lang),
            message=f"{text('field_land_conclusion_id', lang)}: {lc_id}",
            nav="inbox",
            back="/inbox",
        )
    frames = services.layers.all(("soums", "aimags"))
    facts = land_conclusion_facts(
        row.iloc[0], soums=frames["soums"], aimags=frames["aimags"], lang=lang
    )
    waiting = inbox_rows(
        row, soums=frames["soums"], aimags=frames["aimags"], today=today,
        settings=services.settings.analysis, lang=lang,
    )  # fmt: skip
    parts = map_parts(maps.review_map(result, services.frames(), lang=lang))
    return render(
        request,
        "inbox_review.html",
        lang,
        status=status,
        title=f"{text('inbox_review_title', lang)} {lc_id}",
        nav="inbox",
        lc=facts,
        waiting=waiting[0] if waiting else None,
        result=result,
        inbox_moves=moves_of(facts["status"]),
        inbox_form=form or {},
        inbox_errors=errors or {},
        inbox_done=done if done in STEPS.values() else None,
        today=today.isoformat(),
        tomorrow=(today + dt.timedelta(days=1)).isoformat(),
        **parts,
    )


@router.get("/inbox/{lc_id}", response_class=HTMLResponse)
async def inbox_review(
    request: Request,
    lc_id: str,
    services: ServicesDep,
    viewer: ViewerDep,
    lang: Lang_ = None,
    done: Annotated[str | None, Query(description="the step just taken")] = None,
) -> HTMLResponse:
    """One Land Conclusion's review against the rest of the store, and MRPAM's decision."""
    require(viewer, *ROLES)
    language = parse_lang(lang)
    return await run_in_threadpool(_review_page, request, services, lc_id, language, done=done)


def _one_language(message: str, lang: Lang) -> str:
    """A service refusal ("Mongolian / English") in the page's language."""
    mn, sep, en = message.partition(" / ")
    return (mn if lang == "mn" else en) if sep else message


def _check_form(step: str, form: dict[str, str], today: dt.date) -> tuple[dict[str, str], Any]:
    """The field errors of a decision form (catalogue keys) and its valid-until day."""
    errors: dict[str, str] = {}
    until: dt.date | None = None
    ref = form.get("decision_ref", "").strip()
    if step == "issue":
        if not ref:
            errors["decision_ref"] = "inbox_need_ref"
        raw = form.get("valid_until", "").strip()
        if not raw:
            errors["valid_until"] = "inbox_need_until"
        else:
            try:
                until = dt.date.fromisoformat(raw)
            except ValueError:
                errors["valid_until"] = "inbox_bad_until"
            else:
                if until <= today:
                    errors["valid_until"] = "inbox_past_until"
    elif step == "reject" and not ref:
        errors["decision_ref"] = "inbox_need_reason"
    return errors, until


async def _take_step(
    request: Request, services: Services, viewer: Any, lc_id: str, step: str
) -> Response:
    raw = await form_with_csrf(request, viewer)  # before anything else: 403, nothing written
    user: User = require(viewer, *ROLES)
    form = {k: str(v) for k, v in raw.items() if k != "csrf_token" and isinstance(v, str)}
    language = parse_lang(form.get("lang"))
    today = local_today(services.settings.analysis)
    keys, until = _check_form(step, form, today)
    form["step"] = step
    if keys:
        errors = {field: text(key, language) for field, key in keys.items()}
        return await run_in_threadpool(
            _review_page, request, services, lc_id, language,
            status=422, form=form, errors=errors,
        )  # fmt: skip
    status = STEPS[step]
    try:
        await run_in_threadpool(
            lambda: services.allocation.review_land_conclusion(
                lc_id,
                status=status,
                decision_ref=form.get("decision_ref", "").strip() or None,
                valid_until=until,
                user=user,
            )
        )
    except (Conflict, Unprocessable) as exc:
        code = 409 if isinstance(exc, Conflict) else 422
        errors = {"form": _one_language(str(exc), language)}
        return await run_in_threadpool(
            _review_page, request, services, lc_id, language,
            status=code, form=form, errors=errors,
        )  # fmt: skip
    return RedirectResponse(_url(f"/inbox/{lc_id}", language, done=status), status_code=303)


@router.get("/inbox/{lc_id}/review.{fmt}")
def inbox_review_document(
    request: Request,
    lc_id: str,
    fmt: str,
    services: ServicesDep,
    viewer: ViewerDep,
    lang: Lang_ = None,
) -> Response:
    """The Land Conclusion's review as a document for the decision file (``review.pdf`` or
    ``review.html``): its id and name, the findings, the map, who checked it (the signed-in
    user) and the store's revision and log head (:func:`web.report.review_document`)."""
    from web.documents import provenance_of, respond, viewer_name
    from web.report import review_document

    require(viewer, *ROLES)
    language = parse_lang(lang)
    if fmt not in ("pdf", "html"):
        raise NotFound(f"no review document as {fmt!r}: pdf or html")
    row, result = services.review.check_stored(lc_id, today=local_today(services.settings.analysis))
    prov = provenance_of(services)
    doc = review_document(
        result, lang=language, frames=services.frames(), revision=prov.revision,
        head_seq=prov.head_seq, head_hash=prov.head_hash, checked_by=viewer_name(request),
        proposal=row[[c for c in ("id", "name") if c in row.columns] + ["geometry"]],
    )  # fmt: skip
    return respond(request, services, doc, fmt)


@router.post("/inbox/{lc_id}/start")
async def inbox_start(
    request: Request, lc_id: str, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Start MRPAM's review (``submitted`` to ``under_review``)."""
    return await _take_step(request, services, viewer, lc_id, "start")


@router.post("/inbox/{lc_id}/issue")
async def inbox_issue(
    request: Request, lc_id: str, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Issue a Land Conclusion under review: decision reference and last valid day."""
    return await _take_step(request, services, viewer, lc_id, "issue")


@router.post("/inbox/{lc_id}/reject")
async def inbox_reject(
    request: Request, lc_id: str, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Reject a Land Conclusion under review, with a reason or decision reference."""
    return await _take_step(request, services, viewer, lc_id, "reject")


__all__ = ["ROLES", "STEPS", "router"]
