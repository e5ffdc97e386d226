"""The FastAPI application factory. Nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.gzip import GZipMiddleware

from api import errors
from api.deps import LayerCache
from api.openapi import use_openapi_30
from api.responses import OrjsonResponse
from api.settings import ApiSettings
from layers.errors import StoreError
from layers.ledger import Ledger, open_ledger
from layers.store import open_store

_log = logging.getLogger("gazar")


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: read ``GAZAR_*`` from the environment now)."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.db)
        app.state.store = store
        app.state.layers = LayerCache(store)
        ledger = _open_ledger(settings.db)
        app.state.ledger = ledger
        try:
            yield
        finally:
            if ledger is not None:
                ledger.close()
            store.close()

    app = FastAPI(
        title=settings.title,
        description="Land-access planning for artisanal and small-scale gold mining in Mongolia. "
        "OGC API – Features for every layer, and the analyses over HTTP.",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        openapi_url="/api",
        docs_url="/api.html",
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    errors.install(app)
    for router in _routers():
        app.include_router(router)
    use_openapi_30(app)  # OGC API – Features' oas30 class and its clients read OpenAPI 3.0
    return app


def _open_ledger(location: str) -> Ledger | None:
    """The allocation ledger, owned by the app; None (the allocation endpoints then try again
    on their first request, and answer 503 if it still fails) when it cannot be opened, so
    that the maps and the OGC API still serve a store the ledger cannot be added to."""
    try:
        return open_ledger(location, create=False)
    except StoreError as exc:
        _log.warning("the allocation ledger could not be opened: %s", exc)
        return None


def _routers() -> list[APIRouter]:
    """Every resource's router; each lives in ``api/routes/`` with its own prefix and tags."""
    from api.routes import ROUTERS

    return list(ROUTERS)
