"""Charged bandwidth of a month under each billing mode (design.md §2).

All functions take one month of a grid, shaped (series, days, points per day), NaN for no data, and
return one value per series (NaN when the month has no valid day). A valid day is one with traffic.
"""

from __future__ import annotations

import numpy as np

from chalicelib.policy import BillingMode

DROPPED_SHARE = 0.05  # monthly-95th drops the top 5% of points


def daily_peaks(month: np.ndarray) -> np.ndarray:
    """(series, days): each day's highest point, NaN for a day with no point."""
    return np.fmax.reduce(month, axis=-1)


def charged_bandwidth(month: np.ndarray, mode: BillingMode) -> np.ndarray:
    peaks = daily_peaks(month)
    valid = peaks > 0
    if mode is BillingMode.MONTHLY_95TH:
        return np.array([_ninety_fifth(m[v]) for m, v in zip(month, valid, strict=True)])
    if mode is BillingMode.MONTHLY_AVERAGE_DAILY_PEAK:
        count = valid.sum(axis=-1)
        total = np.where(valid, peaks, 0.0).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)
    # daily-peak (rule a uses the month's highest daily peak) and traffic (billed on bytes, so
    # rule a conservatively uses the highest point): both are the month's highest point.
    return np.where(valid.any(axis=-1), np.fmax.reduce(peaks, axis=-1), np.nan)


def _ninety_fifth(valid_days: np.ndarray) -> float:
    points = valid_days[~np.isnan(valid_days)]
    if points.size == 0:
        return float("nan")
    dropped = int(points.size * DROPPED_SHARE)
    kth = points.size - 1 - dropped
    return float(np.partition(points, kth)[kth])
