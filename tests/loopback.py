"""The loopback HTTP server every stand-in runs on: port 0, a daemon thread, shut on exit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@contextmanager
def loopback(handler: type[BaseHTTPRequestHandler], poll: float = 0.05) -> Iterator[str]:
    """Serve ``handler`` on a free 127.0.0.1 port; the base URL, without a trailing slash.
    A short ``poll``: shutdown() waits for the serving loop to notice."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(poll,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
