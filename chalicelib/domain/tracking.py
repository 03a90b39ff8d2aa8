"""Tracked requests: the planner's latest view of a request plus everything decided about it.

``reconcile`` compares the stored requests with a new plan and says what must change. It is pure;
the service writes the changes, each as a conditional write on the version it read, so two
planning cycles racing each other cannot duplicate a request or lose a decision. It needs only
the stored requests in the plan's ``Reach``, and a plan made later from the same traffic and
events would change nothing more before ``steady_until``: a cycle reads and writes no more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field

from chalicelib.domain.assurance import AssuranceRequest, Plan, Status
from chalicelib.domain.model import Model

PLANNER = "planner"


class Presence(StrEnum):
    ACTIVE = "active"  # the latest forecast shows the burst
    WITHDRAWN = "withdrawn"  # the latest forecast no longer shows it; kept, with its history


class Decision(Model):
    model_config = ConfigDict(frozen=True)
    outcome: Literal["approved", "rejected"]
    by: str
    at: AwareDatetime
    note: str | None = None  # the reason, for a rejection
    # What was decided on: a later forecast far from it asks again (``reconcile``).
    forecast_peak: float | None = None
    burst_start: AwareDatetime | None = None
    burst_end: AwareDatetime | None = None

    def still_covers(self, request: AssuranceRequest, peak_change: float) -> bool:
        """Whether ``request`` is what was decided on: the peak within ``peak_change`` of the
        decided one and the window inside the decided one."""
        if self.forecast_peak is None or self.burst_start is None or self.burst_end is None:
            return True
        near = abs(request.forecast_peak - self.forecast_peak) < peak_change * self.forecast_peak
        inside = self.burst_start <= request.burst_start and request.burst_end <= self.burst_end
        return near and inside


class RequestState(StrEnum):
    """Where a request stands in its life (docs/lifecycle.md); derived, never stored."""

    PENDING = "pending"  # planned, awaiting a person's decision
    APPROVED = "approved"
    REJECTED = "rejected"
    FILING = "filing"  # the filer was called; its outcome is not recorded yet
    FILED = "filed"  # the provider (or a person, by hand) gave a ticket number
    WITHDRAWN = "withdrawn"  # the forecast no longer shows the burst, before it was filed
    MISSED = "missed"  # the deadline passed unfiled: the burst has no SLA protection


class Filing(Model):
    """The attempt to file a ticket, recorded before the provider is called: the provider has no
    idempotency token, so after an unknown outcome the marker is how the case is found again."""

    model_config = ConfigDict(frozen=True)
    channel: str  # outbox | huawei-osm | email | manual
    marker: str  # at most 16 characters, put in the ticket's summary
    started_at: AwareDatetime
    by: str
    filed_at: AwareDatetime | None = None
    # The attempt in progress: whoever holds a fresh claim calls the provider; others wait.
    claimed_at: AwareDatetime | None = None
    attempts: int = 0
    last_error: str | None = None
    # The requests filed together in one ticket (their windows overlap), this one included.
    group: tuple[str, ...] = ()


class TrackedRequest(Model):
    model_config = ConfigDict(frozen=True)

    request: AssuranceRequest
    presence: Presence = Presence.ACTIVE
    decision: Decision | None = None
    filing: Filing | None = None
    ticket_id: str | None = None  # the provider's case number once filed
    missed_at: AwareDatetime | None = None
    last_reminder: int | None = None  # working days before the deadline of the last reminder
    provider_state: str | None = None  # accepted | processing | completed | cancelled
    urged_at: AwareDatetime | None = None
    thread: str | None = None  # where its notices go (Slack "<channel>/<ts>"), once announced
    version: int = 1
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @property
    def id(self) -> str:
        return self.request.id

    @property
    def is_live(self) -> bool:
        return self.presence is Presence.ACTIVE

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> RequestState:
        if self.ticket_id is not None:
            return RequestState.FILED
        if self.filing is not None:
            return RequestState.FILING
        if self.missed_at is not None:
            return RequestState.MISSED
        if self.presence is Presence.WITHDRAWN:
            return RequestState.WITHDRAWN
        if self.decision is not None:
            return RequestState(self.decision.outcome)
        return RequestState.PENDING

    @property
    def needs_filing(self) -> bool:
        """Still waiting for someone: planned or approved, or filing, and no ticket yet."""
        waiting = (RequestState.PENDING, RequestState.APPROVED, RequestState.FILING)
        return self.state in waiting


class AuditEntry(Model):
    """One append-only line of a request's history. (request_id, version) is unique."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    version: int
    at: AwareDatetime
    actor: str
    action: str  # created | updated | moved | withdrawn | restored | decided | filed ...
    changes: dict[str, tuple[Any, Any]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """A write to make: ``after`` replaces the stored version ``expected_version`` (None: new)."""

    after: TrackedRequest
    expected_version: int | None
    audit: AuditEntry

    @property
    def action(self) -> str:
        return self.audit.action


def field_changes(before: BaseModel, after: BaseModel) -> dict[str, tuple[Any, Any]]:
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {k: (old.get(k), new[k]) for k in new if old.get(k) != new[k]}


DEFAULT_PEAK_CHANGE = 0.10


def reconcile(
    stored: Mapping[str, TrackedRequest],
    plan: Plan,
    now: dt.datetime,
    margin: dt.timedelta,
    peak_change: float = DEFAULT_PEAK_CHANGE,
) -> list[Change]:
    """What must change so that the stored requests follow the plan.

    A planned burst updates the request with its id. A burst whose id is new takes over the live
    request of its rule and scope whose window overlaps it or starts within ``margin`` of it
    (a re-forecast moved the surge, perhaps past midnight): the request keeps its id and
    records a move. Only an unmatched burst creates a request, and only an
    unmatched live request is withdrawn. A decision the new forecast no longer matches (peak off
    by ``peak_change`` or more, or a window it did not cover) is cleared: people are asked again
    ("reopened")."""
    claimed: set[str] = set()
    changes: list[Change | None] = []
    moved_in: list[AssuranceRequest] = []
    for request in plan.requests:
        if request.id in stored:
            claimed.add(request.id)
            changes.append(_from_plan(stored[request.id], request, now, peak_change))
        else:
            moved_in.append(request)
    live = _live_by_kind(stored)
    for request in moved_in:
        unclaimed = [t for t in live.get((request.rule, request.scope), []) if t.id not in claimed]
        match = _nearest(request, unclaimed, margin)
        if match is None:
            changes.append(_from_plan(None, request, now, peak_change))
        else:
            claimed.add(match.id)
            changes.append(_move(match, request, now, peak_change))
    changes.extend(
        _withdraw(tracked, now)
        for rid, tracked in stored.items()
        if rid not in claimed and tracked.is_live and tracked.request.burst_end > now
    )
    return [c for c in changes if c is not None]


def _live_by_kind(
    stored: Mapping[str, TrackedRequest],
) -> dict[tuple[str, str], list[TrackedRequest]]:
    """The live requests by rule and scope, in stored order: a burst is only ever matched with
    one of its own kind, so a cycle that moves many bursts does not compare each with all."""
    kinds: dict[tuple[str, str], list[TrackedRequest]] = {}
    for tracked in stored.values():
        if tracked.is_live:
            kinds.setdefault((tracked.request.rule, tracked.request.scope), []).append(tracked)
    return kinds


def _nearest(
    request: AssuranceRequest, live: list[TrackedRequest], margin: dt.timedelta
) -> TrackedRequest | None:
    def distance(tracked: TrackedRequest) -> dt.timedelta:
        return abs(tracked.request.burst_start - request.burst_start)

    def near(tracked: TrackedRequest) -> bool:
        old = tracked.request
        overlaps = old.burst_start < request.burst_end and request.burst_start < old.burst_end
        return (old.rule, old.scope) == (request.rule, request.scope) and (
            overlaps or distance(tracked) <= margin
        )

    return min(filter(near, live), key=distance, default=None)


def _move(
    tracked: TrackedRequest, request: AssuranceRequest, now: dt.datetime, peak_change: float
) -> Change | None:
    """``tracked`` follows its burst to ``request``'s window, keeping its own identity."""
    moved = request.model_copy(update={"id": tracked.id, "period": tracked.request.period})
    changes = field_changes(tracked.request, moved)
    if not changes:
        return None
    update: dict[str, Any] = {"request": moved, "version": tracked.version + 1, "updated_at": now}
    action = _reopen(tracked, moved, peak_change, update, changes) or "moved"
    after = tracked.model_copy(update=update)
    return Change(after, tracked.version, _entry(after, now, action, changes))


def _reopen(
    tracked: TrackedRequest,
    request: AssuranceRequest,
    peak_change: float,
    update: dict[str, Any],
    changes: dict[str, tuple[Any, Any]],
) -> str | None:
    """ "reopened", clearing the decision in ``update``, when ``request`` is no longer what was
    decided on and nobody has started filing it yet."""
    decision = tracked.decision
    in_filing = tracked.filing is not None or tracked.ticket_id is not None
    if decision is None or in_filing or decision.still_covers(request, peak_change):
        return None
    update["decision"] = None
    changes["decision"] = (f"{decision.outcome} by {decision.by}", None)
    return "reopened"


def _from_plan(
    tracked: TrackedRequest | None,
    request: AssuranceRequest,
    now: dt.datetime,
    peak_change: float,
) -> Change | None:
    if tracked is None:
        fresh = TrackedRequest(request=request, created_at=now, updated_at=now)
        return Change(fresh, None, _entry(fresh, now, "created", {}))
    changes = field_changes(tracked.request, request)
    restored = tracked.presence is Presence.WITHDRAWN
    if not changes and not restored:
        return None
    if restored:
        changes["presence"] = (tracked.presence.value, Presence.ACTIVE.value)
    update: dict[str, Any] = {
        "request": request,
        "presence": Presence.ACTIVE,
        "version": tracked.version + 1,
        "updated_at": now,
    }
    reopened = _reopen(tracked, request, peak_change, update, changes)
    action = reopened or ("restored" if restored else "updated")
    after = tracked.model_copy(update=update)
    return Change(after, tracked.version, _entry(after, now, action, changes))


def _withdraw(tracked: TrackedRequest, now: dt.datetime) -> Change:
    after = tracked.model_copy(
        update={"presence": Presence.WITHDRAWN, "version": tracked.version + 1, "updated_at": now}
    )
    changes = {"presence": (Presence.ACTIVE.value, Presence.WITHDRAWN.value)}
    return Change(after, tracked.version, _entry(after, now, "withdrawn", changes))


def _entry(
    after: TrackedRequest, now: dt.datetime, action: str, changes: dict[str, tuple[Any, Any]]
) -> AuditEntry:
    return AuditEntry(
        request_id=after.id, version=after.version, at=now, actor=PLANNER, action=action,
        changes=changes,
    )  # fmt: skip


@dataclass(frozen=True)
class Reach:
    """The stored requests ``reconcile`` may need for a plan; it never looks at the others.

    - by id: a planned burst updates the request with its id, whatever its state or age. An id
      ends with the burst's period, so such a request's period is at least ``first_month``;
    - by window: a burst with a new id takes over a live request whose window overlaps it or
      starts within the margin of it, and an unmatched live request is withdrawn while its burst
      is ahead. Either way that request is live and its burst ends at or after ``ends_from``.

    Out of reach: withdrawn requests of earlier periods, and requests of earlier periods whose
    bursts ended before the plan's earliest one (less the margin) and before its moment."""

    first_month: str | None  # YYYY-MM of the plan's earliest period; None for an empty plan
    ends_from: dt.datetime

    def covers(self, tracked: TrackedRequest) -> bool:
        if self.first_month is not None and period_of(tracked.id) >= self.first_month:
            return True
        return tracked.is_live and tracked.request.burst_end >= self.ends_from


def reach_of(plan: Plan, margin: dt.timedelta) -> Reach:
    """What ``reconcile`` may need for ``plan``, given the margin it is called with."""
    first_month = min((r.period[:7] for r in plan.requests), default=None)
    earliest = [r.burst_start - margin for r in plan.requests]
    return Reach(first_month, min([plan.now, *earliest]))


def period_of(request_id: str) -> str:
    """The period a request id ends with (YYYY-MM or YYYY-MM-DD): ids are rule/scope/period."""
    return request_id.rsplit("/", 1)[-1]


# The finest step of a plan's moment as stores keep it: the first moment after a deadline.
INSTANT = dt.timedelta(microseconds=1)


def steady_until(plan: Plan, reminder_window: dt.timedelta) -> dt.datetime | None:
    """The first moment a plan made from the same traffic, events and policy says something new
    about a request; None if never. Only a request's status moves with the clock (upcoming, due
    ``reminder_window`` before the deadline, overdue after it). A burst that ends leaves the plan,
    and ``reconcile`` leaves its request alone, so only changes before the burst ends count."""
    moments = []
    for request in plan.requests:
        if request.status is Status.UPCOMING:
            moment = request.deadline - reminder_window
        elif request.status is Status.DUE:
            moment = request.deadline + INSTANT
        else:
            continue
        if moment < request.burst_end:
            moments.append(moment)
    return min(moments, default=None)
