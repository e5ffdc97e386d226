"""The OGC API – Features collections as pages for people (the HTML conformance class).

``/collections``, ``/collections/{id}`` and ``/collections/{id}/items`` answer a browser with
these pages and a program with JSON (or GeoJSON), as pygeoapi does: :class:`web.negotiate.
Negotiate` sends a request preferring HTML (a browser's navigation, or ``?f=html``) to the
internal paths below. The pages read the same collections the JSON routes serve
(:class:`api.services.collections.CollectionCache`), never a route: the items page shows one
page of features (``limit`` ≤ 100, ``offset``), their properties in a table and a small map.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import ServicesDep
from api.services.collection_schema import carries_area, geometry_type
from api.services.collections import COLLECTIONS, ItemQuery, select
from layers.labels import Lang
from web.i18n import parse_lang, text
from web.negotiate import PAGES_PREFIX
from web.objects import sketch
from web.render import render

router = APIRouter(tags=["pages"], include_in_schema=False)

Lang_ = Annotated[str | None, Query(description="mn (default) or en")]

#: features on one items page, by default and at most
PAGE_SIZE: Final = 20
PAGE_MAX: Final = 100


def _title(definition: Any, lang: Lang) -> str:
    return str(definition.title_mn if lang == "mn" else definition.title_en)


def _description(definition: Any, lang: Lang) -> str:
    return str(definition.description_mn if lang == "mn" else definition.description_en)


def _missing(request: Request, lang: Lang, cid: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        lang,
        status=404,
        title=text("not_found", lang),
        heading=text("not_found", lang),
        message=text("ogc_no_collection", lang).format(id=cid),
        nav="register",
        back="/collections",
    )


@router.get(f"{PAGES_PREFIX}/collections", response_class=HTMLResponse)
def collections_page(request: Request, services: ServicesDep, lang: Lang_ = None) -> HTMLResponse:
    language = parse_lang(lang)
    rows = []
    for cid, definition in COLLECTIONS.items():
        data = services.collections.get(cid)
        rows.append(
            {
                "id": cid,
                "title": _title(definition, language),
                "description": _description(definition, language),
                "count": len(data),
                "geometry": geometry_type(definition),
                "derived": definition.derived,
            }
        )
    return render(
        request,
        "ogc_collections.html",
        language,
        title=text("ogc_collections", language),
        nav="register",
        rows=rows,
    )


@router.get(f"{PAGES_PREFIX}/collections/{{cid}}", response_class=HTMLResponse)
def collection_page(
    request: Request, cid: str, services: ServicesDep, lang: Lang_ = None
) -> HTMLResponse:
    language = parse_lang(lang)
    definition = COLLECTIONS.get(cid)
    if definition is None:
        return _missing(request, language, cid)
    data = services.collections.get(cid)
    frame, _ha, _geoms = data.rows(np.array([], dtype=np.intp))
    fields = [c for c in frame.columns if str(frame[c].dtype) != "geometry"]
    return render(
        request,
        "ogc_collection.html",
        language,
        title=_title(definition, language),
        nav="register",
        c={
            "id": cid,
            "title": _title(definition, language),
            "description": _description(definition, language),
            "count": len(data),
            "geometry": geometry_type(definition),
            "bbox": None if data.bbox is None else [round(v, 5) for v in data.bbox],
            "interval": data.interval,
            "queryables": [q.name for q in definition.queryables],
            "fields": fields,
        },
    )


@router.get(f"{PAGES_PREFIX}/collections/{{cid}}/items", response_class=HTMLResponse)
def items_page(
    request: Request,
    cid: str,
    services: ServicesDep,
    lang: Lang_ = None,
    limit: Annotated[int, Query(ge=1)] = PAGE_SIZE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    language = parse_lang(lang)
    definition = COLLECTIONS.get(cid)
    if definition is None:
        return _missing(request, language, cid)
    data = services.collections.get(cid)
    chosen = select(data, ItemQuery(boxes=(), interval=None, equals={}))
    size = min(limit, PAGE_MAX)
    page = chosen[offset : offset + size]
    frame, ha, geoms = data.rows(page)
    fields = [c for c in frame.columns if str(frame[c].dtype) != "geometry"]
    rows = []
    for i, (_, row) in enumerate(frame.iterrows()):  # one page: at most PAGE_MAX rows
        values = ["" if _blank(row[f]) else str(row[f]) for f in fields]
        rows.append({"id": str(row["id"]), "values": values, "ha": float(ha[i])})
    ids = [str(r["id"]) for r in rows]
    picture = sketch([(g, "parcel", fid) for g, fid in zip(geoms, ids, strict=True)])
    base = f"/collections/{cid}/items"
    return render(
        request,
        "ogc_items.html",
        language,
        title=_title(definition, language),
        nav="register",
        c={"id": cid, "title": _title(definition, language)},
        fields=fields,
        rows=rows,
        area=carries_area(definition),
        sketch=picture,
        matched=len(chosen),
        first=offset + 1 if rows else 0,
        last=offset + len(rows),
        next_href=f"{base}?offset={offset + size}&limit={size}"
        if offset + size < len(chosen)
        else None,
        prev_href=f"{base}?offset={max(offset - size, 0)}&limit={size}" if offset > 0 else None,
    )


def _blank(value: Any) -> bool:
    """None, NaN or NaT: an empty cell."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list-like value is never blank here
        return False
