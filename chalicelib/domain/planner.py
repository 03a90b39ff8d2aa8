"""The plan: which service-assurance requests the traffic needs, and by when
(docs/data-formats.md#plan-json).

``make_plan`` is pure: traffic, events, policy and ``now`` in; the same plan out, every time.
The plan's models live in chalicelib.domain.assurance, which the API imports without NumPy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from chalicelib.domain.assurance import AssuranceRequest, EventRef, Plan, PlanWarning, status_at
from chalicelib.domain.deadlines import Deadline, DeadlineCalculator
from chalicelib.domain.events import Event, with_galas
from chalicelib.domain.policy import Policy
from chalicelib.domain.rules import Burst, Note, PartialMonth, Unchecked, find_bursts
from chalicelib.domain.traffic import TrafficSet, sparse_series
from chalicelib.domain.vocabulary import WarningCode


def make_plan(
    traffic: TrafficSet,
    events: Iterable[Event],
    policy: Policy,
    now: dt.datetime,
    deadlines: DeadlineCalculator | None = None,
) -> Plan:
    if now.tzinfo is None:
        raise ValueError("now must carry a UTC offset")
    deadlines = deadlines or DeadlineCalculator(policy)
    bursts, notes = find_bursts(traffic, policy) if len(traffic) else ([], [])
    calendar = with_galas(events, _gala_years(traffic, now, policy), policy.zone)
    local_now = now.astimezone(policy.zone)
    requests = [
        _request(burst, calendar, policy, local_now, deadlines)
        for burst in bursts
        if burst.end > now.timestamp()  # a burst that is over needs no ticket any more
    ]
    requests.sort(key=lambda r: (r.deadline, r.id))
    warnings = [
        *_events_without_forecast(calendar, traffic, policy, local_now, deadlines),
        *_estimated_calendar(requests, policy),
        *_notes(notes, policy, now),
        *_sparse_series(traffic),
    ]
    return Plan(now=local_now, requests=requests, warnings=warnings)


def _gala_years(traffic: TrafficSet, now: dt.datetime, policy: Policy) -> set[int]:
    years = {now.year, now.year + 1}
    for series in traffic.series.values():
        for epoch in (int(series.times[0]), int(series.times[-1])):
            years.add(dt.datetime.fromtimestamp(epoch, policy.zone).year)
    return set(range(min(years), max(years) + 1))


def _request(
    burst: Burst,
    calendar: Sequence[Event],
    policy: Policy,
    now: dt.datetime,
    deadlines: DeadlineCalculator,
) -> AssuranceRequest:
    start = dt.datetime.fromtimestamp(burst.start, policy.zone)
    end = dt.datetime.fromtimestamp(burst.end, policy.zone)
    lead = dt.timedelta(hours=policy.major_event_margin_hours)
    touching = [e for e in calendar if e.applies_to(burst.scope) and e.overlaps(start, end, lead)]
    major = [e for e in touching if e.major]
    event = major[0] if major else (touching[0] if touching else None)
    deadline: Deadline = (
        deadlines.months_ahead(min(start, major[0].start))
        if major
        else deadlines.working_days_ahead(start)
    )
    return AssuranceRequest(
        id=burst.id,
        rule=burst.rule,
        scope=burst.scope,
        period=burst.period,
        burst_start=start,
        burst_end=end,
        forecast_peak=round(burst.peak, 3),
        baseline=round(burst.baseline, 3),
        threshold=round(burst.threshold, 3),
        rule_value=round(burst.rule_value, 3),
        unit=burst.unit,
        event=EventRef(id=event.id, name=event.name, major=event.major) if event else None,
        lead_time=deadline.lead_time,
        deadline=deadline.at,
        status=status_at(deadline.at, now, policy),
        estimated_calendar=deadline.estimated,
    )


def _events_without_forecast(
    calendar: Sequence[Event],
    traffic: TrafficSet,
    policy: Policy,
    now: dt.datetime,
    deadlines: DeadlineCalculator,
) -> list[PlanWarning]:
    horizon = now + dt.timedelta(days=policy.event_warning_horizon_days)
    warnings = []
    for event in calendar:
        if not event.major or event.end <= now or event.start > horizon:
            continue
        if any(
            event.names(s.scope) and s.covers(event.start, event.end)
            for s in traffic.series.values()
        ):
            continue
        due = deadlines.months_ahead(event.start)
        warnings.append(
            PlanWarning(
                code=WarningCode.EVENT_WITHOUT_FORECAST,
                message=(
                    f"no forecast yet for {event.name} "
                    f"({event.start.astimezone(policy.zone):%Y-%m-%d}); "
                    f"a ticket would be due by {due.at:%Y-%m-%d %H:%M %Z}"
                ),
            )
        )
    return warnings


def _estimated_calendar(requests: Sequence[AssuranceRequest], policy: Policy) -> list[PlanWarning]:
    flagged = [r for r in requests if r.estimated_calendar]
    if not flagged:
        return []
    years = sorted({r.deadline.year for r in flagged} | {r.burst_start.year for r in flagged})
    calendar = policy.calendar
    years = [y for y in years if y > calendar.official_through and y not in calendar.overrides]
    return [
        PlanWarning(
            code=WarningCode.ESTIMATED_CALENDAR,
            message=(
                f"{len(flagged)} deadline(s) rest on an estimated working-day calendar for "
                f"{', '.join(map(str, years))}: the official arrangement is not yet known "
                f"(calendar.official_through = {policy.calendar.official_through}), so they are "
                "set early; add the published arrangement to the policy to get exact dates"
            ),
        )
    ]


def _notes(notes: Sequence[Note], policy: Policy, now: dt.datetime) -> list[PlanWarning]:
    """What the rules could not judge fully, for the days and months still ahead."""
    warnings = []
    for note in notes:
        if isinstance(note, Unchecked) and note.day_start + 86_400 > now.timestamp():
            day = dt.datetime.fromtimestamp(note.day_start, policy.zone)
            message = f"{note.rule} not checked for {note.scope} on {day:%Y-%m-%d}: {note.reason}"
            warnings.append(PlanWarning(code=WarningCode.UNCHECKED_DAY, message=message))
        elif isinstance(note, PartialMonth) and note.month_end > now.timestamp():
            held = (
                f"only {note.coverage:.0%} of its 5-minute points" if note.coverage else "no data"
            )
            message = (
                f"monthly-charged-bandwidth for {note.scope} in {note.month}: {note.previous} has "
                f"{held} (at least {policy.monthly_bandwidth.min_previous_coverage:.0%} needed to "
                "compare with), so the threshold alone decides"
            )
            warnings.append(PlanWarning(code=WarningCode.PARTIAL_BASELINE, message=message))
    return warnings


def _sparse_series(traffic: TrafficSet) -> list[PlanWarning]:
    return [
        PlanWarning(
            code=WarningCode.SPARSE_SERIES,
            message=(
                f"{metric} {scope} has a point every {spacing // 60} minutes, not every 5: "
                "averages over longer intervals understate the 5-minute peaks the rules judge"
            ),
        )
        for metric, scope, spacing in sparse_series(traffic)
    ]
