"""``/api.html``: the API's documentation, Swagger UI from the pinned npm package
``swagger-ui-dist`` served under ``/static/vendor/swagger-ui/`` (:mod:`web.assets`) and
started by ``web/static/api-docs.js``, so the page works with no network and under the same
Content-Security-Policy as every page (no inline script, no CDN)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from web.i18n import parse_lang, text
from web.render import render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/api.html", response_class=HTMLResponse)
def api_docs(
    request: Request,
    lang: Annotated[str | None, Query(description="mn (default) or en")] = None,
) -> HTMLResponse:
    """Swagger UI over the OpenAPI document (``/api``)."""
    language = parse_lang(lang)
    return render(
        request,
        "api_docs.html",
        language,
        title=text("api_docs_title", language),
        nav="api",
        openapi_url=request.app.openapi_url or "/api",
    )


__all__ = ["router"]
