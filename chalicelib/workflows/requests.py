"""Tracked assurance requests as people look them up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.errors import NotFound
from chalicelib.domain.tracking import AuditEntry, TrackedRequest
from chalicelib.workflows.ports import Store


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


def request_history(store: Store, request_id: str) -> RequestHistory:
    """The request and its audit trail: the evidence that a ticket was filed in time."""
    return RequestHistory(get_request(store, request_id), store.audit_trail(request_id))
