"""Routes of the tracked requests and the current plan."""

from __future__ import annotations

from chalice import Response

from chalicelib.config.bootstrap import Runtime
from chalicelib.domain.assurance import Plan
from chalicelib.domain.tracking import TrackedRequest
from chalicelib.entry import clock
from chalicelib.entry.api.http import Routes, json_response, parse_query
from chalicelib.entry.api.models import PlanQuery, RequestDetail, RequestQuery
from chalicelib.workflows.requests import find_requests, request_history

routes = Routes("requests")


@routes.route(
    "/requests", "GET", "List tracked assurance requests",
    response=list[TrackedRequest], query=RequestQuery, errors=(400,),
)  # fmt: skip
def list_requests(rt: Runtime) -> Response:
    q = parse_query(RequestQuery, routes.query())
    return json_response([t.model_dump(mode="json") for t in find_requests(rt.store, q.matches)])


@routes.route(
    "/requests/{rule}/{scope}/{period}", "GET",
    "A request with its audit trail (its id is rule/scope/period)",
    response=RequestDetail, errors=(404,),
)  # fmt: skip
def get_request(rt: Runtime, rule: str, scope: str, period: str) -> Response:
    history = request_history(rt.store, f"{rule}/{scope}/{period}")
    detail = RequestDetail(request=history.request, audit=history.audit)
    return json_response(detail.model_dump(mode="json"))


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
