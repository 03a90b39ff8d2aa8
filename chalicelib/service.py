"""Service functions: what the CLI and the Lambda entry points call. Thin glue, no rules here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from chalicelib.errors import Conflict
from chalicelib.notify import Notifier
from chalicelib.planner import Plan, make_plan
from chalicelib.policy import Policy
from chalicelib.sources import TrafficSource
from chalicelib.store import Store
from chalicelib.tracking import Change, reconcile

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class CycleReport:
    plan: Plan
    changes: list[Change]


def run_cycle(
    store: Store, source: TrafficSource, notifier: Notifier, policy: Policy, now: dt.datetime
) -> CycleReport:
    """One scheduled planning cycle: plan from the latest traffic and events, record what
    changed, tell people. Safe to run twice at once, or again on the same input."""
    plan = make_plan(source.load(), store.list_events(), policy, now)
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
