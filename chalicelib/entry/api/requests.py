"""Routes of the tracked requests and the current plan."""

from __future__ import annotations

from typing import Literal

from chalice import Response

from chalicelib.config.bootstrap import Runtime
from chalicelib.domain.assurance import Plan
from chalicelib.domain.tracking import TrackedRequest
from chalicelib.entry import clock
from chalicelib.entry.api.http import Routes, json_response, parse_json, parse_model, parse_query
from chalicelib.entry.api.models import (
    DecisionBody,
    FilingBody,
    ManualFilingBody,
    PlanQuery,
    RequestDetail,
    RequestQuery,
)
from chalicelib.entry.jobs import submit
from chalicelib.workflows import requests as tracked_requests
from chalicelib.workflows.requests import find_requests, request_history

routes = Routes("requests")
REQUEST_PATH = "/requests/{rule}/{scope}/{period}"


def _request_id(rule: str, scope: str, period: str) -> str:
    return f"{rule}/{scope}/{period}"  # a request's id is its path under /requests


@routes.route(
    "/requests", "GET", "List tracked assurance requests",
    response=list[TrackedRequest], query=RequestQuery, errors=(400,),
)  # fmt: skip
def list_requests(rt: Runtime) -> Response:
    q = parse_query(RequestQuery, routes.query())
    return json_response([t.model_dump(mode="json") for t in find_requests(rt.store, q.matches)])


@routes.route(
    REQUEST_PATH, "GET",
    "A request with its audit trail (its id is rule/scope/period)",
    response=RequestDetail, errors=(404,),
)  # fmt: skip
def get_request(rt: Runtime, rule: str, scope: str, period: str) -> Response:
    history = request_history(rt.store, _request_id(rule, scope, period))
    detail = RequestDetail(request=history.request, audit=history.audit)
    return json_response(detail.model_dump(mode="json"))


@routes.route(
    f"{REQUEST_PATH}/approve", "POST", "Approve a planned request",
    response=TrackedRequest, body={"application/json": DecisionBody}, errors=(400, 404, 409),
)  # fmt: skip
def approve_request(rt: Runtime, rule: str, scope: str, period: str) -> Response:
    return _decide(rt, _request_id(rule, scope, period), "approved")


@routes.route(
    f"{REQUEST_PATH}/reject", "POST", "Reject a planned request (a reason is required)",
    response=TrackedRequest, body={"application/json": DecisionBody}, errors=(400, 404, 409),
)  # fmt: skip
def reject_request(rt: Runtime, rule: str, scope: str, period: str) -> Response:
    return _decide(rt, _request_id(rule, scope, period), "rejected")


def _decide(rt: Runtime, request_id: str, outcome: Literal["approved", "rejected"]) -> Response:
    from chalicelib.workflows.approvals import decide_request

    body = parse_model(DecisionBody, parse_json(routes.body()))
    now = clock.utc_now()
    by = routes.actor(rt, body.by)
    after = decide_request(rt.store, request_id, outcome, by, now, body.reason)
    return json_response(after.model_dump(mode="json"))


@routes.route(
    f"{REQUEST_PATH}/file", "POST",
    "File an approved request with the configured filer (on AWS: queued, 202)",
    response=TrackedRequest, body={"application/json": FilingBody}, errors=(400, 404, 409, 502),
)  # fmt: skip
def file_request(rt: Runtime, rule: str, scope: str, period: str) -> Response:
    from chalicelib.workflows.filing import file_request as file

    body = parse_model(FilingBody, parse_json(routes.body()))
    request_id, by = _request_id(rule, scope, period), routes.actor(rt, body.by)
    if rt.settings.work_queue == "sqs":  # the filing worker holds the filer's secrets, not us
        tracked = tracked_requests.get_request(rt.store, request_id)
        submit(rt, {"job": "file", "request_id": request_id, "by": by}, routes.log)
        return json_response(tracked.model_dump(mode="json"), 202)
    after = file(
        rt.store, rt.filer, request_id, by, clock.utc_now(), rt.policy.zone,
        rt.settings.account,
    )  # fmt: skip
    return json_response(after.model_dump(mode="json"))


@routes.route(
    f"{REQUEST_PATH}/mark-filed", "POST", "Record a ticket filed by hand in the console",
    response=TrackedRequest, body={"application/json": ManualFilingBody}, errors=(400, 404, 409),
)  # fmt: skip
def mark_filed(rt: Runtime, rule: str, scope: str, period: str) -> Response:
    from chalicelib.workflows.filing import mark_filed as record

    body = parse_model(ManualFilingBody, parse_json(routes.body()))
    by = routes.actor(rt, body.by)
    after = record(rt.store, _request_id(rule, scope, period), body.ticket, by, clock.utc_now())
    return json_response(after.model_dump(mode="json"))


@routes.route(
    "/plan", "GET", "The plan computed from the stored data",
    response=Plan, query=PlanQuery, errors=(400,),
)  # fmt: skip
def current_plan(rt: Runtime) -> Response:
    from chalicelib.workflows.planning import current_plan as plan  # NumPy loads here

    q = parse_query(PlanQuery, routes.query())
    return json_response(
        plan(rt.store, rt.source, rt.policy, q.now or clock.utc_now()).model_dump(mode="json")
    )
