"""Bearer tokens over HTTP: the user of a request, for the routes (``UserDep``).

Tokens are made by ``gazar users add NAME --role ROLE [--soum CODE] [--aimag CODE]``, shown
once and stored only as a salted hash (``layers.ledger``). A request without a token may read
(the register, applications, draws); every write needs one. Who may do what, and the object
check every write makes, are the service layer's (:mod:`api.services.access`; its names are
re-exported here).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import get_allocation, get_services
from api.services.access import (
    LOCAL,
    PERMISSIONS,
    SCOPED,
    Action,
    Forbidden,
    Unauthorized,
    authorize,
    local_operator,
    require_role,
)
from api.services.messages import both
from layers.ledger import Ledger, User

__all__ = [
    "LOCAL",
    "PERMISSIONS",
    "SCOPED",
    "Action",
    "Forbidden",
    "LedgerDep",
    "Unauthorized",
    "UserDep",
    "authorize",
    "bearer",
    "current_user",
    "get_ledger",
    "local_operator",
    "require_role",
]


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if any."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(both("access_message", "bad_header"))
    return token.strip()


def get_ledger(request: Request) -> Ledger:
    """The ledger of the app's store: opened with the services in the app's lifespan, or on
    first use when that failed (:meth:`api.services.Services.open_ledger`)."""
    return get_services(request).open_ledger()


#: the OpenAPI document's ``bearerAuth`` scheme, declared on every operation taking a token;
#: it never refuses anything itself (:func:`bearer` reads the header, :func:`authorize` decides)
BEARER = HTTPBearer(
    scheme_name="bearerAuth",
    bearerFormat="gazar token",
    description="A token made by `gazar users add NAME --role ROLE` (shown once): "
    "`Authorization: Bearer <token>`. Reads need none; every write needs one.",
    auto_error=False,
)


def current_user(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> User | None:
    """The user of the request's token; None without one; 401 for a bad token."""
    token = bearer(request)
    if token is None:
        return None
    user = get_allocation(request).authenticate(token)
    if user is None:
        raise Unauthorized(both("access_message", "bad_token"))
    return user


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
UserDep = Annotated[User | None, Depends(current_user)]
