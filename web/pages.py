"""The web pages: maps, the check of a proposal, available land and the public register.

``/map``, ``/map/soum/{code}``, ``/map/land-conclusion/{id}``, ``/check`` (GET: the form and a
map to draw on; POST: the review of an uploaded file or a drawn polygon), ``/check/report``
(the same review as a printable page or a PDF), ``/availability``, ``/register``, and the
assets under ``/static`` (Leaflet and its plugins from ``node_modules``, Gazar's own files from
``web/static``). Every page is in Mongolian unless ``?lang=en``.

Pages call the service layer (:class:`api.services.Services`) as the JSON API does, never a
route module. A review here is the one ``POST /analysis/check`` answers: the same parser and
caps (:mod:`api.services.proposals`), the same indexed layers and registered DEM
(:class:`api.services.review.ReviewService`). Uploaded files are read by
:func:`layers.readers.read_features` from a temporary folder removed afterwards. Map pages show
the findings and the available land the services keep per store revision and day, and the
rehabilitation zones coloured by recovery when vegetation rasters are registered beside the
store (the answer of ``GET /analysis/rehab``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Final

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep, get_services
from api.services import Services
from api.services.errors import BadRequest, NotFound, PayloadTooLarge, hide_paths
from api.services.proposals import proposal_from_body, proposal_from_file, proposal_geojson
from geo.area import official_ha
from geo.availability import availability_totals
from geo.review import Review
from layers.errors import FeatureNotFound, GazarError
from layers.labels import LANGS, Lang, label
from layers.uploads import ReadersBusy
from web import maps
from web.assets import AssetMissing, static_file
from web.i18n import parse_lang, text
from web.register import FEEDS, allocation_record, read_register, register_actors
from web.render import map_parts, render
from web.safejson import script_json

router = APIRouter(tags=["pages"], include_in_schema=False)


def _remote(request: Request, day: dt.date | None = None) -> maps.RemoteLoading:
    """How the page loads large layers; a map of another ``day`` than today inlines the
    derived layers (their collections answer for today)."""
    return _remote_for(get_services(request), day)


def _remote_for(services: Services, day: dt.date | None) -> maps.RemoteLoading:
    s = services.settings.web
    return maps.RemoteLoading(
        inline_limit=s.inline_limit,
        inline_coordinates=s.inline_coordinates,
        min_zoom=s.min_zoom,
        page_limit=s.page_limit,
        derived=day is None or day == dt.date.today(),
    )


def _public(request: Request, message: str) -> str:
    """A message with no server path in it (the store's file name stays)."""
    return hide_paths(message, get_services(request).settings.db)


def _error(
    request: Request, lang: Lang, message: str, *, status: int, nav: str = "map"
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        lang,
        status=status,
        title=text("not_found", lang) if status == 404 else text("check_error", lang),
        heading=text("not_found", lang) if status == 404 else text("check_error", lang),
        message=_public(request, message),
        nav=nav,
        back="/" + nav,
    )


# ------------------------------------------------------------------------------ data


def _day(today: str | None) -> dt.date:
    if not today:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(today)
    except ValueError:
        raise BadRequest(f"today={today!r} is not a date; write it as YYYY-MM-DD") from None


def _soum_choices(frames: dict[str, gpd.GeoDataFrame], lang: Lang) -> list[tuple[str, str]]:
    soums = frames.get("soums")
    if soums is None or len(soums) == 0:
        return []
    first, second = ("name_mn", "name_en") if lang == "mn" else ("name_en", "name_mn")
    names = soums[first].where(soums[first].notna() & (soums[first] != ""), soums[second])
    pairs = sorted(zip(soums["id"].astype(str), names.fillna("").astype(str), strict=True),
                   key=lambda p: (p[1], p[0]))  # fmt: skip
    return pairs


Lang_ = Annotated[str | None, Query(description="mn (default) or en")]
Today_ = Annotated[str | None, Query(description="The day statuses are judged on, YYYY-MM-DD")]


# ------------------------------------------------------------------------------ assets


@router.get("/static/{path:path}")
def static(path: str, services: ServicesDep) -> FileResponse:
    """Leaflet, its plugins and Gazar's map code: local files, never a CDN."""
    try:
        file = static_file(path, services.settings.files.node_modules)
    except AssetMissing as exc:
        raise NotFound(str(exc)) from None
    return FileResponse(file, headers={"Cache-Control": "public, max-age=3600"})


# ------------------------------------------------------------------------------ maps


def _map_page(
    request: Request,
    services: Services,
    lang: str | None,
    today: str | None,
    build: Callable[..., folium.Map],
    *args: str,
    title: str,
    remote: bool = True,
) -> HTMLResponse:
    """A map page: ``build(frames, *args, ...)`` over the store's layers, the findings and
    the available land of the day; an id naming nothing is a 404 page.

    The map's HTML is built once per view (page, arguments, language, day, how large layers
    load) and store state
    (:meth:`Services.map_state`, kept in ``services.pages``); the page around it (the
    signed-in user, the CSRF field, the nonce) is rendered for each request."""
    language = parse_lang(lang)
    day = _day(today)
    far = _remote(request, day) if remote else None
    try:
        parts = _kept_map_parts(services, day, language, build, args, remote=far)
    except FeatureNotFound as exc:
        return _error(request, language, str(exc), status=404)
    heading = " ".join([text(title, language), *args])
    return render(request, "map.html", language, title=heading, nav="map", **parts)


def _kept_map_parts(
    services: Services,
    day: dt.date,
    language: Lang,
    build: Callable[..., folium.Map],
    args: tuple[str, ...],
    *,
    remote: maps.RemoteLoading | None,
) -> dict[str, Any]:
    """:func:`_map_parts` kept in ``services.pages`` per view and store state."""
    view = ("map", build.__name__, args, language, day, remote)
    return services.pages.get(
        view,
        services.map_state,
        lambda: _map_parts(services, day, language, build, args, remote=remote),
    )


def warm_overview(services: Services) -> None:
    """Build ``/map``'s map for today in both languages, as its first visitors would ask
    (``gazar serve`` does it when it starts, after the layers and findings)."""
    day = dt.date.today()
    for language in LANGS:
        _kept_map_parts(
            services, day, language, maps.overview_map, (), remote=_remote_for(services, day)
        )


def _map_parts(
    services: Services,
    day: dt.date,
    language: Lang,
    build: Callable[..., folium.Map],
    args: tuple[str, ...],
    *,
    remote: maps.RemoteLoading | None,
) -> dict[str, Any]:
    frames, findings, free = services.frames(), services.findings(day), services.available_land(day)
    extra: dict[str, Any] = {"place_links": True, "applications": services.pending_applications()}
    if remote is not None:
        extra["remote"] = remote
    m = build(
        frames,
        *args,
        lang=language,
        findings=findings,
        available=free,
        recovery=services.recovery_layer(),
        **extra,
    )
    return map_parts(m)


@router.get("/map", response_class=HTMLResponse)
def map_overview(
    request: Request, services: ServicesDep, lang: Lang_ = None, today: Today_ = None
) -> HTMLResponse:
    """Every soum and every layer."""
    return _map_page(request, services, lang, today, maps.overview_map, title="title_overview")


@router.get("/map/soum/{code}", response_class=HTMLResponse)
def map_soum(
    request: Request, code: str, services: ServicesDep, lang: Lang_ = None, today: Today_ = None
) -> HTMLResponse:
    """One soum."""
    return _map_page(request, services, lang, today, maps.soum_map, code, title="title_soum")


@router.get("/map/land-conclusion/{feature_id}", response_class=HTMLResponse)
def map_land_conclusion(
    request: Request,
    feature_id: str,
    services: ServicesDep,
    lang: Lang_ = None,
    today: Today_ = None,
) -> HTMLResponse:
    """One Land Conclusion with its parcels (drawn whole: no layer is loaded by bbox)."""
    return _map_page(
        request, services, lang, today, maps.land_conclusion_map, feature_id,
        title="title_land_conclusion", remote=False,
    )  # fmt: skip


# ------------------------------------------------------------------------------ check


@router.get("/check", response_class=HTMLResponse)
def check_form(request: Request, services: ServicesDep, lang: Lang_ = None) -> HTMLResponse:
    """Upload a file or draw a polygon (the map kept per store state, as the map pages')."""
    language = parse_lang(lang)
    far = _remote(request)

    def build() -> dict[str, Any]:
        m = maps.build_map(
            services.frames(),
            lang=language,
            title=text("check_title", language),
            remote=far,
            draw_field="drawn",
            hidden=("aimags",),
        )
        return map_parts(m)

    parts = services.pages.get(("check", language, far), services.map_state, build)
    return _check_page(request, language, parts, frames=services.frames())


def _check_page(
    request: Request,
    lang: Lang,
    m: folium.Map | dict[str, Any],
    *,
    frames: dict[str, gpd.GeoDataFrame],
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("kind", "parcel")
    context.setdefault("soum", "")
    return render(
        request,
        "check.html",
        lang,
        status=status,
        title=text("check_title", lang),
        nav="check",
        soums=_soum_choices(frames, lang),
        **(m if isinstance(m, dict) else map_parts(m)),
        **context,
    )


_CHUNK = 1 << 20


async def _read_upload(upload: UploadFile, cap: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > cap:
            raise PayloadTooLarge(
                f"{upload.filename}: larger than {cap:,} bytes (GAZAR_MAX_BODY_BYTES)"
            )
        parts.append(chunk)
    return b"".join(parts)


def _review(
    services: Services,
    proposal: gpd.GeoDataFrame,
    *,
    kind: str,
    soum: str | None,
    day: dt.date,
) -> Review:
    return services.review.check(
        proposal,
        kind="land_conclusion" if kind == "land_conclusion" else "parcel",
        today=day,
        soum=soum or None,
    )


@router.post("/check", response_class=HTMLResponse)
async def check_submit(
    request: Request,
    services: ServicesDep,
    file: Annotated[UploadFile | None, File()] = None,
    drawn: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "parcel",
    soum: Annotated[str, Form()] = "",
    lang: Annotated[str, Form()] = "mn",
    today: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The review of an uploaded file or a drawn polygon: verdict, findings, the map."""
    language = parse_lang(lang)
    kind = "land_conclusion" if kind == "land_conclusion" else "parcel"
    notes: list[str] = []
    settings = services.settings.api
    try:
        if file is not None and file.filename:
            data = await _read_upload(file, settings.max_body_bytes)
            proposal, notes = await run_in_threadpool(
                proposal_from_file, file.filename, data, settings=settings
            )
        elif drawn.strip():
            proposal = proposal_from_body(drawn.encode("utf-8"), settings=settings)
        else:
            raise BadRequest(text("check_nothing", language))
    except GazarError as exc:
        frames = services.frames()
        m = maps.build_map(
            frames, lang=language, remote=_remote(request), draw_field="drawn", hidden=("aimags",)
        )
        status = 413 if isinstance(exc, PayloadTooLarge) else 422
        status = 503 if isinstance(exc, ReadersBusy) else status
        return _check_page(
            request,
            language,
            m,
            frames=frames,
            status=status,
            error=_public(request, str(exc)),
            kind=kind,
            soum=soum,
        )
    day = _day(today)

    def run() -> tuple[Review, folium.Map, dict[str, gpd.GeoDataFrame]]:
        result = _review(services, proposal, kind=kind, soum=soum, day=day)
        frames = services.frames()
        m = maps.review_map(result, frames, lang=language, draw_field="drawn")
        return result, m, frames

    result, m, frames = await run_in_threadpool(run)
    return _check_page(
        request,
        language,
        m,
        frames=frames,
        result=result,
        notes=notes,
        kind=kind,
        soum=soum,
        proposal_json=script_json(proposal_geojson(proposal)),
        source=file.filename
        if file is not None and file.filename
        else text("doc_source_drawn", language),
    )


@router.get("/check/report", response_class=HTMLResponse)
def check_report_form(lang: Lang_ = None) -> Response:
    """Reports are made from a reviewed proposal: go to the check page."""
    return RedirectResponse("/check?lang=en" if parse_lang(lang) == "en" else "/check", 303)


@router.post("/check/report")
def check_report(
    request: Request,
    services: ServicesDep,
    proposal: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "parcel",
    soum: Annotated[str, Form()] = "",
    lang: Annotated[str, Form()] = "mn",
    format: Annotated[str, Form()] = "html",
    today: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
) -> Response:
    """The review as a document for the decision file: a printable HTML page
    (``format=html``) or a PDF (``format=pdf``, ``review-<id>-<date>.pdf``); checked by the
    signed-in user (``request.state.viewer``; never a form field, so nobody can sign for
    another)."""
    from web.documents import provenance_of, respond, viewer_name
    from web.report import review_document

    language = parse_lang(lang)
    if not proposal.strip():
        return _error(request, language, text("report_missing", language), status=400,
                      nav="check")  # fmt: skip
    frame = proposal_from_body(proposal.encode("utf-8"), settings=services.settings.api)
    result = _review(services, frame, kind=kind, soum=soum, day=_day(today))
    prov = provenance_of(services)
    doc = review_document(
        result, lang=language, frames=services.frames(), revision=prov.revision,
        head_seq=prov.head_seq, head_hash=prov.head_hash,
        checked_by=viewer_name(request), proposal=frame,
        source=source.strip()[:200] or None,
    )  # fmt: skip
    return respond(request, services, doc, "pdf" if format == "pdf" else "html")


# ------------------------------------------------------------------------------ availability


_HA_COLUMNS: Final = ("area_ha", "allocated_ha", "rehab_blocked_ha", "excluded_ha", "available_ha")


@router.get("/availability", response_class=HTMLResponse)
def availability_page(
    request: Request, services: ServicesDep, lang: Lang_ = None, today: Today_ = None
) -> HTMLResponse:
    """Available hectares per soum and Land Conclusion, with the free land on a map."""
    language = parse_lang(lang)
    day = _day(today)
    frames, free = services.frames(), services.available_land(day)
    names = dict(_soum_choices(frames, language))
    lcs = pd.DataFrame(free.drop(columns="geometry")).to_dict("records")
    per_soum = availability_totals(free, by="soum_code") if len(free) else pd.DataFrame()
    soums = [
        {**row, "count": row["land_conclusions"], "name": names.get(str(row["soum_code"]), "")}
        for row in per_soum.to_dict("records")
    ]
    totals = {c: float(free[c].sum()) for c in _HA_COLUMNS} if len(free) else {}
    in_force = frames["land_conclusions"]
    in_force = in_force[in_force["id"].astype(str).isin(free["id"].astype(str))]
    m = maps.build_map(
        {"soums": frames["soums"], "land_conclusions": in_force},
        lang=language,
        title=text("title_availability", language),
        available=free,
        bounds=maps._bounds_of([in_force]) if len(in_force) else None,
    )
    return render(
        request,
        "availability.html",
        language,
        title=text("availability_title", language),
        nav="availability",
        lcs=lcs,
        soums=soums,
        totals=totals,
        ha_columns=_HA_COLUMNS,
        today=day.isoformat(),
        **map_parts(m),
    )


# ------------------------------------------------------------------------------ register


_LC_DATES: Final = (
    "proposed_on",
    "khural_approved_on",
    "submitted_on",
    "decided_on",
    "valid_until",
)
_PARCEL_DATES: Final = ("signed_on", "starts_on", "expires_on")


def _date_text(values: pd.Series) -> list[str]:
    return [v.isoformat()[:10] if hasattr(v, "isoformat") else "" for v in values]


def _hectares(frame: gpd.GeoDataFrame) -> list[float | None]:
    if len(frame) == 0:
        return []
    return [float(v) for v in official_ha(np.asarray(frame.geometry.array, dtype=object))]


@router.get("/register", response_class=HTMLResponse)
def register_page(
    request: Request,
    services: ServicesDep,
    lang: Lang_ = None,
    soum: Annotated[str | None, Query(description="Only this soum, e.g. MN4322")] = None,
) -> HTMLResponse:
    """The public register: Land Conclusions and contracts with their statuses and dates, and
    the allocation record (queue, decisions, objections, draws, contracts about to expire, the
    log head) as the feeds publish it (:mod:`web.register`)."""
    language = parse_lang(lang)
    limit = services.settings.web.register_rows
    frames = services.layers.all(("land_conclusions", "contract_parcels", "soums"))
    record = allocation_record(
        read_register(services.allocation),
        lang=language,
        soum=soum or None,
        land_conclusions=frames["land_conclusions"],
        limit=limit,
        actors=register_actors(services, language),
    )
    lcs, parcels = frames["land_conclusions"], frames["contract_parcels"]
    if soum:
        lcs = lcs[lcs["soum_code"].astype(str) == soum]
        parcels = parcels[parcels["land_conclusion_id"].astype(str).isin(lcs["id"].astype(str))]
    names = dict(_soum_choices(frames, language))
    lcs = lcs.sort_values(["soum_code", "id"])
    parcels = parcels.sort_values(["land_conclusion_id", "id"])
    shown_lcs, shown_parcels = lcs.iloc[:limit], parcels.iloc[:limit]

    def lab(group: str, values: pd.Series) -> list[str]:
        return [label(group, str(v), language) if isinstance(v, str) else "" for v in values]

    lc_table = pd.DataFrame(
        {
            "id": shown_lcs["id"].astype(str),
            "name": shown_lcs["name"].fillna(""),
            "soum": [f"{names.get(str(c), '')} ({c})" for c in shown_lcs["soum_code"]],
            "status": lab("land_conclusion_status", shown_lcs["status"]),
            "requested_by": lab("requested_by", shown_lcs["requested_by"]),
            **{c: _date_text(shown_lcs[c]) for c in _LC_DATES},
            "decision_ref": shown_lcs["decision_ref"].fillna(""),
            "official_ha": _hectares(shown_lcs),
        }
    )
    women = shown_parcels["members_women"].astype("Int64").astype(str).replace("<NA>", "")
    men = shown_parcels["members_men"].astype("Int64").astype(str).replace("<NA>", "")
    parcel_table = pd.DataFrame(
        {
            "id": shown_parcels["id"].astype(str),
            "contract_no": shown_parcels["contract_no"].fillna(""),
            "holder": shown_parcels["holder"].fillna(""),
            "holder_type": lab("holder_type", shown_parcels["holder_type"]),
            "members": (women + " / " + men).to_numpy(),
            "land_conclusion_id": shown_parcels["land_conclusion_id"].astype(str),
            "status": lab("contract_status", shown_parcels["status"]),
            **{c: _date_text(shown_parcels[c]) for c in _PARCEL_DATES},
            "official_ha": _hectares(shown_parcels),
        }
    )
    lc_rows = lc_table.to_dict("records")
    parcel_rows = parcel_table.to_dict("records")
    return render(
        request,
        "register.html",
        language,
        title=text("register_title", language),
        nav="register",
        soums=_soum_choices(frames, language),
        soum=soum or "",
        lcs={"rows": lc_rows, "total": len(lcs)},
        contracts={"rows": parcel_rows, "total": len(parcels)},
        record=record,
        expiring_days=services.settings.analysis.expiring_days,
        feeds=FEEDS,
    )


__all__ = ["map_parts", "render", "router"]
