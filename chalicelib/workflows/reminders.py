"""The deadline watch: remind about every request still to be filed whose deadline is near."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.domain import lifecycle
from chalicelib.domain.assurance import Status, status_at
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import AuditEntry, TrackedRequest
from chalicelib.workflows.ports import Notifier, Store
from chalicelib.workflows.retry import retry_on_conflict

WATCH = "deadline-watch"


def deadline_watch(
    store: Store, notifier: Notifier, policy: Policy, now: dt.datetime
) -> list[TrackedRequest]:
    """At most one reminder per request per local day, however often the watch runs; a request
    still unfiled when its deadline has passed becomes `missed`."""
    today = now.astimezone(policy.zone).date()
    reminded = []
    for tracked in store.list_requests():
        after = _remind_once(store, tracked, policy, now, today)
        if after is not None:
            reminded.append(after)
    notifier.remind(reminded)
    return reminded


def _remind_once(
    store: Store, tracked: TrackedRequest, policy: Policy, now: dt.datetime, today: dt.date
) -> TrackedRequest | None:
    """Record the reminder as a conditional write; after a lost race, decide again on a re-read."""
    reads = [tracked]

    def attempt() -> TrackedRequest | None:
        current = reads.pop() if reads else store.get_request(tracked.id)
        decision = None if current is None else _reminder(current, policy, now, today)
        if current is None or decision is None:
            return None
        after, audit = decision
        store.save_request(after, current.version, audit)
        return after

    return retry_on_conflict(attempt, f"request {tracked.id}")


def _reminder(
    tracked: TrackedRequest, policy: Policy, now: dt.datetime, today: dt.date
) -> tuple[TrackedRequest, AuditEntry] | None:
    if lifecycle.is_missed(tracked, now):
        return lifecycle.mark_missed(tracked, now, WATCH)  # unfiled at its deadline: unprotected
    status = status_at(tracked.request.deadline, now, policy)
    if not tracked.needs_filing or status is Status.UPCOMING or tracked.reminded_on == today:
        return None
    after = tracked.model_copy(
        update={
            "request": tracked.request.model_copy(update={"status": status}),
            "reminded_on": today,
            "version": tracked.version + 1,
            "updated_at": now,
        }
    )
    changes: dict[str, tuple[Any, Any]] = {
        "status": (tracked.request.status.value, status.value),
        "reminded_on": (_iso(tracked.reminded_on), today.isoformat()),
    }
    audit = AuditEntry(
        request_id=tracked.id, version=after.version, at=now, actor=WATCH,
        action="reminded", changes=changes,
    )  # fmt: skip
    return after, audit


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
