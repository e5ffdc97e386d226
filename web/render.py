"""Rendering the pages: the Jinja templates of ``web/templates`` with the helpers every one
uses, the nonce of the response's Content-Security-Policy on every script and style
(:mod:`web.headers`), and a folium map cut into the parts a page places."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Final, cast

import folium
import numpy as np
from branca.element import Figure
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from geo.rules import SEVERITY_LABELS
from layers.labels import Lang, label
from web.headers import add_nonce, request_nonce
from web.i18n import text
from web.session import CSRF_FIELD, apply_cookies, desk_path, viewer

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"


@functools.cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=False,
    )


def ha(value: object) -> str:
    """Hectares with two decimals; a dash for nothing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{float(value):,.2f}".replace(",", " ")  # type: ignore[arg-type]


def _pct(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{100 * float(value):.1f} %"  # type: ignore[arg-type]


def _url_for(lang: Lang) -> Any:
    def url(path: str) -> str:
        return f"{path}{'&' if '?' in path else '?'}lang=en" if lang == "en" else path

    return url


def _switch_url(request: Request, lang: Lang) -> str:
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    if lang == "mn":
        params["lang"] = "en"
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return request.url.path + (f"?{query}" if query else "")


def render(
    request: Request, template: str, lang: Lang, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page from ``web/templates`` with the helpers every template uses: among them
    ``viewer`` (:class:`web.session.Viewer`), ``csrf_field()`` (the hidden CSRF input every
    form carries) and ``desk`` (the signed-in user's desk path, None for a visitor). A
    visitor's new CSRF cookie is set on the response."""
    side = 0 if lang == "mn" else 1
    who = viewer(request)
    field = Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(who.csrf)}">')
    helpers = {
        "viewer": who,
        "csrf_field": lambda: field,
        "desk": desk_path(who.user) if who.user is not None else None,
        "role_label": lambda role: label("role", str(role), lang),
        "lang": lang,
        "other_lang": "en" if lang == "mn" else "mn",
        "t": lambda key: text(key, lang),
        "url": _url_for(lang),
        "switch_url": _switch_url(request, lang),
        "ha": ha,
        "pct": _pct,
        "severity": lambda s: SEVERITY_LABELS.get(s, (s, s))[side],
        "layer": lambda name: label("layer", str(name), lang) if name else "",
        "shown": lambda n, total: (
            text("shown_first", lang).replace("{n}", f"{n:,}") + f" / {total:,}"
        ),
    }
    body = _env().get_template(template).render(**helpers, **context)
    # every <script> and <style> of the page may run under the response's policy
    response = HTMLResponse(add_nonce(body, request_nonce(request.scope)), status_code=status)
    apply_cookies(request, response)
    if who.signed_in:  # a page naming its user is nobody else's to keep
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def map_parts(m: folium.Map) -> dict[str, Any]:
    """A folium map cut into what a page places in its head, body and end."""
    root = cast(Figure, m.get_root())
    root.render()
    return {
        "map_header": root.header.render(),
        "map_html": root.html.render(),
        "map_script": root.script.render(),
    }


__all__ = ["TEMPLATES", "ha", "map_parts", "render"]
