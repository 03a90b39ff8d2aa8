"""Following filed cases and finishing unfinished filings, on a schedule.

Approved requests are normally filed right after the approval (through the work queue); this
round files whatever that missed (a lost message, a provider that was down, a lapsed claim), so
a filing is retried until its deadline and never dropped. Filed cases are asked for their state
at the provider until completed, and urged when still unaccepted close to their burst.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from chalicelib.domain import lifecycle
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import RequestState, TrackedRequest
from chalicelib.workflows.filing import file_request
from chalicelib.workflows.ports import Filer, FilingError, Store
from chalicelib.workflows.requests import update_request

FOLLOWER = "follow-up"
SETTLED = frozenset({"completed", "cancelled"})
ACCEPTED = frozenset({"accepted", "processing"}) | SETTLED
FOLLOW_AFTER_BURST = dt.timedelta(days=30)


@dataclass(frozen=True)
class FollowUpReport:
    filed: list[str] = field(default_factory=list)
    followed: list[str] = field(default_factory=list)
    urged: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def follow_up(
    store: Store, filer: Filer, policy: Policy, now: dt.datetime, account: str = ""
) -> FollowUpReport:
    report = FollowUpReport()
    for tracked in store.list_requests():
        try:
            if _unfinished(tracked, now):
                file_request(store, filer, tracked.id, FOLLOWER, now, policy.zone, account)
                report.filed.append(tracked.id)
            elif _followed_here(tracked, filer, now):
                _follow(store, filer, tracked, policy, now, report)
        except (lifecycle.WrongState, FilingError) as exc:
            report.failures.append(f"{tracked.id}: {exc}")
    return report


def _unfinished(tracked: TrackedRequest, now: dt.datetime) -> bool:
    if tracked.state is RequestState.APPROVED:
        return now <= tracked.request.deadline
    filing = tracked.filing
    if tracked.state is not RequestState.FILING or filing is None:
        return False
    return filing.claimed_at is None or now - filing.claimed_at >= lifecycle.FILING_LEASE


def _followed_here(tracked: TrackedRequest, filer: Filer, now: dt.datetime) -> bool:
    """A case this filer can tell about, not settled, its burst not long gone."""
    return (
        tracked.state is RequestState.FILED
        and tracked.filing is not None
        and tracked.filing.channel == filer.channel
        and tracked.provider_state not in SETTLED
        and now - tracked.request.burst_end < FOLLOW_AFTER_BURST
    )


def _follow(
    store: Store,
    filer: Filer,
    tracked: TrackedRequest,
    policy: Policy,
    now: dt.datetime,
    report: FollowUpReport,
) -> None:
    assert tracked.ticket_id is not None
    state = filer.follow(tracked.ticket_id)
    if state is not None and state != tracked.provider_state:
        update_request(store, tracked.id, lambda t: lifecycle.followed(t, state, FOLLOWER, now))
        report.followed.append(tracked.id)
    near = tracked.request.burst_start - now <= dt.timedelta(
        hours=policy.approvals.urge_within_hours
    )
    if state not in ACCEPTED and near and tracked.urged_at is None:
        filer.urge(tracked.ticket_id, _urging(tracked))
        update_request(store, tracked.id, lambda t: lifecycle.urged(t, FOLLOWER, now))
        report.urged.append(tracked.id)


def _urging(tracked: TrackedRequest) -> str:
    start = tracked.request.burst_start.isoformat()
    return (
        f"业务保障申请尚未受理，流量高峰将于 {start} 开始，请尽快处理。 "
        f"The service assurance request is not accepted yet; the burst starts at {start}."
    )
