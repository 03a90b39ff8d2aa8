"""A person approves or rejects a planned request: one conditional write, one outcome."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from chalicelib.domain import lifecycle
from chalicelib.domain.tracking import TrackedRequest
from chalicelib.workflows.ports import Store
from chalicelib.workflows.requests import update_request


def decide_request(
    store: Store,
    request_id: str,
    outcome: Literal["approved", "rejected"],
    by: str,
    now: dt.datetime,
    reason: str | None = None,
) -> TrackedRequest:
    """Raises lifecycle.WrongState naming who decided when someone else was first."""
    after = update_request(
        store, request_id, lambda t: lifecycle.decide(t, outcome, by, now, reason)
    )
    assert after is not None  # decide() always changes the request or raises
    return after
