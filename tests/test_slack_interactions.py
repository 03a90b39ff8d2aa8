"""POST /slack/interactions through chalice.test.Client, with the real slack_sdk talking to the
Slack stand-in and every request signed as Slack signs it."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import slack_standin
from builders import bandwidth_csv
from chalice.test import Client
from servers import chalice_client
from slack_sdk.signature import SignatureVerifier

from chalicelib.adapters.slack.messages import REASON_ACTION, REASON_BLOCK, REJECT_CALLBACK
from chalicelib.config import bootstrap
from chalicelib.domain import lifecycle
from chalicelib.domain.tracking import RequestState
from chalicelib.domain.traffic_parsing import parse_csv
from chalicelib.entry import clock
from chalicelib.workflows.approvals import decide_request

NOW = dt.datetime.fromisoformat("2026-03-01T09:00:00+08:00")
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APPROVER, OTHER_APPROVER, OUTSIDER = "U0APPROVE1", "U0APPROVE2", "U0OUTSIDE1"
REQUEST = "daily-peak-jump/CN/2026-03-09"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[slack_standin.SlackStandIn]:
    with slack_standin.serving() as (api_url, state):
        monkeypatch.setenv("BURST_ASSURANCE_NOTIFIER", "slack")
        monkeypatch.setenv("BURST_ASSURANCE_SLACK_API_URL", api_url)
        monkeypatch.setenv("BURST_ASSURANCE_SLACK_BOT_TOKEN", state.token)
        monkeypatch.setenv("BURST_ASSURANCE_SLACK_CHANNEL", slack_standin.CHANNEL_ID)
        yield state


@pytest.fixture
def client(
    slack: slack_standin.SlackStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Client]:
    monkeypatch.setenv("BURST_ASSURANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BURST_ASSURANCE_TRAFFIC_SOURCE", "store")
    monkeypatch.setenv("BURST_ASSURANCE_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("BURST_ASSURANCE_APPROVERS", f"{APPROVER},{OTHER_APPROVER}")
    monkeypatch.setenv("BURST_ASSURANCE_API_TOKEN", "unused-here")
    monkeypatch.setattr(clock, "utc_now", lambda: NOW)
    with chalice_client(tmp_path) as test_client:
        yield test_client


def planned(client: Client) -> None:
    """A CN jump on Mon 9 March planned at NOW: one request, its approval message in Slack."""
    csv = bandwidth_csv(dt.date(2026, 3, 1), 20, {"CN": 50.0}, {("CN", dt.date(2026, 3, 9)): 310.0})
    bootstrap.runtime().store.put_traffic(parse_csv(csv))
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    assert client.lambda_.invoke("planning_cycle", event).payload["changes"] == 1


def signed(
    payload: dict[str, Any], *, secret: str = SECRET, skew: float = 0
) -> tuple[str, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(NOW.timestamp() + skew))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    return body, headers


def click(action: str, user: str, request_id: str = REQUEST) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": slack_standin.CHANNEL_ID},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "actions": [{"action_id": action, "value": request_id}],
    }


def reason_given(user: str, reason: str) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": user},
        "view": {
            "callback_id": REJECT_CALLBACK,
            "private_metadata": REQUEST,
            "state": {"values": {REASON_BLOCK: {REASON_ACTION: {"value": reason}}}},
        },
    }


def post(client: Client, body: str, headers: dict[str, str]) -> Any:
    return client.http.post("/slack/interactions", headers=headers, body=body)


def state_of(request_id: str = REQUEST) -> RequestState:
    tracked = bootstrap.runtime().store.get_request(request_id)
    assert tracked is not None
    return tracked.state


def test_an_approval_files_the_ticket_and_updates_the_message(client, slack, tmp_path):
    planned(client)
    [posted] = slack.calls_to("chat.postMessage")
    ts = posted.body.get("ts") or next(iter(slack.messages))[1]

    response = post(client, *signed(click("approve", APPROVER)))

    assert (response.status_code, response.body) == (200, b"")
    assert state_of() is RequestState.FILED  # inline work on the embedded default
    marker = lifecycle.marker_for(REQUEST)
    assert (tmp_path / "data" / "outbox" / f"{marker}.json").exists()
    # The approval message was updated in place (channel + ts), never through response_url.
    updates = slack.calls_to("chat.update")
    assert updates
    assert {u.body["channel"] for u in updates} == {slack_standin.CHANNEL_ID}
    assert {u.body["ts"] for u in updates} == {ts}
    replies = " ".join(r.get("text", "") for r in slack.replies(slack_standin.CHANNEL_ID, ts))
    assert f"<@{APPROVER}>" in replies
    assert f"outbox-{marker}" in replies
    trail = [e.action for e in bootstrap.runtime().store.audit_trail(REQUEST)]
    assert trail == ["created", "announced", "decided", "filing", "filed"]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b, h: (b, {**h, "X-Slack-Signature": "v0=" + "0" * 64}), id="forged"),
        pytest.param(lambda b, h: (b + "&x=1", h), id="body-changed"),
        pytest.param(lambda b, h: (b, {"Content-Type": FORM}), id="missing"),
        pytest.param(lambda b, h: (b, {**h, "X-Slack-Request-Timestamp": "soon"}), id="garbled"),
    ],
)
def test_a_request_not_signed_by_slack_is_refused_and_changes_nothing(client, slack, tamper):
    planned(client)
    calls_before = len(slack.calls)
    response = post(client, *tamper(*signed(click("approve", APPROVER))))
    assert response.status_code == 401
    assert json.loads(response.body)["error"]["code"] == "unauthorized"
    assert state_of() is RequestState.PENDING
    assert len(slack.calls) == calls_before


@pytest.mark.parametrize("skew", [-6 * 60, 6 * 60], ids=["stale", "future"])
def test_a_signature_outside_five_minutes_is_refused(client, slack, skew):
    planned(client)
    response = post(client, *signed(click("approve", APPROVER), skew=skew))
    assert response.status_code == 401
    assert state_of() is RequestState.PENDING


def test_a_signature_with_another_secret_is_refused(client, slack):
    planned(client)
    response = post(client, *signed(click("approve", APPROVER), secret="not-the-secret"))
    assert response.status_code == 401


def test_a_replayed_click_decides_nothing_twice(client, slack):
    planned(client)
    body, headers = signed(click("approve", APPROVER))
    assert post(client, body, headers).status_code == 200
    assert post(client, body, headers).status_code == 200  # within the five minutes
    decided = [e for e in bootstrap.runtime().store.audit_trail(REQUEST) if e.action == "decided"]
    assert len(decided) == 1
    [told] = slack.ephemerals
    assert told["user"] == APPROVER
    assert told["text"].startswith(f"Already filed as outbox-{lifecycle.marker_for(REQUEST)}")


def test_someone_not_an_approver_is_told_so_privately(client, slack):
    planned(client)
    response = post(client, *signed(click("approve", OUTSIDER)))
    assert response.status_code == 200
    assert state_of() is RequestState.PENDING
    [told] = slack.ephemerals
    assert (told["user"], told["channel"]) == (OUTSIDER, slack_standin.CHANNEL_ID)
    assert "only the approvers" in told["text"]


def test_a_member_of_the_approver_group_may_decide(client, slack, monkeypatch):
    slack.groups["S0APPROVERS"] = [OUTSIDER]
    monkeypatch.setenv("BURST_ASSURANCE_APPROVER_GROUP", "S0APPROVERS")
    bootstrap.reset()
    planned(client)
    assert post(client, *signed(click("approve", OUTSIDER))).status_code == 200
    assert state_of() is RequestState.FILED


def test_two_approvers_clicking_at_once_give_one_decision(client, slack):
    planned(client)
    bootstrap.runtime()  # built once, before the threads share it
    barrier, answers = threading.Barrier(2), []

    def press(user: str) -> None:
        request = signed(click("approve", user))
        barrier.wait()
        answers.append(post(client, *request).status_code)

    threads = [threading.Thread(target=press, args=(u,)) for u in (APPROVER, OTHER_APPROVER)]
    environ = os.environ
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # chalice.test swaps os.environ for a copy during each call and puts back what it found:
    # two calls at once can leave the copy in place, and later tests would inherit this one's.
    os.environ = environ  # noqa: B003 - the very object chalice.test swapped out
    assert answers == [200, 200]
    decided = [e for e in bootstrap.runtime().store.audit_trail(REQUEST) if e.action == "decided"]
    assert len(decided) == 1
    loser = OTHER_APPROVER if decided[0].actor == APPROVER else APPROVER
    [told] = slack.ephemerals
    assert told["user"] == loser
    assert f"<@{decided[0].actor}>" in told["text"] or "Already filed" in told["text"]


def test_reject_opens_the_reason_modal_then_records_the_reason(client, slack):
    planned(client)
    response = post(client, *signed(click("reject", APPROVER)))
    assert response.status_code == 200
    [opened] = slack.calls_to("views.open")
    assert opened.body["trigger_id"] == "13345224609.738474920.8088930838d88f008e0"
    assert state_of() is RequestState.PENDING  # nothing is decided until the reason comes

    response = post(client, *signed(reason_given(APPROVER, "the match was cancelled")))
    assert (response.status_code, response.body) == (200, b"")
    tracked = bootstrap.runtime().store.get_request(REQUEST)
    assert tracked is not None
    assert tracked.decision is not None
    assert (tracked.state, tracked.decision.note) == (
        RequestState.REJECTED, "the match was cancelled",
    )  # fmt: skip


def test_a_reason_from_an_outsider_is_refused_in_the_modal(client, slack):
    planned(client)
    response = post(client, *signed(reason_given(OUTSIDER, "no")))
    answer = json.loads(response.body)
    assert answer["response_action"] == "errors"
    assert "only the approvers" in answer["errors"][REASON_BLOCK]
    assert state_of() is RequestState.PENDING


def test_the_answer_comes_within_3_seconds_while_huawei_takes_10(client, slack, monkeypatch):
    from huawei_standin import serving

    with serving() as (endpoint, huawei):
        monkeypatch.setenv("BURST_ASSURANCE_FILER", "huawei-osm")
        monkeypatch.setenv("BURST_ASSURANCE_HUAWEI_OSM_ENDPOINT", endpoint)
        monkeypatch.setenv("BURST_ASSURANCE_HUAWEI_AK", "AKSTANDIN000000000001")
        monkeypatch.setenv("BURST_ASSURANCE_HUAWEI_SK", "sk-standin-secret")
        monkeypatch.setenv("BURST_ASSURANCE_HUAWEI_BUSINESS_TYPE_ID", "bt-assure-01")
        monkeypatch.setenv("BURST_ASSURANCE_WORK_QUEUE", "thread")
        bootstrap.reset()
        planned(client)
        huawei.slow(10)

        started = time.monotonic()
        response = post(client, *signed(click("approve", APPROVER)))
        answered_in = time.monotonic() - started

        assert response.status_code == 200
        assert answered_in < 3, f"answered in {answered_in:.1f} s"
        # The decision is in; the worker is on its first, 10-second call to Huawei.
        deadline = time.monotonic() + 5
        while not huawei.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert huawei.requests
        assert state_of() is RequestState.FILING
        huawei.slow(0)  # the calls after this one answer at once
        deadline = time.monotonic() + 30
        while state_of() is not RequestState.FILED and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state_of() is RequestState.FILED
        assert len(huawei.cases) == 1


def on_aws_queue(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Work goes to the SQS stand-in, as it goes to the filing queue on AWS."""
    monkeypatch.setenv("BURST_ASSURANCE_WORK_QUEUE", "sqs")
    monkeypatch.setenv("BURST_ASSURANCE_SQS_ENDPOINT", endpoint)
    monkeypatch.setenv("BURST_ASSURANCE_FILING_QUEUE_URL", f"{endpoint}/0/filing")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bootstrap.reset()


def test_on_aws_the_filing_goes_through_the_queue_and_the_worker(client, slack, monkeypatch):
    from sqs_standin import serving

    with serving() as (endpoint, sent):
        on_aws_queue(monkeypatch, endpoint)
        planned(client)
        assert post(client, *signed(click("approve", APPROVER))).status_code == 200
        assert state_of() is RequestState.APPROVED  # not filed in the request
        [job] = sent
        assert json.loads(job) == {"job": "file", "request_id": REQUEST, "by": APPROVER}

        event = client.events.generate_sqs_event(message_bodies=[job], queue_name="filing")
        client.lambda_.invoke("filing_worker", event)
        assert state_of() is RequestState.FILED


def test_on_aws_the_file_route_queues_the_job_too(client, slack, monkeypatch):
    from sqs_standin import serving

    with serving() as (endpoint, sent):
        on_aws_queue(monkeypatch, endpoint)
        planned(client)
        decide_request(bootstrap.runtime().store, REQUEST, "approved", "carol", NOW)
        response = client.http.post(
            f"/requests/{REQUEST}/file",
            headers={"Authorization": "Bearer unused-here", "Content-Type": "application/json"},
            body=json.dumps({"by": "carol"}),
        )
        assert response.status_code == 202
        assert json.loads(response.body)["state"] == "approved"
        assert [json.loads(job) for job in sent] == [
            {"job": "file", "request_id": REQUEST, "by": "carol (api token api)"}
        ]
