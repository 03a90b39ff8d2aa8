"""Charged bandwidth of a month under each billing mode (docs/billing.md).

All functions take one month of a grid, shaped (series, days, points per day), NaN for no data, and
return one value per series (NaN when the month has no valid day). A valid day is one with traffic.
"""

from __future__ import annotations

import numpy as np

from chalicelib.domain.grid import daily_peaks
from chalicelib.domain.policy import BillingMode

DROPPED_SHARE = 0.05  # monthly-95th drops the top 5% of points
PARTITION_ROWS = 64  # rows partitioned together: fast, yet a bounded extra copy


def charged_bandwidth(month: np.ndarray, mode: BillingMode) -> np.ndarray:
    peaks = daily_peaks(month)
    valid = peaks > 0
    if mode is BillingMode.MONTHLY_95TH:
        return _ninety_fifth_rows(month, valid)
    if mode is BillingMode.MONTHLY_AVERAGE_DAILY_PEAK:
        count = valid.sum(axis=-1)
        total = np.where(valid, peaks, 0.0).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)
    # daily-peak (rule a uses the month's highest daily peak) and traffic (billed on bytes, so
    # rule a conservatively uses the highest point): both are the month's highest point.
    return np.where(valid.any(axis=-1), np.fmax.reduce(peaks, axis=-1), np.nan)


def _ninety_fifth_rows(month: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Series whose every day has traffic and every point a value share one rank, so they are
    partitioned in blocks; the others one by one."""
    result = np.full(month.shape[0], np.nan)
    complete = valid.all(axis=-1) & ~np.isnan(month).any(axis=(-2, -1))
    rows = np.flatnonzero(complete)
    if rows.size:
        points = month.shape[-2] * month.shape[-1]
        kth = points - 1 - int(points * DROPPED_SHARE)
        for i in range(0, rows.size, PARTITION_ROWS):
            block = month[rows[i : i + PARTITION_ROWS]].reshape(-1, points)
            result[rows[i : i + PARTITION_ROWS]] = np.partition(block, kth, axis=1)[:, kth]
    for row in np.flatnonzero(~complete):
        result[row] = _ninety_fifth(month[row][valid[row]])
    return result


def _ninety_fifth(valid_days: np.ndarray) -> float:
    points = valid_days[~np.isnan(valid_days)]
    if points.size == 0:
        return float("nan")
    dropped = int(points.size * DROPPED_SHARE)
    kth = points.size - 1 - dropped
    return float(np.partition(points, kth)[kth])
