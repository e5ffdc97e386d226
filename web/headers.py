"""Security headers on every response, and the per-response nonce of the pages' scripts.

:class:`SecurityHeaders` (an ASGI middleware installed by ``api.app.create_app``) gives every
HTTP response ``Content-Security-Policy``, ``X-Content-Type-Options: nosniff``,
``Referrer-Policy: same-origin`` and ``X-Frame-Options: SAMEORIGIN``. The policy lets a page run
only the server's own files (``/static/...``) and the ``<script>`` and ``<style>`` elements
carrying the response's nonce: :func:`add_nonce` gives one to every such element a rendered
page holds (folium writes its map as inline script and style). No data can carry a nonce: every
value embedded in a page is escaped (:mod:`web.safejson`, Jinja's autoescape), so no text of a
store ever forms a ``<script`` tag. Images may also be ``data:`` addresses and the optional
online basemap's tiles. The API documentation (``/api.html``, :mod:`web.apidocs`) is served
under the same policy: Swagger UI comes from ``/static/vendor/swagger-ui/``, no CDN.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import urlsplit

from api.middleware import HttpMiddleware
from web.maps.styles import BASEMAP_TILES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: the key of the nonce in the request's state (``request.state.csp_nonce``)
NONCE_KEY: Final = "csp_nonce"

_TILES = "{0.scheme}://{0.netloc}".format(urlsplit(BASEMAP_TILES))


def policy(nonce: str) -> str:
    """The Content-Security-Policy of a response whose pages' elements carry ``nonce``."""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            f"img-src 'self' data: {_TILES}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


_TAG = re.compile(r"<(script|style)(?=[\s>])", re.IGNORECASE)


def add_nonce(html: str, nonce: str | None) -> str:
    """Every ``<script>`` and ``<style>`` element of a rendered page with ``nonce``.

    Examples
    --------
    >>> add_nonce('<style>a{}</style><script src="/static/x.js"></script>', "N")
    '<style nonce="N">a{}</style><script nonce="N" src="/static/x.js"></script>'
    >>> add_nonce("<script>", None)
    '<script>'
    """
    if not nonce:
        return html
    return _TAG.sub(lambda m: f'<{m.group(1)} nonce="{nonce}"', html)


def request_nonce(scope: Scope) -> str | None:
    """The nonce :class:`SecurityHeaders` gave this request (None outside the middleware)."""
    state = scope.get("state") or {}
    value = state.get(NONCE_KEY)
    return value if isinstance(value, str) else None


class SecurityHeaders(HttpMiddleware):
    """The headers above on every HTTP response."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[NONCE_KEY] = nonce
        csp = policy
        extra = [
            (b"content-security-policy", csp(nonce).encode("ascii")),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"SAMEORIGIN"),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in extra}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = ["NONCE_KEY", "SecurityHeaders", "add_nonce", "policy", "request_nonce"]
