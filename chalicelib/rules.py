"""The three burst rules of the Live SLA (design.md §2), vectorised over a DayGrid.

Each rule first works on daily peaks (one pass over the points), which rules out almost every day;
only the surviving days and months are looked at point by point. Firing points of one rule and
scope are grouped by their identity period (the month for rule a, the local day for rules b and c)
into one Burst, so a re-run on a changed forecast finds the same burst again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from chalicelib.billing import charged_bandwidth, daily_peaks
from chalicelib.grid import POINTS_PER_DAY, DayGrid, build_grid
from chalicelib.policy import VAS_TOTAL, Policy
from chalicelib.traffic import STEP_SECONDS, UNITS, TrafficSet

MONTHLY = "monthly-charged-bandwidth"
DAILY_JUMP = "daily-peak-jump"
CONCURRENCY = "vas-concurrency"
RULES = (MONTHLY, DAILY_JUMP, CONCURRENCY)


@dataclass(frozen=True)
class Burst:
    rule: str
    scope: str
    period: str  # YYYY-MM for rule a, YYYY-MM-DD for rules b and c (local calendar)
    start: int  # UTC epoch seconds of the first firing point
    end: int  # UTC epoch seconds just after the last firing point
    peak: float
    baseline: float
    threshold: float  # the level the peak had to reach
    unit: str

    @property
    def id(self) -> str:
        return f"{self.rule}/{self.scope}/{self.period}"


@dataclass(frozen=True)
class Unchecked:
    """A day a rule could not judge for lack of earlier data, though its traffic was high."""

    rule: str
    scope: str
    day_start: int  # UTC epoch seconds of the local day's midnight
    reason: str


# Values are decimal text read into binary floats, so a difference, product or mean that is exactly
# on a level in decimal can land a few ulps below it (256.02 - 56.02 < 200). A level that must be
# *reached* (>=) counts as reached within this relative tolerance: missing a ticket costs SLA
# protection, an extra one costs little (design.md §2).
REL_TOL = 1e-9


def _reaches(value: Any, level: Any) -> np.ndarray:
    return np.asarray(value >= level - REL_TOL * np.abs(level))


def _first_last(mask: np.ndarray) -> tuple[int, int]:
    hits = np.flatnonzero(mask)
    return int(hits[0]), int(hits[-1])


# -- rule a: charged bandwidth of the month ----------------------------------------------------


def monthly_bandwidth(grid: DayGrid, policy: Policy) -> Iterator[Burst]:
    rule = policy.monthly_bandwidth
    mainland = np.array([policy.is_mainland(s) for s in grid.scopes])
    threshold = np.where(mainland, rule.mainland_threshold_gbps, rule.overseas_threshold_gbps)

    def over_threshold(value: np.ndarray, s: int) -> np.ndarray:
        # The mainland threshold is reached (>=); the others must be exceeded (>).
        return _reaches(value, threshold[s]) if mainland[s] else value > threshold[s]

    peaks = daily_peaks(grid.values)
    months = grid.months()
    # The month's charged bandwidth never exceeds its highest point: a month whose highest
    # point misses the threshold cannot fire, and needs no charged bandwidth computed.
    month_max = np.stack([np.fmax.reduce(peaks[:, a:b], axis=1) for _, a, b in months], axis=1)
    candidate = np.where(
        mainland[:, None], _reaches(month_max, threshold[:, None]), month_max > threshold[:, None]
    )
    next_is_candidate = np.concatenate([candidate[:, 1:], np.zeros_like(candidate[:, :1])], 1)
    charged = np.full(month_max.shape, np.nan)
    for m, (_, a, b) in enumerate(months):
        rows = np.flatnonzero(candidate[:, m] | next_is_candidate[:, m])
        if rows.size:
            charged[rows, m] = charged_bandwidth(grid.values[rows, a:b], policy.billing_mode)

    for s, m in zip(*np.nonzero(candidate), strict=True):
        label, a, b = months[m]
        previous = charged[s, m - 1] if m > 0 and not np.isnan(charged[s, m - 1]) else 0.0
        growth_level = rule.growth_ratio * previous
        current = charged[s, m]
        if not (over_threshold(current, s) and _reaches(current, growth_level)):
            continue
        points = grid.values[s, a:b].ravel()
        first, last = _first_last(over_threshold(points, s) & _reaches(points, growth_level))
        yield Burst(
            MONTHLY, grid.scopes[s], label,
            start=grid.epoch(a, first), end=grid.epoch(a, last) + STEP_SECONDS,
            peak=float(current), baseline=float(previous),
            threshold=float(max(threshold[s], growth_level)), unit=UNITS["bandwidth"],
        )  # fmt: skip


# -- rule b: daily peak jump -------------------------------------------------------------------


def daily_peak_jump(grid: DayGrid, policy: Policy) -> Iterator[Burst | Unchecked]:
    rule = policy.daily_peak_jump
    increment = np.array(
        [
            rule.mainland_increment_gbps if policy.is_mainland(s) else rule.overseas_increment_gbps
            for s in grid.scopes
        ]
    )
    peaks = daily_peaks(grid.values)
    with np.errstate(invalid="ignore"):
        jump = peaks[:, 1:] - peaks[:, :-1]
    fires = _reaches(jump, increment[:, None])
    for s, d in zip(*np.nonzero(fires), strict=True):
        day = d + 1
        level = peaks[s, d] + increment[s]
        # The same subtraction as ``jump``, so the day's peak is always among the firing points.
        first, last = _first_last(_reaches(grid.values[s, day] - peaks[s, d], increment[s]))
        yield Burst(
            DAILY_JUMP, grid.scopes[s], grid.day(day).isoformat(),
            start=grid.epoch(day, first), end=grid.epoch(day, last) + STEP_SECONDS,
            peak=float(peaks[s, day]), baseline=float(peaks[s, d]), threshold=float(level),
            unit=UNITS["bandwidth"],
        )  # fmt: skip
    # A day after a day without data has no jump to measure; say so where it matters.
    no_yesterday = np.concatenate([np.ones_like(peaks[:, :1], bool), np.isnan(peaks[:, :-1])], 1)
    for s, day in zip(*np.nonzero(no_yesterday & (peaks >= increment[:, None])), strict=True):
        yield Unchecked(
            DAILY_JUMP, grid.scopes[s], grid.epoch(day, 0), "no data for the day before"
        )


# -- rule c: value-added-service concurrency ---------------------------------------------------


def with_vas_total(grid: DayGrid) -> DayGrid:
    """The grid plus a ``vas-total`` row: the sum of the services that report at each point."""
    present = ~np.isnan(grid.values)
    total = np.where(present.any(axis=0), np.nansum(grid.values, axis=0), np.nan)
    return DayGrid(
        (*grid.scopes, VAS_TOTAL),
        grid.first_day,
        grid.day0_epoch,
        np.concatenate([grid.values, total[None]], axis=0),
    )


def preceding_max(x: np.ndarray, window: int) -> np.ndarray:
    """out[i] = max(x[i-window:i]) ignoring NaN (NaN where that range has no point).

    The van Herk / Gil-Werman scheme: block-wise running maxima from both ends, O(n) for any
    window."""
    n = x.size
    padded_len = -(-(n + window) // window) * window
    y = np.full(padded_len, np.nan)
    y[window : window + n] = x
    blocks = y.reshape(-1, window)
    forward = np.fmax.accumulate(blocks, axis=1).ravel()
    backward = np.fmax.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    start = np.arange(n)
    return np.fmax(backward[start], forward[start + window - 1])


def vas_concurrency(grid: DayGrid, policy: Policy) -> Iterator[Burst | Unchecked]:
    rule = policy.concurrency
    window = rule.baseline_window_hours * 3600 // STEP_SECONDS
    peaks = daily_peaks(grid.values)
    hot = peaks > rule.threshold  # no point on another day can fire
    for s in map(int, np.flatnonzero(hot.any(axis=1))):
        flat = grid.values[s].ravel()
        baseline = preceding_max(flat, window).reshape(grid.days, POINTS_PER_DAY)
        values = grid.values[s]
        with np.errstate(invalid="ignore"):
            firing = (values > rule.threshold) & (values > rule.growth_ratio * baseline)
        unjudged = (values > rule.threshold) & np.isnan(baseline)
        for day in map(int, np.flatnonzero(hot[s])):
            if firing[day].any():
                yield _concurrency_burst(
                    grid, s, day, values[day], baseline[day], firing[day], policy
                )
            if unjudged[day].any():
                yield Unchecked(
                    CONCURRENCY, grid.scopes[s], grid.epoch(day, 0),
                    f"no data in the {rule.baseline_window_hours} hours before",
                )  # fmt: skip


def _concurrency_burst(
    grid: DayGrid,
    s: int,
    day: int,
    values: np.ndarray,
    baseline: np.ndarray,
    firing: np.ndarray,
    policy: Policy,
) -> Burst:
    first, last = _first_last(firing)
    at_peak = int(np.argmax(np.where(firing, values, -np.inf)))
    return Burst(
        CONCURRENCY, grid.scopes[s], grid.day(day).isoformat(),
        start=grid.epoch(day, first), end=grid.epoch(day, last) + STEP_SECONDS,
        peak=float(values[at_peak]), baseline=float(baseline[at_peak]),
        threshold=float(max(policy.concurrency.threshold,
                            policy.concurrency.growth_ratio * baseline[at_peak])),
        unit=UNITS["concurrency"],
    )  # fmt: skip


# -- all rules over a traffic set --------------------------------------------------------------


def find_bursts(traffic: TrafficSet, policy: Policy) -> tuple[list[Burst], list[Unchecked]]:
    findings: list[Burst | Unchecked] = []
    bandwidth = traffic.of_metric("bandwidth")
    if bandwidth:
        grid = build_grid(bandwidth, policy.zone)
        findings.extend(monthly_bandwidth(grid, policy))
        findings.extend(daily_peak_jump(grid, policy))
    concurrency = traffic.of_metric("concurrency")
    if concurrency:
        findings.extend(
            vas_concurrency(with_vas_total(build_grid(concurrency, policy.zone)), policy)
        )
    bursts = sorted((f for f in findings if isinstance(f, Burst)), key=lambda b: (b.start, b.id))
    unchecked = [f for f in findings if isinstance(f, Unchecked)]
    return bursts, unchecked
