"""HTTP concerns of the API, kept apart from Chalice so they read (and test) as plain functions:
the input models, parsing of bodies and query strings, authentication, error bodies, and the
OpenAPI document generated from the models."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from chalicelib.assurance import Plan, Status
from chalicelib.errors import Conflict, InputError, NotFound
from chalicelib.events import Event
from chalicelib.settings import Settings
from chalicelib.tracking import AuditEntry, Presence, TrackedRequest

MAX_JSON_BYTES = 256 * 1024  # events and other small bodies
MAX_FORECAST_BYTES = 6 * 1024 * 1024  # Lambda's own limit for a synchronous payload

Model = TypeVar("Model", bound=BaseModel)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


def as_api_error(exc: Exception) -> ApiError | None:
    """The HTTP form of a domain error; None for an unexpected one (a 500, logged)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ValidationError):
        return validation_error(exc)
    if isinstance(exc, InputError):
        return ApiError(400, "invalid-input", str(exc), exc.field)
    if isinstance(exc, NotFound):
        return ApiError(404, "not-found", str(exc))
    if isinstance(exc, Conflict):
        return ApiError(409, "conflict", str(exc))
    return None


def validation_error(exc: ValidationError) -> ApiError:
    errors = exc.errors()
    first = errors[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    message = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors[:10]
    )
    return ApiError(400, "invalid-input", message, field)


# -- input models ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventBody(_Strict):
    """An event as a client sends it. ``id`` is optional on create and must match on replace."""

    id: str | None = None
    name: str
    start: AwareDatetime
    end: AwareDatetime
    major: bool = False
    scopes: list[str] = Field(default_factory=list)
    notes: str | None = None


class EventQuery(_Strict):
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    major: bool | None = None


class RequestQuery(_Strict):
    status: Status | None = None
    rule: str | None = None
    scope: str | None = None
    presence: Presence | None = None
    deadline_from: AwareDatetime | None = None
    deadline_to: AwareDatetime | None = None

    def matches(self, tracked: TrackedRequest) -> bool:
        r = tracked.request
        return (
            (self.status is None or r.status is self.status)
            and (self.rule is None or r.rule == self.rule)
            and (self.scope is None or r.scope == self.scope)
            and (self.presence is None or tracked.presence is self.presence)
            and (self.deadline_from is None or r.deadline >= self.deadline_from)
            and (self.deadline_to is None or r.deadline <= self.deadline_to)
        )


class PlanQuery(_Strict):
    now: AwareDatetime | None = None


class CalendarQuery(_Strict):
    token: str


class TrafficPoint(_Strict):
    """One row of a JSON forecast upload (the CSV upload has the same columns)."""

    time: str = Field(description="ISO 8601 with offset, on a 5-minute boundary")
    metric: Literal["bandwidth", "concurrency"]
    scope: str
    value: float = Field(ge=0)


class IngestResult(BaseModel):
    series: int
    points: int


class RequestDetail(BaseModel):
    request: TrackedRequest
    audit: list[AuditEntry]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorBody(BaseModel):
    error: ErrorDetail


# -- parsing -----------------------------------------------------------------------------------


def check_size(raw: bytes | None, limit: int) -> bytes:
    raw = raw or b""
    if len(raw) > limit:
        raise ApiError(413, "too-large", f"body of {len(raw)} bytes exceeds {limit} bytes")
    return raw


def parse_json(raw: bytes | None, limit: int = MAX_JSON_BYTES) -> Any:
    body = check_size(raw, limit)
    if not body.strip():
        raise ApiError(400, "invalid-input", "a JSON body is required", "body")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid-input", f"body is not valid JSON: {exc}", "body") from None


def parse_model(model: type[Model], data: Any) -> Model:
    if not isinstance(data, dict):
        raise ApiError(400, "invalid-input", "expected a JSON object", "body")
    return model.model_validate(data)


def parse_query(model: type[Model], params: Mapping[str, str] | None) -> Model:
    return model.model_validate(dict(params or {}))


def event_from_body(body: EventBody, event_id: str) -> Event:
    if body.id is not None and body.id != event_id:
        raise ApiError(400, "invalid-input", f"id {body.id!r} does not match the URL", "id")
    fields = body.model_dump(exclude={"id"})
    return Event.model_validate({**fields, "id": event_id})


# -- authentication ----------------------------------------------------------------------------


def authenticate(settings: Settings, headers: Mapping[str, str], api_key_id: str | None) -> None:
    """Raise 401/403 unless the request is authenticated the way the deployment says."""
    if settings.api_auth == "api-key":
        # API Gateway rejected requests without a valid key; the id proves it ran.
        if not api_key_id:
            raise ApiError(403, "forbidden", "API key required")
        return
    expected = settings.api_token.get_secret_value() if settings.api_token else ""
    if not expected:
        raise ApiError(401, "unauthorized", "the API token is not configured on this server")
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(403, "forbidden", "the token is not valid")


def check_feed_token(settings: Settings, token: str) -> None:
    expected = settings.ical_token.get_secret_value() if settings.ical_token else ""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(403, "forbidden", "the calendar token is not valid")


# -- OpenAPI -----------------------------------------------------------------------------------

_COMPONENTS = (
    Event, EventBody, Plan, TrackedRequest, RequestDetail, IngestResult, TrafficPoint, ErrorBody,
)  # fmt: skip
_SECURED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKey": []}]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    return [
        {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", []),
            "schema": prop,
        }
        for name, prop in schema["properties"].items()
    ]


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _json(_ref(ErrorBody), "Error") for s in (401, 403, *statuses)}


def _operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "security": _SECURED, "responses": responses, **extra}


def openapi_document() -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    _, defs = models_json_schema(
        [(m, "validation") for m in _COMPONENTS], ref_template="#/components/schemas/{model}"
    )
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    event_body = {"required": True, "content": {"application/json": {"schema": _ref(EventBody)}}}
    upload = {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": _ref(TrafficPoint)}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
    paths = {
        "/events": {
            "get": _operation(
                "List events (stored and generated)",
                {"200": _json({"type": "array", "items": _ref(Event)}), **_errors(400)},
                parameters=_query(EventQuery),
            ),
            "post": _operation(
                "Create an event",
                {"201": _json(_ref(Event), "Created"), **_errors(400, 409, 413)},
                requestBody=event_body,
            ),
        },
        "/events/{id}": {
            "get": _operation(
                "Get an event", {"200": _json(_ref(Event)), **_errors(404)}, parameters=[id_param]
            ),
            "put": _operation(
                "Replace an event",
                {"200": _json(_ref(Event)), **_errors(400, 404, 413)},
                parameters=[id_param],
                requestBody=event_body,
            ),
            "delete": _operation(
                "Delete an event",
                {"204": {"description": "Deleted"}, **_errors(404)},
                parameters=[id_param],
            ),
        },
        "/events.ics": {
            "get": {
                "summary": "The calendar with filing deadlines, as an iCalendar feed",
                "parameters": _query(CalendarQuery),
                "security": [],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"text/calendar": {"schema": {"type": "string"}}},
                    },
                    "400": _json(_ref(ErrorBody), "Error"),
                    "403": _json(_ref(ErrorBody), "Error"),
                },
            }
        },
        "/forecasts": {
            "post": _operation(
                "Upload actuals or forecasts (JSON rows or CSV)",
                {"201": _json(_ref(IngestResult), "Stored"), **_errors(400, 413, 415)},
                requestBody=upload,
            )
        },
        "/requests": {
            "get": _operation(
                "List tracked assurance requests",
                {"200": _json({"type": "array", "items": _ref(TrackedRequest)}), **_errors(400)},
                parameters=_query(RequestQuery),
            )
        },
        "/requests/{rule}/{scope}/{period}": {
            "get": _operation(
                "A request with its audit trail (its id is rule/scope/period)",
                {"200": _json(_ref(RequestDetail)), **_errors(404)},
                parameters=[
                    {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                    for name in ("rule", "scope", "period")
                ],
            )
        },
        "/plan": {
            "get": _operation(
                "The plan computed from the stored data",
                {"200": _json(_ref(Plan)), **_errors(400)},
                parameters=_query(PlanQuery),
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Burst Assurance API",
            "version": "1",
            "description": "Event calendar, forecasts and service-assurance requests.",
        },
        "paths": paths,
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }


if __name__ == "__main__":  # `make openapi` writes the checked-in copy with this
    print(json.dumps(openapi_document(), indent=2, sort_keys=True))
