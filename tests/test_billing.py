"""Charged bandwidth of a month under each billing mode (docs/billing.md), computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chalicelib.domain.billing import charged_bandwidth, daily_peaks
from chalicelib.domain.policy import BillingMode

PER_DAY = 288
NAN = float("nan")


def day(fill: float, spikes: dict[int, float] | None = None) -> np.ndarray:
    """One day of 288 points at ``fill``, with the points given by index set to other values."""
    row = np.full(PER_DAY, fill, dtype=np.float64)
    for index, value in (spikes or {}).items():
        row[index] = value
    return row


def month(*days: np.ndarray) -> np.ndarray:
    """One series: shape (1, days, 288)."""
    return np.stack(days)[None]


def ramp(low: int, high: int) -> dict[int, float]:
    """Points 0, 1, ... valued low, low+1, ..., high."""
    return {i: float(v) for i, v in enumerate(range(low, high + 1))}


def charged(m: np.ndarray, mode: BillingMode) -> list[float]:
    return charged_bandwidth(m, mode).tolist()


# -- monthly-95th ------------------------------------------------------------------------------


def test_95th_drops_the_top_five_percent_of_valid_days_points() -> None:
    m = month(
        day(10.0, ramp(100, 119)),  # 268 points at 10 and 100..119
        day(20.0, {200 + i: 200.0 + i for i in range(10)}),  # 278 at 20 and 200..209
        day(0.0),  # no traffic: not a valid day
        day(NAN),  # no data
    )
    # Valid points: 2 x 288 = 576; floor(5% of 576) = floor(28.8) = 28 are dropped: the ten
    # values 200..209 and eighteen of 100..119 (119 down to 102). The highest left is 101.
    # (Counting the zero day would give 864 points, 43 dropped, and 20.)
    assert charged(m, BillingMode.MONTHLY_95TH) == [101.0]


def test_95th_ignores_missing_points() -> None:
    first = day(10.0, ramp(100, 119))
    first[20:154] = NAN  # 134 of the 268 points at 10 are missing
    m = month(first, day(20.0, {200 + i: 200.0 + i for i in range(10)}))
    # 154 + 288 = 442 points; floor(22.1) = 22 dropped: 200..209 and 119 down to 108. Left: 107.
    assert charged(m, BillingMode.MONTHLY_95TH) == [107.0]


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (19, 19.0),  # floor(0.95) = 0 dropped: the highest point
        (20, 19.0),  # floor(1.0) = 1 dropped
        (39, 38.0),  # floor(1.95) = 1 dropped
        (40, 38.0),  # floor(2.0) = 2 dropped
    ],
)
def test_95th_drops_floor_of_five_percent(count: int, expected: float) -> None:
    m = month(day(NAN, ramp(1, count)))  # only points 1..count exist
    assert charged(m, BillingMode.MONTHLY_95TH) == [expected]


def test_95th_counts_the_zero_points_of_a_valid_day() -> None:
    # One valid day: 268 zeros and 1..20. floor(5% of 288) = 14 dropped (20 down to 7): 6.
    m = month(day(0.0, ramp(1, 20)))
    assert charged(m, BillingMode.MONTHLY_95TH) == [6.0]


# -- monthly-average-daily-peak ----------------------------------------------------------------


def test_average_daily_peak_is_the_mean_of_valid_days_peaks() -> None:
    partial = day(NAN, {5: 40.0, 6: 60.0})  # a day with two points: its peak is 60
    m = month(
        day(30.0, {100: 100.0}),  # peak 100
        day(0.0),  # zero traffic: excluded
        day(NAN),  # no data: excluded
        day(50.0),  # peak 50
        partial,  # peak 60
    )
    # (100 + 50 + 60) / 3 = 70
    assert charged(m, BillingMode.MONTHLY_AVERAGE_DAILY_PEAK) == [70.0]
    assert daily_peaks(m)[0, :2].tolist() == [100.0, 0.0]
    assert math.isnan(daily_peaks(m)[0, 2])


# -- daily-peak and traffic: the month's highest point -----------------------------------------


@pytest.mark.parametrize("mode", [BillingMode.DAILY_PEAK, BillingMode.TRAFFIC])
def test_daily_peak_and_traffic_use_the_months_highest_point(mode: BillingMode) -> None:
    m = month(day(30.0, {7: 80.0}), day(NAN, {200: 130.0}), day(0.0), day(NAN), day(120.0))
    assert charged(m, mode) == [130.0]


# -- no valid day, several series --------------------------------------------------------------


@pytest.mark.parametrize("mode", list(BillingMode))
def test_a_month_without_a_valid_day_has_no_charged_bandwidth(mode: BillingMode) -> None:
    m = month(day(0.0), day(NAN), day(NAN, {3: 0.0}))
    [value] = charged(m, mode)
    assert math.isnan(value)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # Row 0: one day 50 with a point at 90, one day 70 -> 576 points, 28 dropped: 70.
        # Row 1: one day with 1..20 and NaN elsewhere -> 1 dropped: 19.
        (BillingMode.MONTHLY_95TH, [70.0, 19.0]),
        (BillingMode.MONTHLY_AVERAGE_DAILY_PEAK, [80.0, 20.0]),  # (90 + 70) / 2; 20
        (BillingMode.DAILY_PEAK, [90.0, 20.0]),
        (BillingMode.TRAFFIC, [90.0, 20.0]),
    ],
)
def test_each_series_is_charged_on_its_own(mode: BillingMode, expected: list[float]) -> None:
    two = np.stack(
        [
            np.stack([day(50.0, {0: 90.0}), day(70.0)]),
            np.stack([day(NAN, ramp(1, 20)), day(NAN)]),
        ]
    )
    assert charged(two, mode) == expected
