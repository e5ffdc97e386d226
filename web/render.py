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

from geo.rules import SEVERITY_LABELS
from layers.labels import Lang, label
from web.headers import add_nonce, request_nonce
from web.i18n import text

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
    """A page from ``web/templates`` with the helpers every template uses."""
    side = 0 if lang == "mn" else 1
    helpers = {
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
    return HTMLResponse(add_nonce(body, request_nonce(request.scope)), status_code=status)


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
