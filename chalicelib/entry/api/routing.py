"""Every API route as the app registers it, in a table: the app imports a route's module (its
models, its workflows, pydantic's schemas) with the route's first request, not at start-up, so a
cold start pays only for the route it answers (issue 12).

The route modules declare their routes (chalicelib.entry.api.http.Routes) and the OpenAPI
document is generated from those declarations; tests/test_routing.py keeps this table equal to
them. This module imports nothing of the API's own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from chalice import Chalice, Response

JSON = ("application/json",)
REQUEST_PATH = "/requests/{rule}/{scope}/{period}"


class Route(NamedTuple):
    module: str  # under chalicelib.entry.api
    handler: str  # the function the module declares the route on
    path: str
    method: str
    summary: str  # the OpenAPI summary; API Gateway's too
    secured: bool = True  # the API's token or API key required
    content_types: tuple[str, ...] = JSON  # what a request body may be


ROUTES = (
    Route("events", "list_events", "/events", "GET", "List events (stored and generated)"),
    Route("events", "create_event", "/events", "POST", "Create an event"),
    Route(
        "events", "import_calendar", "/events/import", "POST",
        "Import events from an iCalendar file (.ics, .ics.gz, .zip)",
        content_types=("text/calendar", "application/gzip", "application/zip"),
    ),
    Route("events", "get_event", "/events/{event_id}", "GET", "Get an event"),
    Route("events", "replace_event", "/events/{event_id}", "PUT", "Replace an event"),
    Route(
        "events", "delete_event", "/events/{event_id}", "DELETE",
        "Delete an event (with If-Match: only the version read)",
    ),
    Route(
        "events", "calendar_feed", "/events.ics", "GET",
        "The calendar with filing deadlines, as an iCalendar feed", secured=False,
    ),
    Route(
        "forecasts", "upload_forecast", "/forecasts", "POST",
        "Upload actuals or forecasts (JSON rows or CSV)",
        content_types=("application/json", "text/csv"),
    ),
    Route(
        "forecasts", "delete_forecast", "/forecasts", "DELETE",
        "Delete stored traffic of a scope in a time range (logged)",
    ),
    Route("requests", "list_requests", "/requests", "GET", "List tracked assurance requests"),
    Route(
        "requests", "get_request", REQUEST_PATH, "GET",
        "A request with its audit trail (its id is rule/scope/period)",
    ),
    Route(
        "requests", "approve_request", f"{REQUEST_PATH}/approve", "POST",
        "Approve a planned request",
    ),
    Route(
        "requests", "reject_request", f"{REQUEST_PATH}/reject", "POST",
        "Reject a planned request (a reason is required)",
    ),
    Route(
        "requests", "file_request", f"{REQUEST_PATH}/file", "POST",
        "File an approved request with the configured filer (on AWS: queued, 202)",
    ),
    Route(
        "requests", "mark_filed", f"{REQUEST_PATH}/mark-filed", "POST",
        "Record a ticket filed by hand in the console",
    ),
    Route("requests", "current_plan", "/plan", "GET", "The plan computed from the stored data"),
    Route(
        "slack", "slack_interactions", "/slack/interactions", "POST",
        "Slack buttons and modals (signed by Slack, not by a token)",
        secured=False, content_types=("application/x-www-form-urlencoded",),
    ),
    Route("page", "page", "/", "GET", "The plan as a picture (asks for the API token)",
          secured=False),
    Route(
        "page", "plan_view", "/plan/view", "GET",
        "The plan as the page draws it: per scope, forecast and requests",
    ),
    Route("page", "uplot_script", "/static/uplot.js", "GET", "uPlot, the chart library (MIT)",
          secured=False),
    Route("page", "uplot_styles", "/static/uplot.css", "GET", "uPlot's styles", secured=False),
    Route("openapi", "openapi", "/openapi.json", "GET", "This document"),
)  # fmt: skip


def register_routes(app: Chalice) -> None:
    """Every route of ROUTES on ``app``, each importing its module when first called."""
    for route in ROUTES:
        app.route(
            route.path,
            methods=[route.method],
            api_key_required=route.secured,
            content_types=list(route.content_types),
            name=route.handler,
        )(_view(app, route))


def _view(app: Chalice, route: Route) -> Callable[..., Response]:
    def view(**params: str) -> Response:
        return handler(app, route)(**params)

    view.__name__ = view.__qualname__ = route.handler
    view.__doc__ = route.summary  # what API Gateway's own definition shows
    return view


def handler(app: Chalice, route: Route) -> Callable[..., Response]:
    """The route's handler as its module declares it (authenticated, errors as JSON bodies),
    the module imported if it is not yet, and its routes bound to ``app``."""
    module: Any = importlib.import_module(f"chalicelib.entry.api.{route.module}")
    module.routes.bind(app)
    found: Callable[..., Response] = module.routes.handlers[(route.path, route.method)]
    return found
