"""The Slack notifier: one approval message per request in the channel, kept current with
chat.update, and a short reply in its thread for each thing that happens to the request.

Every failure becomes a NotifierError: the notice stays in the outbox and the next dispatch
tries again. So the client retries only a connection that failed to open, once; it does not
sleep on a 429 (Slack's Retry-After can be a minute, longer than a dispatch should wait).
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.web import SlackResponse

from chalicelib.adapters.slack.messages import approval_message, reject_modal, thread_reply
from chalicelib.domain.notices import Notice
from chalicelib.domain.policy import Policy
from chalicelib.workflows.ports import NotifierError

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
# Notices that add to the thread but leave the approval message as it was.
THREAD_ONLY = frozenset({"urged"})
# Slack errors a retry will not cure, with what to do about each.
ADVICE = {
    "invalid_auth": "the bot token is not valid; check the Slack bot token secret",
    "not_authed": "no bot token was sent; set the Slack bot token secret",
    "token_revoked": "the bot token was revoked; reinstall the Slack app and update the secret",
    "token_expired": "the bot token expired; update the Slack bot token secret",
    "account_inactive": "the bot's account is deactivated; reinstall the Slack app",
    "channel_not_found": "the channel does not exist or the bot cannot see it; check its id",
    "not_in_channel": "the bot is not a member of the channel; invite it there",
    "is_archived": "the channel is archived",
    "missing_scope": "the bot token lacks a scope this call needs",
    "message_not_found": "the approval message is gone (deleted?)",
    "cant_update_message": "the approval message was not posted by this bot",
}
# Slack errors that pass by themselves.
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
UNREACHABLE = (SlackClientError, OSError, http.client.HTTPException)


class SlackError(NotifierError):
    """A Slack call failed. ``permanent``: retrying will not help until someone fixes the
    setup (token, channel, scopes); ``retry_after``: Slack asked to wait this long (429);
    ``gone``: the message to update no longer exists."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        gone: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.gone = gone


class SlackNotifier:
    def __init__(
        self,
        client: WebClient,
        channel: str,
        policy: Policy,
        account: str,
        escalation_group: str | None = None,
    ) -> None:
        self.client = client
        self.channel = channel
        self.policy = policy
        self.account = account
        self.escalation_group = escalation_group

    @classmethod
    def connect(
        cls,
        token: str,
        api_url: str,
        channel: str,
        policy: Policy,
        account: str,
        escalation_group: str | None = None,
        timeout: int = TIMEOUT_SECONDS,
    ) -> SlackNotifier:
        client = WebClient(
            token=token,
            base_url=api_url,
            timeout=timeout,
            retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
        )
        return cls(client, channel, policy, account, escalation_group)

    # -- the Notifier port -------------------------------------------------------------------

    def deliver(self, notice: Notice, thread: str | None) -> str | None:
        """The first notice posts the approval message and returns its "<channel>/<ts>"; later
        ones update that message in place and reply in its thread."""
        message = approval_message(notice.request, self.policy, self.account, notice.audit.at)
        if thread is None:
            return self._post(message)
        channel, ts = parse_thread(thread)
        if notice.action not in THREAD_ONLY:
            try:
                self._call(
                    "chat.update",
                    lambda: self.client.chat_update(channel=channel, ts=ts, **message),
                )
            except SlackError as exc:
                if not exc.gone:
                    raise
                return self._post(message)  # someone deleted it: a fresh one takes its place
        reply = thread_reply(notice, self.policy, self.escalation_group)
        self._call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(channel=channel, thread_ts=ts, text=reply),
        )
        return None

    def _post(self, message: dict[str, Any]) -> str:
        posted = self._call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(channel=self.channel, **message),
        )
        return f"{posted['channel']}/{posted['ts']}"

    # -- for the interactions endpoint ---------------------------------------------------------

    def open_reject_modal(self, trigger_id: str, request_id: str) -> None:
        """Ask the rejecter why; Slack accepts a trigger id for 3 seconds after the click."""
        self._call(
            "views.open",
            lambda: self.client.views_open(trigger_id=trigger_id, view=reject_modal(request_id)),
        )

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        self._call(
            "chat.postEphemeral",
            lambda: self.client.chat_postEphemeral(channel=channel, user=user, text=text),
        )

    def is_in_group(self, user_id: str, group_id: str) -> bool:
        """Whether the user belongs to the Slack user group. False whenever Slack cannot say
        (no usergroups:read scope, a free workspace, Slack down): the static allowlist decides."""
        try:
            members = self.client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("cannot read user group %s: %s", group_id, _error_of(exc.response))
            return False
        except UNREACHABLE as exc:
            log.warning("cannot read user group %s: %s", group_id, type(exc).__name__)
            return False
        return user_id in (members.get("users") or [])

    # -- errors ------------------------------------------------------------------------------

    def _call(self, method: str, send: Callable[[], SlackResponse]) -> SlackResponse:
        """``send()``, with every failure as a SlackError. ``from None``: the SDK's exception
        carries the request, Authorization header included, which must not reach a log."""
        try:
            return send()
        except SlackApiError as exc:
            failure = refusal(method, exc.response)
        except UNREACHABLE as exc:
            failure = SlackError(f"cannot reach Slack for {method}: {type(exc).__name__}: {exc}")
        raise SlackError(
            self._without_token(str(failure)),
            permanent=failure.permanent,
            retry_after=failure.retry_after,
            gone=failure.gone,
        ) from None

    def _without_token(self, text: str) -> str:
        token = self.client.token
        return text.replace(token, "xox*-***") if token else text


def refusal(method: str, response: SlackResponse) -> SlackError:
    status = response.status_code
    if status == 429:
        wait = _retry_after(response.headers)
        return SlackError(f"Slack rate-limited {method}; retry after {wait:g} s", retry_after=wait)
    if status >= 500:
        return SlackError(f"Slack answered HTTP {status} to {method}; it will be tried again")
    error = _error_of(response)
    advice = ADVICE.get(error, "")
    if error == "missing_scope" and response.get("needed"):
        advice += f" ({response.get('needed')})"
    return SlackError(
        f"Slack refused {method}: {error}" + (f": {advice}" if advice else ""),
        permanent=error not in TRANSIENT,
        gone=error == "message_not_found",
    )


def parse_thread(thread: str) -> tuple[str, str]:
    """(channel id, ts) of the approval message from "<channel>/<ts>"."""
    channel, _, ts = thread.partition("/")
    if not (channel and ts):
        raise SlackError(
            f"not a Slack thread: {thread!r} (expected <channel>/<ts>)", permanent=True
        )
    return channel, ts


def _error_of(response: SlackResponse) -> str:
    data = response.data
    error = data.get("error") if isinstance(data, dict) else None
    return str(error or f"HTTP {response.status_code}")


def _retry_after(headers: Mapping[str, object]) -> float:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(str(value))
    except ValueError:
        return 1.0
