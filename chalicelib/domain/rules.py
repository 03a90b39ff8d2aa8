"""The three burst rules of the Live SLA (docs/rules.md), vectorised over a DayGrid.

Each rule first works on daily peaks (one pass over the points), which rules out almost every day;
only the surviving days and months are looked at point by point. A burst runs from its first
firing point until the series falls back below the level that made it fire (rule a: to the
month's end), across midnight if need be. Its identity is the period its first point falls in
(the month for rule a, the local day for rules b and c), so a re-run on a changed forecast finds
the same burst again.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
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
    end: int  # UTC epoch seconds just after the burst's last point
    peak: float  # the highest point in [start, end): what the ticket reserves
    rule_value: float  # what the rule compared with its threshold
    baseline: float
    threshold: float  # the level rule_value had to pass
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


@dataclass(frozen=True)
class PartialMonth:
    """Rule a judged ``month`` without a baseline: the month before had too few points."""

    scope: str
    month: str  # YYYY-MM judged
    previous: str  # YYYY-MM that was too thin to compare with
    coverage: float  # share of the previous month's 5-minute points present
    month_end: int  # UTC epoch seconds of the judged month's end


Note = Unchecked | PartialMonth  # what a rule could not judge fully


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


def _run_end(x: np.ndarray, start: int, stays: Callable[[np.ndarray], np.ndarray]) -> int:
    """The first index after ``start`` whose point no longer ``stays`` in the burst (a point
    without data ends it too), or len(x). Looks a day ahead, then twice as far, and so on."""
    lo, size = start + 1, POINTS_PER_DAY
    while lo < len(x):
        hi = min(len(x), lo + size)
        with np.errstate(invalid="ignore"):
            out = np.flatnonzero(~stays(x[lo:hi]))
        if out.size:
            return lo + int(out[0])
        lo, size = hi, size * 2
    return len(x)


def _flat(grid: DayGrid) -> np.ndarray:
    """(series, points): the grid's days end to end; index i is epoch day0 + i x 5 minutes."""
    return grid.values.reshape(len(grid.scopes), -1)


def _epoch(grid: DayGrid, index: int) -> int:
    return int(grid.day0_epoch + index * STEP_SECONDS)


def _first_last_rows(mask: np.ndarray) -> list[tuple[int, int]]:
    """For each row of a 2-D mask with at least one True: the first and last True column."""
    first = np.argmax(mask, axis=1)
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    return list(zip(first.tolist(), last.tolist(), strict=True))


# -- rule a: charged bandwidth of the month ----------------------------------------------------


def monthly_bandwidth(grid: DayGrid, policy: Policy) -> Iterator[Burst | PartialMonth]:
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

    flat = _flat(grid)
    for s, m in zip(*np.nonzero(candidate), strict=True):
        label, a, b = months[m]
        month_end = _epoch(grid, _days_to_month_end(grid, a, label) * POINTS_PER_DAY)
        current = charged[s, m]
        if not over_threshold(current, s):
            continue
        # The previous month is the baseline only when enough of it is known; otherwise the
        # threshold alone decides, and the plan says so.
        coverage = _previous_coverage(grid, months, s, m)
        known = coverage >= rule.min_previous_coverage and not np.isnan(charged[s, m - 1])
        previous = float(charged[s, m - 1]) if known else 0.0
        if not known:
            yield PartialMonth(grid.scopes[s], label, _previous_label(label), coverage, month_end)
        growth_level = rule.growth_ratio * previous
        if not _reaches(current, growth_level):
            continue
        points = flat[s, a * POINTS_PER_DAY : b * POINTS_PER_DAY]
        first = int(np.argmax(over_threshold(points, s) & _reaches(points, growth_level)))
        yield Burst(
            MONTHLY, grid.scopes[s], label,
            start=_epoch(grid, a * POINTS_PER_DAY + first), end=month_end,
            peak=float(np.nanmax(points[first:])), rule_value=float(current),
            baseline=previous, threshold=float(max(threshold[s], growth_level)),
            unit=UNITS["bandwidth"],
        )  # fmt: skip


def _previous_label(label: str) -> str:
    year, month = map(int, label.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def _previous_coverage(grid: DayGrid, months: list[tuple[str, int, int]], s: int, m: int) -> float:
    """The share of the previous calendar month's 5-minute points that have data."""
    if m == 0:
        return 0.0
    label, a, b = months[m - 1]
    year, month = map(int, label.split("-"))
    expected = calendar.monthrange(year, month)[1] * POINTS_PER_DAY
    return float(np.count_nonzero(~np.isnan(grid.values[s, a:b]))) / expected


def _days_to_month_end(grid: DayGrid, first_index: int, label: str) -> int:
    """The day index (from the grid's first day) of the next month's first day."""
    year, month = map(int, label.split("-"))
    return first_index + calendar.monthrange(year, month)[1] - grid.day(first_index).day + 1


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
    flat = _flat(grid)
    for k, (first, last) in enumerate(_first_last_rows(firing)):
        s, day = int(rows[k]), int(days[k])
        base, step = float(yesterday[k]), float(increment[s])
        start = day * POINTS_PER_DAY + first
        # The burst lasts while the series stays at or above yesterday's peak plus the increment.
        end = _run_end(flat[s], day * POINTS_PER_DAY + last, _reaching(base, step))
        yield Burst(
            DAILY_JUMP, grid.scopes[s], grid.day_labels[day],
            start=_epoch(grid, start), end=_epoch(grid, end),
            peak=float(np.nanmax(flat[s, start:end])), rule_value=float(peaks[s, day]),
            baseline=base, threshold=base + step, unit=UNITS["bandwidth"],
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


def concurrency_baseline(x: np.ndarray, policy: Policy) -> np.ndarray:
    """The lowest of rule c's three baselines at each point (NaN where none has data): a point
    that grew by more than the ratio over ANY baseline grew by more than it over the lowest.

    The baselines: the previous point; the highest value in the window that ends the lag before
    the point; the value at the same time the day before (lengths in the policy)."""
    rule = policy.concurrency
    step = STEP_SECONDS // 60
    previous = _shifted(x, rule.previous_point_minutes // step)
    window = preceding_max(x, rule.hour_window_minutes // step)
    earlier = _shifted(window, rule.hour_lag_minutes // step)
    same_time = _shifted(x, rule.same_time_hours * 60 // step)
    return np.fmin(np.fmin(previous, earlier), same_time)


def _shifted(x: np.ndarray, by: int) -> np.ndarray:
    """out[..., i] = x[..., i - by], NaN before the start."""
    out = np.full_like(x, np.nan)
    if by < x.shape[-1]:
        out[..., by:] = x[..., : x.shape[-1] - by] if by else x
    return out


def vas_concurrency(grid: DayGrid, policy: Policy) -> Iterator[Burst | Unchecked]:
    rule = policy.concurrency
    # Only a series with a day whose peak exceeds the threshold can fire.
    for s in np.flatnonzero((grid.peaks > rule.threshold).any(axis=1)):
        x = _flat(grid)[s]
        baseline = concurrency_baseline(x, policy)
        high = x > rule.threshold
        with np.errstate(invalid="ignore"):
            firing = high & (x > rule.growth_ratio * baseline)
        yield from _concurrency_bursts(grid, int(s), x, baseline, firing, policy)
        for day in np.unique(np.flatnonzero(high & np.isnan(baseline)) // POINTS_PER_DAY):
            yield Unchecked(
                CONCURRENCY, grid.scopes[s], grid.epoch(int(day), 0),
                "no earlier data to compare with (the point before, the hour before, the day "
                "before)",
            )  # fmt: skip


def _above(level: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda values: values > level


def _reaching(base: float, step: float) -> Callable[[np.ndarray], np.ndarray]:
    """Points that still reach ``base + step``, with the subtraction rule b fires on."""
    return lambda values: _reaches(values - base, step)


def _concurrency_bursts(
    grid: DayGrid, s: int, x: np.ndarray, baseline: np.ndarray, firing: np.ndarray, policy: Policy
) -> Iterator[Burst]:
    """Surges in time order, each from a firing point while the series stays above the level
    that made it fire; surges that start on one local day make one burst."""
    rule = policy.concurrency
    starts = np.flatnonzero(firing)
    surges: list[tuple[int, int, float]] = []  # (start, end, level)
    i = 0
    while i < starts.size:
        start = int(starts[i])
        level = max(rule.threshold, rule.growth_ratio * float(baseline[start]))
        end = _run_end(x, start, _above(level))
        surges.append((start, end, level))
        i = int(np.searchsorted(starts, end))
    by_day: dict[int, list[tuple[int, int, float]]] = {}
    for surge in surges:
        by_day.setdefault(surge[0] // POINTS_PER_DAY, []).append(surge)
    for day, day_surges in by_day.items():
        start, _, level = day_surges[0]
        end = max(e for _, e, _ in day_surges)
        yield Burst(
            CONCURRENCY, grid.scopes[s], grid.day_labels[day],
            start=_epoch(grid, start), end=_epoch(grid, end),
            peak=float(np.nanmax(x[start:end])), rule_value=float(x[start]),
            baseline=float(baseline[start]), threshold=float(level), unit=UNITS["concurrency"],
        )  # fmt: skip


# -- all rules over a traffic set --------------------------------------------------------------


def find_bursts(traffic: TrafficSet, policy: Policy) -> tuple[list[Burst], list[Note]]:
    """The bursts in time order, and what the rules could not judge fully."""
    findings: list[Burst | Note] = []
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
    notes = [f for f in findings if not isinstance(f, Burst)]
    return bursts, notes
