"""The plan as a picture: what the plan page draws, as plain data.

Per scope with a request: its forecast (the highest point of each 30 minutes, so a quarter of
5-minute points stays light and no peak is lost), the threshold and baseline of each request over
the span its rule judges, each burst window with its deadline, and the major events as bands.
Below the charts, the requests as a table, with their tracked state when the store has one.

Times on the charts are UTC epoch seconds; times people read are already written out in the
policy's zone, so the page never formats a date itself.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, ConfigDict

from chalicelib.domain.assurance import AssuranceRequest, Plan
from chalicelib.domain.events import Event, plannable, with_galas
from chalicelib.domain.model import Model
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import TrackedRequest
from chalicelib.domain.vocabulary import BILLING_AREAS, CONCURRENCY_SCOPES, VAS_KINDS, VAS_TOTAL

if TYPE_CHECKING:  # NumPy loads with the traffic, not with the page's routes
    import numpy as np

    from chalicelib.domain.traffic import TrafficSet
    from chalicelib.workflows.ports import Store, TrafficSource

BUCKET_SECONDS = 1800
MAX_POINTS = 6000  # per chart; a longer span gets wider buckets
POINT_SECONDS = 300  # a forecast point covers the 5 minutes from its time
RULE_WORDS = {
    "monthly-charged-bandwidth": "monthly charged bandwidth",
    "daily-peak-jump": "daily peak jump",
    "vas-concurrency": "concurrency",
}


class Span(Model):
    model_config = ConfigDict(frozen=True)
    start: int
    end: int
    value: float


class Level(Model):
    """A threshold or baseline of one rule, over the span each of its requests is judged on."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["threshold", "baseline"]
    rule: str
    label: str
    spans: list[Span]


class Burst(Model):
    """One request drawn on its scope's chart; ``number`` is its row in the table."""

    model_config = ConfigDict(frozen=True)
    number: int
    id: str
    rule: str
    start: int
    end: int
    deadline: int
    caption: str


class Band(Model):
    model_config = ConfigDict(frozen=True)
    name: str
    start: int
    end: int
    caption: str


class Chart(Model):
    model_config = ConfigDict(frozen=True)
    scope: str
    metric: str
    unit: str
    title: str
    start: int
    end: int
    first: int  # the forecast's first bucket; the others follow every bucket_seconds
    bucket_seconds: int
    forecast: list[float | None]  # the highest point of each bucket; None: no point in it
    levels: list[Level]
    bursts: list[Burst]
    events: list[Band]


class Row(Model):
    model_config = ConfigDict(frozen=True)
    number: int
    id: str
    deadline: str
    time_left: str
    status: str
    state: str | None  # from the store; None when the plan is not tracked (the CLI)
    rule: str
    scope: str
    peak: str
    value_threshold: str
    burst_start: str
    burst_end: str
    lead_time: str
    event: str


class PlanView(Model):
    model_config = ConfigDict(frozen=True)
    now: AwareDatetime
    now_text: str
    time_zone: str
    charts: list[Chart]
    rows: list[Row]
    warnings: list[str]
    without_forecast: list[str]  # scopes with a request but no series to draw


def current_plan_view(
    store: Store, source: TrafficSource, policy: Policy, now: dt.datetime
) -> PlanView:
    """The plan of the stored data at ``now``, drawn, with each request's tracked state."""
    from chalicelib.domain.planner import make_plan
    from chalicelib.domain.traffic import planning_window

    traffic = source.load(planning_window(policy, now))
    events = plannable(store.list_events())
    plan = make_plan(traffic, events, policy, now)
    return plan_view(plan, traffic, events, policy, store.list_requests())


def plan_view(
    plan: Plan,
    traffic: TrafficSet,
    events: Iterable[Event],
    policy: Policy,
    tracked: Iterable[TrackedRequest] = (),
) -> PlanView:
    numbered = list(enumerate(plan.requests, start=1))
    states = {t.id: str(t.state) for t in tracked}
    charts, missing = [], []
    calendar = list(events)
    for scope in _scopes(plan.requests):
        mine = [(n, r) for n, r in numbered if r.scope == scope]
        chart = _chart(scope, mine, traffic, calendar, plan.now, policy)
        if chart is None:
            missing.append(scope)
        else:
            charts.append(chart)
    return PlanView(
        now=plan.now,
        now_text=_local(plan.now, policy),
        time_zone=policy.time_zone,
        charts=charts,
        rows=[_row(n, r, states.get(r.id), plan.now, policy) for n, r in numbered],
        warnings=[w.message for w in plan.warnings],
        without_forecast=missing,
    )


def _scopes(requests: Sequence[AssuranceRequest]) -> list[str]:
    """Billing areas, then services, then their total: the order of the vocabulary."""
    wanted = {r.scope for r in requests}
    known = [s for s in (*BILLING_AREAS, *CONCURRENCY_SCOPES) if s in wanted]
    return known + sorted(wanted - set(known))


# -- one chart ---------------------------------------------------------------------------------


def _chart(
    scope: str,
    requests: list[tuple[int, AssuranceRequest]],
    traffic: TrafficSet,
    events: list[Event],
    now: dt.datetime,
    policy: Policy,
) -> Chart | None:
    metric = "bandwidth" if scope in BILLING_AREAS else "concurrency"
    series = _series(traffic, metric, scope)
    if series is None:
        return None
    times, values = series
    start, end = _shown_range(times, requests, now)
    bucket = _bucket_seconds(start, end)
    first, peaks = downsample(times, values, bucket)
    unit = requests[0][1].unit
    return Chart(
        scope=scope,
        metric=metric,
        unit=unit,
        title=f"{scope}: {_metric_words(scope)} ({unit})",
        start=start,
        end=end,
        first=first,
        bucket_seconds=bucket,
        forecast=peaks,
        levels=_levels(requests, policy),
        bursts=[_burst(n, r, policy) for n, r in requests],
        events=_bands(events, scope, start, end, policy),
    )


def _metric_words(scope: str) -> str:
    if scope in BILLING_AREAS:
        return "bandwidth of the billing area"
    if scope == VAS_TOTAL:
        return "concurrent tasks of all value-added services"
    return f"concurrent {scope} tasks"


def _series(traffic: TrafficSet, metric: str, scope: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Times and values of the scope; the services' total is their sum at each point."""
    import numpy as np

    if scope == VAS_TOTAL:
        parts = [s for s in traffic.of_metric("concurrency") if s.scope in VAS_KINDS]
        if not parts:
            return None
        times, where = np.unique(np.concatenate([s.times for s in parts]), return_inverse=True)
        total = np.zeros(len(times))
        np.add.at(total, where, np.concatenate([s.values for s in parts]))
        return times, total
    found = traffic.series.get((metric, scope))
    return None if found is None or not len(found.times) else (found.times, found.values)


def _shown_range(
    times: np.ndarray, requests: list[tuple[int, AssuranceRequest]], now: dt.datetime
) -> tuple[int, int]:
    """The forecast's span, widened to ``now``, every deadline and every burst."""
    starts = [int(times[0]), int(now.timestamp())]
    ends = [int(times[-1]) + POINT_SECONDS]
    for _, r in requests:
        starts += [int(r.deadline.timestamp()), int(r.burst_start.timestamp())]
        ends += [int(r.deadline.timestamp()), int(r.burst_end.timestamp())]
    return min(starts), max(ends)


def _bucket_seconds(start: int, end: int) -> int:
    wide = math.ceil((end - start) / MAX_POINTS / BUCKET_SECONDS) * BUCKET_SECONDS
    return max(BUCKET_SECONDS, wide)


def downsample(
    times: np.ndarray, values: np.ndarray, bucket: int
) -> tuple[int, list[float | None]]:
    """The first bucket's start, and the highest value of each ``bucket`` seconds from it; a
    bucket without a point is None, so the line breaks there instead of bridging the gap."""
    import numpy as np

    first = int(times[0]) // bucket * bucket
    index = (times - first) // bucket
    peaks = np.full(int(index[-1]) + 1, -np.inf)
    np.maximum.at(peaks, index, values)
    return first, [round(float(v), 3) if v >= 0 else None for v in peaks]


def _levels(requests: list[tuple[int, AssuranceRequest]], policy: Policy) -> list[Level]:
    """One threshold and one baseline line per rule, each held over the span its rule judges
    (the request's month or day, and its burst)."""
    levels = []
    for rule in dict.fromkeys(r.rule for _, r in requests):
        mine = [r for _, r in requests if r.rule == rule]
        words = RULE_WORDS.get(rule, rule)
        thresholds = [_span(r, r.threshold, policy) for r in mine]
        levels.append(
            Level(kind="threshold", rule=rule, label=f"threshold, {words}", spans=thresholds)
        )
        # A baseline of 0 means the previous month was unknown: the threshold alone decided.
        baselines = [_span(r, r.baseline, policy) for r in mine if r.baseline > 0]
        if baselines:
            levels.append(
                Level(kind="baseline", rule=rule, label=f"baseline, {words}", spans=baselines)
            )
    return levels


def _span(request: AssuranceRequest, value: float, policy: Policy) -> Span:
    """``value`` over the request's period (a month or a day, local time) and its burst."""
    zone = policy.zone
    if len(request.period) == len("2026-12"):
        first = dt.date.fromisoformat(f"{request.period}-01")
        after = (first + dt.timedelta(days=32)).replace(day=1)
    else:
        first = dt.date.fromisoformat(request.period)
        after = first + dt.timedelta(days=1)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone).timestamp()
    end = dt.datetime.combine(after, dt.time(), tzinfo=zone).timestamp()
    start = min(start, request.burst_start.timestamp())
    end = max(end, request.burst_end.timestamp())
    return Span(start=int(start), end=int(end), value=round(value, 3))


def _burst(number: int, request: AssuranceRequest, policy: Policy) -> Burst:
    unit = request.unit
    caption = (
        f"#{number} {request.rule}: burst {_window(request, policy)}, "
        f"peak {request.forecast_peak:,.1f} {unit} against a threshold of "
        f"{request.threshold:,.1f}; file by {_local(request.deadline, policy)} "
        f"({request.lead_time} ahead" + (f", {request.event.name})" if request.event else ")")
    )
    return Burst(
        number=number,
        id=request.id,
        rule=request.rule,
        start=int(request.burst_start.timestamp()),
        end=int(request.burst_end.timestamp()),
        deadline=int(request.deadline.timestamp()),
        caption=caption,
    )


def _bands(events: list[Event], scope: str, start: int, end: int, policy: Policy) -> list[Band]:
    """The major events of the scope within the shown range, galas included as the planner
    adds them."""
    first = dt.datetime.fromtimestamp(start, policy.zone)
    last = dt.datetime.fromtimestamp(end, policy.zone)
    years = range(first.year, last.year + 1)
    return [
        Band(
            name=e.name,
            start=int(e.start.timestamp()),
            end=int(e.end.timestamp()),
            caption=f"{e.name}: {_local(e.start, policy)} to {_local(e.end, policy)}",
        )
        for e in with_galas(events, years, policy.zone)
        if e.major and e.applies_to(scope) and e.overlaps(first, last)
    ]


# -- the table ---------------------------------------------------------------------------------


def _row(
    number: int, r: AssuranceRequest, state: str | None, now: dt.datetime, policy: Policy
) -> Row:
    from chalicelib.domain.deadlines import time_left  # the working-day calendar, when used

    return Row(
        number=number,
        id=r.id,
        deadline=_local(r.deadline, policy) + ("*" if r.estimated_calendar else ""),
        time_left=time_left(r.deadline, now, policy),
        status=str(r.status),
        state=state,
        rule=str(r.rule),
        scope=r.scope,
        peak=f"{r.forecast_peak:,.1f} {r.unit}",
        value_threshold=f"{r.rule_value:,.1f} / {r.threshold:,.1f} {r.unit}",
        burst_start=f"{r.burst_start.astimezone(policy.zone):%Y-%m-%d %H:%M}",
        burst_end=f"{r.burst_end.astimezone(policy.zone):%Y-%m-%d %H:%M}",
        lead_time=r.lead_time,
        event=r.event.name if r.event else "",
    )


def _window(r: AssuranceRequest, policy: Policy) -> str:
    start, end = r.burst_start.astimezone(policy.zone), r.burst_end.astimezone(policy.zone)
    return f"{start:%Y-%m-%d %H:%M} to {end:%m-%d %H:%M}"


def _local(moment: dt.datetime, policy: Policy) -> str:
    return f"{moment.astimezone(policy.zone):%a %Y-%m-%d %H:%M}"
