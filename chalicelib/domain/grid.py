"""Series laid out on local calendar days, so day and month maths is a reshape, not a group-by.

``values[s, d, k]`` is the k-th 5-minute point of local day ``first_day + d`` of series ``s``;
NaN marks a point with no data. Every series of a grid shares the same days.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from chalicelib.domain.errors import InputError
from chalicelib.domain.traffic import STEP_SECONDS, Series

POINTS_PER_DAY = 86_400 // STEP_SECONDS


def daily_peaks(days: np.ndarray) -> np.ndarray:
    """(series, days): each day's highest point, NaN for a day with no point."""
    return np.fmax.reduce(days, axis=-1)


@dataclass(frozen=True)
class DayGrid:
    scopes: tuple[str, ...]
    first_day: dt.date
    day0_epoch: int  # UTC epoch seconds of first_day's local midnight
    values: np.ndarray  # (series, days, POINTS_PER_DAY) float64

    @property
    def days(self) -> int:
        return int(self.values.shape[1])

    @functools.cached_property
    def peaks(self) -> np.ndarray:
        """(series, days): each day's highest point, NaN for a day without data. Every rule
        starts here, so it is computed once per grid."""
        return daily_peaks(self.values)

    @functools.cached_property
    def day_labels(self) -> tuple[str, ...]:
        """Each day's ISO date, YYYY-MM-DD."""
        first = np.datetime64(self.first_day, "D")
        return tuple(np.arange(first, first + self.days).astype(str).tolist())

    def day(self, index: int) -> dt.date:
        return self.first_day + dt.timedelta(days=int(index))

    def epoch(self, day_index: int, point: int) -> int:
        return int(self.day0_epoch + day_index * 86_400 + point * STEP_SECONDS)

    def months(self) -> list[tuple[str, int, int]]:
        """(YYYY-MM, first day index, end day index) for each calendar month the grid touches."""
        result: list[tuple[str, int, int]] = []
        first = 0
        while first < self.days:
            day = self.day(first)
            end = min(self.days, first + calendar.monthrange(day.year, day.month)[1] - day.day + 1)
            result.append((f"{day.year:04d}-{day.month:02d}", first, end))
            first = end
        return result


def build_grid(series: Sequence[Series], zone: ZoneInfo) -> DayGrid:
    """Lay the series out on the local days that span all of them."""
    if not series:
        raise ValueError("no series to lay out")
    lo = min(int(s.times[0]) for s in series)
    hi = max(int(s.times[-1]) for s in series)
    first_day = dt.datetime.fromtimestamp(lo, zone).date()
    last_day = dt.datetime.fromtimestamp(hi, zone).date()
    day0 = _local_midnight(first_day, zone)
    days = (last_day - first_day).days + 1
    _require_fixed_offset(first_day, days, zone)
    flat = np.full((len(series), days * POINTS_PER_DAY), np.nan)
    for row, s in enumerate(series):
        flat[row, (s.times - day0) // STEP_SECONDS] = s.values
    return DayGrid(
        scopes=tuple(s.scope for s in series),
        first_day=first_day,
        day0_epoch=day0,
        values=flat.reshape(len(series), days, POINTS_PER_DAY),
    )


def _local_midnight(day: dt.date, zone: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=zone).timestamp())


def _require_fixed_offset(first_day: dt.date, days: int, zone: ZoneInfo) -> None:
    """Days of 288 points need a zone without daylight saving over the span."""
    offsets = {
        dt.datetime.combine(first_day + dt.timedelta(days=i), dt.time(12), tzinfo=zone).utcoffset()
        for i in range(days + 1)
    }
    if len(offsets) > 1:
        raise InputError(
            f"time zone {zone.key} changes its UTC offset between {first_day} and "
            f"{first_day + dt.timedelta(days=days)}; days must have 288 five-minute points",
            field="time_zone",
        )
