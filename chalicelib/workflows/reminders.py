"""The deadline watch: reminders at the policy's points before each deadline, `missed` after it.

Reminders go in the request's thread at the working-day points of ``policy.approvals`` (default
3, 1 and 0 working days before the deadline), each at most once however often the watch runs;
after a skipped day only the most urgent point due is sent. With ``auto_file_when_unanswered`` a
request nobody answered is approved and filed at the last point.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from chalicelib.domain import lifecycle
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import RequestState, TrackedRequest
from chalicelib.domain.workdays import WorkingDayCalendar
from chalicelib.workflows.approvals import decide_request
from chalicelib.workflows.filing import file_request
from chalicelib.workflows.ports import Filer, FilingError, Store
from chalicelib.workflows.requests import Step, update_request

WATCH = "deadline-watch"
AUTO = "deadline-watch (unanswered at the last reminder)"


@dataclass(frozen=True)
class WatchReport:
    reminded: list[TrackedRequest] = field(default_factory=list)
    missed: list[TrackedRequest] = field(default_factory=list)
    auto_filed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def deadline_watch(
    store: Store, filer: Filer, policy: Policy, now: dt.datetime, account: str = ""
) -> WatchReport:
    calendar = WorkingDayCalendar(policy.calendar)
    report = WatchReport()
    for tracked in store.list_requests():
        if lifecycle.is_missed(tracked, now):
            report.missed.extend(_changed(store, tracked.id, lambda t: _miss(t, now)))
            continue
        point = reminder_due(tracked, policy, calendar, now)
        if point is None:
            continue
        remind = _remind_at(point, policy, calendar, now)
        report.reminded.extend(_changed(store, tracked.id, remind))
        if point == min(policy.approvals.reminder_working_days) and _auto_files(tracked, policy):
            _auto_file(store, filer, tracked.id, policy, now, account, report)
    return report


def reminder_due(
    tracked: TrackedRequest, policy: Policy, calendar: WorkingDayCalendar, now: dt.datetime
) -> int | None:
    """The reminder point to send now, if any: the most urgent point reached and not yet sent."""
    if not tracked.needs_filing:
        return None
    zone = policy.zone
    left = calendar.working_days_after(
        now.astimezone(zone).date(), tracked.request.deadline.astimezone(zone).date()
    )
    reached = [p for p in policy.approvals.reminder_working_days if left <= p]
    if not reached:
        return None
    point = min(reached)
    if tracked.last_reminder is not None and tracked.last_reminder <= point:
        return None
    return point


def _miss(tracked: TrackedRequest, now: dt.datetime) -> lifecycle.Transition | None:
    return lifecycle.mark_missed(tracked, now, WATCH) if lifecycle.is_missed(tracked, now) else None


def _remind_at(point: int, policy: Policy, calendar: WorkingDayCalendar, now: dt.datetime) -> Step:
    def step(tracked: TrackedRequest) -> lifecycle.Transition | None:
        if reminder_due(tracked, policy, calendar, now) != point:
            return None  # someone else sent it meanwhile, or the request moved on
        return lifecycle.reminded(tracked, point, WATCH, now)

    return step


def _changed(store: Store, request_id: str, step: Step) -> list[TrackedRequest]:
    after = update_request(store, request_id, step)
    return [] if after is None else [after]


def _auto_files(tracked: TrackedRequest, policy: Policy) -> bool:
    return policy.approvals.auto_file_when_unanswered and tracked.state is RequestState.PENDING


def _auto_file(
    store: Store,
    filer: Filer,
    request_id: str,
    policy: Policy,
    now: dt.datetime,
    account: str,
    report: WatchReport,
) -> None:
    try:
        decide_request(store, request_id, "approved", AUTO, now)
        file_request(store, filer, request_id, AUTO, now, policy.zone, account)
    except (lifecycle.WrongState, FilingError) as exc:  # recorded and announced already
        report.failures.append(f"{request_id}: {exc}")
        return
    report.auto_filed.append(request_id)
