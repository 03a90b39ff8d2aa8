"""The planning cycle: plan from the latest traffic and events, record what changed, tell people.

Every function takes ``now`` from its caller; only the entry points read the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from chalicelib.domain.assurance import Plan
from chalicelib.domain.errors import Conflict, StalePlan
from chalicelib.domain.events import plannable
from chalicelib.domain.planner import make_plan
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import Change, reconcile
from chalicelib.domain.traffic import planning_window
from chalicelib.workflows.notices import DispatchReport, dispatch_notices
from chalicelib.workflows.ports import Notifier, Store, TrafficSource
from chalicelib.workflows.retry import retry_on_conflict


@dataclass(frozen=True)
class CycleReport:
    plan: Plan
    changes: list[Change]
    dispatch: DispatchReport


def current_plan(store: Store, source: TrafficSource, policy: Policy, now: dt.datetime) -> Plan:
    """Planned from the traffic of the planning window only: whatever else is stored (a point
    centuries away, written before dates were checked) is never read."""
    traffic = source.load(planning_window(policy, now))
    return make_plan(traffic, plannable(store.list_events()), policy, now)


def run_cycle(
    store: Store, source: TrafficSource, notifier: Notifier, policy: Policy, now: dt.datetime
) -> CycleReport:
    """One scheduled cycle. Safe to run twice at once, or again on the same input. Its changes
    are announced through the outbox, with whatever an earlier run left unsent."""
    plan = current_plan(store, source, policy, now)
    changes = apply_plan(store, plan, policy)
    return CycleReport(plan, changes, dispatch_notices(store, notifier, now))


def replan(store: Store, source: TrafficSource, policy: Policy, now: dt.datetime) -> list[Change]:
    return apply_plan(store, current_plan(store, source, policy, now), policy)


def apply_plan(store: Store, plan: Plan, policy: Policy) -> list[Change]:
    """Write the plan's changes. After a lost race everything is re-read and reconciled again:
    usually the other writer wrote the same thing, and nothing is left to do. A plan older than
    one already applied (a slow cycle overtaken by a later one) stops writing: its figures
    would undo newer ones."""
    applied: list[Change] = []

    def attempt() -> list[Change]:
        stored = {t.id: t for t in store.list_requests()}
        lost_a_race = False
        margin = dt.timedelta(hours=policy.rematch_margin_hours)
        peak_change = policy.approvals.material_peak_change
        for change in reconcile(stored, plan, plan.now, margin, peak_change):
            try:
                store.save_request(
                    change.after, change.expected_version, change.audit, planned_at=plan.now
                )
            except StalePlan:
                raise
            except Conflict:
                lost_a_race = True
            else:
                applied.append(change)
        if lost_a_race:
            raise Conflict("another writer changed the requests")
        return applied

    try:
        return retry_on_conflict(attempt, "requests")
    except StalePlan:
        return applied
