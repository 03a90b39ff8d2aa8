"""A loopback stand-in for SQS's SendMessage (JSON protocol), so the filing queue's real boto3
client is exercised end to end without AWS. It keeps the bodies it was sent."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from loopback import loopback


def _handler(sent: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.headers["X-Amz-Target"] == "AmazonSQS.SendMessage"
            body = request["MessageBody"]
            sent.append(body)
            payload = json.dumps(
                {"MessageId": str(uuid.uuid4()),
                 "MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest()}
            ).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    return Handler


@contextmanager
def serving() -> Iterator[tuple[str, list[str]]]:
    sent: list[str] = []
    with loopback(_handler(sent)) as url:
        yield f"{url}", sent
