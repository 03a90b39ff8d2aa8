"""POST /slack/interactions: the Approve and Reject buttons and the reason modal.

Every request is checked against Slack's signature of its raw body first (401 otherwise, and
nothing changes). Only approvers decide; anyone else gets an ephemeral refusal. Slack wants an
answer within 3 seconds, so the answer carries only the decision: filing and the message updates
run as a job (chalicelib.entry.jobs), through SQS on AWS.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from chalice import Response

from chalicelib.config.bootstrap import Runtime
from chalicelib.config.settings import Settings
from chalicelib.domain import lifecycle
from chalicelib.domain.errors import NotFound
from chalicelib.entry import clock
from chalicelib.entry.api.http import ApiError, Routes, check_size
from chalicelib.entry.api.models import SlackInteraction
from chalicelib.entry.jobs import submit

if TYPE_CHECKING:  # slack_sdk loads on the first Slack request, not at start-up
    from chalicelib.adapters.slack.notifier import SlackNotifier

routes = Routes("slack")
log = logging.getLogger(__name__)
FORM = "application/x-www-form-urlencoded"
MAX_PAYLOAD_BYTES = 64 * 1024


@routes.route(
    "/slack/interactions", "POST", "Slack buttons and modals (signed by Slack, not by a token)",
    body={FORM: SlackInteraction}, errors=(400, 401, 404), secured=False,
)  # fmt: skip
def slack_interactions(rt: Runtime) -> Response:
    raw = check_size(routes.body(), MAX_PAYLOAD_BYTES)
    verify_signature(rt.settings, raw, routes.request.headers)
    slack = _slack(rt)
    payload = _payload(raw)
    kind = payload.get("type")
    if kind == "block_actions":
        return _button(rt, slack, payload)
    if kind == "view_submission":
        return _reason_given(rt, slack, payload)
    return Response("", status_code=200)  # other interactions are not ours to answer


def verify_signature(settings: Settings, raw: bytes, headers: Any) -> None:
    from slack_sdk.signature import Clock, SignatureVerifier

    class StoreClock(Clock):  # tests move the clock; so must the verifier's five minutes
        def now(self) -> float:
            return clock.utc_now().timestamp()

    secret = settings.slack_signing_secret
    if secret is None or not secret.get_secret_value():
        raise ApiError(401, "unauthorized", "the Slack signing secret is not configured")
    timestamp = headers.get("x-slack-request-timestamp") or ""
    signature = headers.get("x-slack-signature") or ""
    verifier = SignatureVerifier(secret.get_secret_value(), clock=StoreClock())
    if not timestamp.isdigit() or not verifier.is_valid(raw, timestamp, signature):
        raise ApiError(401, "unauthorized", "the Slack signature is missing, wrong or stale")


def _slack(rt: Runtime) -> SlackNotifier:
    from chalicelib.adapters.slack.notifier import SlackNotifier

    if not isinstance(rt.notifier, SlackNotifier):
        raise ApiError(404, "not-found", "Slack is not configured (BURST_ASSURANCE_NOTIFIER)")
    return rt.notifier


def _payload(raw: bytes) -> dict[str, Any]:
    try:
        [text] = parse_qs(raw.decode("utf-8"), strict_parsing=True)["payload"]
        payload = json.loads(text)
    except (ValueError, KeyError, UnicodeDecodeError):
        raise ApiError(400, "invalid-input", "expected a form field `payload` of JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid-input", "the payload is not a JSON object")
    return payload


def _button(rt: Runtime, slack: SlackNotifier, payload: dict[str, Any]) -> Response:
    from chalicelib.adapters.slack.messages import APPROVE_ACTION, REJECT_ACTION, refusal_text

    user, channel = _user(payload), (payload.get("channel") or {}).get("id", "")
    actions = payload.get("actions") or [{}]
    action, request_id = actions[0].get("action_id"), str(actions[0].get("value") or "")
    if action not in (APPROVE_ACTION, REJECT_ACTION):
        return Response("", status_code=200)
    if not is_approver(rt.settings, slack, user):
        slack.post_ephemeral(channel, user, refusal_text(user))
        return Response("", status_code=200)
    if action == REJECT_ACTION:  # the modal first: its trigger id lives three seconds
        slack.open_reject_modal(str(payload.get("trigger_id") or ""), request_id)
        return Response("", status_code=200)
    refusal = _decide(rt, request_id, "approved", user, None)
    if refusal:
        slack.post_ephemeral(channel, user, refusal)
    else:
        submit(rt, {"job": "file", "request_id": request_id, "by": user}, log)
    return Response("", status_code=200)


def _reason_given(rt: Runtime, slack: SlackNotifier, payload: dict[str, Any]) -> Response:
    from chalicelib.adapters.slack.messages import (
        REASON_ACTION,
        REASON_BLOCK,
        REJECT_CALLBACK,
        refusal_text,
    )

    view = payload.get("view") or {}
    if view.get("callback_id") != REJECT_CALLBACK:
        return Response("", status_code=200)
    user, request_id = _user(payload), str(view.get("private_metadata") or "")
    values = ((view.get("state") or {}).get("values") or {}).get(REASON_BLOCK) or {}
    reason = str((values.get(REASON_ACTION) or {}).get("value") or "")
    refusal = (
        refusal_text(user)
        if not is_approver(rt.settings, slack, user)
        else _decide(rt, request_id, "rejected", user, reason)
    )
    if refusal:  # shown under the reason field; the modal stays open
        errors = {"response_action": "errors", "errors": {REASON_BLOCK: refusal[:150]}}
        return Response(errors, status_code=200, headers={"Content-Type": "application/json"})
    submit(rt, {"job": "announce"}, log)
    return Response("", status_code=200)


def is_approver(settings: Settings, slack: SlackNotifier, user: str) -> bool:
    """On the static list, or in the approvers' user group when one is configured."""
    if user and user in settings.approvers:
        return True
    group = settings.approver_group
    return bool(user and group and slack.is_in_group(user, group))


def _decide(rt: Runtime, request_id: str, outcome: Any, user: str, reason: str | None) -> str:
    """The decision, or why it was not taken (someone else was first), in words for Slack."""
    from chalicelib.adapters.slack.messages import lost_race_text
    from chalicelib.workflows.approvals import decide_request

    try:
        decide_request(rt.store, request_id, outcome, user, clock.utc_now(), reason)
    except lifecycle.WrongState as exc:
        tracked = rt.store.get_request(request_id)
        return lost_race_text(lifecycle.standing(tracked)) if tracked else str(exc)
    except NotFound:
        return f"There is no request {request_id} any more."
    return ""


def _user(payload: dict[str, Any]) -> str:
    return str((payload.get("user") or {}).get("id") or "")
