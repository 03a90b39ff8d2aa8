"""The app under test, two ways: chalice.test.Client in process, and chalice's local HTTP
server on a loopback port (for what must cross a real socket: fuzzing, a browser)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer
from chalice.test import Client

import app as application
from chalicelib.adapters.store.dynamodb import DynamoStore
from chalicelib.config import bootstrap


class QuietHandler(ChaliceRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


def use_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point the settings at a fresh SQLite file or fresh DynamoDB Local tables."""
    if kind == "sqlite":
        monkeypatch.setenv("BURST_ASSURANCE_DATA_DIR", str(tmp_path / "data"))
        return
    settings = request.getfixturevalue("dynamodb_settings")
    monkeypatch.setenv("BURST_ASSURANCE_STORE", "dynamodb")
    monkeypatch.setenv("BURST_ASSURANCE_TABLE_PREFIX", settings.table_prefix)
    monkeypatch.setenv("BURST_ASSURANCE_DYNAMODB_ENDPOINT", settings.dynamodb_endpoint)
    DynamoStore.connect(settings.table_prefix, settings.dynamodb_endpoint).create_tables()


@contextmanager
def app_on_store(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    token: str,
    now: Callable[[], dt.datetime],
) -> Iterator[Client]:
    """The app as the API tests use it: a fresh store of ``kind``, traffic read from the store,
    the outbox under ``tmp_path``, the API token ``token`` and the clock ``now``."""
    from chalicelib.entry import clock

    monkeypatch.setenv("BURST_ASSURANCE_API_TOKEN", token)
    monkeypatch.setenv("BURST_ASSURANCE_TRAFFIC_SOURCE", "store")
    monkeypatch.setenv("BURST_ASSURANCE_OUTBOX_DIR", str(tmp_path / "outbox"))
    use_store(kind, request, tmp_path, monkeypatch)
    monkeypatch.setattr(clock, "utc_now", now)
    with chalice_client(tmp_path) as client:
        yield client


@contextmanager
def chalice_client(project: Path) -> Iterator[Client]:
    """The app in process, on an empty project: the deployed stages' environment
    (.chalice/config.json) stays out. The runtime is rebuilt from the environment."""
    bootstrap.reset()
    (project / ".chalice").mkdir(exist_ok=True)
    (project / ".chalice" / "config.json").write_text('{"version": "2.0", "app_name": "t"}')
    with Client(application.app, project_dir=str(project)) as client:
        yield client
    bootstrap.reset()


@contextmanager
def local_server() -> Iterator[str]:
    """The app behind chalice's local server on a free loopback port; its base URL."""
    bootstrap.reset()
    server = LocalDevServer(
        application.app, Config.create(), "127.0.0.1", 0, handler_cls=QuietHandler
    )
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.shutdown()
        server.server.server_close()
        bootstrap.reset()
