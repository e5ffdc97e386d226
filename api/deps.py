"""The ``Annotated`` dependencies routes and pages take: the one :class:`api.services.Services`
object the app's lifespan built, and the parts of it most routes need."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from api.bodycap import too_large
from api.services import Services
from api.services.allocation import AllocationService
from api.services.errors import BadRequest, PayloadTooLarge
from api.services.layers import LayerCache
from api.settings import ApiSettings
from geo.settings import AnalysisSettings


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> ApiSettings:
    return get_services(request).settings.api


def get_analysis_settings(request: Request) -> AnalysisSettings:
    return get_services(request).settings.analysis


def get_layers(request: Request) -> LayerCache:
    return get_services(request).layers


def get_allocation(request: Request) -> AllocationService:
    return get_services(request).allocation


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
AnalysisDep = Annotated[AnalysisSettings, Depends(get_analysis_settings)]
LayersDep = Annotated[LayerCache, Depends(get_layers)]
AllocationDep = Annotated[AllocationService, Depends(get_allocation)]


def known_parameters(*names: str) -> Callable[[Request], None]:
    """A dependency refusing query parameters other than ``names`` (400, naming them)."""
    allowed = frozenset(names)

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            takes = ", ".join(sorted(allowed)) or "none"
            raise BadRequest(
                f"unknown query parameter(s) {', '.join(unknown)}; this endpoint takes: {takes}"
            )

    return check


async def read_body(request: Request, cap: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to be over ``cap`` bytes:
    from ``Content-Length`` before reading, and while reading (a body sent in chunks)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest(f"Content-Length {declared!r} is not a number of bytes") from None
        if size > cap:
            raise PayloadTooLarge(too_large(f"{size:,} bytes", cap))
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise PayloadTooLarge(too_large(f"over {cap:,} bytes", cap))
        chunks.append(chunk)
    return b"".join(chunks)
