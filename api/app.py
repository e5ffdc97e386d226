"""The FastAPI application factory. Nothing is built at import time."""

from __future__ import annotations

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
from web.apply import router as org_pages
from web.headers import SecurityHeaders
from web.pages import router as pages  # api/ imports web/ only here and in commands


def create_app(settings: Settings | ApiSettings | None = None) -> FastAPI:
    """Build the app for ``settings``: the whole tree, or the server's part of it with the rest
    read from ``GAZAR_*`` now (default: everything from the environment now).

    The lifespan builds the one :class:`api.services.Services` object (store, ledger, caches)
    on ``app.state.services``; the JSON API's routers and the pages' router are mounted here.
    """
    if not isinstance(settings, Settings):
        settings = load_settings(api=settings)
    tree: Settings = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.open(tree)
        app.state.services = services
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title=tree.api.title,
        description="Land-access planning for artisanal and small-scale gold mining in Mongolia. "
        "OGC API – Features for every layer, and the analyses over HTTP.",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        openapi_url="/api",
        docs_url="/api.html",
        redoc_url=None,
    )
    app.state.settings = tree
    # failed token checks per client address, in this process's memory
    app.state.failed_tokens = FailedTokens(tree.api.token_failures, tree.api.token_failure_window_s)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    # the Content-Security-Policy and its nonce, nosniff, frame and referrer rules
    app.add_middleware(SecurityHeaders, swagger_path=app.docs_url)
    app.add_middleware(BodyCap, cap=tree.api.max_body_bytes)  # outermost: before anything reads
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(pages)
    app.include_router(org_pages)
    use_openapi_30(app)  # OGC API – Features' oas30 class and its clients read OpenAPI 3.0
    return app
