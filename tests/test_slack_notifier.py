"""The Slack adapter: the real slack_sdk WebClient against the loopback stand-in
(tests/slack_standin.py), notices built with the real models and lifecycle transitions.

Regenerate docs/slack-approval-message.json with:
    PYTHONPATH=. .venv/bin/python tests/test_slack_notifier.py
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import local as cst  # an Asia/Shanghai wall-clock time
from slack_standin import CHANNEL_ID, CHANNEL_NAME, FIRST_TS, SlackStandIn, serving

from chalicelib.adapters.slack.messages import (
    APPROVE_ACTION,
    FIELD_LIMIT,
    HEADER_LIMIT,
    MAX_BLOCKS,
    REJECT_ACTION,
    SECTION_LIMIT,
    TEXT_LIMIT,
    approval_message,
    lost_race_text,
    refusal_text,
    reject_modal,
)
from chalicelib.adapters.slack.notifier import SlackError, SlackNotifier
from chalicelib.domain import lifecycle
from chalicelib.domain.assurance import AssuranceRequest, EventRef, Status
from chalicelib.domain.notices import Notice
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import AuditEntry, Presence, TrackedRequest, field_changes
from chalicelib.workflows.ports import NotifierError

POLICY = Policy()
TOKEN = "xoxb-1234-5678-standinsecret"
ACCOUNT = "acme-live"
ESCALATION = "S0ESCALATE"
APPROVER = "U07APPR0V1"
SAMPLE = Path(__file__).parents[1] / "docs" / "slack-approval-message.json"
REQUEST_ID = "monthly-charged-bandwidth/CN/2026-10"
# Planned on Mon 28 September 2026, before National Day: 1-7 October are off, Saturday
# 10 October is a make-up working day. A burst from Wed 14 October is due on that Saturday.
PLANNED_AT = cst(2026, 9, 28, 9)
FIRST_THREAD = f"{CHANNEL_ID}/{FIRST_TS}.000100"


def assurance(**changes: Any) -> AssuranceRequest:
    request = AssuranceRequest(
        id=REQUEST_ID, rule="monthly-charged-bandwidth", scope="CN", period="2026-10",
        burst_start=cst(2026, 10, 14, 20), burst_end=cst(2026, 11, 1), forecast_peak=132.0,
        baseline=85.0, threshold=100.0, rule_value=118.9, unit="Gbit/s",
        event=EventRef(id="golden-week-final", name="Golden Week Esports Final", major=False),
        lead_time="3 working days", deadline=cst(2026, 10, 10, 18), status=Status.UPCOMING,
        estimated_calendar=False,
    )  # fmt: skip
    return request.model_copy(update=changes)


def tracked(**changes: Any) -> TrackedRequest:
    return TrackedRequest(
        request=assurance(**changes), created_at=PLANNED_AT, updated_at=PLANNED_AT
    )


def created(request: TrackedRequest) -> Notice:
    return notice(request, "created", PLANNED_AT, actor="planner")


def notice(
    request: TrackedRequest,
    action: str,
    at: dt.datetime,
    changes: dict[str, tuple[Any, Any]] | None = None,
    actor: str = "planner",
) -> Notice:
    audit = AuditEntry(
        request_id=request.id, version=request.version, at=at, actor=actor, action=action,
        changes=changes or {},
    )  # fmt: skip
    return Notice(request=request, audit=audit)


def transition(step: tuple[TrackedRequest, AuditEntry]) -> Notice:
    return Notice(request=step[0], audit=step[1])


def updated(before: TrackedRequest, at: dt.datetime, **changes: Any) -> Notice:
    request = before.request.model_copy(update=changes)
    after = before.model_copy(update={"request": request, "version": before.version + 1})
    return notice(after, "updated", at, field_changes(before.request, request))


@pytest.fixture
def slack() -> Iterator[tuple[SlackNotifier, SlackStandIn]]:
    with serving(token=TOKEN, groups={"S0APPROVE": [APPROVER]}) as (api_url, state):
        notifier = SlackNotifier.connect(
            TOKEN, api_url, f"#{CHANNEL_NAME}", POLICY, ACCOUNT, ESCALATION, timeout=1
        )
        yield notifier, state


def blocks_of(message: dict[str, Any]) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


def main_message(state: SlackStandIn) -> dict[str, Any]:
    return state.message(CHANNEL_ID, f"{FIRST_TS}.000100")


def reply_texts(state: SlackStandIn) -> list[str]:
    return [m["text"] for m in state.replies(CHANNEL_ID, f"{FIRST_TS}.000100")]


def action_ids(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (element["action_id"], element["value"])
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


# -- posting and updating --------------------------------------------------------------------


def test_the_first_notice_posts_the_approval_message_and_returns_its_thread(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    first = tracked()
    thread = notifier.deliver(created(first), None)
    # The channel was named; the thread uses the id Slack answered with.
    assert thread == FIRST_THREAD
    [call] = state.calls
    assert call.method == "chat.postMessage"
    assert call.authorization == f"Bearer {TOKEN}"
    assert call.body["channel"] == f"#{CHANNEL_NAME}"
    expected = approval_message(first, POLICY, ACCOUNT, PLANNED_AT)
    assert (call.body["text"], call.body["blocks"]) == (expected["text"], expected["blocks"])
    assert action_ids(main_message(state)) == [
        (APPROVE_ACTION, REQUEST_ID),
        (REJECT_ACTION, REQUEST_ID),
    ]


def test_a_deleted_approval_message_is_posted_afresh(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    first = tracked(forecast_peak=110.0)
    thread = notifier.deliver(created(first), None)
    assert thread is not None
    del state.messages[(CHANNEL_ID, f"{FIRST_TS}.000100")]  # someone deleted it in Slack

    fresh = notifier.deliver(updated(first, cst(2026, 9, 29, 9), forecast_peak=132.0), thread)

    assert fresh is not None
    assert fresh != thread
    channel, ts = fresh.split("/")
    assert "peak 132.0 Gbit/s" in state.message(channel, ts)["text"]  # the current figures
    assert [c.method for c in state.calls][-2:] == ["chat.update", "chat.postMessage"]


def test_an_update_edits_the_message_in_place_and_replies_with_old_and_new_figures(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    first = tracked(forecast_peak=110.0)
    thread = notifier.deliver(created(first), None)
    change = updated(first, cst(2026, 9, 29, 9), forecast_peak=132.0)
    assert notifier.deliver(change, thread) is None

    assert [c.method for c in state.calls] == [
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
    ]
    edit = state.calls_to("chat.update")[0].body
    assert (edit["channel"], edit["ts"]) == (CHANNEL_ID, f"{FIRST_TS}.000100")
    assert all("response_url" not in c.body for c in state.calls)
    assert (
        main_message(state)["blocks"]
        == approval_message(change.request, POLICY, ACCOUNT, change.audit.at)["blocks"]
    )
    assert "132.0 Gbit/s" in blocks_of(main_message(state))
    [reply] = reply_texts(state)
    assert "peak: 110.0 Gbit/s → 132.0 Gbit/s" in reply


def test_a_decision_replaces_the_buttons_with_who_decided_and_when(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    first = tracked()
    thread = notifier.deliver(created(first), None)
    decided = transition(lifecycle.decide(first, "approved", APPROVER, cst(2026, 9, 29, 10, 30)))
    notifier.deliver(decided, thread)

    approved = f"Approved by <@{APPROVER}> at Tue 2026-09-29 10:30 CST"
    assert action_ids(main_message(state)) == []
    assert approved in blocks_of(main_message(state))
    assert approved in reply_texts(state)[0]


def test_a_rejection_shows_its_reason_escaped(slack: tuple[SlackNotifier, SlackStandIn]) -> None:
    notifier, state = slack
    first = tracked()
    thread = notifier.deliver(created(first), None)
    reason = "covered by <!channel> contract & CDN"
    step = lifecycle.decide(first, "rejected", "U0REJECT01", cst(2026, 9, 29, 11), reason)
    notifier.deliver(transition(step), thread)

    rejected = (
        "Rejected by <@U0REJECT01> at Tue 2026-09-29 11:00 CST: "
        "covered by &lt;!channel&gt; contract &amp; CDN"
    )
    assert rejected in blocks_of(main_message(state))
    assert rejected in reply_texts(state)[0]


def test_filing_and_the_ticket_number_follow_the_decision(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    first = tracked()
    thread = notifier.deliver(created(first), None)
    approved, _ = step = lifecycle.decide(first, "approved", APPROVER, cst(2026, 9, 29, 10))
    notifier.deliver(transition(step), thread)
    filing, _ = step = lifecycle.start_filing(approved, "huawei-osm", "filer", cst(2026, 9, 29, 10))
    notifier.deliver(transition(step), thread)
    assert "Being filed (huawei-osm)" in blocks_of(main_message(state))
    step = lifecycle.record_filed(filing, "CS20260929001", "filer", cst(2026, 9, 29, 10, 1))
    notifier.deliver(transition(step), thread)

    main = blocks_of(main_message(state))
    assert f"Approved by <@{APPROVER}>" in main
    assert "Filed as ticket *CS20260929001* at Tue 2026-09-29 10:01 CST" in main
    assert "Filed as ticket *CS20260929001*." in reply_texts(state)[-1]


def test_a_failed_filing_calls_the_escalation_group(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    first = tracked()
    thread = notifier.deliver(created(first), None)
    approved, _ = lifecycle.decide(first, "approved", APPROVER, cst(2026, 9, 29, 10))
    changes = {
        "error": (None, "APIGW.0301 incorrect IAM authentication"),
        "outcome_unknown": (None, False),
    }
    notifier.deliver(notice(approved, "filing-failed", cst(2026, 9, 29, 10, 1), changes), thread)

    [reply] = reply_texts(state)
    assert reply.startswith(f"<!subteam^{ESCALATION}> :x: Filing failed: APIGW.0301 incorrect IAM")
    assert "Deadline Sat 2026-10-10 18:00 CST (4 working days left)" in reply


def test_the_last_day_reminder_calls_the_escalation_group(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    first = tracked()
    thread = notifier.deliver(created(first), None)
    notifier.deliver(
        notice(first, "reminded", cst(2026, 10, 8, 9), {"reminder": (None, 3)}), thread
    )
    notifier.deliver(notice(first, "reminded", cst(2026, 10, 10, 9), {"reminder": (1, 0)}), thread)

    three, last = reply_texts(state)
    assert "3 working days left to file, by Sat 2026-10-10 18:00 CST" in three
    assert "<!subteam^" not in three
    assert last.startswith(f"<!subteam^{ESCALATION}> ")
    assert "Last working day: file by Sat 2026-10-10 18:00 CST" in last
    assert "Still waiting for a decision." in last


def test_a_missed_deadline_says_the_burst_has_no_sla_protection(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    first = tracked()
    thread = notifier.deliver(created(first), None)
    missed = transition(lifecycle.mark_missed(first, cst(2026, 10, 10, 18, 5), "deadline-watch"))
    notifier.deliver(missed, thread)

    assert "no SLA protection" in blocks_of(main_message(state))
    assert action_ids(main_message(state)) == []
    [reply] = reply_texts(state)
    assert reply.startswith(f"<!subteam^{ESCALATION}> ")
    assert "no ticket was filed by Sat 2026-10-10 18:00 CST" in reply
    assert "has no SLA protection" in reply


def test_a_material_change_asks_again_and_brings_the_buttons_back(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    first = tracked()
    thread = notifier.deliver(created(first), None)
    approved, _ = lifecycle.decide(first, "approved", APPROVER, cst(2026, 9, 29, 10))
    reopened = approved.model_copy(
        update={
            "decision": None,
            "request": approved.request.model_copy(update={"forecast_peak": 160.0}),
        }
    )
    changes = {"forecast_peak": (132.0, 160.0), "decision": (f"approved by {APPROVER}", None)}
    notifier.deliver(notice(reopened, "reopened", cst(2026, 9, 30, 9), changes), thread)

    assert action_ids(main_message(state)) == [
        (APPROVE_ACTION, REQUEST_ID),
        (REJECT_ACTION, REQUEST_ID),
    ]
    [reply] = reply_texts(state)
    assert f"the earlier decision (approved by <@{APPROVER}>) no longer holds" in reply
    assert "approve or reject again" in reply
    assert "peak: 132.0 Gbit/s → 160.0 Gbit/s" in reply


def test_a_withdrawal_removes_the_buttons(slack: tuple[SlackNotifier, SlackStandIn]) -> None:
    notifier, state = slack
    first = tracked()
    thread = notifier.deliver(created(first), None)
    gone = first.model_copy(update={"presence": Presence.WITHDRAWN, "version": 2})
    notifier.deliver(notice(gone, "withdrawn", cst(2026, 9, 30, 9)), thread)

    assert action_ids(main_message(state)) == []
    assert "Withdrawn: the latest forecast no longer shows this burst" in blocks_of(
        main_message(state)
    )
    assert "withdrawn, nothing to file" in reply_texts(state)[0]


def test_the_provider_s_progress_shows_and_urging_only_adds_to_the_thread(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    filed = tracked().model_copy(update={"ticket_id": "CS1", "provider_state": "accepted"})
    thread = notifier.deliver(created(filed), None)
    processing = filed.model_copy(update={"provider_state": "processing"})
    changes = {"provider_state": ("accepted", "processing")}
    notifier.deliver(notice(processing, "followed", cst(2026, 9, 30, 9), changes), thread)
    assert "Provider: processing" in blocks_of(main_message(state))
    notifier.deliver(notice(processing, "urged", cst(2026, 10, 9, 9)), thread)

    assert len(state.calls_to("chat.update")) == 1
    assert reply_texts(state) == [
        ":mag: Provider case *CS1*: accepted → processing.",
        ":mega: Asked the provider to hurry case *CS1*: its burst is near.",
    ]


def test_an_unknown_action_still_gets_a_sensible_reply(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    first = tracked()
    thread = notifier.deliver(created(first), None)
    changes = {"note": (None, "checked with the CDN team")}
    notifier.deliver(
        notice(first, "annotated", cst(2026, 9, 30, 9), changes, actor=APPROVER), thread
    )

    assert reply_texts(state) == [
        f"Annotated by <@{APPROVER}>.\n• note: none → checked with the CDN team"
    ]


# -- failures --------------------------------------------------------------------------------


def test_rate_limiting_raises_at_once_and_the_next_dispatch_succeeds(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    state.rate_limited = 1
    started = time.monotonic()
    with pytest.raises(NotifierError, match=r"rate-limited chat\.postMessage") as failure:
        notifier.deliver(created(tracked()), None)
    assert time.monotonic() - started < 1  # Retry-After was not slept on
    assert isinstance(failure.value, SlackError)
    assert (failure.value.retry_after, failure.value.permanent) == (1.0, False)
    assert notifier.deliver(created(tracked()), None) == FIRST_THREAD


def test_a_server_error_raises_notifier_error(slack: tuple[SlackNotifier, SlackStandIn]) -> None:
    notifier, state = slack
    thread = notifier.deliver(created(tracked()), None)
    state.failing = 1
    with pytest.raises(NotifierError, match=r"HTTP 500 to chat\.update"):
        notifier.deliver(updated(tracked(), cst(2026, 9, 29, 9), forecast_peak=140.0), thread)
    assert reply_texts(state) == []  # nothing half-said: the whole notice is tried again


def test_a_slow_slack_times_out_into_notifier_error(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, state = slack
    state.delay = 1.5
    with pytest.raises(NotifierError, match=r"cannot reach Slack for chat\.postMessage"):
        notifier.deliver(created(tracked()), None)


def test_an_unreachable_slack_raises_notifier_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notifier = SlackNotifier.connect(
        TOKEN, f"http://127.0.0.1:{port}/api/", CHANNEL_ID, POLICY, ACCOUNT, timeout=1
    )
    with pytest.raises(NotifierError, match="cannot reach Slack"):
        notifier.deliver(created(tracked()), None)


def test_a_wrong_token_is_named_as_the_problem_without_the_token() -> None:
    with serving(token=TOKEN) as (api_url, _):
        wrong = "xoxb-9999-wrong-token-value"
        notifier = SlackNotifier.connect(wrong, api_url, CHANNEL_ID, POLICY, ACCOUNT)
        with pytest.raises(NotifierError) as failure:
            notifier.deliver(created(tracked()), None)
    message = str(failure.value)
    assert "invalid_auth" in message
    assert "bot token is not valid" in message
    assert wrong not in message
    assert wrong not in repr(failure.value)
    assert failure.value.__cause__ is None
    assert failure.value.__suppress_context__
    assert isinstance(failure.value, SlackError)
    assert failure.value.permanent


def test_an_unknown_channel_is_named_as_the_problem() -> None:
    with serving(token=TOKEN) as (api_url, _):
        notifier = SlackNotifier.connect(TOKEN, api_url, "C0NOWHERE", POLICY, ACCOUNT)
        with pytest.raises(NotifierError, match="channel_not_found: the channel does not exist"):
            notifier.deliver(created(tracked()), None)


# -- the approval message --------------------------------------------------------------------


def test_the_approval_message_says_everything_a_person_needs_to_decide() -> None:
    message = approval_message(tracked(), POLICY, ACCOUNT, PLANNED_AT)
    text = blocks_of(message)
    for element in (
        "monthly charged bandwidth",  # the rule
        "up 30% on last month (Live SLA 2(a))",
        "Billing area *CN*",  # the scope
        "Wed 2026-10-14 20:00 CST until\\nSun 2026-11-01 00:00 CST",  # the window, local
        "*132.0 Gbit/s* against a threshold of 100.0 Gbit/s",
        "baseline 85.0 Gbit/s",
        "Golden Week Esports Final (not a major event)",
        "Sat 2026-10-10 18:00 CST",  # the deadline
        # 29, 30 September, 8, 9 and Saturday 10 October: National Day is off, the
        # make-up Saturday works (Monday-to-Friday counting would say 9).
        "5 working days left (lead: 3 working days)",
        f"[{lifecycle.marker_for(REQUEST_ID)}]",  # the ticket preview
        "Account: acme-live",
        "Pending: approve or reject",
    ):
        assert element in text, element
    assert "Estimated calendar" not in text
    assert action_ids(message) == [(APPROVE_ACTION, REQUEST_ID), (REJECT_ACTION, REQUEST_ID)]
    assert "file by Sat 2026-10-10 18:00 CST" in message["text"]


def test_a_major_event_on_an_estimated_calendar_is_flagged() -> None:
    gala = tracked(
        id="daily-peak-jump/CN/2027-02-05", rule="daily-peak-jump", period="2027-02-05",
        burst_start=cst(2027, 2, 5, 19, 55), burst_end=cst(2027, 2, 6, 0, 35),
        forecast_peak=440.7, rule_value=440.7, threshold=324.2, baseline=124.2,
        event=EventRef(id="gala-2027", name="Spring Festival Gala 2027", major=True),
        lead_time="1 month", deadline=cst(2027, 1, 5, 18), estimated_calendar=True,
    )  # fmt: skip
    text = blocks_of(approval_message(gala, POLICY, ACCOUNT, cst(2026, 12, 28, 9)))
    assert "Spring Festival Gala 2027 (major event: filed a month ahead)" in text
    assert "Estimated calendar" in text
    assert "*estimated*" in text
    # 29 and 30 December, 4 and 5 January: 2027 is not published, so Thursday 31 December may
    # still be bridged to New Year's Day and does not count.
    assert "4 working days left (lead: 1 month)" in text


def test_the_deadline_day_itself_and_a_passed_deadline() -> None:
    on_the_day = blocks_of(approval_message(tracked(), POLICY, ACCOUNT, cst(2026, 10, 10, 9)))
    late = blocks_of(approval_message(tracked(), POLICY, ACCOUNT, cst(2026, 10, 10, 18, 1)))
    assert "*due today*" in on_the_day
    assert "*deadline passed*" in late


def test_block_kit_limits_hold_for_a_very_long_event_name(
    slack: tuple[SlackNotifier, SlackStandIn],
) -> None:
    notifier, _ = slack
    name = "Grand Final " * 1000
    long = tracked(event=EventRef(id="long", name=name, major=True))
    message = approval_message(long, POLICY, ACCOUNT, PLANNED_AT)

    assert len(message["blocks"]) <= MAX_BLOCKS
    assert len(message["text"]) <= TEXT_LIMIT
    for block in message["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= HEADER_LIMIT
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= SECTION_LIMIT
            assert all(len(f["text"]) <= FIELD_LIMIT for f in block.get("fields", []))
    assert notifier.deliver(created(long), None) == FIRST_THREAD


def test_the_sample_in_the_docs_is_what_the_code_builds() -> None:
    built = sample_message()
    stored = json.loads(SAMPLE.read_text(encoding="utf-8")) if SAMPLE.exists() else None
    assert stored == built, (
        f"{SAMPLE.name} is out of date; regenerate it with "
        "`PYTHONPATH=. .venv/bin/python tests/test_slack_notifier.py`"
    )


def sample_message() -> dict[str, Any]:
    return approval_message(tracked(), POLICY, ACCOUNT, PLANNED_AT)


# -- for the interactions endpoint -------------------------------------------------------------


def test_the_reject_modal_asks_for_a_reason(slack: tuple[SlackNotifier, SlackStandIn]) -> None:
    notifier, state = slack
    notifier.open_reject_modal("trigger-123", REQUEST_ID)

    [call] = state.calls_to("views.open")
    view = call.body["view"]
    assert view == reject_modal(REQUEST_ID)
    assert (view["type"], view["callback_id"], view["private_metadata"]) == (
        "modal", "reject_reason", REQUEST_ID,
    )  # fmt: skip
    [reason] = [b for b in view["blocks"] if b["type"] == "input"]
    assert (reason["block_id"], reason["element"]["action_id"]) == ("reason", "reason")
    assert reason["optional"] is False


def test_ephemeral_answers_and_group_membership(slack: tuple[SlackNotifier, SlackStandIn]) -> None:
    notifier, state = slack
    notifier.post_ephemeral(CHANNEL_ID, "U0STRANGER", refusal_text("U0STRANGER"))
    assert state.ephemerals[0]["user"] == "U0STRANGER"
    assert "<@U0STRANGER>" in state.ephemerals[0]["text"]

    assert notifier.is_in_group(APPROVER, "S0APPROVE")
    assert not notifier.is_in_group("U0STRANGER", "S0APPROVE")
    assert not notifier.is_in_group(APPROVER, "S0UNKNOWN")
    state.missing_scope = True
    assert not notifier.is_in_group(APPROVER, "S0APPROVE")


def test_the_loser_of_a_race_is_told_who_won() -> None:
    first = tracked()
    approved, _ = lifecycle.decide(first, "approved", APPROVER, cst(2026, 9, 29, 10))
    assert lost_race_text(lifecycle.standing(approved)) == (
        f"Already approved by <@{APPROVER}> at 2026-09-29T10:00:00+08:00; nothing changed."
    )


def write_sample() -> None:
    text = json.dumps(sample_message(), ensure_ascii=False, indent=2) + "\n"
    SAMPLE.write_text(text, encoding="utf-8")
    print(f"wrote {SAMPLE}")


if __name__ == "__main__":
    write_sample()
