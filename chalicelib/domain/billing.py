"""Charged bandwidth of a month under each billing mode (docs/billing.md).

All functions take one month of a grid, shaped (series, days, points per day), NaN for no data, and
return one value per series (NaN when the month has no valid day). A valid day is one with traffic.

monthly-95th needs one point's rank among a month's (8,928 for 31 days): rather than partition
them all, a sample of every SAMPLE_STEP-th point sets a level a little below that point, and only
the points from that level up are partitioned (all of them, when the sample misjudged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chalicelib.domain.grid import daily_peaks
from chalicelib.domain.policy import BillingMode

DROPPED_SHARE = 0.05  # monthly-95th drops the top 5% of points
SAMPLE_STEP = 13  # prime to the 288 points of a day: the sample walks through the times of day


@dataclass(frozen=True)
class Charge:
    """One month, per series: the charged bandwidth (NaN: no valid day) and how many of its
    5-minute points have data (zeros count)."""

    bandwidth: np.ndarray
    points: np.ndarray


def charged_bandwidth(month: np.ndarray, mode: BillingMode) -> np.ndarray:
    return charge(month, mode).bandwidth


def charge(
    month: np.ndarray,
    mode: BillingMode,
    peaks: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> Charge:
    """``peaks``: the month's daily peaks, when the caller has them. ``rows``: the series to
    charge (all by default); the others are left NaN, with 0 points."""
    rows = np.arange(month.shape[0]) if rows is None else rows
    peaks = daily_peaks(month[rows]) if peaks is None else peaks[rows]
    valid = peaks > 0
    charged, points = np.full(month.shape[0], np.nan), np.zeros(month.shape[0], np.int64)
    if mode is BillingMode.MONTHLY_95TH:
        charged[rows], points[rows] = _ninety_fifth_rows(month, rows, valid)
        return Charge(charged, points)
    points[rows] = np.count_nonzero(~np.isnan(month[rows]), axis=(-2, -1))
    if mode is BillingMode.MONTHLY_AVERAGE_DAILY_PEAK:
        count = valid.sum(axis=-1)
        total = np.where(valid, peaks, 0.0).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            charged[rows] = np.where(count > 0, total / count, np.nan)
    else:
        # daily-peak (rule a uses the month's highest daily peak) and traffic (billed on bytes,
        # so rule a conservatively uses the highest point): both are the month's highest point.
        charged[rows] = np.where(valid.any(axis=-1), np.fmax.reduce(peaks, axis=-1), np.nan)
    return Charge(charged, points)


def _ninety_fifth_rows(
    month: np.ndarray, rows: np.ndarray, valid: np.ndarray
) -> tuple[list[float], list[int]]:
    """The billing rank of each series of ``rows`` (``valid``: its valid days), and how many of
    its points have data. The series whose every day is valid are ranked on all their points
    together; the others, and one with a missing point, each on its own."""
    size = month.shape[-2] * month.shape[-1]
    whole = np.all(valid, axis=-1)
    ranked = np.full(rows.size, np.nan)
    ranked[whole] = _ranks(month.reshape(month.shape[0], size), rows[whole], _billing_rank(size))
    charged, points = [], []
    for k, (row, value) in enumerate(zip(rows.tolist(), ranked.tolist(), strict=True)):
        value, count = (value, size) if value == value else _ninety_fifth(month[row], valid[k])
        charged.append(value)
        points.append(count)
    return charged, points


def _ranks(points: np.ndarray, rows: np.ndarray, kth: int) -> np.ndarray:
    """For each series of ``rows`` (``points``: series, points): its ``kth`` point in ascending
    order; NaN when one of its points has no data, or when its sample misjudged.

    Only the points from a level up are partitioned: a level that every SAMPLE_STEP-th point
    puts a little below the one wanted. The series are partitioned together, the shorter ones
    padded below; one with many points from its level up (a flat month) on its own."""
    above = points.shape[1] - kth  # the point wanted and those ranked above it
    ranked = np.full(rows.size, np.nan)
    levels = _sample_levels(points, rows, kth).tolist()
    tops, together = [], []
    for k, (row, level) in enumerate(zip(rows.tolist(), levels, strict=True)):
        top = points[row][~(points[row] < level)]  # and NaN
        if level != level or top.size < above:  # the sample lacks data, or set it too high
            continue
        if top.size > 4 * above:
            ranked[k] = _top_rank(top[None], above)[0]
        else:
            tops.append(top)
            together.append(k)
    if tops:
        padded = np.full((len(tops), max(top.size for top in tops)), -np.inf)
        for line, top in zip(padded, tops, strict=True):
            line[: top.size] = top
        ranked[together] = _top_rank(padded, above)
    return ranked


def _top_rank(points: np.ndarray, above: int) -> np.ndarray:
    """Each row's ``above``-th highest point, NaN when a row has a point without data (a
    partition ranks NaN highest: it is then among the points from that one up)."""
    at = points.shape[1] - above
    points.partition(at, axis=1)
    return np.where(np.isnan(np.maximum.reduce(points[:, at:], axis=1)), np.nan, points[:, at])


def _sample_levels(points: np.ndarray, rows: np.ndarray, kth: int) -> np.ndarray:
    """For each series of ``rows``: a level that every SAMPLE_STEP-th of its points puts a
    little below its ``kth`` point in ascending order (NaN, or too high a level, where the
    sample lacks data: a partition ranks NaN highest)."""
    sample = points[:, ::SAMPLE_STEP][rows]
    # The sample's share of the points from the kth up, and a third more, and a few: its j-th
    # highest point is rarely above the kth, and not far below.
    j = min(sample.shape[1], (points.shape[1] - kth) * 4 // (3 * SAMPLE_STEP) + 4)
    return np.partition(sample, sample.shape[1] - j, axis=1)[:, sample.shape[1] - j]


def _ninety_fifth(days: np.ndarray, valid: np.ndarray) -> tuple[float, int]:
    """One series' month (days, points): the billing rank of its valid days' points, and how
    many of its points have data."""
    points = days.reshape(-1)
    kept = days[valid].reshape(-1)
    kept = kept[~np.isnan(kept)]
    count = int(np.count_nonzero(~np.isnan(points)))
    if kept.size == 0:
        return float("nan"), count
    kth = _billing_rank(kept.size)
    return float(np.partition(kept, kth)[kth]), count


def _billing_rank(points: int) -> int:
    """The index, in ascending order, of the point charged: the top 5% (rounded down) dropped."""
    return points - 1 - int(points * DROPPED_SHARE)
