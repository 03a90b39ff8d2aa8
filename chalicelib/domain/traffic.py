"""Traffic series: actuals and forecasts at 5-minute points (docs/data-formats.md#traffic-csv).

A ``TrafficSet`` holds one ``Series`` per metric and scope. ``traffic_parsing`` reads them from
CSV or JSON, checking every row. ``sparse_series`` names the series spaced wider than 5 minutes,
whose peaks are understated; ``planning_window`` is the span of traffic a plan made at ``now``
reads; a ``TrafficDeletion`` takes stored points out.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from chalicelib.domain.errors import InputError
from chalicelib.domain.model import Model
from chalicelib.domain.policy import Policy
from chalicelib.domain.vocabulary import BILLING_AREAS, VAS_KINDS, Metric

STEP_SECONDS = 300
COLUMNS = ("time", "metric", "scope", "value")
SCOPES_BY_METRIC = {"bandwidth": frozenset(BILLING_AREAS), "concurrency": frozenset(VAS_KINDS)}
UNITS = {"bandwidth": "Gbit/s", "concurrency": "tasks"}
MAX_REPORTED_ERRORS = 20


class TrafficError(InputError):
    """One or more bad rows; ``problems`` lists them as 'source:line: reason'."""

    def __init__(self, problems: list[str], uncounted: int = 0) -> None:
        """``uncounted``: further problems found but not kept."""
        shown = problems[:MAX_REPORTED_ERRORS]
        more = len(problems) - len(shown) + uncounted
        message = "; ".join(shown) + (f"; and {more} more" if more else "")
        super().__init__(message, field="traffic")
        self.problems = problems


@dataclass(frozen=True)
class TimeRange:
    """[start, end): aware datetimes."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a time range needs UTC offsets")
        if self.start >= self.end:
            raise ValueError(f"the range {self.start} to {self.end} is empty")

    @property
    def epochs(self) -> tuple[int, int]:
        return math.ceil(self.start.timestamp()), math.ceil(self.end.timestamp())

    def __str__(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


# Without a policy and a ``now`` to judge by, rows are still refused outside these dates.
DEFAULT_ACCEPTED_DATES = TimeRange(
    dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
)


def accepted_dates(policy: Policy, now: dt.datetime) -> TimeRange:
    """The dates a row may carry at ``now`` (policy.ingestion)."""
    limits = policy.ingestion
    start = dt.datetime.combine(limits.earliest, dt.time(), tzinfo=policy.zone)
    return TimeRange(start, _years_later(now, limits.years_ahead))


def planning_window(policy: Policy, now: dt.datetime) -> TimeRange:
    """The traffic a plan at ``now`` needs. Back: the previous local month whole (rule a
    compares this month with it; rules b and c look back a day at most, within it). Ahead:
    every date ingestion accepts, to the end of that local month."""
    local = now.astimezone(policy.zone)
    previous = _month_start(local.year, local.month - 1, policy)
    rule_c = policy.concurrency
    lookback = max(
        rule_c.previous_point_minutes,
        rule_c.hour_lag_minutes + rule_c.hour_window_minutes,
        rule_c.same_time_hours * 60,
    )
    start = min(previous, now - dt.timedelta(minutes=lookback, days=1))
    horizon = accepted_dates(policy, now).end.astimezone(policy.zone)
    return TimeRange(start, _month_start(horizon.year, horizon.month + 1, policy))


def _month_start(year: int, month: int, policy: Policy) -> dt.datetime:
    """Local midnight of the month's first day; ``month`` may run past either end of a year."""
    year, index = divmod(year * 12 + month - 1, 12)
    return dt.datetime(year, index + 1, 1, tzinfo=policy.zone)


def _years_later(moment: dt.datetime, years: int) -> dt.datetime:
    year = moment.year + years
    day = min(moment.day, calendar.monthrange(year, moment.month)[1])  # 29 February
    return moment.replace(year=year, day=day)


@dataclass(frozen=True)
class Series:
    """One metric in one scope: sorted UTC epoch seconds and their values."""

    metric: str
    scope: str
    times: np.ndarray  # int64, strictly increasing, multiples of STEP_SECONDS
    values: np.ndarray  # float64, finite, >= 0

    @property
    def unit(self) -> str:
        return UNITS[self.metric]

    def covers(self, start: dt.datetime, end: dt.datetime) -> bool:
        """True when at least one point lies in [start, end)."""
        lo, hi = int(start.timestamp()), int(end.timestamp())
        i = int(np.searchsorted(self.times, lo, side="left"))
        return i < len(self.times) and int(self.times[i]) < hi


@dataclass
class TrafficSet:
    series: dict[tuple[str, str], Series] = field(default_factory=dict)

    def of_metric(self, metric: str) -> list[Series]:
        return [s for (m, _), s in sorted(self.series.items()) if m == metric]

    def __len__(self) -> int:
        return len(self.series)

    def within(self, span: TimeRange) -> TrafficSet:
        """Only the points in ``span``; a series left with none is left out."""
        lo, hi = span.epochs
        result = TrafficSet()
        for key, series in self.series.items():
            inside = (series.times >= lo) & (series.times < hi)
            if inside.any():
                result.series[key] = Series(
                    series.metric, series.scope, series.times[inside], series.values[inside]
                )
        return result

    def merged_with(self, other: TrafficSet) -> TrafficSet:
        """Both sets' points; where both give a point, ``other`` wins (a newer forecast)."""
        merged = dict(self.series)
        for key, series in other.series.items():
            merged[key] = overlay(merged[key], series) if key in merged else series
        return TrafficSet(merged)


def overlay(old: Series, new: Series) -> Series:
    """``old`` with ``new``'s points added; where both have a point, ``new`` wins."""
    # Both are sorted without repeats: a binary search finds the old points new also has.
    at = np.searchsorted(new.times, old.times).clip(max=max(len(new.times) - 1, 0))
    keep = new.times[at] != old.times if len(new.times) else np.ones(len(old.times), bool)
    times = np.concatenate([old.times[keep], new.times])
    values = np.concatenate([old.values[keep], new.values])
    order = np.argsort(times, kind="stable")
    return Series(old.metric, old.scope, times[order], values[order])


# -- plausibility ------------------------------------------------------------------------------


def sparse_series(traffic: TrafficSet) -> list[tuple[str, str, int]]:
    """(metric, scope, typical spacing in seconds) of each series spaced wider than 5 minutes.

    The typical spacing is the median gap between consecutive points, so a 5-minute series with a
    few gaps is not listed while an hourly export is (its averages understate 5-minute peaks). A
    series with a single point has no gap and is not judged. Sorted by metric, then scope.
    """
    found = []
    for (metric, scope), series in sorted(traffic.series.items()):
        if len(series.times) < 2:
            continue
        typical = round(float(np.median(np.diff(series.times))))
        if typical > STEP_SECONDS:
            found.append((metric, scope, typical))
    return found


# -- deletion ----------------------------------------------------------------------------------


class TrafficDeletion(Model):
    """Stored points taken out: of one series, every series of a metric, or all (no metric),
    in [start, end). The store fills in ``points`` (how many it removed) and ``sequence`` (the
    record's place in the append-only log of deletions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Metric | None = None
    scope: str | None = None
    start: AwareDatetime
    end: AwareDatetime
    by: str = Field(min_length=1, max_length=100)
    at: AwareDatetime
    points: int = Field(default=0, ge=0)
    sequence: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _known_scope_and_a_range(self) -> TrafficDeletion:
        if self.scope is not None:
            if self.metric is None:
                raise ValueError("give the metric of the scope")
            if self.scope not in SCOPES_BY_METRIC[self.metric]:
                raise ValueError(f"unknown scope {self.scope!r} for {self.metric}")
        TimeRange(self.start, self.end)  # raises when empty
        return self

    @property
    def span(self) -> TimeRange:
        return TimeRange(self.start, self.end)

    def covers(self, metric: str, scope: str) -> bool:
        return (self.metric is None or self.metric == metric) and (
            self.scope is None or self.scope == scope
        )

    def describe(self) -> str:
        what = "/".join(part for part in (self.metric, self.scope) if part) or "all traffic"
        return f"{what} from {self.start.isoformat()} to {self.end.isoformat()}"
