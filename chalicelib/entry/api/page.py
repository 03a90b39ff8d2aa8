"""The plan page: a public shell that holds no data, the view model it draws (behind the API's
authentication), and the chart library it loads."""

from __future__ import annotations

from chalice import Response

from chalicelib.adapters import plan_page
from chalicelib.config.bootstrap import Runtime
from chalicelib.entry import clock
from chalicelib.entry.api.http import Routes, json_response, parse_query
from chalicelib.entry.api.models import PlanQuery
from chalicelib.workflows.plan_view import PlanView

routes = Routes("page")
STATIC_CACHE = "public, max-age=86400"


@routes.route("/", "GET", "The plan as a picture (asks for the API token)",
              response="text/html", secured=False)  # fmt: skip
def page(rt: Runtime) -> Response:
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": plan_page.shell_policy(),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    return Response(plan_page.render_shell(), status_code=200, headers=headers)


@routes.route(
    "/plan/view", "GET", "The plan as the page draws it: per scope, forecast and requests",
    response=PlanView, query=PlanQuery, errors=(400,),
)  # fmt: skip
def plan_view(rt: Runtime) -> Response:
    from chalicelib.workflows.plan_view import current_plan_view  # NumPy loads here

    q = parse_query(PlanQuery, routes.query())
    view = current_plan_view(rt.store, rt.source, rt.policy, q.now or clock.utc_now())
    return json_response(view.model_dump(mode="json"))


@routes.route("/static/uplot.js", "GET", "uPlot, the chart library (MIT)",
              response="text/javascript", secured=False)  # fmt: skip
def uplot_script(rt: Runtime) -> Response:
    return _static(plan_page.UPLOT_JS, "text/javascript; charset=utf-8")


@routes.route("/static/uplot.css", "GET", "uPlot's styles",
              response="text/css", secured=False)  # fmt: skip
def uplot_styles(rt: Runtime) -> Response:
    return _static(plan_page.UPLOT_CSS, "text/css; charset=utf-8")


def _static(name: str, media_type: str) -> Response:
    headers: dict[str, str | list[str]] = {
        "Content-Type": media_type,
        "Cache-Control": STATIC_CACHE,
        "X-Content-Type-Options": "nosniff",
    }
    return Response(plan_page.static_text(name), status_code=200, headers=headers)
