"""One router per resource. Add a router to ``ROUTERS`` to serve it."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import allocation, analysis, export, ogc
from web import pages

ROUTERS: list[APIRouter] = [
    ogc.router,
    analysis.router,
    export.router,
    pages.router,
    allocation.router,
]
