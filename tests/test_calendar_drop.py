"""The calendar drop: an iCalendar export put under calendars/ in the stack's bucket is imported,
all or nothing, through the real boto3 client against a loopback S3 stand-in, on SQLite and on
DynamoDB Local; and the Chalice handler that receives the bucket's notification."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from builders import bandwidth_csv
from s3_standin import S3StandIn, serving
from servers import app_on_store

from chalicelib.domain.events import GALA_PREFIX, Event
from chalicelib.domain.policy import Policy
from chalicelib.entry.s3_drop import MAX_CALENDAR_BYTES, import_calendar_object
from chalicelib.workflows.events import recurrence_window
from chalicelib.workflows.ports import Store

BUCKET = "burst-assurance-forecasts"
POLICY = Policy()
NOW = dt.datetime.fromisoformat("2026-12-01T09:00:00+08:00")
CALENDARS = Path(__file__).parent / "fixtures" / "calendars"
GOOGLE = (CALENDARS / "google-export.ics").read_bytes()
OUTLOOK = (CALENDARS / "outlook-export.ics").read_bytes()
LOG = logging.getLogger("calendar-drop-test")


def calendar(*events: str) -> bytes:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", *events,
                        "END:VCALENDAR", ""]).encode()  # fmt: skip


def vevent(uid: str, summary: str, start: str, end: str, *extra: str) -> str:
    return "\r\n".join([
        "BEGIN:VEVENT", f"UID:{uid}", f"SUMMARY:{summary}",
        f"DTSTART;TZID=Asia/Shanghai:{start}", f"DTEND;TZID=Asia/Shanghai:{end}", *extra,
        "END:VEVENT",
    ])  # fmt: skip


FINAL = vevent("final@example.com", "Cup final", "20270115T193000", "20270115T223000",
               "CATEGORIES:MAJOR")  # fmt: skip
TALK = vevent("talk@example.com", "Talk show", "20270120T200000", "20270120T210000",
              "X-BURST-ASSURANCE-MAJOR:FALSE")  # fmt: skip
CONCERT = vevent("concert@example.com", "New Year concert", "20261231T200000", "20261231T235900")
WEEKLY = vevent("weekly@example.com", "Weekly live show", "20261207T200000", "20261207T220000",
                "RRULE:FREQ=WEEKLY;BYDAY=MO")  # fmt: skip

MARKED = calendar(FINAL, TALK)
UNMARKED = calendar(CONCERT, WEEKLY)
MIXED = calendar(FINAL, TALK, CONCERT)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3StandIn]:
    """The stand-in, with the environment boto3 needs to reach it (as on Lambda, the handler
    builds its own client)."""
    with serving() as (endpoint, state):
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield state


def drop(store: Store, s3: S3StandIn, key: str, body: bytes, **options: Any) -> dict[str, Any]:
    s3.put(BUCKET, key, body)
    client = boto3.client("s3")
    return import_calendar_object(
        store, BUCKET, key, LOG, client, policy=POLICY, now=NOW, **options
    )


def marks(store: Store) -> dict[str, bool]:
    return {e.id: e.major for e in store.list_events()}


def series(events: list[Event], uid: str) -> list[Event]:
    return [e for e in events if e.id.startswith(uid)]


def fetched(s3: S3StandIn, key: str) -> bool:
    return ("GET", f"{BUCKET}/{key}") in s3.requests


# -- marking -----------------------------------------------------------------------------------


def test_a_marked_calendar_is_stored_with_its_marks_wherever_it_is_put(store, s3):
    result = drop(store, s3, "calendars/team.ics", MARKED)
    assert result == {"stored": True, "events": 2, "major": 1, "written": 2}
    assert marks(store) == {"final@example.com": True, "talk@example.com": False}
    [final] = [e for e in store.list_events() if e.major]
    assert final.name == "Cup final"
    assert final.start == dt.datetime.fromisoformat("2027-01-15T19:30:00+08:00")


def test_unmarked_events_under_calendars_major_are_major_and_marked_ones_keep_their_marks(
    store, s3
):
    result = drop(store, s3, "calendars/major/events.ics", MIXED)
    assert result["stored"] is True
    assert marks(store) == {
        "final@example.com": True,
        "talk@example.com": False,  # marked FALSE in the file
        "concert@example.com": True,
    }


def test_unmarked_events_under_calendars_minor_are_ordinary_and_marked_ones_keep_their_marks(
    store, s3
):
    result = drop(store, s3, "calendars/minor/events.ics", MIXED)
    assert result["stored"] is True
    assert marks(store) == {
        "final@example.com": True,  # CATEGORIES:MAJOR in the file
        "talk@example.com": False,
        "concert@example.com": False,
    }


def test_unmarked_events_elsewhere_are_refused_with_where_to_put_them_and_nothing_is_stored(
    store, s3, caplog
):
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        result = drop(store, s3, "calendars/events.ics", MIXED)
    assert result["stored"] is False
    reason = result["reason"]
    assert reason.startswith(f"s3://{BUCKET}/calendars/events.ics: 1 of 3 event(s) are marked")
    assert "'New Year concert'" in reason
    assert "calendars/major/events.ics" in reason
    assert "calendars/minor/events.ics" in reason
    assert store.list_events() == []
    assert [r.getMessage() for r in caplog.records] == [f"rejected {reason}"]


def test_recurring_events_are_expanded_over_the_recurrence_window(store, s3):
    drop(store, s3, "calendars/minor/weekly.ics", UNMARKED)
    occurrences = series(store.list_events(), "weekly@example.com")
    start, end = recurrence_window(POLICY, NOW)
    assert len(occurrences) > 40  # an endless weekly rule, cut at the window's end
    assert all(start <= e.start < end for e in occurrences)
    assert all(e.start.weekday() == 0 and e.major is False for e in occurrences)
    assert len({e.id for e in occurrences}) == len(occurrences)


# -- packed calendars --------------------------------------------------------------------------


def test_a_gzipped_calendar_is_imported(store, s3):
    result = drop(store, s3, "calendars/major/team.ics.gz", gzip.compress(MIXED))
    assert result["stored"] is True
    assert marks(store)["concert@example.com"] is True


def test_a_google_takeout_zip_imports_every_calendar_in_it(store, s3):
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("Takeout/Calendar/Live events.ics", GOOGLE)
        archive.writestr("Takeout/Calendar/Outlook.ics", OUTLOOK)
        archive.writestr("Takeout/Calendar/README.txt", "not a calendar")
    result = drop(store, s3, "calendars/minor/takeout.zip", packed.getvalue())
    assert result["stored"] is True
    events = store.list_events()
    assert len(events) == result["events"] > 4
    assert series(events, "7kq3b2r1s0m9v8c6d5e4f3g2h1")  # Google's weekly series
    assert {"finalA@google.com", "finalB@google.com"} <= {e.id for e in events}
    assert not any(e.major for e in events)


# -- all or nothing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "body", "problem"),
    [
        (
            "calendars/major/broken.ics",
            calendar(FINAL, vevent("bad@example.com", "Bad", "20270230T200000", "20270230T210000")),
            "event 'bad@example.com'",
        ),
        ("calendars/major/cut.ics.gz", gzip.compress(MARKED)[:-12], "not a gzip file"),
        ("calendars/major/junk.zip", b"PK\x03\x04 not really a zip", "not a readable zip file"),
        ("calendars/major/page.ics", b"<html>Sign in</html>", "not an iCalendar file"),
    ],
)
def test_a_bad_file_stores_nothing_and_is_not_raised(store, s3, key, body, problem):
    result = drop(store, s3, key, body)
    assert result["stored"] is False
    assert result["reason"].startswith(f"s3://{BUCKET}/{key}")
    assert problem in result["reason"]
    assert store.list_events() == []


def test_a_second_drop_updates_and_never_duplicates(store, s3):
    first = drop(store, s3, "calendars/major/team.ics", MIXED)
    before = {e.id: e for e in store.list_events()}
    renamed = MIXED.replace(b"SUMMARY:Talk show", b"SUMMARY:Talk show (late)")
    second = drop(store, s3, "calendars/major/team.ics", renamed)
    assert second == {**first, "written": 1}  # only the changed event is written again
    after = {e.id: e for e in store.list_events()}
    assert set(after) == set(before)
    assert after["talk@example.com"].name == "Talk show (late)"
    assert after["talk@example.com"].revision == before["talk@example.com"].revision + 1
    assert after["final@example.com"] == before["final@example.com"]
    # The same file elsewhere in the drop also lands on the same ids.
    drop(store, s3, "calendars/minor/copy.ics", renamed)
    assert len(store.list_events()) == len(before)


# -- what is refused unread ----------------------------------------------------------------------


def test_an_object_over_the_limit_is_refused_unread(store, s3):
    result = drop(store, s3, "calendars/major/huge.ics", MIXED, max_bytes=len(MIXED) - 1)
    assert result == {
        "stored": False,
        "reason": f"s3://{BUCKET}/calendars/major/huge.ics: {len(MIXED)} bytes, over the limit "
        f"of {len(MIXED) - 1} bytes",
    }
    assert not fetched(s3, "calendars/major/huge.ics")
    assert store.list_events() == []


def test_the_default_limit_is_five_mebibytes(store, s3):
    big = MIXED + b" " * (MAX_CALENDAR_BYTES - len(MIXED) + 1)
    assert drop(store, s3, "calendars/major/big.ics", big)["stored"] is False
    assert not fetched(s3, "calendars/major/big.ics")
    assert MAX_CALENDAR_BYTES == 5 * 1024 * 1024


def test_other_names_are_refused_and_folders_ignored_unread(store, s3):
    notes = drop(store, s3, "calendars/major/notes.txt", MIXED)
    assert notes["stored"] is False
    assert notes["reason"] == (
        f"s3://{BUCKET}/calendars/major/notes.txt: not a calendar: the name must end in "
        ".ics, .ics.gz or .zip"
    )
    folder = drop(store, s3, "calendars/major/", b"")
    assert folder["stored"] is False
    assert s3.requests == []
    assert store.list_events() == []


# -- the Lambda function -------------------------------------------------------------------------


TOKEN = "calendar-drop-token-3b7e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CUP_DAY = dt.date(2026, 12, 9)
# A CN burst on CUP_DAY (20:00-24:00) and the major event that covers it, unmarked.
CUP = calendar(vevent("cup@example.com", "Cup final", "20261209T193000", "20261209T233000",
                      "X-BURST-ASSURANCE-SCOPES:CN"))  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def client(request, tmp_path, monkeypatch, s3):
    kind = request.param
    with app_on_store(kind, request, tmp_path, monkeypatch, token=TOKEN, now=lambda: NOW) as app:
        yield app


def invoke(client, name: str, event: dict[str, Any]) -> Any:
    return client.lambda_.invoke(name, event).payload


def cycle(client) -> Any:
    return invoke(client, "planning_cycle", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))  # fmt: skip


def requests(client) -> list[dict[str, Any]]:
    return json.loads(client.http.get("/requests", headers=AUTH).body)


def stored_events(client) -> list[dict[str, Any]]:
    events = json.loads(client.http.get("/events", headers=AUTH).body)
    return [e for e in events if not e["id"].startswith(GALA_PREFIX)]


def test_the_function_imports_a_drop_and_leaves_planning_to_the_next_cycle(client, s3):
    forecast = bandwidth_csv(dt.date(2026, 12, 1), 20, {"CN": 50.0}, {("CN", CUP_DAY): 310.0})
    headers = {**AUTH, "Content-Type": "text/csv"}
    assert client.http.post("/forecasts", headers=headers, body=forecast).status_code == 201
    cycle(client)
    [before] = requests(client)
    assert before["request"]["event"] is None

    s3.put(BUCKET, "calendars/major/cup.ics", CUP)
    result = invoke(client, "calendar_drop", client.events.generate_s3_event(
        BUCKET, "calendars/major/cup.ics"))  # fmt: skip
    assert result == {"stored": True, "events": 1, "major": 1, "written": 1}
    assert [(e["id"], e["major"]) for e in stored_events(client)] == [("cup@example.com", True)]
    assert requests(client) == [before]  # not re-planned by the drop

    cycle(client)
    [after] = requests(client)
    assert after["request"]["event"]["id"] == "cup@example.com"


def test_the_function_logs_a_rejected_drop_and_does_not_raise(client, s3):
    s3.put(BUCKET, "calendars/cup.ics", CUP)
    result = invoke(client, "calendar_drop", client.events.generate_s3_event(
        BUCKET, "calendars/cup.ics"))  # fmt: skip
    assert result["stored"] is False
    assert "calendars/major/cup.ics" in result["reason"]
    assert stored_events(client) == []
