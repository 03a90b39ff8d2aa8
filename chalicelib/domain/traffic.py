"""Traffic series: actuals and forecasts at 5-minute points (docs/data-formats.md#traffic-csv).

``parse_csv`` and ``parse_rows`` turn text or JSON rows into a ``TrafficSet``, checking every row;
a file with any bad row raises ``TrafficError`` naming file, line and reason, and yields nothing.
Besides the format, a row must be plausible: bandwidth at most the policy's ceiling (a larger
figure is almost always Mbit/s given as Gbit/s), concurrency a whole number of tasks, and a time
within the accepted dates (``accepted_dates``). ``parse_csv_lines`` reads a file line by line and
keeps only three numbers per point, so a large file is parsed in a small multiple of its points.
``sparse_series`` names the series spaced wider than 5 minutes, whose peaks are understated;
``planning_window`` is the span of traffic a plan made at ``now`` reads.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import json
import math
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from chalicelib.domain.errors import InputError
from chalicelib.domain.policy import DEFAULT_BANDWIDTH_CEILING_GBPS, Policy
from chalicelib.domain.vocabulary import BILLING_AREAS, VAS_KINDS, Metric

STEP_SECONDS = 300
COLUMNS = ("time", "metric", "scope", "value")
SCOPES_BY_METRIC = {"bandwidth": frozenset(BILLING_AREAS), "concurrency": frozenset(VAS_KINDS)}
UNITS = {"bandwidth": "Gbit/s", "concurrency": "tasks"}
MAX_REPORTED_ERRORS = 20
# Problems kept word for word; past this a file is plainly not traffic, and the rest are counted.
MAX_KEPT_PROBLEMS = 1_000

# A row's time, metric, scope and value to check, or the reason it is bad already found while
# reading it (a str).
Row = tuple[Any, Any, Any, Any] | str


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
    keep = ~np.isin(old.times, new.times)
    times = np.concatenate([old.times[keep], new.times])
    values = np.concatenate([old.values[keep], new.values])
    order = np.argsort(times, kind="stable")
    return Series(old.metric, old.scope, times[order], values[order])


# -- parsing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowChecks:
    """What a row must be, besides well formed, to be believed."""

    bandwidth_ceiling_gbps: float
    dates: TimeRange
    # The dates as epoch seconds, computed once: they are checked on every row of large files.
    earliest: int = field(init=False)
    latest: int = field(init=False)

    def __post_init__(self) -> None:
        earliest, latest = self.dates.epochs
        object.__setattr__(self, "earliest", earliest)
        object.__setattr__(self, "latest", latest)


def parse_csv(
    text: str,
    source: str = "<csv>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
) -> TrafficSet:
    return parse_csv_lines(
        io.StringIO(text), source, bandwidth_ceiling_gbps=bandwidth_ceiling_gbps, dates=dates
    )


def parse_csv_lines(
    lines: Iterable[str],
    source: str = "<csv>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
) -> TrafficSet:
    """CSV read line by line (a file, a stream): nothing holds the whole text."""
    reader = csv.reader(lines)
    checks = RowChecks(bandwidth_ceiling_gbps, dates)
    try:
        return _build(_csv_rows(reader, source), lambda line: f"{source}:{line}", source, checks)
    except csv.Error as exc:  # e.g. a stray carriage return inside an unquoted field
        raise TrafficError([f"{source}:{reader.line_num}: not valid CSV: {exc}"]) from None


def _csv_rows(reader: Iterator[list[str]], source: str) -> Iterator[tuple[int, Row]]:
    header = next(reader, None)
    if header is None:
        raise TrafficError([f"{source}: empty file; expected the header {','.join(COLUMNS)}"])
    if [h.strip() for h in header] != list(COLUMNS):
        raise TrafficError(
            [f"{source}:1: header must be {','.join(COLUMNS)}, got {','.join(header)}"]
        )
    for line, record in enumerate(reader, start=2):
        if not "".join(record).strip():
            continue
        if len(record) != len(COLUMNS):
            yield line, f"expected {len(COLUMNS)} columns, got {len(record)}"
        else:
            yield line, (record[0], record[1], record[2], record[3])


def parse_json(
    text: str,
    source: str = "<json>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
) -> TrafficSet:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrafficError([f"{source}:{exc.lineno}: not valid JSON: {exc.msg}"]) from None
    return parse_rows(data, source, bandwidth_ceiling_gbps=bandwidth_ceiling_gbps, dates=dates)


def parse_rows(
    data: Any,
    source: str = "<json>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
) -> TrafficSet:
    """JSON rows: a list of {time, metric, scope, value} objects, or {"points": [...]}."""
    if isinstance(data, dict) and set(data) == {"points"}:
        data = data["points"]
    if not isinstance(data, list):
        raise TrafficError([f"{source}: expected a list of points or an object with 'points'"])

    def rows() -> Iterator[tuple[int, Row]]:
        for index, item in enumerate(data):
            yield index, _json_row(item)

    checks = RowChecks(bandwidth_ceiling_gbps, dates)
    return _build(rows(), lambda index: f"{source}: item {index}", source, checks)


class _Points:
    """One series' points as read: time, value and the row each came from (24 bytes a point)."""

    def __init__(self) -> None:
        self.times = array("q")
        self.values = array("d")
        self.rows = array("q")

    def add(self, epoch: int, value: float, row: int) -> None:
        self.times.append(epoch)
        self.values.append(value)
        self.rows.append(row)

    def sorted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Times, values and rows by time; equal times stay in the order they were given."""
        times = np.frombuffer(self.times, dtype=np.int64)
        order = np.argsort(times, kind="stable")
        values = np.frombuffer(self.values, dtype=np.float64)
        rows = np.frombuffer(self.rows, dtype=np.int64)
        return times[order], values[order], rows[order]


class _Problems:
    """Problems by row, the first MAX_KEPT_PROBLEMS of them word for word."""

    def __init__(self, where: Callable[[int], str]) -> None:
        self.where = where
        self.kept: list[tuple[int, str]] = []
        self.uncounted = 0

    def add(self, row: int, reason: str) -> None:
        if len(self.kept) < MAX_KEPT_PROBLEMS:
            self.kept.append((row, f"{self.where(row)}: {reason}"))
        else:
            self.uncounted += 1

    def raise_any(self) -> None:
        if self.kept:
            self.kept.sort(key=lambda problem: problem[0])
            raise TrafficError([text for _, text in self.kept], self.uncounted)


def _build(
    rows: Iterable[tuple[int, Row]], where: Callable[[int], str], source: str, checks: RowChecks
) -> TrafficSet:
    """``rows``: (row number, row or the reason it is bad); ``where`` names a row number."""
    problems = _Problems(where)
    points: dict[tuple[str, str], _Points] = {}
    for row_number, row in rows:
        if isinstance(row, str):
            problems.add(row_number, row)
            continue
        try:
            metric, scope, epoch, value = _check_row(row, checks)
        except ValueError as exc:
            problems.add(row_number, str(exc))
            continue
        series = points.get((metric, scope))
        if series is None:
            series = points[(metric, scope)] = _Points()
        series.add(epoch, value, row_number)
    result = TrafficSet()
    for (metric, scope), found in points.items():
        times, values, row_numbers = found.sorted()
        repeats = np.flatnonzero(times[1:] == times[:-1]) + 1
        for index in repeats.tolist():
            first = index - 1
            while first > 0 and times[first - 1] == times[index]:
                first -= 1
            duplicate, original = int(row_numbers[index]), int(row_numbers[first])
            problems.add(duplicate, f"duplicate point, first given at {where(original)}")
        result.series[(metric, scope)] = Series(metric, scope, times, values)
    problems.raise_any()
    if not result.series:
        raise TrafficError([f"{source}: no data points"])
    return result


def _json_row(item: Any) -> Row:
    if not isinstance(item, dict):
        return "expected an object with time, metric, scope and value"
    unknown = set(item) - set(COLUMNS)
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))}"
    missing = [c for c in COLUMNS if c not in item]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    return item["time"], item["metric"], item["scope"], item["value"]


def _check_row(row: tuple[Any, Any, Any, Any], checks: RowChecks) -> tuple[str, str, int, float]:
    raw_time, raw_metric, raw_scope, raw_value = row
    metric = str(raw_metric).strip()
    if metric not in SCOPES_BY_METRIC:
        raise ValueError(f"unknown metric {metric!r}; expected bandwidth or concurrency")
    scope = str(raw_scope).strip()
    if scope not in SCOPES_BY_METRIC[metric]:
        allowed = ", ".join(sorted(SCOPES_BY_METRIC[metric]))
        raise ValueError(f"unknown scope {scope!r} for {metric}; expected one of {allowed}")
    epoch = parse_point_time(raw_time)
    if not checks.earliest <= epoch < checks.latest:
        raise ValueError(
            f"time {raw_time.strip()!r} is outside the accepted dates, {checks.dates} "
            "(ingestion.earliest, ingestion.years_ahead); is the year right?"
        )
    value = _parse_value(raw_value)
    ceiling = checks.bandwidth_ceiling_gbps
    if metric == "bandwidth" and value > ceiling:
        raise ValueError(
            f"bandwidth {value!r} Gbit/s is above the ceiling of "
            f"{_figure(ceiling)} Gbit/s (bandwidth_ceiling_gbps); "
            "was it given in Mbit/s?"
        )
    if metric == "concurrency" and not value.is_integer():
        raise ValueError(f"concurrency {value!r} is not a whole number of tasks")
    return metric, scope, epoch, value


def _figure(number: float) -> str:
    """20000 rather than 20000.0 for a whole number; 99.5 as it is."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def parse_point_time(raw: Any) -> int:
    """UTC epoch seconds of an ISO 8601 time with an offset, on a 5-minute boundary."""
    if not isinstance(raw, str):
        raise ValueError(f"time must be an ISO 8601 string, got {raw!r}")
    text = raw.strip()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    epoch = moment.timestamp()
    if epoch % STEP_SECONDS:
        raise ValueError(f"time {text!r} is not on a 5-minute boundary")
    return int(epoch)


def _parse_value(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"value must be a number, got {raw!r}")
    if isinstance(raw, str) and "_" in raw:  # float() reads "1_000" as 1000: a typo, most likely
        raise ValueError(f"value {raw!r} has a digit separator; write plain digits like 1000")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"value {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"value {raw!r} is not a finite number")
    if value < 0:
        raise ValueError(f"value {raw!r} is negative")
    return value


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


class TrafficDeletion(BaseModel):
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
