"""POST /events/import: a calendar export uploaded as it is (.ics, .ics.gz, Google Takeout .zip),
through chalice.test.Client, on SQLite and on DynamoDB Local."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest
from servers import app_on_store

from chalicelib.domain.events import GALA_PREFIX

TOKEN = "import-api-token-5d1e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = dt.datetime.fromisoformat("2026-12-01T09:00:00+08:00")
CALENDARS = Path(__file__).parent / "fixtures" / "calendars"
GOOGLE = (CALENDARS / "google-export.ics").read_bytes()
OUTLOOK = (CALENDARS / "outlook-export.ics").read_bytes()
ICS = {**AUTH, "Content-Type": "text/calendar"}


@pytest.fixture(params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def client(request, tmp_path, monkeypatch):
    kind = request.param
    with app_on_store(kind, request, tmp_path, monkeypatch, token=TOKEN, now=lambda: NOW) as app:
        yield app


def upload(client, body: bytes, query: str = "", headers=ICS):
    return client.http.post(f"/events/import{query}", headers=headers, body=body)


def stored(client, query: str = "") -> list[dict]:
    """The stored events (the generated Spring Festival Galas left out)."""
    events = json.loads(client.http.get(f"/events{query}", headers=AUTH).body)
    return [e for e in events if not e["id"].startswith(GALA_PREFIX)]


def test_an_unmarked_calendar_is_refused_with_the_query_to_add_and_nothing_is_stored(client):
    response = upload(client, GOOGLE)
    assert response.status_code == 400
    error = json.loads(response.body)["error"]
    assert error["field"] == "major"
    assert "?major=true" in error["message"]
    assert "?major=false" in error["message"]
    assert "upload.ics" in error["message"]
    assert stored(client) == []


def test_import_marks_unmarked_events_as_asked_and_a_second_upload_updates(client):
    first = upload(client, GOOGLE, "?major=false")
    assert first.status_code == 200, first.body
    result = json.loads(first.body)
    assert result["imported"] == len(result["ids"]) > 2
    # Ids come from the UIDs: the weekly series' occurrences carry the recurrence instant.
    assert any(i.startswith("7kq3b2r1s0m9v8c6d5e4f3g2h1") for i in result["ids"])
    events = stored(client)
    assert sorted(e["id"] for e in events) == sorted(result["ids"])
    assert all(e["major"] is False for e in events)
    assert stored(client, "?major=true") == []

    assert result["written"] == result["imported"]
    again = json.loads(upload(client, GOOGLE, "?major=false").body)
    assert again["ids"] == result["ids"]
    assert again["written"] == 0  # stored as they are: nothing written again
    assert len(stored(client)) == len(events)


def test_major_applies_to_unmarked_events_only(client):
    result = json.loads(upload(client, GOOGLE, "?major=true").body)
    majors = {e["id"] for e in stored(client, "?major=true")}
    assert majors == set(result["ids"])


@pytest.mark.parametrize("packing", ["gzip", "zip"])
def test_a_gzipped_or_zipped_export_imports_the_same_events(client, packing):
    if packing == "gzip":
        body, kind = gzip.compress(GOOGLE), "application/gzip"
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("Takeout/Calendar/live.ics", GOOGLE)
            archive.writestr("Takeout/Calendar/ops.ics", OUTLOOK)
        body, kind = buffer.getvalue(), "application/zip"
    packed = upload(client, body, "?major=false", {**AUTH, "Content-Type": kind})
    assert packed.status_code == 200, packed.body
    expected = set(json.loads(upload(client, GOOGLE, "?major=false").body)["ids"])
    if packing == "zip":
        expected |= set(json.loads(upload(client, OUTLOOK, "?major=false").body)["ids"])
    assert set(json.loads(packed.body)["ids"]) == expected


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (b"BEGIN:VCALENDAR\r\nnot a calendar", ICS, 400, "upload.ics"),
        (b"\x1f\x8b not gzip", {**AUTH, "Content-Type": "application/gzip"}, 400, "upload.gz"),
        (GOOGLE, {**AUTH, "Content-Type": "text/plain"}, 415, ""),
        (b"BEGIN:VCALENDAR\r\n" + b"X" * (5 * 1024 * 1024), ICS, 413, "exceeds"),
    ],
    ids=["not-ical", "not-gzip", "wrong-type", "too-large"],
)
def test_a_bad_upload_gets_its_error_and_stores_nothing(client, body, headers, status, words):
    response = upload(client, body, "?major=false", headers)
    assert response.status_code == status
    assert words in response.body.decode()
    assert stored(client) == []


def test_import_needs_the_api_token(client):
    refused = upload(client, GOOGLE, "?major=false", {"Content-Type": "text/calendar"})
    assert refused.status_code == 401
    assert stored(client) == []
