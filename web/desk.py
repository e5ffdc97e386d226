"""The soum official's desk: ``/desk`` and its forms (role ``soum``, ``aimag`` for the soums of
its aimag; an administrator sees every soum).

``GET /desk`` shows what :func:`web.desk_view.desk_context` reads; ``GET /desk/propose`` a map
to draw a new Land Conclusion on (or a file to upload), ``POST /desk/propose`` its full review
(the ``/check`` review: :mod:`api.services.proposals`, :class:`api.services.review.ReviewService`)
and, with a name, its saving as ``proposed``. Every other POST is one step, calling the same
service method as the JSON API with the signed-in viewer's ``User`` (the log names them):

=============================================  ===============================================
``/desk/applications/{number}/decide``         :meth:`AllocationService.decide`
``/desk/draws``, ``/desk/draws/{id}/run``      ``announce_draw``, ``run_draw``
``/desk/contracts/{id}/renew``                 ``renew``
``/desk/contracts/{id}/status``                ``set_contract_status``
``/desk/rehab_zones/{id}/stage``               ``set_rehab_stage`` (with ``accepted_on``)
``/desk/land_conclusions/{id}/khural``         :meth:`PipelineService.record_khural`
``/desk/land_conclusions/{id}/submit``         :meth:`PipelineService.submit`
=============================================  ===============================================

Every POST reads its form with :func:`web.session.form_with_csrf` first (403, nothing written,
without the session's token); every page needs a signed-in official
(:func:`web.session.require`). A step the service refuses (409, 422) shows the desk again
with the reason next to the form's field and the values kept; another soum's object is the
service's 403. A step done redirects (303) to the page it came from (``next``, a local path).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final

import geopandas as gpd
import pandas as pd
import shapely
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from api.deps import ServicesDep
from api.services import Services
from api.services.allocation_checks import today_of
from api.services.errors import BadRequest, PayloadTooLarge, Unprocessable, hide_paths
from api.services.proposals import proposal_from_body, proposal_from_file, proposal_geojson
from layers.errors import GazarError, InvalidGeometry
from layers.labels import Lang, label, message
from layers.ledger import Conflict, User
from layers.uploads import ReadersBusy
from web import maps
from web.desk_view import desk_context, desk_soums, soum_names
from web.i18n import parse_lang, text
from web.render import map_parts, render
from web.safejson import script_json
from web.session import ViewerDep, form_with_csrf, require

router = APIRouter(tags=["pages"], include_in_schema=False)

#: refusals shown on the form, with the page's status
REFUSED: Final[tuple[tuple[type[GazarError], int], ...]] = (
    (Conflict, 409),
    (InvalidGeometry, 422),
    (Unprocessable, 422),
    (BadRequest, 400),
)


class FieldError(Unprocessable):
    """A required field left empty (the page says so next to it; nothing is sent on)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _official(viewer: Any) -> User:
    return require(viewer, "soum", "aimag")


def _lang(form: FormData | None, request: Request) -> Lang:
    value = form.get("lang") if form is not None else None
    return parse_lang(str(value) if value else request.query_params.get("lang"))


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _field_message(code: str, name: str, lang: Lang, **values: Any) -> str:
    """A field error that names its field (``desk_message``, the field from ``desk_field``)."""
    return message("desk_message", code, lang, field=label("desk_field", name, lang), **values)


def _required(form: FormData, name: str, lang: Lang) -> str:
    value = _field(form, name)
    if not value:
        raise FieldError(name, _field_message("required", name, lang))
    return value


def _day(form: FormData, name: str, lang: Lang, *, required: bool = True) -> dt.date | None:
    value = _field(form, name)
    if not value:
        if required:
            raise FieldError(name, _field_message("required", name, lang))
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FieldError(name, _field_message("bad_date", name, lang)) from None


def _next(form: FormData, lang: Lang, done: str) -> str:
    """Where a done step goes: the form's ``next`` when it is a local path, else the desk."""
    target = _field(form, "next")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/desk"
    path, hash_, fragment = target.partition("#")  # the query goes before the fragment
    sep = "&" if "?" in path else "?"
    path = f"{path}{sep}done={done}"
    if lang == "en" and "lang=" not in path:
        path += "&lang=en"
    return path + hash_ + fragment


def _one_language(piece: str, lang: Lang) -> str:
    parts = piece.split(" / ")
    return (parts[0] if lang == "mn" else parts[1]) if len(parts) == 2 else piece


def refusal_text(exc: GazarError, lang: Lang) -> str:
    """A service's refusal in the page's language: its message and each reason are written
    ``"Mongolian / English"`` (a piece that does not split in two is shown as it is).

    Examples
    --------
    >>> refusal_text(Conflict("Tatgalzav / Refused", ["Bus R-1 / Zone R-1"]), "en")
    'Refused: Zone R-1'
    """
    reasons = [str(r) for r in getattr(exc, "reasons", None) or []]
    whole = str(exc)
    tail = ": " + "; ".join(reasons)
    if reasons and whole.endswith(tail):
        head = _one_language(whole[: -len(tail)], lang)
        return head + ": " + "; ".join(_one_language(r, lang) for r in reasons)
    return _one_language(whole, lang)


def _status_of(exc: GazarError) -> int | None:
    for cls, status in REFUSED:
        if isinstance(exc, cls):
            return status
    return None


def desk_page(
    request: Request,
    services: Services,
    user: User,
    lang: Lang,
    *,
    status: int = 200,
    soum: str | None = None,
    form_id: str | None = None,
    error: GazarError | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """The desk, with the refusal of the form ``form_id`` (if any) shown next to it."""
    context = desk_context(services, user, lang=lang, soum=soum)
    message = (
        hide_paths(refusal_text(error, lang), services.settings.db) if error is not None else ""
    )
    return render(
        request,
        "desk.html",
        lang,
        status=status,
        title=text("desk_title", lang),
        nav="desk",
        user=user,
        done=request.query_params.get("done", ""),
        form_id=form_id,
        error_field=getattr(error, "field", "") if error is not None else "",
        error=message,
        values=values or {},
        **context,
    )


@router.get("/desk", response_class=HTMLResponse)
def desk(request: Request, services: ServicesDep, viewer: ViewerDep) -> HTMLResponse:
    """The official's soums: Land Conclusions, queues, draws, contracts, rehabilitation."""
    user = _official(viewer)
    lang = _lang(None, request)
    soum = request.query_params.get("soum") or None
    return desk_page(request, services, user, lang, soum=soum)


async def _step(
    request: Request,
    services: Services,
    viewer: Any,
    form_id: str | Callable[[FormData], str],
    done: str,
    act: Callable[[FormData, User, Lang], Any],
) -> Response:
    """One desk step: the form (CSRF checked), the official, the service call; a refusal the
    page can show (409, 422) comes back on the desk with the values kept."""
    user = _official(viewer)
    form = await form_with_csrf(request, viewer)
    lang = _lang(form, request)
    try:
        await run_in_threadpool(act, form, user, lang)
    except GazarError as exc:
        status = _status_of(exc)
        if status is None:
            raise  # 403, 404, 503: the app's answer
        refusal = exc
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
        return await run_in_threadpool(
            lambda: desk_page(
                request, services, user, lang, status=status, error=refusal,
                form_id=form_id if isinstance(form_id, str) else form_id(form),
                values=values, soum=_field(form, "soum") or None,
            )
        )  # fmt: skip
    return RedirectResponse(_next(form, lang, done), status_code=303)


@router.post("/desk/applications/{number}/decide")
async def decide(
    number: str, request: Request, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Approve or reject an application with a written reason."""

    def act(form: FormData, user: User, lang: Lang) -> None:
        outcome = _field(form, "outcome")
        if outcome not in ("approve", "reject"):
            raise FieldError("outcome", text("desk_choose_outcome", lang))
        reason = _required(form, "reason", lang)
        services.allocation.decide(number, outcome=outcome, reason=reason, user=user)

    return await _step(request, services, viewer, f"decide-{number}", "decided", act)


@router.post("/desk/draws")
async def announce(request: Request, services: ServicesDep, viewer: ViewerDep) -> Response:
    """Announce the draw of a competing group: its date and the public value."""

    def act(form: FormData, user: User, lang: Lang) -> None:
        number = _required(form, "application", lang)
        day = _day(form, "draw_date", lang)
        value = _required(form, "public_value", lang)
        assert day is not None
        services.allocation.announce_draw(number, draw_date=day, public_value=value, user=user)

    def form_id(form: FormData) -> str:
        return f"announce-{_field(form, 'application')}"

    return await _step(request, services, viewer, form_id, "announced", act)


@router.post("/desk/draws/{draw_id}/run")
async def run_draw(
    draw_id: str, request: Request, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Run an announced draw on or after its date."""

    def act(form: FormData, user: User, lang: Lang) -> None:
        services.allocation.run_draw(draw_id, user=user)

    return await _step(request, services, viewer, f"run-{draw_id}", "drawn", act)


@router.post("/desk/contracts/{parcel_id}/renew")
async def renew(
    parcel_id: str, request: Request, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Renew a contract for a new term, with a reason (refused while a rehabilitation zone of
    the contract is not accepted: the reasons are shown next to the form)."""

    def act(form: FormData, user: User, lang: Lang) -> None:
        reason = _required(form, "reason", lang)
        services.allocation.renew(parcel_id, reason=reason, user=user)

    return await _step(request, services, viewer, f"renew-{parcel_id}", "renewed", act)


@router.post("/desk/contracts/{parcel_id}/status")
async def contract_status(
    parcel_id: str, request: Request, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Suspend or terminate a contract with a reason."""

    def act(form: FormData, user: User, lang: Lang) -> None:
        status = _required(form, "status", lang)
        reason = _required(form, "reason", lang)
        services.allocation.set_contract_status(parcel_id, status=status, reason=reason, user=user)

    return await _step(request, services, viewer, f"status-{parcel_id}", "contract", act)


@router.post("/desk/rehab_zones/{zone_id}/stage")
async def rehab_stage(
    zone_id: str, request: Request, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Move a rehabilitation zone to a later stage (acceptance with the commission's date)."""

    def act(form: FormData, user: User, lang: Lang) -> None:
        stage = _required(form, "stage", lang)
        day = _day(form, "accepted_on", lang, required=stage == "accepted")
        services.allocation.set_rehab_stage(zone_id, stage=stage, accepted_on=day, user=user)

    return await _step(request, services, viewer, f"stage-{zone_id}", "stage", act)


def khural_bounds(services: Services, lc_id: str) -> tuple[dt.date | None, dt.date]:
    """The days a Khural's approval of ``lc_id`` may carry: from the day it was proposed (None
    when the store has none, or no such Land Conclusion: the service answers that) to today."""
    ledger = services.allocation.ledger()
    today = today_of(ledger.clock(), services.settings.analysis)
    rows = ledger.read("land_conclusions", ids=[lc_id])
    proposed = rows.iloc[0]["proposed_on"] if len(rows) else None
    if proposed is None or pd.isna(proposed):
        return None, today
    return pd.Timestamp(proposed).date(), today


@router.post("/desk/land_conclusions/{lc_id}/khural")
async def khural(
    lc_id: str, request: Request, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Record the day the Khural approved a proposed Land Conclusion."""

    def act(form: FormData, user: User, lang: Lang) -> None:
        day = _day(form, "approved_on", lang)
        assert day is not None
        first, last = khural_bounds(services, lc_id)
        if (first is not None and day < first) or day > last:
            low = first.isoformat() if first is not None else "—"
            raise FieldError(
                "approved_on",
                _field_message("khural_range", "approved_on", lang, min=low, max=last.isoformat()),
            )
        services.pipeline.record_khural(lc_id, approved_on=day, user=user)  # checks them again

    return await _step(request, services, viewer, f"khural-{lc_id}", "khural", act)


@router.post("/desk/land_conclusions/{lc_id}/submit")
async def submit(
    lc_id: str, request: Request, services: ServicesDep, viewer: ViewerDep
) -> Response:
    """Submit a Khural-approved Land Conclusion to MRPAM."""

    def act(form: FormData, user: User, lang: Lang) -> None:
        services.pipeline.submit(lc_id, user=user)

    return await _step(request, services, viewer, f"submit-{lc_id}", "submitted", act)


# ------------------------------------------------------------------ a new Land Conclusion


def _soums_bounds(frames: Any, codes: list[str]) -> tuple[float, float, float, float] | None:
    """The box of the soums ``codes`` (the official's own), for the map to open on; None
    (the map's default) when the store has none of them."""
    soums = frames.get("soums")
    if soums is None or not len(soums) or not codes:
        return None
    mine = soums[soums["id"].astype(str).isin(codes)]
    if not len(mine):
        return None
    x0, y0, x1, y1 = (float(v) for v in mine.total_bounds)
    return x0, y0, x1, y1


def _named(proposal: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """The proposal as the review names it: a drawn or uploaded outline without an id takes the
    name the official typed (the review then says "Land Conclusion Khonkhor", not "#1")."""
    name = name.strip()[:200]
    if not name or len(proposal) != 1:
        return proposal
    ids = proposal["id"] if "id" in proposal.columns else None
    if ids is not None and ids.notna().any() and str(ids.iloc[0]).strip():
        return proposal
    named = proposal.copy()
    named["id"] = [name]
    return named


def _propose_page(
    request: Request,
    services: Services,
    user: User,
    lang: Lang,
    *,
    status: int = 200,
    proposal: gpd.GeoDataFrame | None = None,
    values: dict[str, str] | None = None,
    error: str = "",
    error_field: str = "",
    notes: list[str] | None = None,
) -> HTMLResponse:
    values = values or {}
    names = soum_names(services, lang)
    soums = [(c, names.get(c, n)) for c, n in desk_soums(services, user)]
    soum = values.get("soum") or (soums[0][0] if len(soums) == 1 else "")
    frames = services.frames()
    result = None
    if proposal is not None:
        result = services.review.check(
            _named(proposal, values.get("name", "")),
            kind="land_conclusion",
            today=today_of(services.allocation.ledger().clock(), services.settings.analysis),
            soum=soum or None,
        )
        m = maps.review_map(result, frames, lang=lang, draw_field="drawn")
    else:
        m = maps.build_map(
            frames,
            lang=lang,
            title=text("desk_propose_title", lang),
            draw_field="drawn",
            hidden=("aimags",),
            bounds=_soums_bounds(frames, [soum] if soum else [c for c, _ in soums]),
        )
    return render(
        request,
        "desk_propose.html",
        lang,
        status=status,
        title=text("desk_propose_title", lang),
        nav="desk",
        soums=soums,
        soum=soum,
        values=values,
        error=error,
        error_field=error_field,
        notes=notes or [],
        result=result,
        proposal_json=script_json(proposal_geojson(proposal)) if proposal is not None else "",
        **map_parts(m),
    )


@router.get("/desk/propose", response_class=HTMLResponse)
def propose_form(request: Request, services: ServicesDep, viewer: ViewerDep) -> HTMLResponse:
    """Draw or upload a new Land Conclusion."""
    user = _official(viewer)
    return _propose_page(request, services, user, _lang(None, request))


async def _read_proposal(
    form: FormData, services: Services, lang: Lang
) -> tuple[gpd.GeoDataFrame, list[str]]:
    settings = services.settings.api
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(settings.max_body_bytes + 1)
        if len(data) > settings.max_body_bytes:
            raise PayloadTooLarge(
                f"{upload.filename}: larger than {settings.max_body_bytes:,} bytes "
                "(GAZAR_MAX_BODY_BYTES)"
            )
        return await run_in_threadpool(proposal_from_file, upload.filename, data, settings=settings)
    for name in ("drawn", "proposal"):
        body = _field(form, name)
        if body:
            return proposal_from_body(body.encode("utf-8"), settings=settings), []
    raise FieldError("drawn", text("check_nothing", lang))


@router.post("/desk/propose", response_class=HTMLResponse)
async def propose(request: Request, services: ServicesDep, viewer: ViewerDep) -> Response:
    """``action=review``: the full review of the drawn or uploaded outline; ``action=save``:
    save the reviewed outline as a ``proposed`` Land Conclusion with its name."""
    user = _official(viewer)
    form = await form_with_csrf(request, viewer)
    lang = _lang(form, request)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        proposal, notes = await _read_proposal(form, services, lang)
    except GazarError as exc:
        status = 413 if isinstance(exc, PayloadTooLarge) else 422
        status = 503 if isinstance(exc, ReadersBusy) else status
        message = hide_paths(refusal_text(exc, lang), services.settings.db)
        field = getattr(exc, "field", "drawn")
        return await run_in_threadpool(
            lambda: _propose_page(request, services, user, lang, status=status, values=values,
                                  error=message, error_field=field)
        )  # fmt: skip
    if _field(form, "action") != "save":
        return await run_in_threadpool(
            lambda: _propose_page(request, services, user, lang, proposal=proposal,
                                  values=values, notes=notes)
        )  # fmt: skip

    def save() -> dict[str, Any]:
        name = _required(form, "name", lang)
        geoms = [g for g in proposal.geometry if g is not None and not g.is_empty]
        outline = shapely.union_all(geoms) if geoms else None
        return services.pipeline.propose(
            outline, name=name, soum_code=_field(form, "soum") or None, user=user
        )

    try:
        doc = await run_in_threadpool(save)
    except GazarError as exc:
        refused = _status_of(exc)
        if refused is None:
            raise
        message = hide_paths(refusal_text(exc, lang), services.settings.db)
        field = getattr(exc, "field", "")
        return await run_in_threadpool(
            lambda: _propose_page(request, services, user, lang, status=refused, proposal=proposal,
                                  values=values, error=message, error_field=field)
        )  # fmt: skip
    target = f"/desk?done=proposed&lc={doc['id']}"
    return RedirectResponse(f"{target}&lang=en" if lang == "en" else target, status_code=303)


__all__ = ["router"]
