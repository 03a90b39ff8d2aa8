"""AWS entry points: Chalice schedules, S3 drop and API routes.

Each handler parses, calls a service function and renders. The clock is read here and nowhere
deeper. Heavy modules load on first use (chalicelib.runtime), not at import.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Cron, Rate, Response
from chalice.app import Request, S3Event

from chalicelib import api
from chalicelib.runtime import Runtime, runtime
from chalicelib.settings import Settings

app = Chalice(app_name="burst-assurance")
app.log.setLevel(logging.INFO)

# Read when Chalice packages the app: the cycle's rate and the S3 drop's bucket.
PACKAGING = Settings.from_env()
FORECAST_BUCKET = PACKAGING.bucket or "burst-assurance-forecasts"
JSON_OR_CSV = ["application/json", "text/csv"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- schedules ---------------------------------------------------------------------------------


@app.schedule(Rate(PACKAGING.cycle_minutes, unit=Rate.MINUTES))
def planning_cycle(event: Any) -> dict[str, int]:
    from chalicelib.service import run_cycle

    rt = runtime()
    report = run_cycle(rt.store, rt.source, rt.notifier, rt.policy, _now())
    app.log.info(
        "planning cycle: %d requests, %d changes", len(report.plan.requests), len(report.changes)
    )
    return {"requests": len(report.plan.requests), "changes": len(report.changes)}


@app.schedule(Cron(30, 1, "*", "*", "?", "*"))  # 09:30 Asia/Shanghai
def deadline_watch(event: Any) -> dict[str, int]:
    from chalicelib.service import deadline_watch as watch

    rt = runtime()
    reminded = watch(rt.store, rt.notifier, rt.policy, _now())
    app.log.info("deadline watch: %d reminders", len(reminded))
    return {"reminded": len(reminded)}


@app.on_s3_event(bucket=FORECAST_BUCKET, prefix="forecasts/", suffix=".csv")
def forecast_drop(event: S3Event) -> dict[str, Any]:
    """A CSV put under forecasts/ is validated and stored; a bad file stores nothing."""
    from chalicelib.s3_drop import ingest_object

    return ingest_object(runtime().store, event.bucket, event.key, app.log)


# -- API ---------------------------------------------------------------------------------------


def endpoint(secured: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """Authenticate, run the handler with the runtime, and turn errors into JSON 4xx bodies."""

    def wrap(handler: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def run(**params: str) -> Response:
            try:
                rt = runtime()
                if secured:
                    request = _request()
                    identity = (request.context or {}).get("identity") or {}
                    api.authenticate(rt.settings, request.headers, identity.get("apiKeyId"))
                return handler(rt, **params)
            except Exception as exc:
                error = api.as_api_error(exc)
                if error is None:
                    app.log.exception("unexpected error in %s", handler.__name__)
                    error = api.ApiError(500, "internal", "internal error; see the logs")
                return Response(error.body(), status_code=error.status)

        return run

    return wrap


def _json(body: Any, status: int = 200) -> Response:
    return Response(body, status_code=status, headers={"Content-Type": "application/json"})


def _request() -> Request:
    request = app.current_request
    if request is None:  # only outside a request, which Chalice never does for a route
        raise RuntimeError("no current request")
    return request


def _query() -> dict[str, str]:
    return dict(_request().query_params or {})


def _body() -> bytes:
    raw = _request().raw_body
    return raw.encode() if isinstance(raw, str) else bytes(raw or b"")


@app.route("/events", methods=["GET"], api_key_required=True)
@endpoint()
def list_events(rt: Runtime) -> Response:
    from chalicelib.service import calendar_events

    q = api.parse_query(api.EventQuery, _query())
    events = calendar_events(rt.store, rt.policy, q.from_, q.to, q.major, _now())
    return _json([e.model_dump(mode="json") for e in events])


@app.route("/events", methods=["POST"], api_key_required=True)
@endpoint()
def create_event(rt: Runtime) -> Response:
    from chalicelib.events import event_id_for
    from chalicelib.service import save_event

    body = api.parse_model(api.EventBody, api.parse_json(_body()))
    event = api.event_from_body(body, body.id or event_id_for(body.name, body.start))
    save_event(rt.store, rt.source, rt.policy, event, _now(), create=True)
    return _json(event.model_dump(mode="json"), 201)


@app.route("/events/{event_id}", methods=["GET"], api_key_required=True)
@endpoint()
def get_event(rt: Runtime, event_id: str) -> Response:
    from chalicelib.service import get_event as fetch

    return _json(fetch(rt.store, rt.policy, event_id).model_dump(mode="json"))


@app.route("/events/{event_id}", methods=["PUT"], api_key_required=True)
@endpoint()
def replace_event(rt: Runtime, event_id: str) -> Response:
    from chalicelib.service import save_event

    body = api.parse_model(api.EventBody, api.parse_json(_body()))
    event = api.event_from_body(body, event_id)
    save_event(rt.store, rt.source, rt.policy, event, _now(), create=False)
    return _json(event.model_dump(mode="json"))


@app.route("/events/{event_id}", methods=["DELETE"], api_key_required=True)
@endpoint()
def delete_event(rt: Runtime, event_id: str) -> Response:
    from chalicelib.service import remove_event

    remove_event(rt.store, rt.source, rt.policy, event_id, _now())
    return Response(body="", status_code=204)


@app.route("/events.ics", methods=["GET"])
@endpoint(secured=False)
def calendar_feed(rt: Runtime) -> Response:
    from chalicelib.ical import write_calendar
    from chalicelib.service import calendar_events

    q = api.parse_query(api.CalendarQuery, _query())
    api.check_feed_token(rt.settings, q.token)
    now = _now()
    events = calendar_events(rt.store, rt.policy, now=now)
    deadlines = [t.request for t in rt.store.list_requests() if t.needs_filing]
    return Response(
        body=write_calendar(events, deadlines).decode("utf-8"),
        status_code=200,
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Cache-Control": "private, max-age=300",
        },
    )


@app.route("/forecasts", methods=["POST"], content_types=JSON_OR_CSV, api_key_required=True)
@endpoint()
def upload_forecast(rt: Runtime) -> Response:
    from chalicelib.service import ingest_traffic
    from chalicelib.traffic import parse_csv, parse_rows

    content_type = (_request().headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type == "text/csv":
        raw = api.check_size(_body(), api.MAX_FORECAST_BYTES)
        traffic = parse_csv(_decode(raw), source="upload")
    else:
        traffic = parse_rows(api.parse_json(_body(), api.MAX_FORECAST_BYTES), source="upload")
    return _json(ingest_traffic(rt.store, traffic), 201)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise api.ApiError(400, "invalid-input", "the CSV is not UTF-8", "body") from None


@app.route("/requests", methods=["GET"], api_key_required=True)
@endpoint()
def list_requests(rt: Runtime) -> Response:
    q = api.parse_query(api.RequestQuery, _query())
    return _json([t.model_dump(mode="json") for t in rt.store.list_requests() if q.matches(t)])


@app.route("/requests/{rule}/{scope}/{period}", methods=["GET"], api_key_required=True)
@endpoint()
def get_request(rt: Runtime, rule: str, scope: str, period: str) -> Response:
    request_id = f"{rule}/{scope}/{period}"  # a request's id is rule/scope/period
    tracked = rt.store.get_request(request_id)
    if tracked is None:
        raise api.ApiError(404, "not-found", f"no request with id {request_id!r}")
    detail = api.RequestDetail(request=tracked, audit=rt.store.audit_trail(request_id))
    return _json(detail.model_dump(mode="json"))


@app.route("/plan", methods=["GET"], api_key_required=True)
@endpoint()
def current_plan(rt: Runtime) -> Response:
    from chalicelib.service import current_plan as plan

    q = api.parse_query(api.PlanQuery, _query())
    return _json(plan(rt.store, rt.source, rt.policy, q.now or _now()).model_dump(mode="json"))


@app.route("/openapi.json", methods=["GET"], api_key_required=True)
@endpoint()
def openapi(rt: Runtime) -> Response:
    return _json(api.openapi_document())
