"""Routes of the event calendar and its iCalendar feed."""

from __future__ import annotations

import hashlib
import json

from chalice import Response

from chalicelib.config.bootstrap import Runtime
from chalicelib.domain.errors import Conflict, InputError
from chalicelib.domain.events import Event, etag, event_id_for, revised
from chalicelib.entry import clock
from chalicelib.entry.api.http import (
    Routes,
    check_feed_token,
    check_size,
    event_from_body,
    json_response,
    parse_json,
    parse_model,
    parse_query,
)
from chalicelib.entry.api.models import (
    CalendarQuery,
    EventBody,
    EventQuery,
    ImportQuery,
    ImportResult,
)
from chalicelib.workflows import events as calendar
from chalicelib.workflows.ports import Answer

routes = Routes("events")
EVENT_BODY = {"application/json": EventBody}
JSON_TYPE: dict[str, str | list[str]] = {"Content-Type": "application/json"}
# An exported calendar as it comes: plain, gzipped, or Google Takeout's zip of .ics files.
CALENDAR_BODY = {"text/calendar": str, "application/gzip": str, "application/zip": str}
MAX_CALENDAR_BYTES = 5 * 1024 * 1024


@routes.route(
    "/events", "GET", "List events (stored and generated)",
    response=list[Event], query=EventQuery, errors=(400,),
)  # fmt: skip
def list_events(rt: Runtime) -> Response:
    q = parse_query(EventQuery, routes.query())
    events = calendar.calendar_events(rt.store, rt.policy, q.from_, q.to, q.major, clock.utc_now())
    return json_response([e.model_dump(mode="json") for e in events])


@routes.route(
    "/events", "POST", "Create an event",
    status=201, response=Event, body=EVENT_BODY, errors=(400, 409, 413, 422),
)  # fmt: skip
def create_event(rt: Runtime) -> Response:
    """With an Idempotency-Key, a retry of the same request gets the first answer again."""
    raw = routes.body()
    body = parse_model(EventBody, parse_json(raw))
    event = event_from_body(body, body.id or event_id_for(body.name, body.start))
    key = _idempotency_key()
    request_hash = hashlib.sha256(raw).hexdigest()
    answer = calendar.replay(rt.store, key, request_hash) if key else None
    if answer is not None:
        return _answer(answer)
    now = clock.utc_now()
    stored = revised(None, event, now)  # what save_event stores: the answer to keep for the key
    created = json.dumps(stored.model_dump(mode="json"))
    first = Answer(key, request_hash, 201, created) if key else None
    try:
        calendar.save_event(
            rt.store, rt.source, rt.policy, event, now, create=True, first_answer=first
        )
    except Conflict:
        answer = calendar.replay(rt.store, key, request_hash) if key else None
        if answer is None:
            raise
        return _answer(answer)  # the same request, sent twice at once: it won the other time
    return Response(created, status_code=201, headers={**JSON_TYPE, "ETag": etag(stored)})


@routes.route(
    "/events/import", "POST", "Import events from an iCalendar file (.ics, .ics.gz, .zip)",
    response=ImportResult, query=ImportQuery, body=CALENDAR_BODY, errors=(400, 413, 415),
)  # fmt: skip
def import_calendar(rt: Runtime) -> Response:
    """Ids come from each event's UID, so importing the same file again updates, never
    duplicates. Recurring events are expanded over the planning horizon."""
    from chalicelib.adapters.ical import read_calendar_bytes

    q = parse_query(ImportQuery, routes.query())
    raw = check_size(routes.body(), MAX_CALENDAR_BYTES)
    now = clock.utc_now()
    start, end = calendar.recurrence_window(rt.policy, now)
    events = read_calendar_bytes(
        raw, _upload_name(), zone=rt.policy.zone, default_major=q.major, start=start, end=end,
        marking=("add ?major=true", "?major=false"),
    )  # fmt: skip
    done = calendar.import_events(rt.store, rt.source, rt.policy, events, now)
    result = ImportResult(
        imported=len(events), written=done.written, ids=[e.id for e in events],
        replanned=len(done.changes),
    )  # fmt: skip
    return json_response(result.model_dump(mode="json"))


def _upload_name() -> str:
    """What errors call the upload; its type tells a zip or gzip apart when its bytes do not."""
    suffix = {"application/zip": ".zip", "application/gzip": ".gz"}
    return "upload" + suffix.get(routes.content_type(), ".ics")


def _idempotency_key() -> str | None:
    key = routes.request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise InputError("Idempotency-Key: 1 to 200 printable characters", "Idempotency-Key")
    return key


def _answer(answer: Answer) -> Response:
    return Response(answer.body, status_code=answer.status, headers=JSON_TYPE)


def _if_match() -> str | None:
    value = routes.request.headers.get("if-match")
    return value.strip() if value else None


@routes.route("/events/{event_id}", "GET", "Get an event", response=Event, errors=(404,))
def get_event(rt: Runtime, event_id: str) -> Response:
    event = calendar.get_event(rt.store, rt.policy, event_id)
    body = json.dumps(event.model_dump(mode="json"))
    return Response(body, status_code=200, headers={**JSON_TYPE, "ETag": etag(event)})


@routes.route(
    "/events/{event_id}", "PUT", "Replace an event",
    response=Event, body=EVENT_BODY, errors=(400, 404, 412, 413),
)  # fmt: skip
def replace_event(rt: Runtime, event_id: str) -> Response:
    """Only an existing event; with If-Match, only the version the caller read."""
    body = parse_model(EventBody, parse_json(routes.body()))
    event = event_from_body(body, event_id)
    stored, _ = calendar.save_event(
        rt.store, rt.source, rt.policy, event, clock.utc_now(), create=False, if_match=_if_match()
    )
    body_json = json.dumps(stored.model_dump(mode="json"))
    return Response(body_json, status_code=200, headers={**JSON_TYPE, "ETag": etag(stored)})


@routes.route(
    "/events/{event_id}", "DELETE", "Delete an event (with If-Match: only the version read)",
    status=204, errors=(404, 412),
)  # fmt: skip
def delete_event(rt: Runtime, event_id: str) -> Response:
    calendar.remove_event(
        rt.store, rt.source, rt.policy, event_id, clock.utc_now(), if_match=_if_match()
    )
    return Response(body="", status_code=204)


@routes.route(
    "/events.ics", "GET", "The calendar with filing deadlines, as an iCalendar feed",
    response="text/calendar", query=CalendarQuery, errors=(400, 401), secured=False,
)  # fmt: skip
def calendar_feed(rt: Runtime) -> Response:
    """Events, and each open request at its deadline with alarms at the reminder points."""
    from chalicelib.adapters import ical
    from chalicelib.domain.workdays import WorkingDayCalendar
    from chalicelib.workflows.requests import open_requests

    q = parse_query(CalendarQuery, routes.query())
    check_feed_token(rt.settings, q.token, routes.request.headers)
    now, zone = clock.utc_now(), rt.policy.zone
    events = calendar.calendar_events(rt.store, rt.policy, now=now)
    tracked = open_requests(rt.store)
    workdays, points = WorkingDayCalendar(rt.policy.calendar), rt.policy.approvals
    document = ical.write_calendar(
        events, [t.request for t in tracked], zone=zone, now=now,
        alarms=lambda r: ical.reminder_moments(
            r.deadline, workdays, zone, points.reminder_working_days
        ),
        revisions={t.id: ical.Revision(t.version, t.updated_at) for t in tracked},
    )  # fmt: skip
    return Response(
        body=document.decode("utf-8"),
        status_code=200,
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Cache-Control": "private, max-age=300",
        },
    )
