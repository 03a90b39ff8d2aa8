"""A loopback stand-in for Secrets Manager's GetSecretValue, so the runtime's real boto3
client is exercised end to end without AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from loopback import loopback


def _handler(secret: dict[str, Any], calls: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.headers["X-Amz-Target"] == "secretsmanager.GetSecretValue"
            calls.append(request["SecretId"])
            payload = json.dumps(
                {"ARN": "arn:aws:secretsmanager:us-east-1:0:secret:x", "Name": request["SecretId"],
                 "SecretString": json.dumps(secret), "VersionId": "v1"}
            ).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    return Handler


@contextmanager
def serving(secret: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    calls: list[str] = []
    with loopback(_handler(secret, calls)) as url:
        yield f"{url}", calls
