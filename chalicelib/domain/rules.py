"""The three burst rules of the Live SLA (docs/rules.md), vectorised over a DayGrid.

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

from chalicelib.domain.billing import charged_bandwidth
from chalicelib.domain.grid import POINTS_PER_DAY, DayGrid, build_grid
from chalicelib.domain.policy import Policy
from chalicelib.domain.traffic import STEP_SECONDS, UNITS, TrafficSet
from chalicelib.domain.vocabulary import VAS_TOTAL, Rule

MONTHLY = Rule.MONTHLY_CHARGED_BANDWIDTH
DAILY_JUMP = Rule.DAILY_PEAK_JUMP
CONCURRENCY = Rule.VAS_CONCURRENCY
RULES = (MONTHLY, DAILY_JUMP, CONCURRENCY)


@dataclass(frozen=True)
class Burst:
    rule: Rule
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
# protection, an extra one costs little (docs/sla.md#our-reading-principle).
REL_TOL = 1e-9


def _reaches(value: Any, level: Any) -> np.ndarray:
    return np.asarray(value >= level - REL_TOL * np.abs(level))


def _first_last(mask: np.ndarray) -> tuple[int, int]:
    hits = np.flatnonzero(mask)
    return int(hits[0]), int(hits[-1])


def _first_last_rows(mask: np.ndarray) -> list[tuple[int, int]]:
    """For each row of a 2-D mask with at least one True: the first and last True column."""
    first = np.argmax(mask, axis=1)
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    return list(zip(first.tolist(), last.tolist(), strict=True))


# -- rule a: charged bandwidth of the month ----------------------------------------------------


def monthly_bandwidth(grid: DayGrid, policy: Policy) -> Iterator[Burst]:
    rule = policy.monthly_bandwidth
    mainland = np.array([policy.is_mainland(s) for s in grid.scopes])
    threshold = np.where(mainland, rule.mainland_threshold_gbps, rule.overseas_threshold_gbps)

    def over_threshold(value: np.ndarray, s: int) -> np.ndarray:
        # The mainland threshold is reached (>=); the others must be exceeded (>).
        return _reaches(value, threshold[s]) if mainland[s] else value > threshold[s]

    peaks = grid.peaks
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
    peaks = grid.peaks
    with np.errstate(invalid="ignore"):
        jump = peaks[:, 1:] - peaks[:, :-1]
    rows, days = np.nonzero(_reaches(jump, increment[:, None]))
    yesterday = peaks[rows, days]
    days = days + 1
    # The same subtraction as ``jump``, so the day's peak is always among the firing points.
    firing = _reaches(grid.values[rows, days] - yesterday[:, None], increment[rows, None])
    for k, (first, last) in enumerate(_first_last_rows(firing)):
        s, day = int(rows[k]), int(days[k])
        yield Burst(
            DAILY_JUMP, grid.scopes[s], grid.day_labels[day],
            start=grid.epoch(day, first), end=grid.epoch(day, last) + STEP_SECONDS,
            peak=float(peaks[s, day]), baseline=float(yesterday[k]),
            threshold=float(yesterday[k] + increment[s]), unit=UNITS["bandwidth"],
        )  # fmt: skip
    # A day after a day without data has no jump to measure; say so where it matters.
    no_yesterday = np.concatenate([np.ones_like(peaks[:, :1], bool), np.isnan(peaks[:, :-1])], 1)
    for s, day in zip(*np.nonzero(no_yesterday & (peaks >= increment[:, None])), strict=True):
        yield Unchecked(
            DAILY_JUMP, grid.scopes[s], grid.epoch(day, 0), "no data for the day before"
        )


# -- rule c: value-added-service concurrency ---------------------------------------------------


def vas_total(grid: DayGrid) -> DayGrid:
    """A one-row grid, ``vas-total``: the sum of the services that report at each point."""
    total = grid.values.sum(axis=0)
    if np.isnan(total).any():  # some service lacks a point: add up those that have one
        present = ~np.isnan(grid.values)
        total = np.where(present.any(axis=0), np.nansum(grid.values, axis=0), np.nan)
    return DayGrid((VAS_TOTAL,), grid.first_day, grid.day0_epoch, total[None])


def preceding_max(x: np.ndarray, window: int) -> np.ndarray:
    """out[..., i] = max(x[..., i-window:i]) along the last axis, ignoring NaN (NaN where that
    range has no point).

    The van Herk / Gil-Werman scheme: block-wise running maxima from both ends, O(n) for any
    window."""
    n = x.shape[-1]
    lead = x.shape[:-1]
    padded_len = -(-(n + window) // window) * window
    y = np.full((*lead, padded_len), np.nan)
    y[..., window : window + n] = x
    blocks = y.reshape(*lead, -1, window)
    forward = np.fmax.accumulate(blocks, axis=-1).reshape(*lead, -1)
    backward = np.fmax.accumulate(blocks[..., ::-1], axis=-1)[..., ::-1].reshape(*lead, -1)
    return np.fmax(backward[..., :n], forward[..., window - 1 : window - 1 + n])


def vas_concurrency(grid: DayGrid, policy: Policy) -> Iterator[Burst | Unchecked]:
    rule = policy.concurrency
    window = rule.baseline_window_hours * 3600 // STEP_SECONDS
    lag = rule.baseline_lag_minutes * 60 // STEP_SECONDS
    # Only a day whose peak exceeds the threshold can fire; its baseline needs the day and the
    # lag and window before it, gathered for all such days at once.
    rows, days = np.nonzero(grid.peaks > rule.threshold)
    if rows.size == 0:
        return
    flat = grid.values.reshape(len(grid.scopes), -1)
    width = window + lag + POINTS_PER_DAY
    columns = (days * POINTS_PER_DAY - window - lag)[:, None] + np.arange(width)
    segments = flat[rows[:, None], np.maximum(columns, 0)]
    segments[columns < 0] = np.nan  # before the grid's first day: no data
    # Column window + k holds the max of the window ending lag points before point k.
    baseline = preceding_max(segments, window)[:, window : window + POINTS_PER_DAY]
    values = grid.values[rows, days]
    with np.errstate(invalid="ignore"):
        firing = (values > rule.threshold) & (values > rule.growth_ratio * baseline)
    unjudged: np.ndarray = ((values > rule.threshold) & np.isnan(baseline)).any(axis=1)
    fired = np.asarray(firing.any(axis=1))
    spans = iter(_first_last_rows(firing[fired]))
    for k in range(rows.size):
        s, day = int(rows[k]), int(days[k])
        if fired[k]:
            first, last = next(spans)
            at_peak = int(np.argmax(np.where(firing[k], values[k], -np.inf)))
            yield Burst(
                CONCURRENCY, grid.scopes[s], grid.day_labels[day],
                start=grid.epoch(day, first), end=grid.epoch(day, last) + STEP_SECONDS,
                peak=float(values[k, at_peak]), baseline=float(baseline[k, at_peak]),
                threshold=float(max(rule.threshold, rule.growth_ratio * baseline[k, at_peak])),
                unit=UNITS["concurrency"],
            )  # fmt: skip
        if unjudged[k]:
            yield Unchecked(
                CONCURRENCY, grid.scopes[s], grid.epoch(day, 0),
                f"no data in the {rule.baseline_window_hours} hours before",
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
        services = build_grid(concurrency, policy.zone)
        findings.extend(vas_concurrency(services, policy))
        findings.extend(vas_concurrency(vas_total(services), policy))
    bursts = sorted((f for f in findings if isinstance(f, Burst)), key=lambda b: (b.start, b.id))
    unchecked = [f for f in findings if isinstance(f, Unchecked)]
    return bursts, unchecked
