"""A loopback stand-in for the Huawei Cloud OSM calls the huawei-osm filer makes (create_cases,
list_cases, show_case_status, update_cases, list_product_categories, list_problem_types), so the
real huaweicloudsdkosm client is exercised end to end, signing included, without Huawei Cloud.

Knobs on the state, for the failures the filer must survive:
- ``fail_next = N``: the next N calls are answered ``fail_status`` (500 unless set), with
  ``fail_message`` as the error message;
- ``delay = S``: every answer waits S seconds (``slow(S)`` says the same);
- ``lose_create = "500" | "stall" | "drop"``: the next create_cases makes the case, then
  answers 500, or stalls ``stall_seconds`` (past the client's read timeout), or hangs up;
- ``drop_next = N``: the next N calls are hung up on without an answer.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from loopback import loopback

CASES = "/v2/servicerequest/cases"
LIVE_CATEGORY = {
    "incident_product_category_id": "pc-live-0001",
    "incident_product_category_name": "视频直播 Live",
    "incident_product_category_acronym": "Live",
}
OTHER_CATEGORY = {
    "incident_product_category_id": "pc-ecs-0002",
    "incident_product_category_name": "弹性云服务器 ECS",
    "incident_product_category_acronym": "ECS",
}
ASSURANCE_TYPE = {
    "business_type_id": "bt-assurance-01",
    "business_type_name": "业务保障 Service assurance",
    "case_type": "0",
}
FAULT_TYPE = {"business_type_id": "bt-fault-02", "business_type_name": "故障报障", "case_type": "5"}
REQUIRED = ("business_type_id", "simple_description", "source_id")


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # the parsed JSON, None when there was none


@dataclass
class HuaweiStandIn:
    requests: list[Received] = field(default_factory=list)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)  # incident id -> case
    presses: list[tuple[str, str | None]] = field(default_factory=list)  # (case id, message)
    product_categories: list[dict[str, Any]] = field(
        default_factory=lambda: [LIVE_CATEGORY, OTHER_CATEGORY]
    )
    problem_types: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"pc-live-0001": [ASSURANCE_TYPE, FAULT_TYPE]}
    )
    page_size: int = 100  # list_cases answers at most this many per page
    fail_next: int = 0
    fail_status: int = 500
    fail_message: str = "Internal server error"
    delay: float = 0.0
    lose_create: Literal["500", "stall", "drop"] | None = None
    stall_seconds: float = 5.0
    drop_next: int = 0
    closing: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def slow(self, seconds: float) -> None:
        """Every answer from now on takes ``seconds``."""
        self.delay = seconds

    def add_case(self, description: str, status: int = 0) -> str:
        with self.lock:
            incident_id = f"CS20261123{len(self.cases) + 1:06d}"
            self.cases[incident_id] = {
                "incident_id": incident_id,
                "simple_description": description,
                "status": status,
                "create_time": "2026-11-23T01:00:00Z",
            }
            return incident_id

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def wait(self, seconds: float) -> None:
        """Sleep, but wake when the stand-in shuts down."""
        self.closing.wait(seconds)


def _error(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "error_msg": message}


def _handler(state: HuaweiStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            received = self._receive()
            with state.lock:
                state.requests.append(received)
                drop = state.drop_next > 0
                state.drop_next -= drop
                fail = not drop and state.fail_next > 0
                state.fail_next -= fail
            if state.delay:
                state.wait(state.delay)
            if drop:
                self._hang_up()
            elif fail:
                status = state.fail_status
                self._answer(status, _error(f"CC_OSM_{status}", state.fail_message))
            elif not self.headers.get("Authorization", "").startswith("SDK-HMAC-SHA256"):
                self._answer(401, _error("APIGW.0301", "Incorrect IAM authentication information"))
            else:
                self._route(received)

        def _receive(self) -> Received:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            return Received(
                self.command, parts.path, parse_qs(parts.query), dict(self.headers), body
            )

        def _route(self, received: Received) -> None:
            path, query = received.path, received.query
            if received.method == "POST" and path == CASES:
                self._create(received.body or {})
            elif received.method == "GET" and path == CASES:
                self._list(query)
            elif path.startswith(f"{CASES}/") and path.endswith("/status"):
                self._status(path.split("/")[4])
            elif path.startswith(f"{CASES}/") and path.endswith("/action"):
                self._action(path.split("/")[4], query, received.body or {})
            elif path == "/v2/servicerequest/config/product-categories":
                categories = state.product_categories
                self._answer(200, {"total_count": len(categories),
                                   "incident_product_category_list": categories})  # fmt: skip
            elif path == "/v2/servicerequest/config/problems":
                types = state.problem_types.get(query.get("product_category_id", [""])[0], [])
                self._answer(200, {"total_count": len(types), "incident_business_type_list": types})
            else:
                self._answer(404, _error("CC_OSM_404", f"no such API: {path}"))

        def _create(self, body: dict[str, Any]) -> None:
            missing = [name for name in REQUIRED if not body.get(name)]
            if missing:
                self._answer(400, _error("CC_OSM_400", f"missing: {', '.join(missing)}"))
                return
            incident_id = state.add_case(body["simple_description"])
            with state.lock:
                lose, state.lose_create = state.lose_create, None
            if lose == "500":
                self._answer(500, _error("CC_OSM_500", "Internal server error"))
            elif lose == "stall":
                state.wait(state.stall_seconds)
                self._answer(200, {"incident_id": incident_id})
            elif lose == "drop":
                self._hang_up()
            else:
                self._answer(200, {"incident_id": incident_id})

        def _list(self, query: dict[str, list[str]]) -> None:
            keys = query.get("search_key", [])
            offset = int(query.get("offset", ["0"])[0])
            limit = min(int(query.get("limit", ["10"])[0]), state.page_size)
            with state.lock:
                found = [c for c in state.cases.values()
                         if all(k in c["simple_description"] for k in keys)]  # fmt: skip
            page = found[offset : offset + limit]
            self._answer(200, {"total_count": len(found), "incident_info_list": page})

        def _status(self, case_id: str) -> None:
            case = state.cases.get(case_id)
            if case is None:
                self._answer(404, _error("CC_OSM_404", f"no case {case_id}"))
                return
            self._answer(200, {"status": case["status"]})

        def _action(self, case_id: str, query: dict[str, list[str]], body: dict[str, Any]) -> None:
            if case_id not in state.cases:
                self._answer(404, _error("CC_OSM_404", f"no case {case_id}"))
                return
            if query.get("action_id") != ["press"]:
                self._answer(400, _error("CC_OSM_400", f"unsupported action {query}"))
                return
            with state.lock:
                state.presses.append((case_id, body.get("operate_desc")))
            self._answer(200, {})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Request-Id", f"standin-{dt.datetime.now():%H%M%S%f}")
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up waiting
                self.close_connection = True

        def _hang_up(self) -> None:
            self.close_connection = True
            with suppress(OSError):  # already gone
                self.connection.shutdown(socket.SHUT_RDWR)

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    return Handler


@contextmanager
def serving() -> Iterator[tuple[str, HuaweiStandIn]]:
    """(endpoint, state): give the endpoint to the filer as its OSM endpoint."""
    state = HuaweiStandIn()
    with loopback(_handler(state)) as url:
        try:
            yield f"{url}", state
        finally:
            state.closing.set()  # wake stalled answers, so the server can shut down
