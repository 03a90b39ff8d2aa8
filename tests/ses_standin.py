"""A loopback stand-in for SES v2's SendEmail (REST-JSON ``POST /v2/email/outbound-emails``),
so the e-mail filer's real boto3 client is exercised end to end without AWS.

Knobs on the state: ``error`` answers every send with (HTTP status, error code) instead of a
MessageId; ``delay`` waits that many seconds before answering (after recording the request,
as SES may have sent a mail it never acknowledged).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from loopback import loopback

SEND_PATH = "/v2/email/outbound-emails"


class SesStandIn:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []  # the JSON body of every SendEmail received
        self.error: tuple[int, str] | None = None
        self.delay = 0.0

    def message_id(self, index: int) -> str:
        return f"0100019a-{index:04d}-standin"


def _handler(state: SesStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != SEND_PATH:
                self._reply(404, {"message": f"no route {self.path}"}, "NotFoundException")
                return
            state.sent.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            index = len(state.sent)
            if state.delay:
                time.sleep(state.delay)
            if state.error is not None:
                status, code = state.error
                self._reply(status, {"message": f"stand-in says {code}"}, code)
                return
            self._reply(200, {"MessageId": state.message_id(index)})

        def _reply(self, status: int, payload: dict[str, Any], code: str | None = None) -> None:
            body = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if code:
                    self.send_header("x-amzn-ErrorType", code)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                pass

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    return Handler


@contextmanager
def serving() -> Iterator[tuple[str, SesStandIn]]:
    state = SesStandIn()
    with loopback(_handler(state)) as url:
        yield f"{url}", state
