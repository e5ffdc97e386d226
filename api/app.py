"""The FastAPI application factory. Nothing is built at import time."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware

from api import errors
from api.auth import FailedTokens
from api.bodycap import BodyCap
from api.openapi import use_openapi_30
from api.responses import OrjsonResponse
from api.routes import ROUTERS
from api.services import Services
from api.settings import ApiSettings, Settings, load_settings
from web.headers import SecurityHeaders
from web.negotiate import Negotiate
from web.pages import warm_overview
from web.routers import ROUTERS as PAGES  # api/ imports web/ only here and in commands
from web.session import error_page

_LOG = logging.getLogger("gazar.app")


def create_app(settings: Settings | ApiSettings | None = None) -> FastAPI:
    """Build the app for ``settings``: the whole tree, or the server's part of it with the rest
    read from ``GAZAR_*`` now (default: everything from the environment now).

    The lifespan builds the one :class:`api.services.Services` object (store, ledger, caches)
    on ``app.state.services``; the JSON API's routers and the pages' routers
    (:data:`web.routers.ROUTERS`) are mounted here.
    """
    if not isinstance(settings, Settings):
        settings = load_settings(api=settings)
    tree: Settings = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.open(tree)
        app.state.services = services
        warming = _start_warming(services) if tree.api.warm_on_start else None
        app.state.warming = warming
        try:
            yield
        finally:
            if warming is not None:  # the store stays open until the step under way ends
                warming[0].set()
                warming[1].join()
            services.close()

    app = FastAPI(
        title=tree.api.title,
        description="Land-access planning for artisanal and small-scale gold mining in Mongolia. "
        "OGC API – Features for every layer, and the analyses over HTTP.",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        openapi_url="/api",
        docs_url=None,  # /api.html is web.apidocs: Swagger UI from node_modules, offline
        redoc_url=None,
    )
    app.state.settings = tree
    # failed token checks per client address, in this process's memory
    app.state.failed_tokens = FailedTokens(tree.api.token_failures, tree.api.token_failure_window_s)
    # a browser's GET of /, /applications/{n}, /land_conclusions/{id}, /contracts/{id} or
    # /draws/{id} goes to the object's page (web.objects); programs keep the JSON
    app.add_middleware(Negotiate)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    # the Content-Security-Policy and its nonce, nosniff, frame and referrer rules
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyCap, cap=tree.api.max_body_bytes)  # outermost: before anything reads
    errors.install(app, page=error_page)  # a refused page request is answered with a page
    for router in ROUTERS:
        app.include_router(router)
    for page in PAGES:
        app.include_router(page)
    use_openapi_30(app)  # OGC API – Features' oas30 class and its clients read OpenAPI 3.0
    return app


def _start_warming(services: Services) -> tuple[threading.Event, threading.Thread]:
    """:meth:`Services.warm` in a background thread (a failure is logged: the requests that
    need the step meet it themselves, with its error)."""
    stop = threading.Event()

    def run() -> None:
        start = time.perf_counter()
        try:
            done = services.warm(stop, extra=(("map", lambda: warm_overview(services)),))
        except Exception:
            _LOG.exception("warming the caches failed")
            return
        _LOG.info("caches warm (%s) in %.1f s", ", ".join(done), time.perf_counter() - start)

    thread = threading.Thread(target=run, name="gazar-warm", daemon=True)
    thread.start()
    return stop, thread
