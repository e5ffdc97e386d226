"""Who is looking at a page: the signed-in user of the session cookie, and the CSRF token of
every form.

- ``gazar_session``: the session id (random, made at sign-in; the store keeps only its hash,
  :class:`api.services.accounts.AccountService`). ``HttpOnly``, ``SameSite=Lax``, ``Path=/``,
  and ``Secure`` whenever the request came over HTTPS: the scheme is ``https``, or a trusted
  proxy (``GAZAR_TRUSTED_PROXIES``) says so in ``X-Forwarded-Proto``.
- Every form carries a hidden ``csrf_token`` (``{{ csrf_field() }}`` in a template). For a
  signed-in user it is the session's token, kept in the store beside the session; for a visitor
  it is the random ``gazar_csrf`` cookie (``HttpOnly``, ``SameSite=Lax``), which the form must
  echo (double submit), set by :func:`web.render.render` when the browser has none.
  :func:`form_with_csrf` reads a form and refuses it (:class:`CsrfRefused`, 403, nothing
  written) when the token is missing or not the viewer's. No page changes anything on GET.
- :func:`require` lets a page through for some roles: a visitor is sent to ``/login?next=``
  (:class:`SignInNeeded`, 303), another role gets 403 (``Forbidden``).
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Final
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from api.auth import client_address, is_https
from api.errors import login_url
from api.services.access import Forbidden
from api.services.accounts import CsrfRefused, SignInNeeded
from api.services.messages import both
from layers.errors import GazarError
from layers.ledger import User

if TYPE_CHECKING:
    from api.services import Services

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "DESKS",
    "SESSION_COOKIE",
    "CsrfRefused",
    "SignInNeeded",
    "Viewer",
    "ViewerDep",
    "apply_cookies",
    "client_address",
    "desk_path",
    "form_with_csrf",
    "is_https",
    "login_url",
    "require",
    "safe_next",
    "set_session_cookie",
    "viewer",
]

_LOG = logging.getLogger("gazar")

SESSION_COOKIE: Final = "gazar_session"
CSRF_COOKIE: Final = "gazar_csrf"
CSRF_FIELD: Final = "csrf_token"
#: the page each role starts from after signing in
DESKS: Final = {"soum": "/desk", "aimag": "/desk", "mrpam": "/inbox", "admin": "/admin"}
_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{32,64}")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the signed-in ``user`` (None for a visitor), the ``csrf`` token every
    form of the page must carry, and the session id of the cookie (None for a visitor)."""

    user: User | None
    csrf: str
    session_id: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.user is not None


def _services(request: Request) -> Services | None:
    return getattr(request.app.state, "services", None)


def viewer(request: Request) -> Viewer:
    """The viewer of a request (a FastAPI dependency; kept on ``request.state.viewer``).

    A session cookie that names no open session is a visitor's (and the cookie is cleared by
    :func:`apply_cookies`); a store that cannot be read leaves everyone a visitor.
    """
    known: Viewer | None = getattr(request.state, "viewer", None)
    if known is not None:
        return known
    services = _services(request)
    sid = request.cookies.get(SESSION_COOKIE)
    session = None
    if sid and _TOKEN.fullmatch(sid) and services is not None:
        try:
            session = services.accounts.session(sid)
        except GazarError as exc:
            _LOG.warning("the session could not be read: %s", exc)
    if session is not None:
        found = Viewer(session.user, session.csrf, sid)
    else:
        if sid:
            request.state.clear_session = True
        token = request.cookies.get(CSRF_COOKIE)
        if not token or not _TOKEN.fullmatch(token):
            token = secrets.token_urlsafe(32)
            request.state.new_csrf = token
        found = Viewer(None, token, None)
    request.state.viewer = found
    return found


ViewerDep = Annotated[Viewer, Depends(viewer)]


async def form_with_csrf(request: Request, viewer: Viewer) -> FormData:
    """The request's form (urlencoded or multipart), refused with :class:`CsrfRefused` when
    its ``csrf_token`` is missing or is not the viewer's. Every state-changing POST of a page
    calls this before doing anything."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), viewer.csrf.encode()):
        raise CsrfRefused()
    return form


def require(viewer: Viewer, *roles: str) -> User:
    """The signed-in user when its role is one of ``roles`` (an admin always passes).

    Raises
    ------
    SignInNeeded
        For a visitor (answered with a redirect to ``/login?next=<this page>``).
    Forbidden
        For another role (403).
    """
    user = viewer.user
    if user is None:
        raise SignInNeeded()
    if user.role != "admin" and user.role not in roles:
        raise Forbidden(both("signin_message", "role_page", name=user.name, role=user.role))
    return user


def desk_path(user: User) -> str:
    """Where a user starts: ``/desk`` (soum, aimag), ``/inbox`` (MRPAM), ``/admin``, ``/my``."""
    return DESKS.get(user.role, "/my")


# -- addresses, HTTPS and cookies ----------------------------------------------------------


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    """Give the browser its session id (ends with the browser or the session's lifetime)."""
    services = _services(request)
    hours = services.settings.api.session_lifetime_hours if services is not None else 12.0
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(hours * 3600),
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=is_https(request), httponly=True, samesite="lax"
    )


def apply_cookies(request: Request, response: Response) -> Response:
    """Set the cookies the viewer needs: a visitor's new CSRF token, the removal of a session
    cookie that names no open session."""
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE, token, path="/", secure=is_https(request), httponly=True, samesite="lax"
        )
    if getattr(request.state, "clear_session", False):
        clear_session_cookie(request, response)
    return response


# -- where to go ----------------------------------------------------------------------------


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (``/...``); None for anything else: another
    site (``//host``, ``https://...``, ``/\\host``), control characters, or nothing."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def error_page(request: Request, exc: Exception, status: int, message: str) -> HTMLResponse:
    """A refused page request (``exc``, answered ``status``) as a page in the page's language:
    ``message`` is ``"mn / en"`` as the service's refusals are written, or one text."""
    from web.i18n import parse_lang, text
    from web.render import render

    lang = parse_lang(request.query_params.get("lang"))
    heading = {403: "access_denied", 404: "not_found"}.get(status, "form_refused")
    if isinstance(exc, CsrfRefused):
        heading = "form_refused"
    if lang == "mn" and " / " in message:
        message = message.split(" / ", 1)[0]
    elif " / " in message:
        message = message.split(" / ", 1)[1]
    return render(
        request,
        "error.html",
        lang,
        status=status,
        title=text(heading, lang),
        heading=text(heading, lang),
        message=message,
        nav="map",
        back="/map",
    )
