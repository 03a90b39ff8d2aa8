"""Event writes that are safe to retry and to race: creation is one conditional write, PUT only
replaces what exists, Idempotency-Key replays the first answer, ETag/If-Match refuse a stale
copy. Through chalice.test.Client, on SQLite and on DynamoDB Local."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from servers import chalice_client, use_store

from chalicelib.config import bootstrap
from chalicelib.domain.errors import Conflict
from chalicelib.domain.events import Event
from chalicelib.entry import clock
from chalicelib.workflows import events as calendar
from chalicelib.workflows.ports import Store

TOKEN = "event-writes-token"
JSON = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
FINAL = {
    "id": "cup-final", "name": "Cup final", "start": "2026-03-09T19:30:00+08:00",
    "end": "2026-03-09T22:30:00+08:00", "major": False, "scopes": ["CN"],
}  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def api(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BURST_ASSURANCE_API_TOKEN", TOKEN)
    monkeypatch.setenv("BURST_ASSURANCE_TRAFFIC_SOURCE", "store")
    use_store(request.param, request, tmp_path, monkeypatch)
    monkeypatch.setattr(clock, "utc_now", lambda: dt.datetime(2026, 3, 1, 1, tzinfo=dt.UTC))
    with chalice_client(tmp_path) as client:
        yield client


def post(api: Any, body: dict[str, Any], **headers: str) -> Any:
    return api.http.post("/events", headers={**JSON, **headers}, body=json.dumps(body))


def stored_names() -> list[str]:
    return [e.name for e in bootstrap.runtime().store.list_events()]


def test_creation_is_one_conditional_write(store: Store) -> None:
    """Eight creators of one id at once: exactly one wins, the others are told it exists."""
    event = Event.model_validate(FINAL)
    barrier, outcomes = threading.Barrier(8), []

    def create(n: int) -> None:
        mine = event.model_copy(update={"name": f"Cup final {n}"})
        barrier.wait()
        try:
            calendar.save_event(store, None, None, mine, dt.datetime.now(dt.UTC), create=True)  # type: ignore[arg-type]
            outcomes.append("created")
        except Conflict as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("created") == 1
    assert all("exists" in o for o in outcomes if o != "created")
    assert len(store.list_events()) == 1


def test_a_put_of_a_deleted_event_is_404_and_brings_nothing_back(api: Any) -> None:
    assert post(api, FINAL).status_code == 201
    assert api.http.delete("/events/cup-final", headers=JSON).status_code == 204
    again = api.http.put("/events/cup-final", headers=JSON, body=json.dumps(FINAL))
    assert again.status_code == 404
    assert stored_names() == []


def test_a_retried_post_with_its_key_gets_the_first_answer(api: Any) -> None:
    first = post(api, FINAL, **{"Idempotency-Key": "7c1f-retry"})
    retry = post(api, FINAL, **{"Idempotency-Key": "7c1f-retry"})
    assert (first.status_code, retry.status_code) == (201, 201)
    assert json.loads(retry.body) == json.loads(first.body)
    assert stored_names() == ["Cup final"]
    # Without the key the same POST is a conflict; with the key and another body, a 422.
    assert post(api, FINAL).status_code == 409
    other = post(api, {**FINAL, "name": "Cup final (moved)"}, **{"Idempotency-Key": "7c1f-retry"})
    assert other.status_code == 422
    assert json.loads(other.body)["error"]["code"] == "key-reused"
    assert stored_names() == ["Cup final"]


def test_a_stale_etag_is_refused_with_412_and_changes_nothing(api: Any) -> None:
    assert post(api, FINAL).status_code == 201
    read = api.http.get("/events/cup-final", headers=JSON)
    tag = read.headers["ETag"]
    renamed = {**FINAL, "name": "Cup final, renamed"}
    first = api.http.put(
        "/events/cup-final", headers={**JSON, "If-Match": tag}, body=json.dumps(renamed)
    )
    assert first.status_code == 200
    assert first.headers["ETag"] != tag

    # Someone else's copy, read before that change, is stale now: for a PUT and for a DELETE.
    stale = api.http.put(
        "/events/cup-final", headers={**JSON, "If-Match": tag}, body=json.dumps(FINAL)
    )
    assert stale.status_code == 412
    assert json.loads(stale.body)["error"]["code"] == "precondition-failed"
    gone = api.http.delete("/events/cup-final", headers={**JSON, "If-Match": tag})
    assert gone.status_code == 412
    assert stored_names() == ["Cup final, renamed"]

    fresh = api.http.get("/events/cup-final", headers=JSON).headers["ETag"]
    assert (
        api.http.delete("/events/cup-final", headers={**JSON, "If-Match": fresh}).status_code == 204
    )
    assert stored_names() == []
