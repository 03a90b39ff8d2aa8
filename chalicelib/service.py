"""Service functions: what the CLI and the Lambda entry points call. Thin glue, no rules here.

Every function takes ``now`` from its caller; the entry points read the clock, nothing else does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.assurance import Plan, Status, status_at
from chalicelib.errors import Conflict, NotFound
from chalicelib.events import GALA_PREFIX, Event, with_galas
from chalicelib.notify import Notifier
from chalicelib.planner import make_plan
from chalicelib.policy import Policy
from chalicelib.sources import TrafficSource
from chalicelib.store import Store
from chalicelib.tracking import AuditEntry, Change, TrackedRequest, reconcile
from chalicelib.traffic import TrafficSet

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class CycleReport:
    plan: Plan
    changes: list[Change]


# -- planning ----------------------------------------------------------------------------------


def current_plan(store: Store, source: TrafficSource, policy: Policy, now: dt.datetime) -> Plan:
    return make_plan(source.load(), store.list_events(), policy, now)


def run_cycle(
    store: Store, source: TrafficSource, notifier: Notifier, policy: Policy, now: dt.datetime
) -> CycleReport:
    """One scheduled planning cycle: plan from the latest traffic and events, record what
    changed, tell people. Safe to run twice at once, or again on the same input."""
    plan = current_plan(store, source, policy, now)
    changes = apply_plan(store, plan)
    notifier.announce(changes)
    return CycleReport(plan, changes)


def apply_plan(store: Store, plan: Plan) -> list[Change]:
    """Write the plan's changes. A write that loses a race is re-read and reconciled again:
    usually the other writer wrote the same thing, and nothing is left to do."""
    applied: list[Change] = []
    for _ in range(MAX_ATTEMPTS):
        stored = {t.id: t for t in store.list_requests()}
        lost_a_race = False
        for change in reconcile(stored, plan, plan.now):
            try:
                store.save_request(change.after, change.expected_version, change.audit)
            except Conflict:
                lost_a_race = True
            else:
                applied.append(change)
        if not lost_a_race:
            return applied
    raise Conflict(f"gave up after {MAX_ATTEMPTS} attempts: requests kept changing underneath")


# -- deadline watch ----------------------------------------------------------------------------


def deadline_watch(
    store: Store, notifier: Notifier, policy: Policy, now: dt.datetime
) -> list[TrackedRequest]:
    """Remind about every request still to be filed whose deadline is near or past: at most
    once per request per local day, however often the watch runs."""
    today = now.astimezone(policy.zone).date()
    reminded = []
    for tracked in store.list_requests():
        after = _update_with_retry(store, tracked, lambda t: _reminder(t, policy, now, today))
        if after is not None:
            reminded.append(after)
    notifier.remind(reminded)
    return reminded


def _reminder(
    tracked: TrackedRequest, policy: Policy, now: dt.datetime, today: dt.date
) -> tuple[TrackedRequest, AuditEntry] | None:
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
        request_id=tracked.id, version=after.version, at=now, actor="deadline-watch",
        action="reminded", changes=changes,
    )  # fmt: skip
    return after, audit


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _update_with_retry(
    store: Store,
    tracked: TrackedRequest,
    decide: Callable[[TrackedRequest], tuple[TrackedRequest, AuditEntry] | None],
) -> TrackedRequest | None:
    """Apply ``decide`` as a conditional write, re-reading after a lost race."""
    current: TrackedRequest | None = tracked
    for _ in range(MAX_ATTEMPTS):
        if current is None:
            return None
        decision = decide(current)
        if decision is None:
            return None
        after, audit = decision
        try:
            store.save_request(after, current.version, audit)
        except Conflict:
            current = store.get_request(tracked.id)
        else:
            return after
    raise Conflict(f"request {tracked.id} kept changing underneath; try again")


# -- events ------------------------------------------------------------------------------------


def calendar_events(
    store: Store,
    policy: Policy,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    major: bool | None = None,
    now: dt.datetime | None = None,
) -> list[Event]:
    """Stored events plus the generated Spring Festival Galas, filtered by overlap and kind.

    Galas are generated for the years of the stored events and of ``now`` (and the next), within
    the asked range."""
    stored = store.list_events()
    years = {e.start.year for e in stored}
    if now is not None:
        years |= {now.year, now.year + 1}
    if start is not None:
        years = {y for y in years if y >= start.year} | {start.year}
    if end is not None:
        years = {y for y in years if y <= end.year} | {end.year}
    if years:
        years = set(range(min(years), max(years) + 1))
    return [
        e
        for e in with_galas(stored, years, policy.zone)
        if (start is None or e.end > start)
        and (end is None or e.start < end)
        and (major is None or e.major is major)
    ]


def get_event(store: Store, policy: Policy, event_id: str) -> Event:
    event = store.get_event(event_id)
    year = event_id.removeprefix(GALA_PREFIX)
    if event is None and event_id.startswith(GALA_PREFIX) and year.isdigit():
        event = next(iter(with_galas([], [int(year)], policy.zone)), None)
    if event is None:
        raise NotFound(f"no event with id {event_id!r}")
    return event


def save_event(
    store: Store,
    source: TrafficSource,
    policy: Policy,
    event: Event,
    now: dt.datetime,
    *,
    create: bool,
) -> list[Change]:
    """Create or replace an event. When a major event changes, the requests are re-planned."""
    old = store.get_event(event.id)
    if create and old is not None:
        raise Conflict(f"an event with id {event.id!r} exists; PUT /events/{event.id} replaces it")
    if not create and old is None:
        raise NotFound(f"no event with id {event.id!r}")
    store.put_event(event)
    return replan(store, source, policy, now) if event.major or (old and old.major) else []


def remove_event(
    store: Store, source: TrafficSource, policy: Policy, event_id: str, now: dt.datetime
) -> list[Change]:
    old = store.get_event(event_id)
    if old is None or not store.delete_event(event_id):
        raise NotFound(f"no event with id {event_id!r}")
    return replan(store, source, policy, now) if old.major else []


def replan(store: Store, source: TrafficSource, policy: Policy, now: dt.datetime) -> list[Change]:
    return apply_plan(store, current_plan(store, source, policy, now))


# -- traffic -----------------------------------------------------------------------------------


def ingest_traffic(store: Store, traffic: TrafficSet) -> dict[str, int]:
    """Keep validated traffic. Parsing already rejected any bad row, so this writes all or none."""
    store.put_traffic(traffic)
    return {"series": len(traffic), "points": sum(len(s.times) for s in traffic.series.values())}
