"""Bearer tokens over HTTP: the user of a request, for the routes (``UserDep``).

Tokens are made by ``gazar users add NAME --role ROLE [--soum CODE] [--aimag CODE]``, shown
once and stored only as a salted hash (``layers.ledger``). A request without a token may read
(the register, applications, draws); every write needs one. Who may do what, and the object
check every write makes, are the service layer's (:mod:`api.services.access`; its names are
re-exported here).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any

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
from api.services.errors import TooManyRequests
from api.services.messages import both
from layers.ledger import Ledger, User

__all__ = [
    "LOCAL",
    "PERMISSIONS",
    "SCOPED",
    "Action",
    "FailedTokens",
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
    "`Authorization: Bearer <token>`. Public reads need none, nor does an objection; "
    "every other write, and reading an application's documents, needs one.",
    auto_error=False,
)


class FailedTokens:
    """Failed token checks per client address, so that guessing tokens is slow.

    After ``limit`` failures from one address within ``window_s`` seconds, every token from
    that address is refused (429, ``Retry-After``) before it is checked, until the oldest of
    those failures is ``window_s`` old; a good token from another address still works. The
    counts live in this process's memory: a restart forgets them, and each worker of a
    multi-process server counts on its own (the limit is then per worker).
    """

    def __init__(
        self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[address]
        return times

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try a token again; None when it may now."""
        with self._lock:
            now = self.clock()
            times = self._recent(address, now)
            if len(times) < self.limit:
                return None
            return max(1, math.ceil(times[-self.limit] + self.window_s - now))

    def failed(self, address: str) -> None:
        """Count one failed check from ``address``."""
        with self._lock:
            now = self.clock()
            self._recent(address, now)
            self._failures.setdefault(address, deque()).append(now)
            # an address's record never outgrows what the limit reads
            times = self._failures[address]
            while len(times) > self.limit:
                times.popleft()


def failed_tokens(request: Request) -> FailedTokens:
    """The app's :class:`FailedTokens` (made by ``api.app.create_app``)."""
    counter: FailedTokens = request.app.state.failed_tokens
    return counter


def current_user(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> User | None:
    """The user of the request's token; None without one; 401 for a bad token, 429 while the
    client's address has failed too often (:class:`FailedTokens`)."""
    token = bearer(request)
    if token is None:
        return None
    counter = failed_tokens(request)
    address = client_address(request) or "unknown"
    wait = counter.retry_after(address)
    if wait is not None:
        raise TooManyRequests(both("security_message", "too_many_failures", seconds=wait), wait)
    user = get_allocation(request).authenticate(token)
    if user is None:
        counter.failed(address)
        raise Unauthorized(both("access_message", "bad_token"))
    return user


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
UserDep = Annotated[User | None, Depends(current_user)]


def _proxies(request: Request) -> list[Any]:
    """The networks of the trusted proxies (``GAZAR_TRUSTED_PROXIES``); none before start-up."""
    services = getattr(request.app.state, "services", None)
    return [] if services is None else list(services.settings.api.proxies())


def _trusted_peer(request: Request) -> bool:
    proxies = _proxies(request)
    if not proxies or request.client is None:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(peer in net for net in proxies)


def is_https(request: Request) -> bool:
    """Whether the request came over HTTPS: its own scheme, or a trusted proxy's
    ``X-Forwarded-Proto``."""
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto == "https" and _trusted_peer(request)


def client_address(request: Request) -> str | None:
    """The client's address: the peer's, or, behind a trusted proxy, the last address of
    ``X-Forwarded-For`` that is not itself a trusted proxy."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded or not _trusted_peer(request):
        return peer
    proxies = _proxies(request)
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        try:
            ip = ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not any(ip in net for net in proxies):
            return str(ip)
    return peer
