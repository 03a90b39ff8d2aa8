"""Routes of the event calendar and its iCalendar feed."""

from __future__ import annotations

from chalice import Response

from chalicelib.config.bootstrap import Runtime
from chalicelib.domain.events import Event, event_id_for
from chalicelib.entry import clock
from chalicelib.entry.api.http import (
    Routes,
    check_feed_token,
    event_from_body,
    json_response,
    parse_json,
    parse_model,
    parse_query,
)
from chalicelib.entry.api.models import CalendarQuery, EventBody, EventQuery
from chalicelib.workflows import events as calendar
from chalicelib.workflows.requests import open_requests

routes = Routes("events")
EVENT_BODY = {"application/json": EventBody}


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
    status=201, response=Event, body=EVENT_BODY, errors=(400, 409, 413),
)  # fmt: skip
def create_event(rt: Runtime) -> Response:
    body = parse_model(EventBody, parse_json(routes.body()))
    event = event_from_body(body, body.id or event_id_for(body.name, body.start))
    calendar.save_event(rt.store, rt.source, rt.policy, event, clock.utc_now(), create=True)
    return json_response(event.model_dump(mode="json"), 201)


@routes.route("/events/{event_id}", "GET", "Get an event", response=Event, errors=(404,))
def get_event(rt: Runtime, event_id: str) -> Response:
    return json_response(calendar.get_event(rt.store, rt.policy, event_id).model_dump(mode="json"))


@routes.route(
    "/events/{event_id}", "PUT", "Replace an event",
    response=Event, body=EVENT_BODY, errors=(400, 404, 413),
)  # fmt: skip
def replace_event(rt: Runtime, event_id: str) -> Response:
    body = parse_model(EventBody, parse_json(routes.body()))
    event = event_from_body(body, event_id)
    calendar.save_event(rt.store, rt.source, rt.policy, event, clock.utc_now(), create=False)
    return json_response(event.model_dump(mode="json"))


@routes.route("/events/{event_id}", "DELETE", "Delete an event", status=204, errors=(404,))
def delete_event(rt: Runtime, event_id: str) -> Response:
    calendar.remove_event(rt.store, rt.source, rt.policy, event_id, clock.utc_now())
    return Response(body="", status_code=204)


@routes.route(
    "/events.ics", "GET", "The calendar with filing deadlines, as an iCalendar feed",
    response="text/calendar", query=CalendarQuery, errors=(400, 401), secured=False,
)  # fmt: skip
def calendar_feed(rt: Runtime) -> Response:
    from chalicelib.adapters.ical import write_calendar

    q = parse_query(CalendarQuery, routes.query())
    check_feed_token(rt.settings, q.token, routes.blueprint.current_request.headers)
    events = calendar.calendar_events(rt.store, rt.policy, now=clock.utc_now())
    deadlines = [t.request for t in open_requests(rt.store)]
    return Response(
        body=write_calendar(events, deadlines, zone=rt.policy.zone).decode("utf-8"),
        status_code=200,
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Cache-Control": "private, max-age=300",
        },
    )
