"""Traffic series: actuals and forecasts at 5-minute points (docs/data-formats.md#traffic-csv).

``parse_csv`` and ``parse_rows`` turn text or JSON rows into a ``TrafficSet``, checking every row;
a file with any bad row raises ``TrafficError`` naming file, line and reason, and yields nothing.
Besides the format, a row must be plausible: bandwidth at most the policy's ceiling (a larger
figure is almost always Mbit/s given as Gbit/s) and concurrency a whole number of tasks.
``sparse_series`` names the series spaced wider than 5 minutes, whose peaks are understated.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chalicelib.domain.errors import InputError
from chalicelib.domain.policy import DEFAULT_BANDWIDTH_CEILING_GBPS
from chalicelib.domain.vocabulary import BILLING_AREAS, VAS_KINDS

STEP_SECONDS = 300
COLUMNS = ("time", "metric", "scope", "value")
SCOPES_BY_METRIC = {"bandwidth": frozenset(BILLING_AREAS), "concurrency": frozenset(VAS_KINDS)}
UNITS = {"bandwidth": "Gbit/s", "concurrency": "tasks"}
MAX_REPORTED_ERRORS = 20

# A row to check, or the reason it is bad already found while reading it (a str).
Row = Mapping[str, Any] | str


class TrafficError(InputError):
    """One or more bad rows; ``problems`` lists them as 'source:line: reason'."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_REPORTED_ERRORS]
        more = len(problems) - len(shown)
        message = "; ".join(shown) + (f"; and {more} more" if more else "")
        super().__init__(message, field="traffic")
        self.problems = problems


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


def parse_csv(
    text: str,
    source: str = "<csv>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
) -> TrafficSet:
    reader = csv.reader(io.StringIO(text))
    try:
        return _build(_csv_rows(reader, source), source, bandwidth_ceiling_gbps)
    except csv.Error as exc:  # e.g. a stray carriage return inside an unquoted field
        raise TrafficError([f"{source}:{reader.line_num}: not valid CSV: {exc}"]) from None


def _csv_rows(reader: Iterator[list[str]], source: str) -> Iterator[tuple[str, Row]]:
    header = next(reader, None)
    if header is None:
        raise TrafficError([f"{source}: empty file; expected the header {','.join(COLUMNS)}"])
    if [h.strip() for h in header] != list(COLUMNS):
        raise TrafficError(
            [f"{source}:1: header must be {','.join(COLUMNS)}, got {','.join(header)}"]
        )
    for line, record in enumerate(reader, start=2):
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(COLUMNS):
            yield f"{source}:{line}", f"expected {len(COLUMNS)} columns, got {len(record)}"
        else:
            yield f"{source}:{line}", dict(zip(COLUMNS, record, strict=True))


def parse_json(
    text: str,
    source: str = "<json>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
) -> TrafficSet:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrafficError([f"{source}:{exc.lineno}: not valid JSON: {exc.msg}"]) from None
    return parse_rows(data, source, bandwidth_ceiling_gbps=bandwidth_ceiling_gbps)


def parse_rows(
    data: Any,
    source: str = "<json>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
) -> TrafficSet:
    """JSON rows: a list of {time, metric, scope, value} objects, or {"points": [...]}."""
    if isinstance(data, dict) and set(data) == {"points"}:
        data = data["points"]
    if not isinstance(data, list):
        raise TrafficError([f"{source}: expected a list of points or an object with 'points'"])

    def rows() -> Iterator[tuple[str, Row]]:
        for index, item in enumerate(data):
            where = f"{source}: item {index}"
            if not isinstance(item, dict):
                yield where, "expected an object with time, metric, scope and value"
            else:
                yield where, item

    return _build(rows(), source, bandwidth_ceiling_gbps)


def _build(
    rows: Iterable[tuple[str, Row]], source: str, bandwidth_ceiling_gbps: float
) -> TrafficSet:
    problems: list[str] = []
    points: dict[tuple[str, str], dict[int, float]] = {}
    first_seen: dict[tuple[str, str, int], str] = {}
    for where, row in rows:
        if isinstance(row, str):
            problems.append(f"{where}: {row}")
            continue
        try:
            metric, scope, epoch, value = _check_row(row, bandwidth_ceiling_gbps)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        key = (metric, scope, epoch)
        if key in first_seen:
            problems.append(f"{where}: duplicate point, first given at {first_seen[key]}")
            continue
        first_seen[key] = where
        points.setdefault((metric, scope), {})[epoch] = value
    if problems:
        raise TrafficError(problems)
    if not points:
        raise TrafficError([f"{source}: no data points"])
    result = TrafficSet()
    for (metric, scope), by_time in points.items():
        times = np.fromiter(sorted(by_time), dtype=np.int64, count=len(by_time))
        values = np.fromiter(
            (by_time[t] for t in times.tolist()), dtype=np.float64, count=len(times)
        )
        result.series[(metric, scope)] = Series(metric, scope, times, values)
    return result


def _check_row(
    row: Mapping[str, Any], bandwidth_ceiling_gbps: float
) -> tuple[str, str, int, float]:
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}")
    missing = [c for c in COLUMNS if c not in row]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    metric = str(row["metric"]).strip()
    if metric not in SCOPES_BY_METRIC:
        raise ValueError(f"unknown metric {metric!r}; expected bandwidth or concurrency")
    scope = str(row["scope"]).strip()
    if scope not in SCOPES_BY_METRIC[metric]:
        allowed = ", ".join(sorted(SCOPES_BY_METRIC[metric]))
        raise ValueError(f"unknown scope {scope!r} for {metric}; expected one of {allowed}")
    epoch = parse_point_time(row["time"])
    value = _parse_value(row["value"])
    if metric == "bandwidth" and value > bandwidth_ceiling_gbps:
        raise ValueError(
            f"bandwidth {value!r} Gbit/s is above the ceiling of "
            f"{_figure(bandwidth_ceiling_gbps)} Gbit/s (bandwidth_ceiling_gbps); "
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
