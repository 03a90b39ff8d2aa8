"""A person approves or rejects a planned request: one conditional write, one outcome."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from chalicelib.domain import lifecycle
from chalicelib.domain.tracking import TrackedRequest
from chalicelib.workflows.ports import Store
from chalicelib.workflows.requests import get_request
from chalicelib.workflows.retry import retry_on_conflict


def decide_request(
    store: Store,
    request_id: str,
    outcome: Literal["approved", "rejected"],
    by: str,
    now: dt.datetime,
    reason: str | None = None,
) -> TrackedRequest:
    """Raises lifecycle.WrongState naming who decided when someone else was first. A lost race
    is decided again on a re-read: it may have been a planner update, not a decision."""

    def attempt() -> TrackedRequest:
        tracked = get_request(store, request_id)
        after, audit = lifecycle.decide(tracked, outcome, by, now, reason)
        store.save_request(after, tracked.version, audit)
        return after

    return retry_on_conflict(attempt, f"request {request_id}")
