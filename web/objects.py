"""The pages people land on: the home page and one page per allocation object.

``/`` and the object addresses ``/applications/{number}``, ``/land_conclusions/{id}``,
``/contracts/{parcel_id}`` and ``/draws/{id}`` answer a browser with these pages and a program
with JSON: :class:`web.negotiate.Negotiate` sends a request preferring HTML to the internal
paths below (``/_pages/...``, not in the API document). Each page reads the same services the
JSON routes call (:class:`api.services.allocation.AllocationService`,
:mod:`api.services.objects`), never a route. An id naming nothing is a 404 page.

Every object page has an ``{% block actions %}`` filled from ``web/templates/actions/<kind>.html``
(``application``, ``land_conclusion``, ``contract``, ``draw``): the forms the signed-in user may
take on the object (approve, object, renew, ...), added by the workbench's other parts. The
partial gets the page's whole context: ``obj`` (the object's document), ``viewer`` (or None)
and ``csrf_field``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Final

import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from api.deps import ServicesDep
from api.services import Services
from api.services.allocation import LedgerUnavailable
from api.services.objects import (
    contract_document,
    land_conclusion_document,
    local_today,
    soum_names,
)
from layers.errors import FeatureNotFound
from layers.labels import Lang
from web.i18n import parse_lang, text
from web.negotiate import PAGES_PREFIX
from web.register import draw_recipe, reason_rows, register_actors
from web.render import render
from web.session import viewer as viewer_of

router = APIRouter(tags=["pages"], include_in_schema=False)

Lang_ = Annotated[str | None, Query(description="mn (default) or en")]

#: the links of the home page: (text key, path)
HOME_LINKS: Final = (
    ("home_map", "/map"),
    ("home_register", "/register"),
    ("home_check", "/check"),
    ("home_availability", "/availability"),
    ("home_api", "/api.html"),
)


def _side(lang: Lang) -> str:
    return "mn" if lang == "mn" else "en"


def _not_found(request: Request, lang: Lang, message: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        lang,
        status=404,
        title=text("not_found", lang),
        heading=text("not_found", lang),
        message=message,
        nav="register",
        back="/register",
    )


# ------------------------------------------------------------------------------ sketch


def _rings(geom: Any) -> Iterable[tuple[Sequence[tuple[float, float]], bool]]:
    """Each ring (closed) or line (open) of a geometry, with whether it is closed."""
    for part in getattr(geom, "geoms", [geom]):
        if isinstance(part, shapely.Polygon):
            yield list(part.exterior.coords), True
            for hole in part.interiors:
                yield list(hole.coords), True
        elif isinstance(part, shapely.LineString):
            yield list(part.coords), False


def _points(geom: Any) -> list[tuple[float, float]]:
    return [(p.x, p.y) for p in getattr(geom, "geoms", [geom]) if isinstance(p, shapely.Point)]


def sketch(layers: Sequence[tuple[Any, str, str]], *, width: int = 480, height: int = 300) -> str:
    """A small north-up SVG map: ``layers`` of (geometry in EPSG:4326, CSS class, title),
    drawn in order and fitted to all of them; an empty string when there is nothing to draw.
    Titles are escaped; the colours are the classes' (``page.css``)."""
    shapes = [(g, c, t) for g, c, t in layers if g is not None and not g.is_empty]
    if not shapes:
        return ""
    x0, y0, x1, y1 = shapely.union_all([g for g, _, _ in shapes]).bounds
    kx = math.cos(math.radians((y0 + y1) / 2))  # metres per degree east, relative
    span_x, span_y = max((x1 - x0) * kx, 1e-9), max(y1 - y0, 1e-9)
    pad = 12
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    ox = (width - span_x * scale) / 2
    oy = (height - span_y * scale) / 2

    def at(x: float, y: float) -> str:
        return f"{ox + (x - x0) * kx * scale:.1f} {height - oy - (y - y0) * scale:.1f}"

    def d(geom: Any) -> str:
        return " ".join(
            "M " + " L ".join(at(x, y) for x, y, *_ in ring) + (" Z" if closed else "")
            for ring, closed in _rings(geom)
        )

    def mark(geom: Any, c: str, t: str) -> str:
        title = f"<title>{escape(t)}</title>"
        dots = "".join(
            f'<circle class="{c}" cx="{at(x, y).split()[0]}" cy="{at(x, y).split()[1]}" r="4">'
            f"{title}</circle>"
            for x, y in _points(geom)
        )
        lines = d(geom)
        fill = "" if geom.geom_type.endswith("Polygon") else ' fill="none"'
        path = (
            f'<path class="{c}" d="{lines}" fill-rule="evenodd"{fill}>{title}</path>'
            if lines
            else ""
        )
        return path + dots

    paths = "".join(mark(g, c, t) for g, c, t in shapes)
    return str(
        Markup(
            f'<svg class="object-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} '
            f'{height}" role="img" aria-label="{escape(shapes[-1][2])}">{paths}'
            f'<text x="{width - 18}" y="22" class="north">N ↑</text></svg>'
        )
    )


def _lc_geometry(services: Services, lc_id: object) -> Any:
    lcs = services.layers.get("land_conclusions")
    hit = lcs[lcs["id"].astype(str) == str(lc_id)]
    return hit.geometry.iloc[0] if len(hit) else None


def _lc_name(services: Services, lc_id: object) -> str:
    lcs = services.layers.get("land_conclusions")
    hit = lcs[lcs["id"].astype(str) == str(lc_id)]
    name = hit["name"].iloc[0] if len(hit) else None
    return name if isinstance(name, str) else ""


# ------------------------------------------------------------------------------ home


@router.get(f"{PAGES_PREFIX}/home", response_class=HTMLResponse)
def home(request: Request, lang: Lang_ = None) -> HTMLResponse:
    """What Gazar is, and the ways in; the user's desk once signed in."""
    language = parse_lang(lang)
    viewer = viewer_of(request)  # the session's user, read now (render reads it later)
    signed_in = viewer.signed_in
    return render(
        request,
        "home.html",
        language,
        title=text("home_title", language),
        nav="home",
        links=HOME_LINKS,
        signed_in=signed_in,
        user_name=viewer.user.name if viewer.user is not None else None,
    )


# ------------------------------------------------------------------------------ applications


@router.get(PAGES_PREFIX + "/applications/{number}", response_class=HTMLResponse)
def application_page(
    request: Request,
    number: str,
    services: ServicesDep,
    lang: Lang_ = None,
    objection: Annotated[str | None, Query(description="an objection just recorded")] = None,
) -> HTMLResponse:
    """One application: who, where, when, its status and reasons, its place in the queue, the
    objection window, objections, draws and the decision, and a small map."""
    language = parse_lang(lang)
    allocation = services.allocation
    try:
        doc = allocation.application(number)
    except FeatureNotFound:
        return _not_found(request, language, text("object_no_application", language))
    today = local_today(services)
    side = _side(language)
    until = doc.get("objection_until")
    days_left = None
    if until:
        import datetime as dt

        days_left = (dt.date.fromisoformat(str(until)[:10]) - today).days
    draws = [d for d in allocation.draws() if number in d["applications"]]
    soum = soum_names(services, doc.get("soum_code"))
    lc_geom = _lc_geometry(services, doc["land_conclusion_id"])
    geom = shapely.geometry.shape(doc["geometry"]) if doc.get("geometry") else None
    lc_name = _lc_name(services, doc["land_conclusion_id"])
    actors = register_actors(services, language)
    decision = doc.get("decision")
    return render(
        request,
        "object_application.html",
        language,
        title=f"{text('object_application', language)} {number}",
        nav="register",
        kind="application",
        obj=doc,
        status_label=doc.get(f"status_{side}") or doc["status"],
        holder_type=doc.get(f"holder_type_{side}") or doc["holder_type"],
        reasons=reason_rows(doc.get("reasons") or [], language),
        notes=reason_rows(doc.get("notes") or [], language),
        soum_name=soum[0 if language == "mn" else 1],
        lc_name=lc_name,
        days_left=days_left,
        objections=[
            {"name": o.get("name"), "reason": o.get("reason"), "filed_at": o.get("filed_at")}
            for o in doc.get("objections") or []
        ],
        draws=draws,
        decision=decision,
        decided_by=actors(decision.get("actor")) if decision else None,
        sketch=sketch(
            [
                (lc_geom, "lc", f"{text('object_land_conclusion', language)} {lc_name}"),
                (geom, "app", f"{text('object_application', language)} {number}"),
            ]
        ),
        json_href=f"/applications/{number}?f=json",
        # the objection form's answer (web.apply): named only when it is this one's
        objection_filed=next(
            (str(o["id"]) for o in doc.get("objections") or [] if o.get("id") == objection), ""
        ),
    )


# --------------------------------------------------------------------------- land conclusions


@router.get(PAGES_PREFIX + "/land_conclusions/{lc_id}", response_class=HTMLResponse)
def land_conclusion_page(
    request: Request, lc_id: str, services: ServicesDep, lang: Lang_ = None
) -> HTMLResponse:
    """One Land Conclusion: name, soum, status and pipeline step, days waiting, area, its queue
    in order, its contracts and a small map."""
    language = parse_lang(lang)
    try:
        doc = land_conclusion_document(services, lc_id, today=local_today(services))
    except FeatureNotFound:
        return _not_found(request, language, text("object_no_land_conclusion", language))
    side = _side(language)
    props = doc["properties"]
    parcels = services.layers.get("contract_parcels")
    mine = parcels[parcels["land_conclusion_id"].astype(str) == lc_id]
    apps = [
        (shapely.geometry.shape(a["geometry"]), "app", str(a["id"]))
        for a in _application_shapes(services, lc_id)
    ]
    layers = [(shapely.geometry.shape(doc["geometry"]), "lc", str(props.get("name") or lc_id))]
    layers += [(g, "parcel", str(i)) for g, i in zip(mine.geometry, mine["id"], strict=True)]
    return render(
        request,
        "object_land_conclusion.html",
        language,
        title=f"{text('object_land_conclusion', language)} {lc_id}",
        nav="register",
        kind="land_conclusion",
        obj=doc,
        props=props,
        side=side,
        queue=[{**q, "status_label": q.get(f"status_{side}") or q["status"]} for q in doc["queue"]],
        contracts=doc["contracts"],
        sketch=sketch(layers + apps),
        json_href=f"/land_conclusions/{lc_id}?f=json",
        today=local_today(services).isoformat(),  # the Khural date's last day
    )


def _application_shapes(services: Services, lc_id: str) -> list[dict[str, Any]]:
    try:
        frame = services.allocation.ledger().applications(where={"land_conclusion_id": lc_id})
    except LedgerUnavailable:
        return []
    return [
        {"id": i, "geometry": shapely.geometry.mapping(g)}
        for i, g, s in zip(frame["id"], frame.geometry, frame["status"], strict=True)
        if s == "pending" and g is not None
    ]


# ------------------------------------------------------------------------------ contracts


@router.get(PAGES_PREFIX + "/contracts/{parcel_id}", response_class=HTMLResponse)
def contract_page(
    request: Request, parcel_id: str, services: ServicesDep, lang: Lang_ = None
) -> HTMLResponse:
    """One contract: holder, parcel, term, status, renewals, the holder's rehabilitation
    zones with their stage, and a small map."""
    language = parse_lang(lang)
    try:
        doc = contract_document(services, parcel_id, today=local_today(services))
    except FeatureNotFound:
        return _not_found(request, language, text("object_no_contract", language))
    props = doc["properties"]
    zones = services.layers.get("rehab_zones")
    ids = {str(z["id"]) for z in doc["rehab_zones"]}
    near = zones[zones["id"].astype(str).isin(ids)]
    layers = [
        (_lc_geometry(services, props.get("land_conclusion_id")), "lc", ""),
        (shapely.geometry.shape(doc["geometry"]), "parcel", parcel_id),
        *((g, "rehab", str(i)) for g, i in zip(near.geometry, near["id"], strict=True)),
    ]
    return render(
        request,
        "object_contract.html",
        language,
        title=f"{text('object_contract', language)} {parcel_id}",
        nav="register",
        kind="contract",
        obj=doc,
        props=props,
        side=_side(language),
        sketch=sketch(layers),
        json_href=f"/contracts/{parcel_id}?f=json",
    )


# ------------------------------------------------------------------------------ draws


@router.get(PAGES_PREFIX + "/draws/{draw_id}", response_class=HTMLResponse)
def draw_page(
    request: Request, draw_id: str, services: ServicesDep, lang: Lang_ = None
) -> HTMLResponse:
    """One draw: its applications, date, public value, run time, seed and order, and how
    anyone can recompute it, in words."""
    language = parse_lang(lang)
    try:
        doc = services.allocation.draw(draw_id)
    except FeatureNotFound:
        return _not_found(request, language, text("object_no_draw", language))
    actors = register_actors(services, language)
    check = doc.get("verification")
    return render(
        request,
        "object_draw.html",
        language,
        title=f"{text('object_draw', language)} {draw_id}",
        nav="register",
        kind="draw",
        obj=doc,
        status_label=text(f"draw_{doc['status']}", language),
        announced_by=actors(doc.get("announced_by")),
        run_by=actors(doc.get("run_by")) if doc.get("run_at") else None,
        verified=None if check is None else bool(check["ok"]),
        verification=None if check is None else check[f"message_{_side(language)}"],
        recipe=draw_recipe(doc, language),
        lc_name=_lc_name(services, doc.get("land_conclusion_id")),
        json_href=f"/draws/{draw_id}?f=json",
    )


__all__ = ["HOME_LINKS", "router", "sketch"]
