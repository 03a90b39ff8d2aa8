"""Fuzz every route in process with hypothesis: bodies and query strings made from the routes'
own shapes with tricky values mixed in. Whatever is sent, the answer is never a 5xx, and a
rejected request leaves everything the API can show as it was. (tests/test_fuzz_api.py drives
the OpenAPI document over HTTP; this one goes for what the document does not describe.)"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from servers import chalice_client
from test_app import CN_CSV, FINAL, JSON, NOW, TOKEN, body, run_cycle, snapshot

from chalicelib.config import bootstrap
from chalicelib.entry import clock
from chalicelib.entry.api.openapi import ALL_ROUTES

OPERATIONS = [op for routes in ALL_ROUTES for op in routes.operations]
REQUEST_ID = "daily-peak-jump/CN/2026-03-09"
DEEP = "[" * 50_000 + "]" * 50_000

TRICKY = st.sampled_from([
    "yes", "1", "true", "false", "1_000", "0x10", "", " ", "\x00", "Cup\x1b[2J", "\ud800",
    "1773055800000", "2026-03-09", "2026-03-09T19:30:00", "2026-03-09T19:30:00+08:00",
    "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-23:59",
    "2099-12-31T23:59:59+08:00", 1773055800000, 10**400, -(10**30), 1e308, 0.1, True, None,
    "CN", "MARS", "daily-peak-jump", "x" * 300,
])  # fmt: skip
LEAF = st.one_of(TRICKY, st.text(max_size=20), st.integers(), st.floats(allow_nan=False))
VALUE = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
RAW = st.sampled_from([
    DEEP, '{"by": ' + DEEP + "}", "{" * 5 + "}", "9" * 5000, '{"major": ' + "9" * 400 + "}",
    '{"x": NaN}', "[Infinity]", '{"by": "a", "by": 1}', "\xff\xfe", "null", "",
    "time,metric,scope,value\n" + "x" * 140_000 + ",a,b,c\n",
    "time,metric,scope,value\n9999-12-31T23:55:00+00:00,bandwidth,CN,1\n",
    "time,metric,scope,value\n2026-03-01T00:00:00+08:00,bandwidth,CN,1_000\n",
])  # fmt: skip
GOOD_BODIES = {
    "/events": FINAL,
    "/events/{event_id}": FINAL,
    "/forecasts": [{"time": "2026-03-01T00:00:00+08:00", "metric": "bandwidth", "scope": "CN",
                    "value": 1.0}],
    "approve": {"by": "carol"}, "reject": {"by": "carol", "reason": "covered"},
    "file": {"by": "carol"}, "mark-filed": {"by": "carol", "ticket": "CS-1"},
}  # fmt: skip


def good_body(path: str) -> Any:
    return GOOD_BODIES.get(path) or GOOD_BODIES.get(path.rsplit("/", 1)[-1], {})


@st.composite
def a_body(draw: st.DrawFn, path: str) -> str:
    """A valid body with one part replaced, random JSON, or raw text."""
    good = good_body(path)
    kind = draw(st.sampled_from(["mutated", "json", "raw"]))
    if kind == "raw":
        return draw(RAW | st.text(max_size=50))
    if kind == "json":
        return json.dumps(draw(VALUE))
    if isinstance(good, list):
        row = dict(good[0])
        row[draw(st.sampled_from([*row, "extra"]))] = draw(VALUE)
        return json.dumps([row])
    mutated = dict(good)
    mutated[draw(st.sampled_from([*mutated, "id", "notes", "extra"]))] = draw(VALUE)
    return json.dumps(mutated)


@st.composite
def a_query(draw: st.DrawFn) -> str:
    names = st.sampled_from([
        "from", "to", "major", "status", "rule", "scope", "presence", "deadline_from",
        "deadline_to", "now", "token", "utm_source", "by",
    ]) | st.text(max_size=8)  # fmt: skip
    values = TRICKY.map(str) | st.text(max_size=20)
    pairs = draw(st.lists(st.tuples(names, values), max_size=4))

    def encode(text: str) -> str:
        return urllib.parse.quote(text, safe="", errors="surrogatepass")

    return "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs)


@st.composite
def a_path(draw: st.DrawFn, template: str) -> str:
    segment = st.sampled_from(["cup-final", "spring-festival-gala-2027", "%00", "x" * 300])
    segment |= st.text(min_size=1, max_size=20).map(
        lambda t: urllib.parse.quote(t, safe="", errors="surrogatepass")
    )
    path = template.replace("{event_id}", draw(segment))
    real = draw(st.booleans())
    for name, part in zip(("{rule}", "{scope}", "{period}"), REQUEST_ID.split("/"), strict=True):
        path = path.replace(name, part if real else draw(segment))
    return path


@st.composite
def a_request(draw: st.DrawFn) -> tuple[str, str, dict[str, str], str | None]:
    operation = draw(st.sampled_from(OPERATIONS))
    path = draw(a_path(operation.path))
    query = draw(a_query())
    if query:
        path = f"{path}?{query}"
    media = st.sampled_from(list(operation.body or ["application/json"]))
    headers = {**JSON, "Content-Type": draw(media)}
    headers = draw(st.sampled_from([headers] * 8 + [{}, {"Authorization": "Bearer x"}]))
    payload = draw(a_body(operation.path)) if operation.method in {"POST", "PUT"} else None
    return operation.method, path, headers, payload


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """A store with an event, a forecast and the request it makes."""
    folder = tmp_path_factory.mktemp("fuzz-routes")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BURST_ASSURANCE_API_TOKEN", TOKEN)
        env.setenv("BURST_ASSURANCE_ICAL_TOKEN", "fuzz-feed-token")
        env.setenv("BURST_ASSURANCE_TRAFFIC_SOURCE", "store")
        env.setenv("BURST_ASSURANCE_DATA_DIR", str(folder / "data"))
        env.setenv("BURST_ASSURANCE_OUTBOX_DIR", str(folder / "outbox"))
        env.setattr(clock, "utc_now", lambda: dt.datetime.fromisoformat(NOW))
        with chalice_client(folder) as client:
            csv = {**JSON, "Content-Type": "text/csv"}
            assert client.http.post("/forecasts", headers=csv, body=CN_CSV).status_code == 201
            assert (
                client.http.post("/events", headers=JSON, body=json.dumps(FINAL)).status_code == 201
            )
            run_cycle(client)
            yield client
        bootstrap.reset()


@given(request=a_request())
@example(request=("POST", "/events", JSON, DEEP))
@example(request=("POST", f"/requests/{REQUEST_ID}/approve", JSON, '{"by": ' + DEEP + "}"))
@example(request=("POST", "/events", JSON, '{"major": ' + "9" * 5000 + "}"))
@example(request=("GET", "/plan?now=9999-12-31T23%3A59%3A59%2B00%3A00", JSON, None))
@example(request=("GET", "/plan?now=0001-01-01T00%3A00%3A00%2B08%3A00", JSON, None))
@example(request=("POST", "/events", JSON, json.dumps({**FINAL, "id": "f", "major": "yes"})))
@example(
    request=(
        "POST",
        "/events",
        JSON,
        json.dumps({**FINAL, "id": "f", "end": "9999-12-31T23:00:00+08:00"}),
    )
)
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
def test_any_request_gets_no_5xx_and_a_rejection_changes_nothing(seeded, request):
    method, path, headers, payload = request
    before = snapshot(seeded)
    response = seeded.http.request(method, path, headers=headers, body=(payload or "").encode(
        "utf-8", "surrogatepass"))  # fmt: skip
    assert response.status_code < 500, (request, response.body[:300])
    if response.status_code >= 400:
        assert snapshot(seeded) == before, request
        if response.status_code != 415:  # Chalice's own answer; our code never runs
            assert set(body(response)["error"]) == {"code", "message", "field"}
