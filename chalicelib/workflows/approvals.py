"""A person approves or rejects a planned request: one conditional write, one outcome."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from chalicelib.domain import lifecycle
from chalicelib.domain.errors import Conflict
from chalicelib.domain.tracking import TrackedRequest
from chalicelib.workflows.ports import Store
from chalicelib.workflows.requests import get_request


def decide_request(
    store: Store,
    request_id: str,
    outcome: Literal["approved", "rejected"],
    by: str,
    now: dt.datetime,
    reason: str | None = None,
) -> TrackedRequest:
    """Raises lifecycle.WrongState naming who decided when someone else was first."""
    for _ in range(3):  # a lost race is re-read: it may have been a planner update, not a decision
        tracked = get_request(store, request_id)
        after, audit = lifecycle.decide(tracked, outcome, by, now, reason)
        try:
            store.save_request(after, tracked.version, audit)
        except Conflict:
            continue
        return after
    raise Conflict(f"{request_id} kept changing underneath; try again")
