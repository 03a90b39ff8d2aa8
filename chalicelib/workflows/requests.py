"""Tracked assurance requests: looking them up, and changing one safely."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.errors import NotFound
from chalicelib.domain.tracking import AuditEntry, TrackedRequest
from chalicelib.workflows.ports import Store
from chalicelib.workflows.retry import retry_on_conflict

# A change to a request: the new version and its audit entry, or None when there is nothing to do.
Step = Callable[[TrackedRequest], tuple[TrackedRequest, AuditEntry] | None]


@dataclass(frozen=True)
class RequestHistory:
    request: TrackedRequest
    audit: list[AuditEntry]


def find_requests(store: Store, matches: Callable[[TrackedRequest], bool]) -> list[TrackedRequest]:
    """Sorted by deadline, then id."""
    return [t for t in store.list_requests() if matches(t)]


def open_requests(store: Store) -> list[TrackedRequest]:
    """Requests that still need a ticket filed."""
    return find_requests(store, lambda t: t.needs_filing)


def get_request(store: Store, request_id: str) -> TrackedRequest:
    tracked = store.get_request(request_id)
    if tracked is None:
        raise NotFound(f"no request with id {request_id!r}")
    return tracked


def update_request(
    store: Store, request_id: str, step: Step, *, announce: bool = True
) -> TrackedRequest | None:
    """Apply ``step`` to the stored request as one conditional write on the version read; after
    a lost race, read again and decide again (it may have been a planner update, not a clash).
    The new version, or None when ``step`` found nothing to do."""

    def attempt() -> TrackedRequest | None:
        tracked = get_request(store, request_id)
        transition = step(tracked)
        if transition is None:
            return None
        after, audit = transition
        store.save_request(after, tracked.version, audit, announce)
        return after

    return retry_on_conflict(attempt, f"request {request_id}")


def request_history(store: Store, request_id: str) -> RequestHistory:
    """The request and its audit trail: the evidence that a ticket was filed in time."""
    return RequestHistory(get_request(store, request_id), store.audit_trail(request_id))
