"""The planning cycle: plan from the latest traffic and events, record what changed, tell people.

Every function takes ``now`` from its caller; only the entry points read the clock.

A cycle costs what changed. It reads only the requests the plan can reach (tracking.Reach) and
writes its changes in batches (Store.save_requests). A cycle on the inputs (traffic, events,
policy, planning code) of the last complete one, before that one's plan says anything new about
a request (tracking.steady_until), would change nothing: it neither plans, nor reads requests,
nor writes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.domain.assurance import Plan
from chalicelib.domain.errors import Conflict, StalePlan
from chalicelib.domain.events import Event, plannable
from chalicelib.domain.planner import make_plan
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import Change, reach_of, reconcile, steady_until
from chalicelib.domain.traffic import TimeRange, planning_window
from chalicelib.workflows.notices import DispatchReport, dispatch_notices
from chalicelib.workflows.ports import CycleMark, Notifier, Store, TrafficSource
from chalicelib.workflows.retry import retry_on_conflict


@dataclass(frozen=True)
class CycleReport:
    changes: list[Change]
    planned: int  # requests in the plan
    planning: Callable[[], Plan] = field(repr=False, compare=False)
    dispatch: DispatchReport = field(default_factory=lambda: DispatchReport(0))  # none sent

    @functools.cached_property
    def plan(self) -> Plan:
        """The cycle's plan; a cycle that had nothing to do makes it only when asked."""
        return self.planning()


def current_plan(store: Store, source: TrafficSource, policy: Policy, now: dt.datetime) -> Plan:
    """Planned from the traffic of the planning window only: whatever else is stored (a point
    centuries away, written before dates were checked) is never read."""
    return _plan(source, plannable(store.list_events()), policy, now)


def _plan(source: TrafficSource, events: list[Event], policy: Policy, now: dt.datetime) -> Plan:
    return make_plan(source.load(planning_window(policy, now)), events, policy, now)


def run_cycle(
    store: Store, source: TrafficSource, notifier: Notifier, policy: Policy, now: dt.datetime
) -> CycleReport:
    """One scheduled cycle. Safe to run twice at once, or again on the same input. Its changes
    are announced through the outbox, with whatever an earlier run left unsent."""
    report = plan_cycle(store, source, policy, now)
    return dataclasses.replace(report, dispatch=dispatch_notices(store, notifier, now))


def plan_cycle(
    store: Store, source: TrafficSource, policy: Policy, now: dt.datetime
) -> CycleReport:
    """A cycle but for sending: the requests follow the current plan, and the notices of their
    changes wait in the outbox. Nothing is planned when the last cycle's mark still holds."""
    events = plannable(store.list_events())
    inputs = _inputs(source, events, policy, planning_window(policy, now))
    mark = store.last_cycle() if inputs else None
    if inputs and mark and mark.holds(inputs, now):
        return CycleReport([], mark.planned(now), lambda: _plan(source, events, policy, now))
    plan = _plan(source, events, policy, now)
    return CycleReport(apply_plan(store, plan, policy, inputs), len(plan.requests), lambda: plan)


def replan(store: Store, source: TrafficSource, policy: Policy, now: dt.datetime) -> list[Change]:
    return apply_plan(store, current_plan(store, source, policy, now), policy)


def apply_plan(store: Store, plan: Plan, policy: Policy, inputs: str | None = None) -> list[Change]:
    """Write the plan's changes. After a lost race everything is re-read and reconciled again:
    usually the other writer wrote the same thing, and nothing is left to do. A plan older than
    one already applied (a slow cycle overtaken by a later one) stops writing: its figures
    would undo newer ones.

    With the fingerprint of the plan's ``inputs``, the plan is claimed before the requests are
    read, and once every change is written, the cycle's mark is kept for the next cycle to
    compare with (Store.record_plan)."""
    margin = dt.timedelta(hours=policy.rematch_margin_hours)
    peak_change = policy.approvals.material_peak_change
    reach = reach_of(plan, margin)
    applied: list[Change] = []

    def attempt() -> None:
        if inputs:  # claimed first: a plan made earlier can no longer write after this read
            store.record_plan(plan.now)
        stored = {t.id: t for t in store.requests_in_reach(reach)}
        saved = store.save_requests(
            reconcile(stored, plan, plan.now, margin, peak_change), planned_at=plan.now
        )
        applied.extend(saved.written)
        if saved.stale:
            raise StalePlan(f"a plan made after {plan.now.isoformat()} was applied already")
        if saved.conflicted:
            raise Conflict("another writer changed the requests")

    def keep_mark() -> None:
        if inputs:
            store.record_plan(plan.now, _mark(plan, policy, inputs))

    try:
        retry_on_conflict(attempt, "requests")
        retry_on_conflict(keep_mark, "the latest plan")
    except StalePlan:
        pass
    return applied


def _mark(plan: Plan, policy: Policy, inputs: str) -> CycleMark:
    window = dt.timedelta(hours=policy.lead_times.reminder_window_hours)
    ends = sorted(int(r.burst_end.timestamp()) for r in plan.requests)
    return CycleMark(plan.now, inputs, steady_until(plan, window), tuple(ends))


def _inputs(
    source: TrafficSource, events: Sequence[Event], policy: Policy, window: TimeRange
) -> str | None:
    """A fingerprint of everything a plan is made from but the clock; None when the traffic
    source cannot tell whether its points changed. Read before the traffic itself, so that a
    change made meanwhile shows in the next cycle's fingerprint, never hides in this one's."""
    traffic = source.revision(window)
    if traffic is None:
        return None
    digest = hashlib.sha256()
    for part in (
        _planning_code(),
        type(policy).__qualname__,
        policy.model_dump_json(),
        str(window),
        traffic,
        *(event.model_dump_json() for event in events),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


@functools.cache
def _planning_code() -> str:
    """The domain's code and the libraries its results depend on: a deploy that changes how
    plans are made must not take an old mark for its own."""
    import holidays
    import numpy
    import pydantic

    import chalicelib.domain

    digest = hashlib.sha256()
    domain = sorted(Path(chalicelib.domain.__file__).parent.glob("*.py"))
    for path in [*domain, Path(__file__)]:
        digest.update(path.read_bytes())
    for version in (holidays.__version__, numpy.__version__, pydantic.VERSION):
        digest.update(version.encode())
    return digest.hexdigest()
