"""Rendering the pages: the Jinja templates of ``web/templates`` with the helpers every one
uses, the nonce of the response's Content-Security-Policy on every script and style
(:mod:`web.headers`), and a folium map cut into the parts a page places."""

from __future__ import annotations

import datetime as dt
import functools
import re
from pathlib import Path
from typing import Any, Final, cast

import folium
import numpy as np
from branca.element import Figure
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup, escape

from geo.review_overlaps import STATUS_GROUP
from geo.rules import SEVERITY_LABELS
from layers.labels import Lang, label
from web.headers import add_nonce, request_nonce
from web.i18n import text
from web.session import CSRF_FIELD, apply_cookies, desk_path, viewer

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"


@pass_context
def _local_time_filter(context: Any, value: object) -> str:
    return local_time(value, float(context.get("utc_offset", 8.0)))


@functools.cache
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=False,
    )
    # ``{{ stamp | local_time }}``: Mongolia's time, YYYY-MM-DD HH:MM
    env.filters["local_time"] = _local_time_filter
    # ``{{ error | sentence }}``: a field's error as a sentence (capital first, full stop)
    env.filters["sentence"] = sentence
    return env


def sentence(value: object) -> str:
    """A message as a sentence: its first letter a capital (Cyrillic too) and a full stop at
    the end unless it ends with one (the services write their refusals in lower case, to be
    joined after a colon).

    Examples
    --------
    >>> sentence("the password is too short: at least 8 characters")
    'The password is too short: at least 8 characters.'
    >>> sentence("write your name.")
    'Write your name.'
    >>> sentence("cert.pdf: not a PDF")
    'cert.pdf: not a PDF.'
    >>> sentence("")
    ''
    """
    words = str(value).strip()
    if not words:
        return words
    first = words.split(maxsplit=1)[0].rstrip(":;,")
    if first.replace("'", "").isalpha():  # a word, not a file's name or an id
        words = words[0].upper() + words[1:]
    return words if words[-1] in ".!?…" else words + "."


def ha(value: object) -> str:
    """Hectares with two decimals; a dash for nothing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{float(value):,.2f}".replace(",", " ")  # type: ignore[arg-type]


def _pct(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{100 * float(value):.1f} %"  # type: ignore[arg-type]


def local_time(value: object, offset_hours: float = 8.0) -> str:
    """An ISO time stamp (UTC, as the ledger writes them) as Mongolia's time
    ``YYYY-MM-DD HH:MM`` (``offset_hours``: ``AnalysisSettings.utc_offset_hours``); a date
    stays a date, a dash for nothing, text that is no time stamp is shown as it is.

    Examples
    --------
    >>> local_time("2026-05-01T02:00:00.123456+00:00")
    '2026-05-01 10:00'
    >>> local_time("2026-05-01T23:30:00Z"), local_time("2026-05-01"), local_time(None)
    ('2026-05-02 07:30', '2026-05-01', '—')
    """
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        return value.isoformat()
    else:
        raw = str(value)
        if len(raw) <= 10:
            return raw
        try:
            moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return raw
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(dt.timezone(dt.timedelta(hours=offset_hours)))
    return local.strftime("%Y-%m-%d %H:%M")


def _offset_of(request: Request) -> float:
    services = getattr(request.app.state, "services", None) if "app" in request.scope else None
    settings = getattr(services, "settings", None)
    return float(getattr(getattr(settings, "analysis", None), "utc_offset_hours", 8.0))


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


def status_text(layer: str, value: object, lang: Lang) -> str:
    """A stored feature's status (or stage, or kind) as a person reads it."""
    if value is None:
        return ""
    group = STATUS_GROUP.get(layer)
    return label(group, str(value), lang) if group else str(value)


#: the desk's steps a redirect confirms with ``?done=`` (catalogue ``desk_done_<step>``)
DESK_STEPS: Final = (
    "decided", "announced", "drawn", "renewed", "contract", "stage", "khural", "submitted",
    "proposed",
)  # fmt: skip


def render(
    request: Request, template: str, lang: Lang, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page from ``web/templates`` with the helpers every template uses: among them
    ``viewer`` (:class:`web.session.Viewer`), ``csrf_field()`` (the hidden CSRF input every
    form carries) and ``desk`` (the signed-in user's desk path, None for a visitor). A
    visitor's new CSRF cookie is set on the response."""
    side = 0 if lang == "mn" else 1
    offset = _offset_of(request)
    who = viewer(request)
    field = Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(who.csrf)}">')
    helpers = {
        "utc_offset": offset,
        "viewer": who,
        "csrf_field": lambda: field,
        "desk": desk_path(who.user) if who.user is not None else None,
        "role_label": lambda role: label("role", str(role), lang),
        "lang": lang,
        # a desk step done (``?done=khural``, web/desk.py's redirect): its confirmation
        "done_step": str(request.query_params.get("done", "")),
        "desk_steps": DESK_STEPS,
        "other_lang": "en" if lang == "mn" else "mn",
        "t": lambda key: text(key, lang),
        "url": _url_for(lang),
        "switch_url": _switch_url(request, lang),
        "ha": ha,
        "pct": _pct,
        "severity": lambda s: SEVERITY_LABELS.get(s, (s, s))[side],
        "layer": lambda name: label("layer", str(name), lang) if name else "",
        # the review's overlapped features (_review.html, on /check and MRPAM's review)
        "overlap_status": lambda layer, value: status_text(str(layer), value, lang),
        "shown": lambda n, total: (
            text("shown_first", lang).replace("{n}", f"{n:,}") + f" / {total:,}"
        ),
    }
    body = _env().get_template(template).render({**helpers, **context})
    # every <script> and <style> of the page may run under the response's policy
    response = HTMLResponse(add_nonce(body, request_nonce(request.scope)), status_code=status)
    apply_cookies(request, response)
    if who.signed_in:  # a page naming its user is nobody else's to keep
        response.headers.setdefault("Cache-Control", "no-store")
    return response


#: folium's viewport tag, which forbids pinch-zoom (the page's own tag in base.html allows it)
FOLIUM_VIEWPORT: Final = re.compile(r'<meta name="viewport"[^>]*user-scalable=no[^>]*>\s*')


def map_parts(m: folium.Map) -> dict[str, Any]:
    """A folium map cut into what a page places in its head, body and end (without folium's
    viewport tag: pinch-zoom stays allowed)."""
    root = cast(Figure, m.get_root())
    root.render()
    return {
        "map_header": FOLIUM_VIEWPORT.sub("", root.header.render()),
        "map_html": root.html.render(),
        "map_script": root.script.render(),
    }


__all__ = ["TEMPLATES", "ha", "local_time", "map_parts", "render"]
