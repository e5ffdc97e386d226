"""The OpenAPI document as OpenAPI 3.0, as OGC API – Features (``oas30``) and its clients expect.

FastAPI writes OpenAPI 3.1, whose schemas are JSON Schema 2020-12; OpenAPI 3.0 schemas are an
older dialect. :func:`downgrade` rewrites the constructs pydantic and FastAPI produce:

* ``anyOf: [X, {type: null}]`` and ``type: [X, "null"]`` become ``X`` with ``nullable: true``;
* ``const: v`` becomes ``enum: [v]``;
* ``examples: [...]`` in a schema becomes ``example`` (the first one);
* numeric ``exclusiveMinimum``/``exclusiveMaximum`` become ``minimum``/``maximum`` with the
  boolean form;
* a parameter's ``nullable`` is dropped (a parameter is absent or a text, never null);
* keywords 3.0 does not know (``$schema``, ``$id``, ``contentMediaType``, ...) are dropped.

:func:`document_errors` then makes the error responses say what the app answers: FastAPI
documents a ``422 Validation Error`` it never sends (``api.errors`` answers a request its
declarations refuse with ``400 InvalidParameterValue``), and error responses declared by
description only get the :class:`api.errors.Problem` body every error has.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api.errors import Problem

OPENAPI_VERSION = "3.0.3"

#: Schema keywords OpenAPI 3.0 does not have.
_DROP = frozenset(
    {"$schema", "$id", "$comment", "contentMediaType", "contentEncoding", "unevaluatedProperties",
     "dependentRequired", "dependentSchemas", "propertyNames", "if", "then", "else"}
)  # fmt: skip
#: Keywords whose value is one schema.
_ONE = ("items", "not", "additionalProperties")
#: Keywords whose value is a list of schemas.
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
#: Keywords whose value maps names to schemas.
_MAP = ("properties", "patternProperties", "$defs")


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def _schema(node: Any) -> Any:
    """One JSON Schema 2020-12 schema as an OpenAPI 3.0 schema object."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key in _ONE:
            out[key] = _schema(value)
        elif key in _MANY:
            out[key] = [_schema(v) for v in value]
        elif key in _MAP:
            out[key] = {k: _schema(v) for k, v in value.items()}
        else:
            out[key] = value
    if "prefixItems" in out:  # tuples: 3.0 has only homogeneous arrays
        out.pop("prefixItems")
        out.setdefault("items", {})
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "examples" in out:
        examples = out.pop("examples")
        if isinstance(examples, list) and examples:
            out["example"] = examples[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[plain] = value
            out[bound] = True
    kind = out.get("type")
    if isinstance(kind, list):
        rest = [k for k in kind if k != "null"]
        if len(rest) < len(kind):
            out["nullable"] = True
        if len(rest) == 1:
            out["type"] = rest[0]
        elif rest:
            out.pop("type")
            out["anyOf"] = [{"type": k} for k in rest]
        else:
            out.pop("type")
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and any(_is_null(o) for o in options):
            rest = [o for o in options if not _is_null(o)]
            out.pop(key)
            out["nullable"] = True
            if len(rest) == 1 and "$ref" not in rest[0]:
                for k, v in rest[0].items():
                    out.setdefault(k, v)
            elif len(rest) == 1:
                out["allOf"] = rest  # a $ref cannot have siblings in 3.0
            elif rest:
                out[key] = rest
    if "$ref" in out and len(out) > 1:  # siblings of $ref are ignored in 3.0: keep them
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def _media(content: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for media_type, given in content.items():
        media = dict(given)
        if "schema" in media:
            media["schema"] = _schema(media["schema"])
        out[media_type] = media
    return out


def _parameter(param: dict[str, Any]) -> dict[str, Any]:
    param = dict(param)
    if "schema" in param:
        param["schema"] = _schema(param["schema"])
        if param.get("in") in ("query", "path", "header", "cookie"):
            # a parameter is absent or a text, never null: ``str | None`` means optional
            param["schema"].pop("nullable", None)
    if "content" in param:
        param["content"] = _media(param["content"])
    return param


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    op = dict(op)
    if "parameters" in op:
        op["parameters"] = [_parameter(p) for p in op["parameters"]]
    body = op.get("requestBody")
    if isinstance(body, dict) and "content" in body:
        op["requestBody"] = {**body, "content": _media(body["content"])}
    responses = {}
    for status, given in op.get("responses", {}).items():
        response = dict(given)
        if "content" in response:
            response["content"] = _media(response["content"])
        if "headers" in response:
            response["headers"] = {k: _parameter(h) for k, h in response["headers"].items()}
        responses[status] = response
    if responses:
        op["responses"] = responses
    return op


def downgrade(document: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.1 document (as FastAPI writes it) rewritten as OpenAPI 3.0.3.

    Examples
    --------
    >>> doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {},
    ...        "components": {"schemas": {"A": {"type": "object", "properties": {
    ...            "x": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    ...            "k": {"const": "Feature", "type": "string"}}}}}}
    >>> out = downgrade(doc)
    >>> out["openapi"]
    '3.0.3'
    >>> out["components"]["schemas"]["A"]["properties"]["x"]
    {'nullable': True, 'type': 'string'}
    >>> out["components"]["schemas"]["A"]["properties"]["k"]
    {'type': 'string', 'enum': ['Feature']}
    """
    doc = copy.deepcopy(document)
    doc["openapi"] = OPENAPI_VERSION
    doc.pop("jsonSchemaDialect", None)
    doc.pop("webhooks", None)
    info = doc.get("info", {})
    info.pop("summary", None)
    info.get("license", {}).pop("identifier", None)
    for path, item in doc.get("paths", {}).items():
        doc["paths"][path] = {k: _operation(v) if k in _METHODS else v for k, v in item.items()}
    components = doc.get("components", {})
    if "schemas" in components:
        components["schemas"] = {k: _schema(v) for k, v in components["schemas"].items()}
    return doc


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


# ---------------------------------------------- GeoJSON a proposal is written in (RFC 7946)

_POSITION = {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"},
             "description": "[lon, lat] in degrees (WGS 84)"}  # fmt: skip
_POLYGON_RINGS = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "array", "minItems": 4, "items": _POSITION},
    "description": "The outer ring, then any holes; each ring closed (last position = first)",
}
_POLYGON = {
    "type": "object",
    "title": "Polygon",
    "required": ["type", "coordinates"],
    "properties": {"type": {"type": "string", "enum": ["Polygon"]}, "coordinates": _POLYGON_RINGS},
}
_MULTIPOLYGON = {
    "type": "object",
    "title": "MultiPolygon",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["MultiPolygon"]},
        "coordinates": {"type": "array", "minItems": 1, "items": _POLYGON_RINGS},
    },
}
_FEATURE = {
    "type": "object",
    "title": "Feature",
    "required": ["type", "geometry"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"description": "The proposal's id (a text or a number)"},
        "geometry": {"oneOf": [_POLYGON, _MULTIPOLYGON]},
        "properties": {
            "type": "object",
            "nullable": True,
            "properties": {
                name: {"type": "string"}
                for name in ("id", "land_conclusion_id", "holder", "soum_code")
            },
        },
    },
}
_FEATURE_COLLECTION = {
    "type": "object",
    "title": "FeatureCollection",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "minItems": 1, "items": _FEATURE},
    },
}
#: a proposal for a review: a Polygon or MultiPolygon, a Feature of one, or a FeatureCollection
GEOJSON_PROPOSAL: dict[str, Any] = {
    "oneOf": [_POLYGON, _MULTIPOLYGON, _FEATURE, _FEATURE_COLLECTION]
}

# ------------------------------------------------------------------------- error responses

#: FastAPI's default refusal of a request its declarations do not allow
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
_PROBLEM_REF = "#/components/schemas/Problem"
_BAD_REQUEST = (
    "A parameter or the body does not fit this document (unknown parameter, missing field, "
    "value of the wrong type or out of range): the description names each one"
)
_TOO_LARGE = (
    "The request body is over GAZAR_MAX_BODY_BYTES (refused from its Content-Length before it is "
    "read, or as soon as a body sent in chunks passes it)"
)


def _is_error(status: str) -> bool:
    return status[:1] in ("4", "5")


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*map(_refs, node)) if node else set()
    return set()


def _can_be_refused(op: dict[str, Any]) -> bool:
    """Whether a request can fail the operation's declarations: it has a body, or a parameter
    other than a plain text in the path (which any path segment is)."""
    if op.get("requestBody"):
        return True
    for param in op.get("parameters", []):
        schema = param.get("schema", {})
        plain = {k: v for k, v in schema.items() if k not in ("title", "description", "enum")}
        if param.get("in") != "path" or plain != {"type": "string"}:
            return True
    return False


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (OpenAPI 3.0, modified in place and returned) with the error responses the
    app gives: a 400 :class:`~api.errors.Problem` wherever a parameter or a body is declared
    (in place of FastAPI's 422, which the app never sends), a 413 wherever a body is declared
    (the body cap of ``api/bodycap.py``), and a Problem body on every error response declared
    without one."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.setdefault("Problem", _schema(Problem.model_json_schema()))
    problem = {"application/json": {"schema": {"$ref": _PROBLEM_REF}}}
    for item in document.get("paths", {}).values():
        for method, op in item.items():
            if method not in _METHODS:
                continue
            responses = op.setdefault("responses", {})
            default = responses.get("422")
            if default is not None and _FASTAPI_422 in _refs(default):
                del responses["422"]
            if _can_be_refused(op) and "400" not in responses:
                responses["400"] = {"description": _BAD_REQUEST}
            if op.get("requestBody") and "413" not in responses:
                responses["413"] = {"description": _TOO_LARGE}
            for status, response in responses.items():
                if _is_error(status) and "content" not in response:
                    response["content"] = copy.deepcopy(problem)
            op["responses"] = dict(sorted(responses.items()))
    for name in ("HTTPValidationError", "ValidationError"):  # unused once the 422s are gone
        if f"#/components/schemas/{name}" not in _refs(document.get("paths", {})) | _refs(schemas):
            schemas.pop(name, None)
    return document


def use_openapi_30(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI document (``app.openapi_url``) as OpenAPI 3.0.3, its error
    responses completed by :func:`document_errors`."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None or app.openapi_schema.get("openapi") != OPENAPI_VERSION:
            app.openapi_schema = None
            app.openapi_schema = document_errors(downgrade(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
