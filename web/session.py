"""INTERIM stand-in for the "auth" helper's module (issue 13): the same names and signatures
(``Viewer``, ``viewer``, ``ViewerDep``, ``form_with_csrf``, ``require``, ``CsrfRefused``,
``SignInNeeded``), so that the organisation's pages can be built and tested before it lands.
On merge, take the auth helper's file whole; nothing else depends on what is below.

Here the signed-in user is the one whose API token is in the ``gazar_token`` cookie, and the
CSRF token is derived from that token (signed in) or from a random ``gazar_anon`` cookie
(anonymous; set by the page that shows the form, ``request.state.new_anon``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from api.services.access import Forbidden, Unauthorized
from layers.ledger import User

__all__ = [
    "CsrfRefused",
    "SignInNeeded",
    "Viewer",
    "ViewerDep",
    "form_with_csrf",
    "require",
    "viewer",
]


class CsrfRefused(Forbidden):
    """A state-changing form without the viewer's CSRF token (403, nothing written)."""


class SignInNeeded(Unauthorized):
    """A page that needs a signed-in user (a redirect to ``/login?next=...``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"sign in to open {path}")


@dataclass(frozen=True)
class Viewer:
    user: User | None
    csrf: str
    session_id: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.user is not None


def _csrf(seed: str) -> str:
    return hashlib.sha256(f"gazar-csrf:{seed}".encode()).hexdigest()


def viewer(request: Request) -> Viewer:
    cached = getattr(request.state, "viewer", None)
    if isinstance(cached, Viewer):
        return cached
    token = request.cookies.get("gazar_token")
    user = None
    if token:
        user = request.app.state.services.allocation.authenticate(token)
    if user is not None and token:
        found = Viewer(user, _csrf(token), session_id=_csrf(token)[:16])
    else:
        anon = request.cookies.get("gazar_anon")
        if not anon:
            anon = secrets.token_urlsafe(24)
            request.state.new_anon = anon
        found = Viewer(None, _csrf(anon))
    request.state.viewer = found
    return found


ViewerDep = Annotated[Viewer, Depends(viewer)]


async def form_with_csrf(request: Request, viewer: Viewer) -> FormData:
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, viewer.csrf):
        raise CsrfRefused("the form's csrf_token does not match this session")
    return form


def require(viewer: Viewer, *roles: str) -> User:
    if viewer.user is None:
        raise SignInNeeded("/")
    if viewer.user.role != "admin" and viewer.user.role not in roles:
        raise Forbidden(f"{viewer.user.name} ({viewer.user.role}) may not open this page")
    return viewer.user
