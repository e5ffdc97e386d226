"""The API keeps its contract: schemathesis over the whole OpenAPI document (``/api``).

Every phase schemathesis has (the schema's examples, coverage of each keyword's edges, fuzzing,
and stateful sequences following the links it infers, e.g. ``POST /applications`` then its
decision), with a fixed seed and a bounded number of examples, against the app in process on a
small demo store with an administrator's Bearer token. Every check is on: no server error, no
status the document does not list, no response breaking its schema or media type, no request
the schema allows refused (nor one it forbids accepted), a 405 naming the allowed methods, and
an operation declaring ``bearerAuth`` refusing a request without it.

A few refusals depend on what a schema cannot say in OpenAPI 3.0: values that must exist in
the store (a soum's code, a registered raster's name) and rules between values (``against``
needs ``layer``; a ``bbox`` or ``datetime`` whose bounds are in order; ``datetime`` only on a
collection with a date), each written in the parameter's description. The store's real soum
codes are given as the ``soum`` parameter's values, and the generated requests breaking a rule
between values are left out of the positive ones (:func:`_breaks_a_documented_rule`); nothing
else is filtered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from api import crs as crs_mod
from api.app import create_app
from api.routes.ogc import _boxes, parse_bbox, parse_datetime
from api.services.collections import COLLECTIONS
from api.settings import ApiSettings
from layers.demo import build_demo
from layers.errors import GazarError
from layers.ledger import open_ledger
from layers.store import open_store

SEED = 20_260_501
#: examples the fuzzing phase tries per operation (coverage and examples are not counted)
EXAMPLES = 10
#: stateful sequences and their length
SCENARIOS = 15
STEPS = 6
#: what a request the schema allows may get on the operations taking a polygon, a day or a
#: contact: 422 too, as the document says (a ring not closed, a polygon outside Mongolia, a
#: Khural approval dated in the future, an anonymous objection with no name, or a contact that
#: is neither a telephone number nor an e-mail address, is valid JSON Schema)
GEOMETRY_OK = ["2XX", "3XX", 401, 403, 404, 409, 422, 429]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str, list[str]]]:
    """The app over a demo store (its lifespan entered once), an admin's token, the soums."""
    path = tmp_path_factory.mktemp("contract") / "demo.gpkg"
    with open_store(path) as store:
        store.write(build_demo(today=dt.date.today()))
        soums = store.read("soums")["id"].tolist()
    with open_ledger(str(path)) as ledger:
        token = ledger.add_user("contract", actor="test", role="admin")[1]
    app = create_app(ApiSettings(db=str(path)))
    with TestClient(app):  # the store and the ledger stay open for every request
        asgi = _lifespan_entered(app)
        asgi.openapi_doc = app.openapi()
        yield asgi, token, soums


def _lifespan_entered(app: FastAPI) -> Any:
    """``app`` without its lifespan: schemathesis opens a client (and a lifespan) per request,
    and this one is already running."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    return asgi


def _config(token: str, soums: list[str]) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "suppress-health-check": ["all"],
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": STEPS},
            },
            "checks": {"enabled": True},
            "auth": {"openapi": {"bearerAuth": {"bearer": token}}},
            "parameters": {"query.soum": soums[0]},
            "operations": [
                {
                    "include-name": name,
                    "checks": {"positive_data_acceptance": {"expected-statuses": GEOMETRY_OK}},
                }
                for name in (
                    "POST /analysis/check",
                    "POST /applications",
                    "POST /land_conclusions",
                    "POST /land_conclusions/{lc_id}/khural",
                    "POST /applications/{number}/objections",
                )
            ]
            + [
                {  # a schema-valid file may still not be a PDF, PNG or JPEG by its content
                    "include-name": "POST /applications/{number}/documents",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": [*GEOMETRY_OK, 413]}
                    },
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def contract(served: tuple[FastAPI, str, list[str]]) -> Any:
    app, token, soums = served
    schema = schemathesis.openapi.from_asgi("/api", app, config=_config(token, soums))

    @schema.hook
    def filter_case(context: Any, case: Any) -> bool:
        return not (case.meta is not None and case.meta.generation.mode.is_positive) or not (
            _breaks_a_documented_rule(case)
        )

    return schema


def _breaks_a_documented_rule(case: Any) -> bool:
    """A request that only a rule between values (written in a parameter's description,
    inexpressible in OpenAPI 3.0) refuses."""
    query = case.query or {}
    if case.operation.label == "GET /analysis/rehab":  # the demo store registers no raster
        return "before" in query or "after" in query
    if case.operation.label == "GET /analysis/overlaps":
        return "against" in query and "layer" not in query
    if case.operation.label == "GET /collections/{collectionId}/items":
        collection = COLLECTIONS.get((case.path_parameters or {}).get("collectionId", ""))
        if "datetime" in query and (collection is None or collection.main_date is None):
            return True
        for name, parse in (("bbox", parse_bbox), ("datetime", parse_datetime)):
            value = query.get(name)
            if isinstance(value, list | tuple):  # an array parameter, sent comma-separated
                value = ",".join(map(str, value))
            if isinstance(value, str):
                try:
                    parsed = parse(value)
                    if name == "bbox":  # outside CRS84 a box may not run from east to west
                        uri = query.get("bbox-crs")
                        _boxes(parsed, crs_mod.parse_crs(uri if isinstance(uri, str) else None,
                                                         parameter="bbox-crs"))  # fmt: skip
                except GazarError:
                    return True
    return False


def test_schemathesis_finds_nothing_in_any_phase(contract: Any) -> None:
    """The run ``schemathesis run /api --checks all --phases examples,coverage,fuzzing,stateful``
    makes, in process: each failure is listed with its check, operation and request."""
    found: list[str] = []
    ran: dict[str, int] = {}
    for event in from_schema(contract).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: {event.info.format()}")
        if isinstance(event, events.ScenarioFinished):
            phase = event.phase.value
            ran[phase] = ran.get(phase, 0) + len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status is Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        found.append(
                            f"[{phase}] {event.recorder.label}: {failure.title}: "
                            f"{failure.message}\n    {check.failure_info.code_sample}"
                        )
    assert not found, "\n".join(dict.fromkeys(found))
    assert set(ran) >= {"examples", "coverage", "fuzzing", "stateful"}, ran


def test_the_document_declares_the_token_on_every_write_and_only_there(
    served: tuple[Any, str, list[str]],
) -> None:
    doc = served[0].openapi_doc
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "gazar token",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    private = ("/applications/{number}/documents", "/applications/{number}/documents/{ref}")
    anyone = ("/applications/{number}/objections",)  # an objection may come without a token
    for path, item in doc["paths"].items():
        for method, op in item.items():
            needs = op.get("security") == [{"bearerAuth": []}]
            optional = op.get("security") == [{"bearerAuth": []}, {}]
            # the writes, and the reads of an application's private documents
            write = method == "post" and path != "/analysis/check"
            if write and path in anyone:
                assert optional, (method, path)
                continue
            assert needs == (write or path in private), (method, path)
            if write:
                assert {"401", "403", "404", "409", "422"} <= set(op["responses"]), path
            elif needs:
                assert {"401", "403", "404"} <= set(op["responses"]), path


def test_every_error_response_is_a_problem_and_no_unused_422_is_listed(
    served: tuple[Any, str, list[str]],
) -> None:
    doc = served[0].openapi_doc
    validate(doc)  # OpenAPI 3.0.3
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"code", "description", "status"}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if status[0] in "45":
                    (schema,) = [m["schema"] for m in response["content"].values()]
                    assert "$ref" in schema, (method, path, status)
    assert "400" in doc["paths"]["/events"]["get"]["responses"]
    assert "400" in doc["paths"]["/applications"]["post"]["responses"]
    assert "400" not in doc["paths"]["/draws/{draw_id}"]["get"]["responses"]  # a path text
