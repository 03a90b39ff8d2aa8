"""Small helpers that build traffic in code: CSV text, Series and TrafficSets on local days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

import numpy as np

from chalicelib.domain.traffic import Series, TrafficSet

CST = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
STEP = dt.timedelta(minutes=5)
HEADER = "time,metric,scope,value"


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    """An aware Asia/Shanghai wall-clock time."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=CST)


def epoch(moment: dt.datetime) -> int:
    assert moment.tzinfo is not None
    return int(moment.timestamp())


def csv_text(*lines: str | tuple[object, ...]) -> str:
    """The header, then each line: a tuple is joined with commas, a str is taken as it is."""
    body = [line if isinstance(line, str) else ",".join(map(str, line)) for line in lines]
    return "\n".join([HEADER, *body]) + "\n"


def points(first_day: dt.date, last_day: dt.date) -> list[dt.datetime]:
    """Every 5-minute point of the local days first_day..last_day (inclusive)."""
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=CST)
    stop = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=CST)
    count = int((stop - start) / STEP)
    return [start + i * STEP for i in range(count)]


def series(
    metric: str,
    scope: str,
    first_day: dt.date,
    last_day: dt.date,
    value_at: Callable[[dt.datetime], float | None],
) -> Series:
    """A series with value_at(t) at every point t of the days; None leaves the point out."""
    chosen = [(epoch(t), v) for t in points(first_day, last_day) if (v := value_at(t)) is not None]
    return Series(
        metric,
        scope,
        np.array([t for t, _ in chosen], dtype=np.int64),
        np.array([v for _, v in chosen], dtype=np.float64),
    )


def series_from(metric: str, scope: str, values: Mapping[dt.datetime, float]) -> Series:
    """A series with exactly the given points."""
    ordered = sorted(values.items())
    return Series(
        metric,
        scope,
        np.array([epoch(t) for t, _ in ordered], dtype=np.int64),
        np.array([v for _, v in ordered], dtype=np.float64),
    )


def traffic(*parts: Series) -> TrafficSet:
    return TrafficSet({(s.metric, s.scope): s for s in parts})


def bandwidth(
    scope: str,
    first_day: dt.date,
    last_day: dt.date,
    value_at: Callable[[dt.datetime], float | None],
) -> Series:
    return series("bandwidth", scope, first_day, last_day, value_at)


def concurrency(
    scope: str,
    first_day: dt.date,
    last_day: dt.date,
    value_at: Callable[[dt.datetime], float | None],
) -> Series:
    return series("concurrency", scope, first_day, last_day, value_at)


def spans(
    default: float, windows: Iterable[tuple[dt.datetime, dt.datetime, float]] = ()
) -> Callable[[dt.datetime], float]:
    """value_at for a level ``default`` with [start, end) windows at other levels (last wins)."""
    listed = list(windows)

    def value_at(moment: dt.datetime) -> float:
        value = default
        for start, end, level in listed:
            if start <= moment < end:
                value = level
        return value

    return value_at


def bandwidth_csv(
    first_day: dt.date,
    days: int,
    base: Mapping[str, float],
    peaks: Mapping[tuple[str, dt.date], float] | None = None,
    hours: tuple[int, int] = (20, 24),
) -> str:
    """CSV text of ``days`` local days of 5-minute bandwidth from ``first_day``: each scope of
    ``base`` flat at its level, and at ``peaks[(scope, day)]`` from hours[0]:00 to hours[1]:00
    on the days listed. Times are written in Asia/Shanghai (+08:00), values as Python floats."""
    last_day = first_day + dt.timedelta(days=days - 1)
    low, high = hours
    peaks = peaks or {}
    rows = [
        (t.isoformat(), "bandwidth", scope, float(value))
        for scope, level in base.items()
        for t in points(first_day, last_day)
        for value in [peaks.get((scope, t.date()), level) if low <= t.hour < high else level]
    ]
    return csv_text(*rows)
