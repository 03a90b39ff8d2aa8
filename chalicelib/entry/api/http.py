"""The API's HTTP plumbing: one way in for every route.

``Routes`` collects a module's routes: a route declared with it is authenticated, has its errors
turned into the JSON error body, and is recorded with its models for the OpenAPI document. The
app does not import the route modules to start: it registers every route from a table
(chalicelib.entry.api.routing) and imports a route's module with its first request, which binds
the module's ``Routes`` to the app. Parsing and authentication are plain functions, so they read
and test without Chalice.
"""

from __future__ import annotations

import csv
import functools
import hmac
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from chalice import Response
from pydantic import BaseModel, ValidationError

from chalicelib.config.bootstrap import Runtime, runtime
from chalicelib.config.settings import Settings
from chalicelib.domain.errors import Conflict, InputError, KeyReused, NotFound, PreconditionFailed
from chalicelib.domain.events import Event
from chalicelib.entry.api.models import EventBody
from chalicelib.workflows.ports import FilingError

if TYPE_CHECKING:
    from chalice import Chalice
    from chalice.app import Request

MAX_JSON_BYTES = 256 * 1024  # events and other small bodies
MAX_FORECAST_BYTES = 6 * 1024 * 1024  # Lambda's own limit for a synchronous payload
MAX_NUMBER_LENGTH = 40  # characters; no figure we take is longer, and float() overflows past 308
JSON = "application/json"
REALM = "burst-assurance"

Model = TypeVar("Model", bound=BaseModel)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers: dict[str, str | list[str]] = {"Content-Type": JSON, **(headers or {})}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}

    def response(self) -> Response:
        return Response(self.body(), status_code=self.status, headers=self.headers)


def unauthorized(message: str, invalid_token: bool = False) -> ApiError:
    """401 with the challenge RFC 6750 asks for; ``invalid_token`` when a token was sent."""
    challenge = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if invalid_token else "")
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


def as_api_error(exc: Exception) -> ApiError | None:
    """The HTTP form of a domain error; None for an unexpected one (a 500, logged)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ValidationError):
        return validation_error(exc)
    if isinstance(exc, KeyReused):
        return ApiError(422, "key-reused", str(exc), exc.field)
    if isinstance(exc, InputError):
        return ApiError(400, "invalid-input", str(exc), exc.field)
    if isinstance(exc, NotFound):
        return ApiError(404, "not-found", str(exc))
    if isinstance(exc, PreconditionFailed):
        return ApiError(412, "precondition-failed", str(exc))
    if isinstance(exc, Conflict):
        return ApiError(409, "conflict", str(exc))
    if isinstance(exc, csv.Error):  # a parser's complaint about what the client sent
        return ApiError(400, "invalid-input", f"not valid CSV: {exc}", "body")
    if isinstance(exc, FilingError):
        return ApiError(502, "filing-failed", f"the filer failed (recorded, retried): {exc}")
    return None


def validation_error(exc: ValidationError) -> ApiError:
    errors = exc.errors()
    first = errors[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    message = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors[:10]
    )
    return ApiError(400, "invalid-input", message, field)


# -- parsing -----------------------------------------------------------------------------------


def check_size(raw: bytes | None, limit: int) -> bytes:
    raw = raw or b""
    if len(raw) > limit:
        raise ApiError(413, "too-large", f"body of {len(raw)} bytes exceeds {limit} bytes")
    return raw


def parse_json(raw: bytes | None, limit: int = MAX_JSON_BYTES) -> Any:
    """Plain JSON: no NaN or Infinity, no number longer than we could use, no deep nesting."""
    body = check_size(raw, limit)
    if not body.strip():
        raise ApiError(400, "invalid-input", "a JSON body is required", "body")
    try:
        return json.loads(
            body, parse_int=_integer, parse_float=_decimal, parse_constant=_not_a_number
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid-input", f"body is not valid JSON: {exc}", "body") from None
    except RecursionError:
        raise ApiError(400, "invalid-input", "body is nested too deeply", "body") from None


def _integer(text: str) -> int:
    return int(_short_number(text))


def _decimal(text: str) -> float:
    number = float(_short_number(text))
    if not math.isfinite(number):
        raise ApiError(400, "invalid-input", f"number {text} is out of range", "body")
    return number


def _short_number(text: str) -> str:
    if len(text) > MAX_NUMBER_LENGTH:
        message = f"a number of {len(text)} characters; at most {MAX_NUMBER_LENGTH} are taken"
        raise ApiError(400, "invalid-input", message, "body")
    return text


def _not_a_number(text: str) -> Any:
    raise ApiError(400, "invalid-input", f"body is not valid JSON: {text} is not a number", "body")


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


def authenticate(settings: Settings, headers: Mapping[str, str], api_key_id: str | None) -> str:
    """Who calls, e.g. "api key alice", the way the deployment says; 401 or 403 if no one known."""
    if settings.api_auth == "api-key":
        return f"api key {known_api_key(settings, api_key_id)}"
    tokens = settings.bearer_tokens
    if not tokens:
        raise unauthorized("the API token is not configured on this server")
    name = _token_owner(tokens, bearer_token(headers))
    if name is None:
        raise unauthorized("the token is not valid", invalid_token=True)
    return f"api token {name}"


def known_api_key(settings: Settings, api_key_id: str | None) -> str:
    """The name of the key API Gateway checked. It refuses a request without a valid key, so
    one reaching us without a key id, or with one we were not told of, is refused here too."""
    if not api_key_id:
        raise ApiError(403, "forbidden", "API key required")
    for name, key_id in settings.api_keys.items():
        if same_secret(api_key_id, key_id):
            return name
    raise ApiError(403, "forbidden", "this API key is not one this deployment accepts")


def bearer_token(headers: Mapping[str, str]) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 when the header is missing or not one."""
    header = headers.get("authorization")
    if header is None:
        raise unauthorized("send Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("send Authorization: Bearer <token>", invalid_token=True)
    return token.strip()


def _token_owner(tokens: Mapping[str, str], token: str) -> str | None:
    owners = [name for name, expected in tokens.items() if same_secret(token, expected)]
    return owners[0] if owners else None


def same_secret(given: str, expected: str) -> bool:
    """Compared in constant time; whatever characters a client sends, never an exception."""
    encode = functools.partial(str.encode, encoding="utf-8", errors="surrogatepass")
    return hmac.compare_digest(encode(given), encode(expected))


def check_feed_token(
    settings: Settings, query_token: str | None, headers: Mapping[str, str]
) -> None:
    """The feed's token comes in its URL (what calendar apps subscribe to) or as a bearer token."""
    token = query_token if query_token is not None else bearer_token(headers)
    expected = settings.ical_token.get_secret_value() if settings.ical_token else ""
    if not expected or not same_secret(token, expected):
        raise unauthorized("the calendar token is not valid", invalid_token=True)


# -- routes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """A route as the OpenAPI document describes it."""

    path: str
    method: str
    summary: str
    status: int  # on success
    response: Any  # a model, list[model], a media type string (e.g. text/calendar), or None
    query: type[BaseModel] | None
    body: dict[str, Any] | None  # media type -> a model, list[model], or str for raw text
    errors: tuple[int, ...]
    secured: bool

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


@dataclass
class Routes:
    """A module's routes: they share authentication, error bodies and documentation. Each is
    kept as its guarded handler under (path, method), for the app's table to call."""

    name: str
    operations: list[Operation] = field(default_factory=list)
    handlers: dict[tuple[str, str], Callable[..., Response]] = field(default_factory=dict)
    app: Chalice | None = field(default=None, repr=False)

    def route(
        self,
        path: str,
        method: str,
        summary: str,
        *,
        status: int = 200,
        response: Any = None,
        query: type[BaseModel] | None = None,
        body: dict[str, Any] | None = None,
        errors: tuple[int, ...] = (),
        secured: bool = True,
    ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        operation = Operation(
            path, method, summary, status, response, query, body, errors, secured
        )  # fmt: skip
        self.operations.append(operation)

        def register(handler: Callable[..., Response]) -> Callable[..., Response]:
            run = self._guarded(handler, secured)
            self.handlers[(path, method)] = run
            return run

        return register

    def bind(self, app: Chalice) -> None:
        """The app whose current request the handlers read (set before each call)."""
        self.app = app

    def _guarded(self, handler: Callable[..., Response], secured: bool) -> Callable[..., Response]:
        """Authenticate, run the handler with the runtime, turn errors into JSON 4xx bodies."""

        @functools.wraps(handler)
        def run(**params: str) -> Response:
            try:
                rt = runtime()
                if secured:
                    self.caller(rt)  # 401 or 403 unless the caller is one we know
                return handler(rt, **params)
            except Exception as exc:
                error = as_api_error(exc)
                if error is None:
                    self.log.exception("unexpected error in %s", handler.__name__)
                    error = ApiError(500, "internal", "internal error; see the logs")
                return error.response()

        return run

    @property
    def request(self) -> Request:
        """The request being answered."""
        request = self.app.current_request if self.app is not None else None
        if request is None:
            raise RuntimeError(f"routes {self.name!r}: no request (not called through the app)")
        return request

    @property
    def log(self) -> logging.Logger:
        return self.app.log if self.app is not None else logging.getLogger(__name__)

    # What a handler reads of its request.
    def caller(self, rt: Runtime) -> str:
        request = self.request
        identity = (request.context or {}).get("identity") or {}
        return authenticate(rt.settings, request.headers, identity.get("apiKeyId"))

    def actor(self, rt: Runtime, by: str) -> str:
        """Who an audit entry names: the person the body says, and the caller who said it."""
        return f"{by} ({self.caller(rt)})"

    def query(self) -> dict[str, str]:
        return dict(self.request.query_params or {})

    def body(self) -> bytes:
        raw = self.request.raw_body
        return raw.encode() if isinstance(raw, str) else bytes(raw or b"")

    def content_type(self) -> str:
        header = self.request.headers.get("content-type") or ""
        return header.split(";")[0].strip().lower()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(body, status_code=status, headers={"Content-Type": JSON})
