"""JSON responses serialised with orjson; GeoJSON with its own media type."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse

_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTS)


class GeoJSONResponse(OrjsonResponse):
    media_type = "application/geo+json"


class Problem(BaseModel):
    """Every error body: a code, a description a person can act on, and the HTTP status; a
    refused input adds ``problems``, a refused allocation its ``reasons``."""

    model_config = ConfigDict(extra="allow", title="Problem")

    code: str
    description: str
    status: int
