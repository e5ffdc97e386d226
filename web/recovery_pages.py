"""The recovery layer's zones for a map page that loads it as it pans (too large to inline):
``/map/rehab-recovery/items?bbox=&limit=`` and one zone by id (the map's search)."""

from __future__ import annotations

from typing import Annotated

import geopandas as gpd
import numpy as np
import orjson
import shapely
from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ServicesDep
from api.services import Services
from api.services.errors import BadRequest, NotFound
from web import maps

router = APIRouter(tags=["pages"], include_in_schema=False)


def _bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in raw.split(","))
    except ValueError:
        raise BadRequest(
            f"bbox={raw!r} is not a bounding box; write four numbers: minx,miny,maxx,maxy"
        ) from None
    if not all(np.isfinite([x0, y0, x1, y1])) or x0 > x1 or y0 > y1:
        raise BadRequest(f"bbox={raw!r}: write finite numbers, each lower bound first")
    return x0, y0, x1, y1


def _recovery(services: Services) -> gpd.GeoDataFrame:
    frame = services.recovery_layer()
    if frame is None:
        raise NotFound("no NDVI rasters are registered beside the store: no recovery to show")
    return frame


@router.get("/map/rehab-recovery/items")
def recovery_items(
    services: ServicesDep,
    bbox: Annotated[str | None, Query(max_length=200, description="minx,miny,maxx,maxy")] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The recovery layer's zones touching ``bbox`` (lon/lat), at most ``limit`` (and at most
    ``GAZAR_MAP_PAGE_LIMIT``): what a map page loads as it pans when the layer is too large
    to inline (the answer of ``GET /analysis/rehab``, drawn)."""
    frame = _recovery(services)
    if bbox:
        hits = frame.sindex.query(shapely.box(*_bbox(bbox)), predicate="intersects")
        frame = frame.iloc[np.sort(hits)]
    cap = services.settings.web.page_limit
    body = maps.recovery_collection(frame.iloc[: min(limit or cap, cap)], matched=len(frame))
    return Response(body, media_type="application/geo+json")


@router.get("/map/rehab-recovery/items/{zone_id}")
def recovery_item(zone_id: str, services: ServicesDep) -> Response:
    """One zone of the recovery layer (the map's search)."""
    frame = _recovery(services)
    row = frame[frame["id"].astype(str) == zone_id]
    if len(row) == 0:
        raise NotFound(f"rehab_zones has no zone {zone_id!r} with a measured recovery")
    doc = orjson.loads(maps.recovery_collection(row.iloc[:1], matched=1))
    return Response(orjson.dumps(doc["features"][0]), media_type="application/geo+json")
