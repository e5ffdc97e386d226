"""The JSON API: one router per resource. Add a router to ``ROUTERS`` to serve it (the pages'
router, ``web.pages``, is mounted beside them by ``api.app.create_app``)."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import allocation, analysis, documents, export, objects, ogc, pipeline, tiles

ROUTERS: list[APIRouter] = [
    ogc.router,
    tiles.router,
    analysis.router,
    export.router,
    allocation.router,
    pipeline.router,
    objects.router,
    documents.router,
]
