"""What a hostile or careless client sends gets a 4xx in our error format and changes nothing;
what old code stored cannot take the calendar feed down. Through chalice.test.Client, on SQLite
and on DynamoDB Local (the ``client`` fixture of test_app)."""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

import pytest
from test_app import AUTH, FEED_TOKEN, FINAL, JSON, body, client, snapshot

from chalicelib.adapters.ical import read_events
from chalicelib.config import bootstrap
from chalicelib.domain.errors import InputError
from chalicelib.domain.events import Event
from chalicelib.entry.cli import main as cli

__all__ = ["client"]  # the fixture, shared with test_app

DEEP = "[" * 100_000 + "]" * 100_000
EVENT = json.dumps(FINAL)


def with_field(name: str, raw_json: str) -> str:
    """The event with one field's JSON text replaced as is (for numbers json.dumps won't write)."""
    return json.dumps({**FINAL, name: "PLACEHOLDER"}).replace('"PLACEHOLDER"', raw_json)


def forecast_row(value: str) -> str:
    return f'[{{"time": "2026-03-01T00:00:00+08:00", "metric": "bandwidth", "scope": "CN", "value": {value}}}]'  # noqa: E501


# Each of these answered 500, or was accepted, before.
HOSTILE = [
    # (label, method, path, body, status, field)
    ("deeply nested JSON", "post", "/events", DEEP, 400, "body"),
    ("deeply nested decision", "post", "/requests/daily-peak-jump/CN/2026-03-09/approve",
     '{"by": ' + DEEP + "}", 400, "body"),
    ("integer of 5,000 digits", "post", "/events", with_field("major", "9" * 5000), 400, "body"),
    ("integer of 400 digits as a forecast value", "post", "/forecasts", forecast_row("9" * 400),
     400, "body"),
    ("plan in year 1", "get", "/plan?now=0001-01-01T00:00:00%2B08:00", None, 400, "now"),
    ("plan in year 1 UTC", "get", "/plan?now=0001-01-01T00:00:00Z", None, 400, "now"),
    ("plan in year 9999", "get", "/plan?now=9999-12-31T23:59:59%2B00:00", None, 400, "now"),
    ("plan at the end of 9999 west of UTC", "get", "/plan?now=9999-12-31T23:00:00-08:00", None,
     400, "now"),
    ("event ending in 9999", "post", "/events", with_field("end", '"9999-12-31T23:00:00+08:00"'),
     400, "end"),
    ("event starting in year 1", "post", "/events",
     with_field("start", '"0001-01-01T00:00:00+08:00"'), 400, "start"),
    ("event at the very end of time", "post", "/events",
     with_field("end", '"9999-12-31T23:59:59-23:59"'), 400, "end"),
    ("control characters in a name", "post", "/events",
     with_field("name", '"Cup\\u0000 final\\u001b[2J"'), 400, "name"),
    ("a line break in a name", "post", "/events", with_field("name", '"Cup\\r\\nfinal"'), 400,
     "name"),
    ("a control character in notes", "post", "/events", with_field("notes", '"a\\u0007b"'), 400,
     "notes"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "field"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_input_gets_a_4xx_in_our_format_and_changes_nothing(
    client, method, path, payload, status, field
):
    before = snapshot(client)
    if payload is None:
        response = getattr(client.http, method)(path, headers=AUTH)
    else:
        response = getattr(client.http, method)(path, headers=JSON, body=payload)
    assert response.status_code == status, response.body
    error = body(response)["error"]
    assert set(error) == {"code", "message", "field"}
    assert (error["code"], error["field"]) == ("invalid-input", field)
    assert snapshot(client) == before


# -- lenient parsing ---------------------------------------------------------------------------

LENIENT = [
    ("'yes' as a boolean", "post", "/events", with_field("major", '"yes"'), "major"),
    ("1 as a boolean", "post", "/events", with_field("major", "1"), "major"),
    ("a millisecond epoch as a time", "post", "/events", with_field("start", "1773055800000"),
     "start"),
    ("an epoch string as a time", "post", "/events", with_field("start", '"1773055800"'), "start"),
    ("a time without T", "post", "/events", with_field("start", '"2026-03-09 19:30:00+08:00"'),
     "start"),
    ("yes in a query", "get", "/events?major=yes", None, "major"),
    ("1 in a query", "get", "/events?major=1", None, "major"),
    ("an epoch in a query", "get", "/events?from=1773055800000", None, "from"),
    ("an epoch as the plan's now", "get", "/plan?now=1773055800000", None, "now"),
    ("an epoch as a deadline filter", "get", "/requests?deadline_to=1773055800", None,
     "deadline_to"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [case[1:] for case in LENIENT],
    ids=[case[0] for case in LENIENT],
)
def test_what_only_looks_like_a_boolean_or_a_time_is_refused(client, method, path, payload, field):
    before = snapshot(client)
    if payload is None:
        response = getattr(client.http, method)(path, headers=AUTH)
    else:
        response = getattr(client.http, method)(path, headers=JSON, body=payload)
    assert response.status_code == 400, response.body
    assert body(response)["error"]["field"] == field
    assert snapshot(client) == before


def test_the_plain_forms_are_taken_and_their_look_alikes_are_not(client):
    assert client.http.post("/events", headers=JSON, body=EVENT).status_code == 201
    window = "from=2026-03-09T00:00:00Z&to=2026-03-10T00:00:00.5%2B08:00"
    for major, status in [("true", 200), ("false", 200), ("True", 400), ("on", 400)]:
        response = client.http.get(f"/events?{window}&major={major}", headers=AUTH)
        assert response.status_code == status, major
    assert [e["id"] for e in body(client.http.get(f"/events?{window}", headers=AUTH))] == [
        "cup-final"
    ]


# -- the feed ----------------------------------------------------------------------------------


def store_as_old_code_did(**fields):
    """An event written before its dates and text were checked (read back the way stores do)."""
    document = json.dumps({**FINAL, "major": False, **fields})
    bootstrap.runtime().store.put_event(Event.model_validate_json(document))


def feed(client, query=f"token={FEED_TOKEN}", headers=None):
    return client.http.get(f"/events.ics?{query}", headers=headers or {})


def test_one_unwritable_stored_event_does_not_take_the_feed_or_the_export_down(
    client, tmp_path, caplog
):
    client.http.post("/events", headers=JSON, body=EVENT)
    store_as_old_code_did(id="forever", end="9999-12-31T23:00:00-08:00")
    store_as_old_code_did(id="ancient", start="0001-01-01T00:00:00+08:00")

    response = feed(client)
    assert response.status_code == 200
    text = response.body.decode()
    assert "UID:cup-final@burst-assurance" in text
    assert "forever" not in text
    assert "ancient" not in text
    assert "left forever out of the calendar" in caplog.text

    exported = tmp_path / "export.ics"
    assert cli(["events", "export", str(exported)]) == 0
    assert "UID:cup-final@burst-assurance" in exported.read_text()


def test_control_characters_stored_before_never_reach_the_feed_raw(client):
    store_as_old_code_did(
        id="noisy", name="Cup\x00 final\x1b[2J\x07", notes="line one\r\nline\x0btwo\rthree"
    )
    raw = feed(client).body
    unfolded = raw.replace(b"\r\n ", b"")
    lines = unfolded.split(b"\r\n")
    assert not [line for line in lines if re.search(rb"[\x00-\x1f\x7f]", line)]
    assert b"SUMMARY:Cup  final [2J " in unfolded
    assert b"DESCRIPTION:line one\\nline two\\nthree" in unfolded


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        (f"token={FEED_TOKEN}&utm_source=newsletter&utm_medium=email", None),
        (f"utm_source=x&token={FEED_TOKEN}", None),
        ("", {"Authorization": f"Bearer {FEED_TOKEN}"}),
        ("utm_source=x", {"Authorization": f"Bearer {FEED_TOKEN}"}),
    ],
    ids=["amid-tracking-parameters", "after-them", "bearer-header", "bearer-with-parameters"],
)
def test_the_feed_takes_its_token_in_the_url_or_as_a_bearer_token(client, query, headers):
    response = feed(client, query, headers)
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/calendar")


CHALLENGE = 'Bearer realm="burst-assurance"'
INVALID = f'{CHALLENGE}, error="invalid_token"'


@pytest.mark.parametrize(
    ("query", "headers", "challenge"),
    [
        ("", None, CHALLENGE),
        ("token=wrong", None, INVALID),
        ("token=", None, INVALID),
        (f"token={FEED_TOKEN}x", None, INVALID),
        ("token=%ED%A0%80", None, INVALID),  # a lone surrogate, percent-encoded
        ("", {"Authorization": "Bearer wrong"}, INVALID),
        ("", {"Authorization": f"Basic {FEED_TOKEN}"}, INVALID),
        ("", {"Authorization": "Bearer"}, INVALID),
        ("", {"Authorization": f"Bearer {FEED_TOKEN[:-1]}"}, INVALID),
    ],
)
def test_a_wrong_or_malformed_feed_token_gets_401_with_a_challenge(
    client, query, headers, challenge
):
    response = feed(client, query, headers)
    assert response.status_code == 401, response.body
    assert response.headers["WWW-Authenticate"] == challenge
    assert body(response)["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, CHALLENGE),
        ({"Authorization": "Bearer wrong"}, INVALID),
        ({"Authorization": "Bearer"}, INVALID),
        ({"Authorization": "Token abc"}, INVALID),
        ({"Authorization": f"Bearer {FEED_TOKEN}"}, INVALID),  # the feed's token is not the API's
    ],
)
def test_the_api_answers_a_missing_or_wrong_token_with_401_and_a_challenge(
    client, headers, challenge
):
    response = client.http.get("/requests", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge


@pytest.mark.parametrize(
    "start",
    ["DTSTART:99991231T233000Z", "DTSTART;VALUE=DATE:99991231", "DTSTART:00010101T000000"],
)
def test_importing_an_event_at_the_end_of_time_names_it(start):
    ics = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:y\r\n{start}\r\n"
    with pytest.raises(InputError, match=r"team\.ics: event 'x': "):
        read_events(
            ics + "END:VEVENT\r\nEND:VCALENDAR\r\n",
            source="team.ics",
            zone=ZoneInfo("Asia/Shanghai"),
        )
