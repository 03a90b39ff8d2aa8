"""Fuzz the API from its own OpenAPI document: whatever schemathesis sends, over real HTTP to the
Chalice local server on loopback, the answer is never a 5xx, and every error is our JSON shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from servers import local_server

from chalicelib.entry.api import openapi

TOKEN = "fuzz-token-5b1e"
# Our error body's code for each client-error status (chalicelib.entry.api.http.ApiError).
ERROR_CODES = {
    400: "invalid-input",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "too-large",
}
DOCUMENT = openapi.openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def documented(method: str, path: str) -> bool:
    return method.lower() in DOCUMENT["paths"].get(path, {})


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("fuzz-data")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BURST_ASSURANCE_API_TOKEN", TOKEN)
        env.setenv("BURST_ASSURANCE_ICAL_TOKEN", "fuzz-feed-token")
        env.setenv("BURST_ASSURANCE_DATA_DIR", str(data))
        env.setenv("BURST_ASSURANCE_TRAFFIC_SOURCE", "store")
        with local_server() as url:
            yield url


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_errors(case: schemathesis.Case, base_url: str) -> None:
    response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"})
    if not documented(case.method, case.path):
        # Methods the API does not have (TRACE, QUERY...) never reach our code; the local dev
        # server answers some of them 501 itself, where API Gateway would say 403.
        assert response.status_code < 500 or response.status_code == 501
        return
    assert response.status_code < 500, response.text
    if response.status_code < 400:
        return
    headers = {name.lower(): values for name, values in response.headers.items()}
    assert headers.get("content-type") == ["application/json"], headers
    body = response.json()
    if response.status_code == 415:
        # Chalice's own answer to a Content-Type the route does not take; our code never runs.
        assert set(body) == {"Code", "Message"}, body
        assert body["Code"] == "UnsupportedMediaType"
        assert body["Message"].startswith("Unsupported media type: ")
        return
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "field"}, error
    assert error["code"] == ERROR_CODES[response.status_code], (response.status_code, error)
    assert isinstance(error["message"], str), error
    assert error["message"], error
    assert error["field"] is None or isinstance(error["field"], str), error
