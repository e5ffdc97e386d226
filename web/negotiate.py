"""One address per object for people and programs: content negotiation by ASGI middleware.

``/``, ``/applications/{number}``, ``/land_conclusions/{id}``, ``/contracts/{parcel_id}`` and
``/draws/{id}``, and the OGC API's ``/collections``, ``/collections/{id}`` and
``/collections/{id}/items`` are answered by the JSON API (the routes of ``api/routes``) unless
the request prefers HTML: then :class:`Negotiate` rewrites a GET or HEAD to the page's internal path
(``/_pages/...``, served by :mod:`web.objects`), so neither the routes nor the pages import the
other. A request prefers HTML when ``?f=html`` is given, or (without ``f``) when its ``Accept``
header rates ``text/html`` above ``application/json`` (a browser's navigation); no ``Accept``,
``*/*``, ``application/json`` or ``?f=json`` keep the JSON. Every answer of these addresses
carries ``Vary: Accept`` and a ``Link`` to the other form (``rel="alternate"``). The ``f``
parameter is taken off the query before the route sees it.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, quote, urlencode

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware

#: internal prefix of the pages behind the negotiated addresses (not in the API document)
PAGES_PREFIX: Final = "/_pages"

#: an object address: a collection and one id (no further segment)
_OBJECT: Final = re.compile(r"^/(applications|land_conclusions|contracts|draws)/([^/]+)$")
#: the OGC API's collections, a collection and its items (their pages: :mod:`web.ogc_pages`)
_COLLECTIONS: Final = re.compile(r"^/collections(/[^/]+(/items)?)?$")

HTML: Final = "text/html"
JSON_TYPES: Final = ("application/json", "application/geo+json", "application/problem+json")


def _accept(header: str) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for f in fields[1:]:
            name, _, value = f.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out.append((media, q))
    return out


def prefers_html(accept: str | None, f: str | None = None) -> bool:
    """Whether a request asks for the page rather than the JSON.

    Examples
    --------
    >>> prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
    True
    >>> prefers_html(None), prefers_html("*/*"), prefers_html("application/json")
    (False, False, False)
    >>> prefers_html("application/json", "html"), prefers_html("text/html", "json")
    (True, False)
    >>> prefers_html("application/json;q=0.5, text/html;q=0.4")
    False
    """
    if f is not None:
        return f.lower() == "html"
    if not accept:
        return False
    rated = _accept(accept)
    html = max((q for m, q in rated if m in (HTML, "application/xhtml+xml")), default=0.0)
    json = max((q for m, q in rated if m in JSON_TYPES), default=0.0)
    return html > 0 and html > json


def page_path(path: str) -> str | None:
    """The internal page path of a negotiated address (None for any other path).

    Examples
    --------
    >>> page_path("/"), page_path("/draws/D-1"), page_path("/draws/D-1/run")
    ('/_pages/home', '/_pages/draws/D-1', None)
    """
    if path == "/":
        return f"{PAGES_PREFIX}/home"
    if _OBJECT.match(path) or _COLLECTIONS.match(path):
        return PAGES_PREFIX + path
    return None


def _link(path: str, query: list[tuple[str, str]], html: bool) -> bytes:
    other = "json" if html else "html"
    media = "application/json" if html else HTML
    target = quote(path) + "?" + urlencode([*query, ("f", other)])
    return f'<{target}>; rel="alternate"; type="{media}"'.encode("latin-1", "replace")


class Negotiate(HttpMiddleware):
    """Sends a browser's GET of an object address to its page; marks every answer of those
    addresses with ``Vary: Accept`` and the alternate's ``Link``."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        target = page_path(path)
        if target is None or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        fs = [v for k, v in query if k == "f"]
        rest = [(k, v) for k, v in query if k != "f"]
        accept = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept"), None
        )
        html = prefers_html(accept, fs[-1] if fs else None)
        scope = dict(scope)
        if html or not _COLLECTIONS.match(path):
            scope["query_string"] = urlencode(rest).encode("latin-1")
        # else: the OGC API's routes read ``f`` themselves (json, geojson; anything else is 400)
        if html:
            scope["path"] = target
            scope["raw_path"] = quote(target).encode("latin-1")
        link = _link(path, rest, html)

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.add_vary_header("Accept")
                headers.append("link", link.decode("latin-1"))
            await send(message)

        await self.app(scope, receive, send_marked)


__all__ = ["PAGES_PREFIX", "Negotiate", "page_path", "prefers_html"]
