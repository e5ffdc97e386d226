"""Domain errors → HTTP: one table, one handler. Domain code never imports FastAPI."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.responses import OrjsonResponse as ORJSONResponse
from api.responses import Problem
from api.services.access import Forbidden, Unauthorized
from api.services.accounts import CsrfRefused, SignInLocked, SignInNeeded, SignInRefused
from api.services.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unprocessable,
    hide_paths,
)
from layers.errors import (
    FeatureNotFound,
    GazarError,
    InputFileError,
    InvalidGeometry,
    LayerNotFound,
    RecordRefused,
    StoreError,
    ValidationFailed,
)
from layers.ledger import Conflict, WeakPassword
from layers.uploads import ReadersBusy

__all__ = [
    "STATUS",
    "BadRequest",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "Unprocessable",
    "allowed_methods",
    "install",
    "login_url",
]


#: most specific first; the first matching class decides the status
STATUS: tuple[tuple[type[GazarError], int, str], ...] = (
    (LayerNotFound, 404, "NotFound"),
    (FeatureNotFound, 404, "NotFound"),
    (NotFound, 404, "NotFound"),
    (BadRequest, 400, "InvalidParameterValue"),
    (SignInNeeded, 303, "SignInNeeded"),
    (CsrfRefused, 403, "CsrfRefused"),
    (SignInLocked, 429, "TooManyRequests"),
    (SignInRefused, 401, "Unauthorized"),
    (WeakPassword, 422, "InvalidInput"),
    (PayloadTooLarge, 413, "PayloadTooLarge"),
    (InvalidGeometry, 422, "InvalidGeometry"),
    (ValidationFailed, 422, "InvalidInput"),
    (RecordRefused, 422, "InvalidInput"),
    (InputFileError, 422, "InvalidInput"),
    (Unprocessable, 422, "InvalidInput"),
    (StoreError, 503, "StoreUnavailable"),
    (ReadersBusy, 503, "ServiceUnavailable"),
    (Unauthorized, 401, "Unauthorized"),
    (TooManyRequests, 429, "TooManyRequests"),
    (Forbidden, 403, "Forbidden"),
    (Conflict, 409, "Conflict"),
    (GazarError, 400, "BadRequest"),
)


def status_of(exc: GazarError) -> tuple[int, str]:
    for cls, status, code in STATUS:
        if isinstance(exc, cls):
            return status, code
    return 500, "ServerError"  # pragma: no cover - GazarError is the last row


def _body(code: str, description: str, status: int, **extra: object) -> dict[str, object]:
    return {"code": code, "description": description, "status": status, **extra}


#: how a refused page request is answered as a page: ``page(request, exc, status, message)``
PageErrors = Callable[[Request, Exception, int, str], Response]


def install(app: FastAPI, *, page: PageErrors | None = None) -> None:
    """Register the handlers that turn errors into JSON bodies naming the problem.

    ``page`` answers the requests of pages instead (those that looked up their viewer,
    ``request.state.viewer``; a refused form always): an HTML page with the message. A page
    for signed-in users asked for by a visitor (``SignInNeeded``) is a 303 to the sign-in.
    """

    def public(request: Request, text: str) -> str:
        """No server path in what a client reads (the store's name stays)."""
        settings = getattr(request.app.state, "settings", None)
        return hide_paths(text, *([settings.db] if settings is not None else []))

    @app.exception_handler(GazarError)
    async def _gazar(request: Request, exc: GazarError) -> Response:
        status, code = status_of(exc)
        if isinstance(exc, SignInNeeded):
            return RedirectResponse(login_url(request), status_code=303)
        is_page = getattr(request.state, "viewer", None) is not None
        if page is not None and (is_page or isinstance(exc, CsrfRefused)):
            return page(request, exc, status, public(request, str(exc)))
        extra: dict[str, object] = {}
        if isinstance(exc, ValidationFailed):
            extra["problems"] = [p.as_dict() for p in exc.problems]
            description = f"{len(exc.problems)} problem(s) found"
        else:
            description = public(request, str(exc))
        if isinstance(exc, Conflict) and exc.reasons:
            extra["reasons"] = [
                r.as_dict() if hasattr(r, "as_dict") else str(r) for r in exc.reasons
            ]
        headers = (
            {"Retry-After": str(exc.retry_after)}
            if isinstance(exc, TooManyRequests | SignInLocked)
            else None
        )
        return ORJSONResponse(
            _body(code, description, status, **extra), status_code=status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> ORJSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "body"))
            parts.append(f"{where}: {e.get('msg')}")
        return ORJSONResponse(
            _body("InvalidParameterValue", "; ".join(parts) or "invalid request", 400),
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ORJSONResponse:
        code = {404: "NotFound", 413: "PayloadTooLarge"}.get(exc.status_code, "HTTPError")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not only the first route's
            headers["Allow"] = ", ".join(allowed_methods(request))
        return ORJSONResponse(
            _body(code, public(request, str(exc.detail)), exc.status_code),
            status_code=exc.status_code,
            headers=headers,
        )


def login_url(request: Request) -> str:
    """``/login?next=`` the page asked for (a path of this site), ``lang=en`` kept."""
    from urllib.parse import quote

    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = f"/login?next={quote(here, safe='/')}"
    if request.query_params.get("lang") == "en":
        url += "&lang=en"
    return url


def allowed_methods(request: Request) -> list[str]:
    """The methods the routes matching ``request``'s path answer (HEAD with GET)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)  # PARTIAL: the path matches, not the method
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)
