"""The app registers its API routes from a table (chalicelib.entry.api.routing) so that a cold
start imports only the module of the route it answers. The table must be exactly what the route
modules declare, which the OpenAPI document describes: a route added, moved or secured there and
not here would be missing from, or wrong in, the deployed API."""

from __future__ import annotations

from servers import chalice_client

import app as application
from chalicelib.entry.api import routing
from chalicelib.entry.api.openapi import ALL_ROUTES
from chalicelib.entry.api.routing import ROUTES, Route


def declared() -> list[Route]:
    """The routes as the route modules declare them, in the table's terms."""
    found = []
    for routes in ALL_ROUTES:
        for op in routes.operations:
            handler = routes.handlers[(op.path, op.method)]
            module = handler.__module__.removeprefix("chalicelib.entry.api.")
            content_types = tuple(op.body) if op.body else routing.JSON
            route = Route(module, handler.__name__, op.path, op.method, op.summary)
            found.append(route._replace(secured=op.secured, content_types=content_types))
    return found


def test_the_table_is_what_the_route_modules_declare() -> None:
    assert sorted(ROUTES) == sorted(declared())
    assert len({(r.path, r.method) for r in ROUTES}) == len(ROUTES)


def test_the_app_registers_each_route_of_the_table_as_declared() -> None:
    registered = {
        (path, method): entry
        for path, methods in application.app.routes.items()
        for method, entry in methods.items()
    }
    assert set(registered) == {(r.path, r.method) for r in ROUTES}
    for route in ROUTES:
        entry = registered[(route.path, route.method)]
        assert entry.api_key_required is route.secured, route
        assert entry.content_types == list(route.content_types), route
        assert entry.view_name == route.handler
        assert entry.view_function.__doc__ == route.summary  # API Gateway's description


def test_a_route_answers_through_its_module_s_handler(monkeypatch, tmp_path) -> None:
    # Through the table, a request reaches the handler its module declares: authenticated (a
    # missing token is the declared 401 body), reading the query of the request the app holds.
    monkeypatch.setenv("BURST_ASSURANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BURST_ASSURANCE_API_TOKEN", "routing-token")
    auth = {"Authorization": "Bearer routing-token"}
    with chalice_client(tmp_path) as client:
        refused = client.http.get("/events")
        listed = client.http.get("/events?major=true", headers=auth)
        wrong = client.http.get("/events?major=yes", headers=auth)
    assert refused.status_code == 401
    assert refused.json_body["error"]["code"] == "unauthorized"
    assert listed.status_code == 200
    assert listed.json_body  # the Galas
    assert all(e["major"] for e in listed.json_body)
    assert wrong.status_code == 400
    assert wrong.json_body["error"]["field"] == "major"
