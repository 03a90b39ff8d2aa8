"""The OpenAPI 3.1 document, generated from the routes as they are declared (chalicelib.entry.api.
http.Routes) and their pydantic models, so it cannot drift from what the API does.
`make openapi` writes the checked-in copy; the API serves it at /openapi.json."""

from __future__ import annotations

import json
import typing
from typing import Any

from chalice import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.config.bootstrap import Runtime
from chalicelib.entry.api import events, forecasts, page, requests, slack
from chalicelib.entry.api.http import Operation, Routes, json_response
from chalicelib.entry.api.models import ErrorBody

routes = Routes("openapi")


@routes.route("/openapi.json", "GET", "This document", response={"type": "object"})
def openapi(rt: Runtime) -> Response:
    return json_response(openapi_document())


ALL_ROUTES = (
    events.routes,
    forecasts.routes,
    requests.routes,
    slack.routes,
    page.routes,
    routes,
)
SECURED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKey": []}]
REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 400: "Invalid input",
    401: "Not authenticated", 403: "Forbidden", 412: "Precondition failed",
    422: "Idempotency key reused", 404: "Not found", 409: "Conflict", 413: "Too large",
    415: "Unsupported media type", 502: "The filer failed",
}  # fmt: skip


def openapi_document() -> dict[str, Any]:
    operations = [op for r in ALL_ROUTES for op in r.operations]
    components = _components(operations)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Burst Assurance API",
            "version": "1",
            "description": "Event calendar, forecasts and service-assurance requests.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }


def _components(operations: list[Operation]) -> dict[str, Any]:
    """Every model the routes name, and the models those use, under #/components/schemas."""
    found: set[type[BaseModel]] = {ErrorBody}
    for op in operations:
        shapes = [op.response, op.query, *(op.body or {}).values()]
        found |= {m for shape in shapes if (m := _model_of(shape)) is not None}
    _, schema = models_json_schema(
        [(m, "validation") for m in sorted(found, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    return dict(schema.get("$defs", {}))


def _model_of(shape: Any) -> type[BaseModel] | None:
    if typing.get_origin(shape) is list:
        shape = typing.get_args(shape)[0]
    return shape if isinstance(shape, type) and issubclass(shape, BaseModel) else None


def _schema(shape: Any) -> dict[str, Any]:
    if isinstance(shape, dict):
        return shape
    if typing.get_origin(shape) is list:
        return {"type": "array", "items": _schema(typing.get_args(shape)[0])}
    if shape is str:
        return {"type": "string"}
    return {"$ref": f"#/components/schemas/{shape.__name__}"}


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "summary": op.summary,
        "security": SECURED if op.secured else [],
        "responses": _responses(op),
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in op.path_parameters
    ]
    if op.query is not None:
        query = components[op.query.__name__]
        parameters += [
            {
                "name": name,
                "in": "query",
                "required": name in query.get("required", []),
                "schema": schema,
            }
            for name, schema in query["properties"].items()
        ]
    if parameters:
        result["parameters"] = parameters
    if op.body:
        content = {media: {"schema": _schema(shape)} for media, shape in op.body.items()}
        result["requestBody"] = {"required": True, "content": content}
    return result


def _responses(op: Operation) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": REASONS[op.status]}
    if isinstance(op.response, str):  # a media type, e.g. text/calendar
        ok["content"] = {op.response: {"schema": {"type": "string"}}}
    elif op.response is not None:
        ok["content"] = {"application/json": {"schema": _schema(op.response)}}
    errors = (*((401, 403) if op.secured else ()), *op.errors)
    error = {"application/json": {"schema": _schema(ErrorBody)}}
    return {
        str(op.status): ok,
        **{str(s): {"description": REASONS[s], "content": error} for s in sorted(set(errors))},
    }


if __name__ == "__main__":  # `make openapi` writes the checked-in copy with this
    print(json.dumps(openapi_document(), indent=2, sort_keys=True))
