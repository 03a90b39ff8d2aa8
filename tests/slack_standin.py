"""A loopback stand-in for the Slack Web API calls Burst Assurance makes, so the real slack_sdk
WebClient is exercised end to end: point it at ``base_url=api_url`` from ``serving()``.

It answers as Slack does: HTTP 200 with ``{"ok": false, "error": ...}`` for a refusal (a wrong
token, an unknown channel), HTTP 429 with Retry-After when rate-limited, and it keeps every
posted message by (channel, ts) so a test can see what chat.update left in the channel.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from loopback import loopback

CHANNEL_ID = "C0BURST01"
CHANNEL_NAME = "burst-assurance"
BOT_USER = "U0BOT0001"
FIRST_TS = 1_700_000_000


@dataclass(frozen=True)
class Call:
    method: str  # chat.postMessage, chat.update ...
    headers: dict[str, str]
    body: dict[str, Any]  # the form or JSON body, with JSON-valued fields (blocks, view) parsed

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass
class SlackStandIn:
    token: str
    groups: dict[str, list[str]] = field(default_factory=dict)  # user group id -> user ids
    channels: dict[str, str] = field(default_factory=lambda: {CHANNEL_ID: CHANNEL_NAME})
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)
    # Knobs: the next N calls answer 429 / 500; every call waits ``delay`` seconds first;
    # usergroups.users.list answers missing_scope (the token lacks usergroups:read).
    rate_limited: int = 0
    failing: int = 0
    delay: float = 0.0
    missing_scope: bool = False
    _ts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        return self.messages[(channel, ts)]

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The thread's replies, oldest first."""
        return [
            m for (c, _), m in self.messages.items() if c == channel and m.get("thread_ts") == ts
        ]

    # -- answering -------------------------------------------------------------------------

    def answer(self, call: Call) -> tuple[int, dict[str, str], dict[str, Any] | str]:
        with self._lock:
            self.calls.append(call)
            if self.failing:
                self.failing -= 1
                return 500, {}, "Internal Server Error"
            if self.rate_limited:
                self.rate_limited -= 1
                return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
            return 200, {}, self._reply(call)

    def _reply(self, call: Call) -> dict[str, Any]:
        if call.authorization is None:
            return {"ok": False, "error": "not_authed"}
        if call.authorization != f"Bearer {self.token}":
            return {"ok": False, "error": "invalid_auth"}
        handler = _METHODS.get(call.method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(self, call.body)

    def _channel_id(self, channel: str) -> str | None:
        if channel in self.channels:
            return channel
        name = channel.removeprefix("#")
        return next((cid for cid, n in self.channels.items() if n == name), None)

    def _next_ts(self) -> str:
        self._ts += 1
        return f"{FIRST_TS}.{self._ts * 100:06d}"

    def _post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(str(body.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        message = {"type": "message", "user": BOT_USER, "ts": ts, **_content(body)}
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(str(body.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        ts = str(body.get("ts", ""))
        if (channel, ts) not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        message = {**self.messages[(channel, ts)], **_content(body)}
        self.messages[(channel, ts)] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": message,
        }

    def _post_ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._channel_id(str(body.get("channel", ""))) is None:
            return {"ok": False, "error": "channel_not_found"}
        self.ephemerals.append(body)
        return {"ok": True, "message_ts": self._next_ts()}

    def _open_view(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("trigger_id"):
            return {"ok": False, "error": "invalid_arguments"}
        view = {"id": f"V{len(self.views) + 1:08d}", **body.get("view", {})}
        self.views.append(view)
        return {"ok": True, "view": view}

    def _group_members(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.missing_scope:
            return {"ok": False, "error": "missing_scope", "needed": "usergroups:read"}
        group = body.get("usergroup")
        if group not in self.groups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.groups[group])}

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "user_id": BOT_USER, "team_id": "T0TEAM001", "bot_id": "B0BOT0001"}


_METHODS = {
    "chat.postMessage": SlackStandIn._post_message,
    "chat.update": SlackStandIn._update,
    "chat.postEphemeral": SlackStandIn._post_ephemeral,
    "views.open": SlackStandIn._open_view,
    "usergroups.users.list": SlackStandIn._group_members,
    "auth.test": SlackStandIn._auth_test,
}


def _content(body: dict[str, Any]) -> dict[str, Any]:
    return {key: body[key] for key in ("text", "blocks") if key in body}


def _parsed(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    """The call's arguments: JSON or form body, and the query string; JSON-valued form fields
    (blocks, view) parsed, as Slack does."""
    body: dict[str, Any] = dict(parse_qsl(query))
    if raw and content_type.startswith("application/json"):
        body.update(json.loads(raw))
    elif raw:
        body.update(parse_qsl(raw.decode("utf-8")))
    for key in ("blocks", "view"):
        if isinstance(body.get(key), str):
            body[key] = json.loads(body[key])
    return body


def _handler(state: SlackStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            call = Call(
                method=url.path.rsplit("/", 1)[-1],
                headers={k.lower(): v for k, v in self.headers.items()},
                body=_parsed(raw, self.headers.get("Content-Type", ""), url.query),
            )
            if state.delay:
                time.sleep(state.delay)
            status, headers, answer = state.answer(call)
            self._send(status, headers, answer)

        do_GET = do_POST

        def _send(
            self, status: int, headers: Mapping[str, str], answer: dict[str, Any] | str
        ) -> None:
            is_json = isinstance(answer, dict)
            payload = (json.dumps(answer) if is_json else str(answer)).encode()
            self.send_response(status)
            kind = "application/json; charset=utf-8" if is_json else "text/plain"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    return Handler


@contextmanager
def serving(
    token: str = "xoxb-standin-token",  # made up: the stand-in only compares it
    groups: Mapping[str, list[str]] | None = None,
) -> Iterator[tuple[str, SlackStandIn]]:
    """The API base URL (``http://127.0.0.1:PORT/api/``) and the stand-in's state."""
    state = SlackStandIn(token=token, groups=dict(groups or {}))
    with loopback(_handler(state)) as url:
        yield f"{url}/api/", state
