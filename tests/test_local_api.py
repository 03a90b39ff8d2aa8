"""`make local`: the real `chalice local --stage local` process serves the API on the embedded
default (SQLite, the bundled example traffic) behind a bearer token."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOKEN = "local-test-token"
NOW = "2026-11-23T09:00:00%2B08:00"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def local_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BURST_ASSURANCE_")}
    env |= {
        "BURST_ASSURANCE_API_TOKEN": TOKEN,
        "BURST_ASSURANCE_DATA_DIR": str(tmp_path_factory.mktemp("local-data")),
    }
    chalice = Path(sys.executable).parent / "chalice"
    command = [str(chalice), "local", "--stage", "local", "--port", str(port), "--no-autoreload"]
    server = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"chalice local exited: {server.stderr.read().decode()[-2000:]}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("chalice local did not start listening within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def fetch(url: str, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_local_api_plans_the_example_quarter(local_api: str) -> None:
    status, plan = fetch(f"{local_api}/plan?now={NOW}")
    assert status == 200
    assert len(plan["requests"]) == 7
    first = plan["requests"][0]
    assert (first["id"], first["deadline"]) == (
        "monthly-charged-bandwidth/AP1/2026-12",
        "2026-11-26T18:00:00+08:00",
    )


def test_local_api_wants_the_token(local_api: str) -> None:
    status, body = fetch(f"{local_api}/events", token=None)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    assert fetch(f"{local_api}/events", token="wrong")[0] == 401  # RFC 6750: invalid_token
