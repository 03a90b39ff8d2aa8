"""A loopback stand-in for the two S3 calls the forecast drop makes (HeadObject, GetObject),
so the real boto3 client is exercised end to end without AWS."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from loopback import loopback

NOT_FOUND = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"
)


class S3StandIn:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.requests: list[tuple[str, str]] = []

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.objects[(bucket, key)] = body


def _handler(state: S3StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _object(self) -> bytes | None:
            path = unquote(self.path.split("?", 1)[0]).lstrip("/")
            bucket, _, key = path.partition("/")
            state.requests.append((self.command, path))
            return state.objects.get((bucket, key))

        def _headers(self, body: bytes) -> None:
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "text/csv")
            self.send_header("ETag", f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"')
            self.send_header("Last-Modified", "Sun, 22 Nov 2026 00:00:00 GMT")
            self.end_headers()

        def do_HEAD(self) -> None:
            body = self._object()
            self.send_response(200 if body is not None else 404)
            self._headers(body or b"")

        def do_GET(self) -> None:
            body = self._object()
            if body is None:
                self.send_response(404)
                self._headers(NOT_FOUND)
                self.wfile.write(NOT_FOUND)
                return
            self.send_response(200)
            self._headers(body)
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    return Handler


@contextmanager
def serving() -> Iterator[tuple[str, S3StandIn]]:
    state = S3StandIn()
    with loopback(_handler(state)) as url:
        yield f"{url}", state
