"""Every route and schedule through chalice.test.Client, on SQLite and on DynamoDB Local."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from builders import bandwidth_csv
from servers import chalice_client, use_store

from chalicelib.config import bootstrap
from chalicelib.entry import clock

CST = ZoneInfo("Asia/Shanghai")
TOKEN = "test-api-token-7f3a"
FEED_TOKEN = "feed-token-91c2"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Content-Type": "application/json"}
NOW = "2026-03-01T09:00:00+08:00"


def cn_csv(*jump_days: dt.date, days: int = 20) -> str:
    peaks = {("CN", day): 310.0 for day in jump_days}
    return bandwidth_csv(dt.date(2026, 3, 1), days, {"CN": 50.0}, peaks)


CN_CSV = cn_csv(dt.date(2026, 3, 9))
FINAL = {
    "id": "cup-final",
    "name": "Cup final",
    "start": "2026-03-09T19:30:00+08:00",
    "end": "2026-03-09T22:30:00+08:00",
    "major": True,
    "scopes": ["CN"],
}


@pytest.fixture(params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def client(request, tmp_path, monkeypatch):
    monkeypatch.setenv("BURST_ASSURANCE_API_TOKEN", TOKEN)
    monkeypatch.setenv("BURST_ASSURANCE_ICAL_TOKEN", FEED_TOKEN)
    monkeypatch.setenv("BURST_ASSURANCE_TRAFFIC_SOURCE", "store")
    monkeypatch.setenv("BURST_ASSURANCE_OUTBOX_DIR", str(tmp_path / "outbox"))
    use_store(request.param, request, tmp_path, monkeypatch)
    set_clock(monkeypatch, NOW)
    with chalice_client(tmp_path) as test_client:
        yield test_client


def set_clock(monkeypatch, iso: str) -> None:
    """The entry points read the clock through chalicelib.entry.clock; pin it."""
    monkeypatch.setattr(clock, "utc_now", lambda: dt.datetime.fromisoformat(iso))


def get(client, path, headers=AUTH):
    return client.http.get(path, headers=headers)


def body(response):
    return json.loads(response.body)


def snapshot(client):
    """Everything the API can show, to prove a rejected request changed nothing."""
    events = body(get(client, "/events"))
    requests = body(get(client, "/requests"))
    plan = body(get(client, f"/plan?now={NOW.replace('+', '%2B')}"))
    return events, requests, plan["requests"]


def upload(client, csv=CN_CSV):
    return client.http.post("/forecasts", headers={**AUTH, "Content-Type": "text/csv"}, body=csv)


def run_cycle(client):
    return client.lambda_.invoke("planning_cycle", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))  # fmt: skip


# -- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": TOKEN}, 401)],
)
def test_requests_without_a_valid_token_are_refused_and_touch_nothing(client, headers, status):
    before = snapshot(client)
    for method, path in [("get", "/events"), ("get", "/requests"), ("get", "/plan")]:
        response = getattr(client.http, method)(path, headers=headers)
        assert response.status_code == status
        assert body(response)["error"]["code"] in {"unauthorized", "forbidden"}
    posted = client.http.post("/events", headers={**headers, "Content-Type": "application/json"},
                              body=json.dumps(FINAL))  # fmt: skip
    assert posted.status_code == status
    assert snapshot(client) == before


def test_api_key_mode_refuses_a_request_api_gateway_did_not_key(client, monkeypatch):
    """On AWS, API Gateway checks the key; a request reaching us without its key id (a
    misconfigured stage, or a direct invoke) is refused, bearer token or not."""
    monkeypatch.setenv("BURST_ASSURANCE_API_AUTH", "api-key")
    bootstrap.reset()
    response = get(client, "/events")
    assert response.status_code == 403
    assert body(response)["error"] == {
        "code": "forbidden", "message": "API key required", "field": None,
    }  # fmt: skip


def test_tokens_come_from_secrets_manager(client, monkeypatch):
    from secrets_standin import serving

    secret = {"api_token": "from-the-secret", "ical_token": "feed-from-the-secret"}
    with serving(secret) as (endpoint, calls):
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("BURST_ASSURANCE_API_SECRET_ID", "burst-assurance/runtime")
        bootstrap.reset()
        assert get(client, "/events").status_code == 401  # the env token no longer counts
        assert (
            get(client, "/events", {"Authorization": "Bearer from-the-secret"}).status_code == 200
        )
        assert client.http.get("/events.ics?token=feed-from-the-secret").status_code == 200
    assert calls == ["burst-assurance/runtime"]  # fetched once per container, then cached


def test_an_unconfigured_token_refuses_everyone(client, monkeypatch):
    monkeypatch.delenv("BURST_ASSURANCE_API_TOKEN")
    bootstrap.reset()
    response = get(client, "/events")
    assert response.status_code == 401
    assert "not configured" in body(response)["error"]["message"]


# -- events ------------------------------------------------------------------------------------


def test_event_lifecycle(client):
    created = client.http.post("/events", headers=JSON, body=json.dumps(FINAL))
    assert created.status_code == 201
    assert body(created)["start"] == "2026-03-09T19:30:00+08:00"

    again = client.http.post("/events", headers=JSON, body=json.dumps(FINAL))
    assert again.status_code == 409
    assert body(again)["error"] == {
        "code": "conflict",
        "message": "an event with id 'cup-final' exists; replace it with PUT /events/cup-final "
        "or `events add --replace`",  # the CLI says the same (tests/test_cli.py)
        "field": None,
    }

    assert body(get(client, "/events/cup-final"))["name"] == "Cup final"

    renamed = {**FINAL, "name": "Cup final (replay)"}
    replaced = client.http.put("/events/cup-final", headers=JSON, body=json.dumps(renamed))
    assert replaced.status_code == 200
    assert body(get(client, "/events/cup-final"))["name"] == "Cup final (replay)"

    assert client.http.delete("/events/cup-final", headers=AUTH).status_code == 204
    missing = get(client, "/events/cup-final")
    assert missing.status_code == 404
    assert body(missing)["error"] == {
        "code": "not-found", "message": "no event with id 'cup-final'", "field": None,
    }  # fmt: skip


def test_event_id_is_made_from_name_and_date_when_not_given(client):
    event = {k: v for k, v in FINAL.items() if k != "id"}
    created = client.http.post("/events", headers=JSON, body=json.dumps(event))
    assert body(created)["id"] == "cup-final-2026-03-09"


def test_event_list_filters_and_includes_the_generated_gala(client):
    client.http.post("/events", headers=JSON, body=json.dumps(FINAL))
    minor = {**FINAL, "id": "talk-show", "name": "Talk show", "major": False,
             "start": "2026-04-01T20:00:00+08:00", "end": "2026-04-01T21:00:00+08:00"}  # fmt: skip
    client.http.post("/events", headers=JSON, body=json.dumps(minor))

    def ids(query):
        return [e["id"] for e in body(get(client, f"/events?{query}"))]

    window = "from=2026-03-01T00:00:00%2B08:00&to=2026-05-01T00:00:00%2B08:00"
    assert ids(window) == ["cup-final", "talk-show"]
    assert ids(window + "&major=false") == ["talk-show"]
    gala_window = "from=2026-02-16T00:00:00%2B08:00&to=2026-02-18T00:00:00%2B08:00"
    (gala,) = body(get(client, f"/events?{gala_window}"))
    assert gala["id"] == "spring-festival-gala-2026"
    assert gala["start"] == "2026-02-16T20:00:00+08:00"
    assert (
        body(get(client, "/events/spring-festival-gala-2027"))["start"]
        == "2027-02-05T20:00:00+08:00"
    )


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ("{not json", "body", "not valid JSON"),
        ("", "body", "a JSON body is required"),
        ("[1, 2]", "body", "expected a JSON object"),
        (json.dumps({**FINAL, "colour": "red"}), "colour", "Extra inputs are not permitted"),
        (json.dumps({**FINAL, "major": "very"}), "major", "valid boolean"),
        (json.dumps({**FINAL, "start": "2026-03-09T19:30:00"}), "start", "timezone"),
        (
            json.dumps({**FINAL, "end": "2026-03-09T18:00:00+08:00"}),
            None,
            "end must be after start",
        ),
        (json.dumps({**FINAL, "scopes": ["MARS"]}), "scopes", "unknown scope(s) MARS"),
        (json.dumps({**FINAL, "id": "bad id!"}), "id", "pattern"),
        (json.dumps({k: v for k, v in FINAL.items() if k != "name"}), "name", "Field required"),
    ],
)
def test_bad_event_bodies_get_400_naming_the_field_and_store_nothing(
    client, payload, field, fragment
):
    before = snapshot(client)
    response = client.http.post("/events", headers=JSON, body=payload)
    assert response.status_code == 400
    error = body(response)["error"]
    assert error["code"] == "invalid-input"
    assert error["field"] == field
    assert fragment in error["message"]
    assert snapshot(client) == before


def test_huge_body_gets_413(client):
    before = snapshot(client)
    huge = json.dumps({**FINAL, "notes": "x" * 300_000})
    response = client.http.post("/events", headers=JSON, body=huge)
    assert response.status_code == 413
    assert body(response)["error"]["code"] == "too-large"
    assert snapshot(client) == before


def test_put_with_mismatched_id_or_unknown_event(client):
    mismatch = client.http.put("/events/other", headers=JSON, body=json.dumps(FINAL))
    assert mismatch.status_code == 400
    assert body(mismatch)["error"]["field"] == "id"
    unknown = client.http.put("/events/cup-final", headers=JSON, body=json.dumps(FINAL))
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=yesterday", "from"), ("major=perhaps", "major"), ("colour=red", "colour")],
)
def test_bad_event_queries_get_400(client, query, field):
    response = get(client, f"/events?{query}")
    assert response.status_code == 400
    assert body(response)["error"]["field"] == field


# -- forecasts, schedules, requests and the plan ----------------------------------------------


def test_forecast_upload_then_cycle_then_requests(client):
    uploaded = upload(client)
    assert uploaded.status_code == 201
    assert body(uploaded) == {"series": 1, "points": 20 * 288}

    plan = body(get(client, f"/plan?now={NOW.replace('+', '%2B')}"))
    assert [r["id"] for r in plan["requests"]] == ["daily-peak-jump/CN/2026-03-09"]
    assert plan["requests"][0]["deadline"] == "2026-03-04T18:00:00+08:00"

    result = run_cycle(client)
    assert result.payload == {"requests": 1, "changes": 1}
    assert run_cycle(client).payload == {"requests": 1, "changes": 0}

    (tracked,) = body(get(client, "/requests"))
    assert tracked["request"]["id"] == "daily-peak-jump/CN/2026-03-09"
    assert tracked["version"] == 1
    detail = body(get(client, "/requests/daily-peak-jump/CN/2026-03-09"))
    assert [entry["action"] for entry in detail["audit"]] == ["created"]
    assert get(client, "/requests/daily-peak-jump/CN/2026-03-10").status_code == 404


def test_request_filters(client):
    upload(client, cn_csv(dt.date(2026, 3, 9), dt.date(2026, 3, 16)))
    run_cycle(client)

    def ids(query):
        return [t["request"]["id"] for t in body(get(client, f"/requests?{query}"))]

    everything = ["daily-peak-jump/CN/2026-03-09", "daily-peak-jump/CN/2026-03-16"]
    assert ids("") == everything
    assert ids("rule=daily-peak-jump&scope=CN") == everything
    assert ids("scope=AP1") == []
    assert ids("deadline_to=2026-03-05T00:00:00%2B08:00") == everything[:1]
    assert ids("deadline_from=2026-03-05T00:00:00%2B08:00") == everything[1:]
    # At 2026-03-01 09:00 both deadlines (03-04 and 03-11, 18:00) are over 72 h away.
    assert ids("status=upcoming") == everything
    assert ids("status=due") == []
    bad = get(client, "/requests?status=late")
    assert bad.status_code == 400
    assert body(bad)["error"]["field"] == "status"


@pytest.mark.parametrize(
    ("csv", "fragment"),
    [
        ("time,metric,scope,value\n2026-03-01T00:00:00+08:00,bandwidth,CN,nan\n",
         "upload:2: value 'nan' is not a finite number"),
        ("time,metric,scope,value\n2026-03-01T00:00:00,bandwidth,CN,1\n",
         "upload:2: time '2026-03-01T00:00:00' has no UTC offset"),
        ("time,metric,scope\n", "upload:1: header must be time,metric,scope,value"),
        ("time,metric,scope,value\n2026-03-01T00:00:00+08:00,bandwidth,XX,1\n",
         "upload:2: unknown scope 'XX'"),
    ],
)  # fmt: skip
def test_bad_csv_upload_names_the_row_and_stores_nothing(client, csv, fragment):
    upload(client)
    before = snapshot(client)
    response = upload(client, csv)
    assert response.status_code == 400
    assert fragment in body(response)["error"]["message"]
    assert snapshot(client) == before


def test_json_upload_and_its_errors(client):
    rows = [{"time": "2026-03-01T00:00:00+08:00", "metric": "concurrency", "scope": "transcoding",
             "value": 10}]  # fmt: skip
    ok = client.http.post("/forecasts", headers=JSON, body=json.dumps(rows))
    assert ok.status_code == 201
    assert body(ok) == {"series": 1, "points": 1}
    bad = client.http.post("/forecasts", headers=JSON, body=json.dumps([{**rows[0], "extra": 1}]))
    assert bad.status_code == 400
    assert "upload: item 0: unknown field(s) extra" in body(bad)["error"]["message"]


def test_plan_rejects_a_now_without_offset(client):
    response = get(client, "/plan?now=2026-03-01T09:00:00")
    assert response.status_code == 400
    assert body(response)["error"]["field"] == "now"


def test_deadline_watch_schedule_reminds_once_at_each_point(client, monkeypatch):
    upload(client)
    run_cycle(client)
    watch_event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    # Sun 2026-03-01 09:30: Mon, Tue and Wed (the deadline's day) are left: the 3-day reminder.
    assert client.lambda_.invoke("deadline_watch", watch_event).payload == {
        "reminded": 1, "missed": 0,
    }  # fmt: skip
    again = client.lambda_.invoke("deadline_watch", watch_event).payload
    set_clock(monkeypatch, "2026-03-03T09:30:00+08:00")
    one_day_left = client.lambda_.invoke("deadline_watch", watch_event).payload
    assert (again["reminded"], one_day_left["reminded"]) == (0, 1)
    detail = body(get(client, "/requests/daily-peak-jump/CN/2026-03-09"))
    assert detail["request"]["last_reminder"] == 1
    assert [e["action"] for e in detail["audit"]] == ["created", "reminded", "reminded"]


def test_major_event_update_replans_through_the_api(client):
    upload(client)
    run_cycle(client)
    client.http.post("/events", headers=JSON, body=json.dumps(FINAL))
    detail = body(get(client, "/requests/daily-peak-jump/CN/2026-03-09"))
    assert detail["request"]["request"]["lead_time"] == "1 month"
    assert detail["request"]["request"]["deadline"] == "2026-02-09T18:00:00+08:00"
    assert [e["action"] for e in detail["audit"]] == ["created", "updated"]


# -- iCalendar feed ----------------------------------------------------------------------------


def test_calendar_feed_needs_its_token_and_lists_deadlines(client):
    from icalendar import Calendar

    upload(client)
    run_cycle(client)
    client.http.post("/events", headers=JSON, body=json.dumps(FINAL))

    assert client.http.get("/events.ics").status_code == 401
    assert client.http.get("/events.ics?token=wrong").status_code == 401
    response = client.http.get(f"/events.ics?token={FEED_TOKEN}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.body)
    summaries = [str(c["SUMMARY"]) for c in calendar.walk("VEVENT")]
    assert "Cup final" in summaries
    assert any("daily-peak-jump" in s and "CN" in s for s in summaries)


# -- S3 drop ----------------------------------------------------------------------------------


def test_s3_drop_stores_a_good_csv_and_rejects_a_bad_one(client, monkeypatch):
    from s3_standin import serving

    with serving() as (endpoint, s3):
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        s3.put("burst-assurance-forecasts", "forecasts/cn.csv", CN_CSV.encode())
        s3.put("burst-assurance-forecasts", "forecasts/bad.csv", b"time,metric\n")

        bad = client.lambda_.invoke("forecast_drop", client.events.generate_s3_event(
            "burst-assurance-forecasts", "forecasts/bad.csv")).payload  # fmt: skip
        assert bad["stored"] is False
        assert "s3://burst-assurance-forecasts/forecasts/bad.csv:1: header" in bad["reason"]
        assert body(get(client, f"/plan?now={NOW.replace('+', '%2B')}"))["requests"] == []

        good = client.lambda_.invoke("forecast_drop", client.events.generate_s3_event(
            "burst-assurance-forecasts", "forecasts/cn.csv")).payload  # fmt: skip
        assert good == {"stored": True, "series": 1, "points": 20 * 288}
        assert ("GET", "burst-assurance-forecasts/forecasts/cn.csv") in s3.requests

    plan = body(get(client, f"/plan?now={NOW.replace('+', '%2B')}"))
    assert [r["id"] for r in plan["requests"]] == ["daily-peak-jump/CN/2026-03-09"]


# -- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_is_served_and_matches_the_checked_in_copy(client):
    from pathlib import Path

    served = body(get(client, "/openapi.json"))
    checked_in = json.loads((Path(__file__).parents[1] / "openapi.json").read_text())
    assert served == checked_in, "run `make openapi` and commit openapi.json"
    assert set(served["paths"]) >= {
        "/events",
        "/events/{event_id}",
        "/forecasts",
        "/requests",
        "/plan",
    }


def test_openapi_document_is_valid_openapi_3_1(client):
    from openapi_spec_validator import validate

    document = body(get(client, "/openapi.json"))
    validate(document)  # raises on any violation
    paths = document["paths"]
    assert [p["name"] for p in paths["/events/{event_id}"]["put"]["parameters"]] == ["event_id"]
    rule = {p["name"]: p for p in paths["/requests"]["get"]["parameters"]}["rule"]["schema"]
    assert rule["anyOf"][0] == {"$ref": "#/components/schemas/Rule"}
    assert document["components"]["schemas"]["Rule"]["enum"] == [
        "monthly-charged-bandwidth", "daily-peak-jump", "vas-concurrency",
    ]  # fmt: skip


# -- deciding and filing ----------------------------------------------------------------------


def test_approve_file_and_prove_through_the_api(client, tmp_path):
    upload(client)
    run_cycle(client)
    path = "/requests/daily-peak-jump/CN/2026-03-09"

    def post(action: str, payload: dict[str, str]):
        return client.http.post(f"{path}/{action}", headers=JSON, body=json.dumps(payload))

    assert post("file", {"by": "alice"}).status_code == 409  # not approved yet
    approved = post("approve", {"by": "alice"})
    assert approved.status_code == 200
    assert body(approved)["state"] == "approved"
    again = post("reject", {"by": "bob", "reason": "duplicate"})
    assert again.status_code == 409
    assert body(again)["error"]["message"] == (
        "daily-peak-jump/CN/2026-03-09 is already approved by alice (api token api) at "
        "2026-03-01T09:00:00+08:00; nothing to reject"
    )
    assert post("approve", {}).status_code == 400  # who decides is required

    filed = body(post("file", {"by": "alice"}))
    assert filed["state"] == "filed"
    marker = filed["filing"]["marker"]
    assert filed["ticket_id"] == f"outbox-{marker}"
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == [
        f"{marker}.json", f"{marker}.md",
    ]  # fmt: skip
    trail = body(get(client, path))["audit"]
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("created", "planner"), ("decided", "alice (api token api)"),
        ("filing", "alice (api token api)"), ("filed", "alice (api token api)"),
    ]  # fmt: skip
