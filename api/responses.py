"""JSON responses serialised with orjson; GeoJSON with its own media type."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTS)


class GeoJSONResponse(OrjsonResponse):
    media_type = "application/geo+json"
