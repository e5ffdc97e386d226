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
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

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


def use_openapi_30(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI document (``app.openapi_url``) as OpenAPI 3.0.3."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None or app.openapi_schema.get("openapi") != OPENAPI_VERSION:
            app.openapi_schema = None
            app.openapi_schema = downgrade(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
