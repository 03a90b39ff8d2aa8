"""The three burst rules of the Live SLA (docs/rules.md), vectorised over a DayGrid.

Each rule first works on daily peaks (one pass over the points, shared by rules a and b), which
rules out almost every day; only the surviving days and months are looked at point by point:
rule a charges only the months whose highest point passes the threshold (and the months before
them), and finds a burst's first point on the first day whose peak fires; rule b ends a burst
inside its day without a search; rule c computes its baselines only on the days over its
threshold (and the days they look back to), and ends each day's first surge for all days at
once. tests/test_rules_fast.py checks each shortcut against a plain reading over every point.

A burst runs from its first firing point until the series falls back below the level that made
it fire (rule a: to the month's end), across midnight if need be. Its identity is the period its
first point falls in (the month for rule a, the local day for rules b and c), so a re-run on a
changed forecast finds the same burst again.
"""

from __future__ import annotations

import bisect
import calendar
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from chalicelib.domain.billing import charge
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


def _run_end(x: np.ndarray, start: int, stays: Callable[[np.ndarray], np.ndarray]) -> int:
    """The first index after ``start`` whose point no longer ``stays`` in the burst (a point
    without data ends it too), or len(x). Looks a day ahead, then twice as far, and so on."""
    lo, size = start + 1, POINTS_PER_DAY
    while lo < len(x):
        hi = min(len(x), lo + size)
        kept = stays(x[lo:hi])
        out = int(np.argmin(kept))  # the first point that does not stay, else 0
        if not kept[out]:
            return lo + out
        lo, size = hi, size * 2
    return len(x)


def _flat(grid: DayGrid) -> np.ndarray:
    """(series, points): the grid's days end to end; index i is epoch day0 + i x 5 minutes."""
    return grid.values.reshape(len(grid.scopes), -1)


def _epoch(grid: DayGrid, index: int) -> int:
    return int(grid.day0_epoch + index * STEP_SECONDS)


def _first_last_columns(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of a 2-D mask with at least one True: the first and last True column."""
    first = np.argmax(mask, axis=1)
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    return first, last


def _mainland(grid: DayGrid, policy: Policy, series: np.ndarray) -> np.ndarray:
    """Whether each of ``series`` (grid rows) is the mainland area."""
    return np.array([policy.is_mainland(grid.scopes[s]) for s in series.tolist()], bool)


def _row_max(figures: np.ndarray) -> np.ndarray:
    """The highest figure of each row, ignoring NaN (NaN for a row without any)."""
    if figures.shape[1] == 0:
        return np.full(figures.shape[0], np.nan)
    return np.fmax.reduce(figures, axis=1)


def _cells(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The row and column of each True cell of a 2-D mask, row by row (np.nonzero, faster)."""
    return np.divmod(np.flatnonzero(mask), mask.shape[1])


# -- rule a: charged bandwidth of the month ----------------------------------------------------


def monthly_bandwidth(grid: DayGrid, policy: Policy) -> Iterator[Burst | PartialMonth]:
    rule = policy.monthly_bandwidth
    months = grid.months()
    lowest = min(rule.mainland_threshold_gbps, rule.overseas_threshold_gbps)
    series, month_max = _month_maxima(grid, months, lowest)
    mainland = _mainland(grid, policy, series)
    threshold = np.where(mainland, rule.mainland_threshold_gbps, rule.overseas_threshold_gbps)
    # The month's charged bandwidth never exceeds its highest point: a month whose highest
    # point misses the threshold cannot fire, and needs no charged bandwidth computed (nor does
    # the month before, unless it is the month before one that can).
    candidate = _over_threshold(month_max, mainland[:, None], threshold[:, None])
    next_is_candidate = np.concatenate([candidate[:, 1:], np.zeros_like(candidate[:, :1])], 1)
    charged, points = _charge_where(grid, months, series, candidate | next_is_candidate, policy)
    k, m = _cells(candidate & _over_threshold(charged, mainland[:, None], threshold[:, None]))
    coverage, known, previous = _previous_months(months, charged, points, k, m, policy)
    growth = rule.growth_ratio * previous
    fires = _reaches(charged[k, m], growth)
    first = _first_firing_points(
        grid, months, series[k], m, _both_levels(mainland[k], threshold[k], growth)
    )
    ends = [_epoch(grid, _month_end_day(grid, a, label) * POINTS_PER_DAY) for label, a, _ in months]
    for s, month, cover, partial, fire, start, peak, value, base, level in zip(
        series[k].tolist(), m.tolist(), coverage.tolist(), (~known).tolist(), fires.tolist(),
        first.tolist(), month_max[k, m].tolist(), charged[k, m].tolist(), previous.tolist(),
        np.maximum(threshold[k], growth).tolist(), strict=True,
    ):  # fmt: skip
        label = months[month][0]
        if partial:
            yield PartialMonth(grid.scopes[s], label, _previous_label(label), cover, ends[month])
        if fire:
            # Every point before the first firing one is lower, so the highest point from there
            # to the month's end is the month's highest point.
            yield Burst(
                MONTHLY, grid.scopes[s], label, start=_epoch(grid, start), end=ends[month],
                peak=peak, rule_value=value, baseline=base, threshold=level,
                unit=UNITS["bandwidth"],
            )  # fmt: skip


def _month_maxima(
    grid: DayGrid, months: list[tuple[str, int, int]], lowest: float
) -> tuple[np.ndarray, np.ndarray]:
    """The series with a month whose highest point reaches ``lowest`` (the lower of the area
    thresholds; the others cannot fire), and the highest point of each of their months."""
    series = np.flatnonzero(_reaches(_row_max(grid.peaks), lowest))
    peaks = grid.peaks[series]
    return series, np.stack([np.fmax.reduce(peaks[:, a:b], axis=1) for _, a, b in months], 1)


def _previous_months(
    months: list[tuple[str, int, int]],
    charged: np.ndarray,
    points: np.ndarray,
    k: np.ndarray,
    m: np.ndarray,
    policy: Policy,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pair (series ``k[i]``, month ``m[i]``), the month before it: its coverage,
    whether it is known, and the baseline. Only a month before with enough of its points and a
    valid day is known, and its charged bandwidth is the baseline; otherwise the baseline is 0,
    the threshold alone decides, and the plan says so."""
    coverage = _previous_coverage(months, points, k, m)
    before = np.where(m > 0, charged[k, m - 1], np.nan)
    known = (coverage >= policy.monthly_bandwidth.min_previous_coverage) & ~np.isnan(before)
    return coverage, known, np.where(known, before, 0.0)


def _over_threshold(value: Any, mainland: Any, threshold: Any) -> np.ndarray:
    """The mainland threshold is reached (>=); the others must be exceeded (>)."""
    return np.where(mainland, _reaches(value, threshold), value > threshold)


def _both_levels(
    mainland: np.ndarray, threshold: np.ndarray, growth: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """Points (one row per pair) over the pair's area threshold that reach its growth level."""
    return lambda values: (
        _over_threshold(values, mainland[:, None], threshold[:, None])
        & _reaches(values, growth[:, None])
    )


def _first_firing_points(
    grid: DayGrid,
    months: list[tuple[str, int, int]],
    s: np.ndarray,
    m: np.ndarray,
    fires: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """The grid index of the first point of month ``m[k]`` of series ``s[k]`` that ``fires``,
    for a test that a point passes whenever a lower one does: that point lies on the month's
    first day whose peak fires (any index where none fires)."""
    month_of_day = np.repeat(np.arange(len(months)), [b - a for _, a, b in months])
    day = np.argmax((month_of_day == m[:, None]) & fires(grid.peaks[s]), axis=1)
    return day * POINTS_PER_DAY + np.argmax(fires(grid.values[s, day]), axis=1)


def _charge_where(
    grid: DayGrid,
    months: list[tuple[str, int, int]],
    series: np.ndarray,
    needed: np.ndarray,
    policy: Policy,
) -> tuple[np.ndarray, np.ndarray]:
    """(series, months): the charged bandwidth and the points with data of ``series`` where
    ``needed`` (NaN and 0 elsewhere)."""
    charged, points = np.full(needed.shape, np.nan), np.zeros(needed.shape, np.int64)
    for m, (_, a, b) in enumerate(months):
        rows = series[needed[:, m]]
        month = charge(grid.values[:, a:b], policy.billing_mode, grid.peaks[:, a:b], rows)
        charged[:, m], points[:, m] = month.bandwidth[series], month.points[series]
    return charged, points


def _previous_label(label: str) -> str:
    year, month = map(int, label.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def _previous_coverage(
    months: list[tuple[str, int, int]], points: np.ndarray, s: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """For each pair (series ``s[k]``, month ``m[k]``): the share of the previous calendar
    month's 5-minute points that have data (0 for the grid's first month)."""
    expected = [_days_in(label) * POINTS_PER_DAY for label, _, _ in months]
    share = points[s, m - 1] / np.array([1, *expected[:-1]])[m]
    return np.where(m > 0, share, 0.0)


def _days_in(label: str) -> int:
    year, month = map(int, label.split("-"))
    return calendar.monthrange(year, month)[1]


def _month_end_day(grid: DayGrid, first_index: int, label: str) -> int:
    """The day index (from the grid's first day) of the next month's first day."""
    return first_index + _days_in(label) - grid.day(first_index).day + 1


# -- rule b: daily peak jump -------------------------------------------------------------------


def daily_peak_jump(grid: DayGrid, policy: Policy) -> Iterator[Burst | Unchecked]:
    rule = policy.daily_peak_jump
    with np.errstate(invalid="ignore"):
        jumps = grid.peaks[:, 1:] - grid.peaks[:, :-1]
    # Only the series with a jump, or a peak, that reaches the lower increment can fire or be
    # unchecked: only those are looked at, and asked their area.
    lowest = min(rule.mainland_increment_gbps, rule.overseas_increment_gbps)
    series = np.flatnonzero(_reaches(_row_max(jumps), lowest) | (_row_max(grid.peaks) >= lowest))
    peaks, jumps = grid.peaks[series], jumps[series]
    increment = np.where(
        _mainland(grid, policy, series),
        rule.mainland_increment_gbps,
        rule.overseas_increment_gbps,
    )
    k, days = _cells(_reaches(jumps, increment[:, None]))
    yesterday = peaks[k, days]
    days = days + 1
    rows = series[k]
    # The same subtraction as ``jumps``, so the day's peak is always among the firing points.
    firing = _reaches(grid.values[rows, days] - yesterday[:, None], increment[k, None])
    first, last = _first_last_columns(firing)
    flat = _flat(grid)
    for s, day, start, last_point, base, step, day_peak in zip(
        rows.tolist(), days.tolist(), (days * POINTS_PER_DAY + first).tolist(),
        (days * POINTS_PER_DAY + last).tolist(), yesterday.tolist(), increment[k].tolist(),
        peaks[k, days].tolist(), strict=True,
    ):  # fmt: skip
        # The burst lasts while the series still reaches yesterday's peak plus the increment:
        # to the day's last such point, and into the next day when that is the day's last.
        if last_point + 1 < (day + 1) * POINTS_PER_DAY:
            end, peak = last_point + 1, day_peak  # the day's peak is a firing point
        else:
            end = _run_end(flat[s], last_point, _reaching(base, step))
            peak = float(np.fmax.reduce(flat[s, start:end]))
        yield Burst(
            DAILY_JUMP, grid.scopes[s], grid.day_labels[day],
            start=_epoch(grid, start), end=_epoch(grid, end), peak=peak, rule_value=day_peak,
            baseline=base, threshold=base + step, unit=UNITS["bandwidth"],
        )  # fmt: skip
    # A day after a day without data has no jump to measure; say so where it matters.
    no_yesterday = np.concatenate([np.ones_like(peaks[:, :1], bool), np.isnan(peaks[:, :-1])], 1)
    for i, day in zip(*_cells(no_yesterday & (peaks >= increment[:, None])), strict=True):
        yield Unchecked(
            DAILY_JUMP, grid.scopes[series[i]], grid.epoch(day, 0), "no data for the day before"
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

    By doubling: the maxima of runs of 1, 2, 4, ... points, each the larger of two runs of half
    the length, up to the longest run within the window; a window is then two such runs, one
    from each of its ends (they overlap). The windows cut by the start are running maxima."""
    n = x.shape[-1]
    out = np.full(x.shape, np.nan)
    head = max(0, min(window, n) - 1)
    out[..., 1 : head + 1] = np.fmax.accumulate(x[..., :head], axis=-1)
    if window < n:
        runs, length = x, 1  # runs[..., j] = max(x[..., j : j + length])
        while 2 * length <= window:
            runs = np.fmax(runs[..., :-length], runs[..., length:])
            length *= 2
        out[..., window:] = np.fmax(
            runs[..., : n - window], runs[..., window - length : n - length]
        )
    return out


def concurrency_baseline(x: np.ndarray, policy: Policy) -> np.ndarray:
    """The lowest of rule c's three baselines at each point (NaN where none has data): a point
    that grew by more than the ratio over ANY baseline grew by more than it over the lowest.

    The baselines: the previous point; the highest value in the window that ends the lag before
    the point; the value at the same time the day before (lengths in the policy)."""
    rule = policy.concurrency
    step = STEP_SECONDS // 60
    lowest = _shifted(x, rule.previous_point_minutes // step)
    window = preceding_max(x, rule.hour_window_minutes // step)
    _lower_to(lowest, window, rule.hour_lag_minutes // step)
    _lower_to(lowest, x, rule.same_time_hours * 60 // step)
    return lowest


def _shifted(x: np.ndarray, by: int) -> np.ndarray:
    """out[..., i] = x[..., i - by], NaN before the start."""
    out = np.full_like(x, np.nan)
    if by < x.shape[-1]:
        out[..., by:] = x[..., : x.shape[-1] - by] if by else x
    return out


def _lower_to(out: np.ndarray, x: np.ndarray, by: int) -> None:
    """out[..., i] = the lower of out[..., i] and x[..., i - by], ignoring NaN, in place."""
    n = x.shape[-1]
    if by < n:
        np.fmin(out[..., by:], x[..., : n - by], out=out[..., by:])


def vas_concurrency(grid: DayGrid, policy: Policy) -> Iterator[Burst | Unchecked]:
    rule = policy.concurrency
    # Only a day whose peak exceeds the threshold has a point that can fire: the baselines are
    # computed for those days alone. The pairs come series by series, each in day order.
    rows, days = _cells(grid.peaks > rule.threshold)
    if not rows.size:
        return
    x = grid.values[rows, days]
    baseline = _high_day_baselines(grid, rows, days, policy)
    high = x > rule.threshold
    with np.errstate(invalid="ignore"):
        fires = high & (x > rule.growth_ratio * baseline)
    known = _first_surges(rows, days, x, fires, baseline, policy)
    firing = _firing_points(rows, days, fires, baseline)
    unchecked: dict[int, list[int]] = {}  # series: its high days with no baseline at all
    lacking = (high & np.isnan(baseline)).any(axis=1)
    for s, day in zip(rows[lacking].tolist(), days[lacking].tolist(), strict=True):
        unchecked.setdefault(s, []).append(day)
    flat = _flat(grid)
    for s in sorted({*firing, *unchecked}):
        starts, baselines = firing.get(s, ([], []))
        yield from _concurrency_bursts(grid, s, flat[s], starts, baselines, known, policy)
        for day in unchecked.get(s, []):
            yield Unchecked(
                CONCURRENCY, grid.scopes[s], grid.epoch(day, 0),
                "no earlier data to compare with (the point before, the hour before, the day "
                "before)",
            )  # fmt: skip


def _firing_points(
    rows: np.ndarray, days: np.ndarray, fires: np.ndarray, baseline: np.ndarray
) -> dict[int, tuple[list[int], list[float]]]:
    """Each series' firing points in time order (grid indices) and their lowest baselines."""
    pair, point = _cells(fires)
    series = rows[pair]
    starts = (days[pair] * POINTS_PER_DAY + point).tolist()
    baselines = baseline[pair, point].tolist()
    edges = [0, *(np.flatnonzero(np.diff(series)) + 1).tolist(), series.size]
    return {
        int(series[lo]): (starts[lo:hi], baselines[lo:hi])
        for lo, hi in itertools.pairwise(edges)
        if hi > lo
    }


def _first_surges(
    rows: np.ndarray,
    days: np.ndarray,
    x: np.ndarray,
    fires: np.ndarray,
    baseline: np.ndarray,
    policy: Policy,
) -> dict[tuple[int, int], tuple[int, float]]:
    """The surge from the first firing point of each high day (day ``days[k]`` of series
    ``rows[k]``, with its points, firing points and baselines), all at once, where it falls
    back within the day: (series, its first point's grid index) -> (its end, its peak)."""
    rule = policy.concurrency
    first = np.argmax(fires, axis=1)
    pair = np.flatnonzero(fires[np.arange(len(first)), first])  # the days with a firing point
    first, points = first[pair], x[pair]
    level = np.maximum(rule.threshold, rule.growth_ratio * baseline[pair, first])
    point = np.arange(POINTS_PER_DAY)
    falls = (point > first[:, None]) & ~(points > level[:, None])
    end = np.argmax(falls, axis=1)
    back = falls[np.arange(end.size), end]  # it falls back within the day
    inside = (point >= first[:, None]) & (point < end[:, None])
    peak = np.fmax.reduce(np.where(inside, points, np.nan), axis=1)
    day_start = (days[pair] * POINTS_PER_DAY)[back]
    keys = zip(rows[pair][back].tolist(), (day_start + first[back]).tolist(), strict=True)
    values = zip((day_start + end[back]).tolist(), peak[back].tolist(), strict=True)
    return dict(zip(keys, values, strict=True))


def _high_day_baselines(
    grid: DayGrid, rows: np.ndarray, days: np.ndarray, policy: Policy
) -> np.ndarray:
    """(pairs, POINTS_PER_DAY): the lowest baseline at each point of day ``days[k]`` of series
    ``rows[k]``, equal to the baseline computed over the whole series.

    It is computed over the days the baselines read: each such day and the days before it as
    far as they look back (none before the grid's first day: no data), each once, series by
    series in day order, end to end. A point looks back only within its own stretch of days."""
    back = -(-_look_back(policy) // POINTS_PER_DAY)
    span = grid.days + back  # day d of series s is read as s * span + back + d
    wanted = rows * span + back + days
    read = np.unique((wanted[:, None] + np.arange(-back, 1)).ravel())
    read_rows, read_days = np.divmod(read, span)
    read_days -= back
    points = np.full((read.size, POINTS_PER_DAY), np.nan)
    known = read_days >= 0
    points[known] = grid.values[read_rows[known], read_days[known]]
    baseline = concurrency_baseline(points.reshape(-1), policy).reshape(points.shape)
    return baseline[np.searchsorted(read, wanted)]


def _look_back(policy: Policy) -> int:
    """How many points before a point rule c's baselines reach back to, at most."""
    rule = policy.concurrency
    step = STEP_SECONDS // 60
    return max(
        rule.previous_point_minutes // step,
        (rule.hour_lag_minutes + rule.hour_window_minutes) // step,
        rule.same_time_hours * 60 // step,
    )


def _above(level: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda values: values > level


def _reaching(base: float, step: float) -> Callable[[np.ndarray], np.ndarray]:
    """Points that still reach ``base + step``, with the subtraction rule b fires on."""
    return lambda values: _reaches(values - base, step)


def _concurrency_bursts(
    grid: DayGrid,
    s: int,
    x: np.ndarray,
    starts: list[int],
    baselines: list[float],
    known: dict[tuple[int, int], tuple[int, float]],
    policy: Policy,
) -> Iterator[Burst]:
    """Surges in time order, each from a firing point (``starts``, in order, with their
    baselines) while the series stays above the level that made it fire (``known``: the end
    and highest point of some); surges that start on one local day make one burst."""
    rule = policy.concurrency
    by_day: dict[int, list[tuple[int, int, float, float]]] = {}  # (start, end, level, baseline)
    i = 0
    while i < len(starts):
        start, base = starts[i], baselines[i]
        level = max(rule.threshold, rule.growth_ratio * base)
        ends = known.get((s, start))
        end = ends[0] if ends else _run_end(x, start, _above(level))
        by_day.setdefault(start // POINTS_PER_DAY, []).append((start, end, level, base))
        i = bisect.bisect_left(starts, end, i)
    for day, surges in by_day.items():
        start, end, level, base = surges[0]
        ends = known.get((s, start))
        if ends and len(surges) == 1:
            peak = ends[1]
        else:
            end = max(surge[1] for surge in surges)
            peak = float(np.fmax.reduce(x[start:end]))
        yield Burst(
            CONCURRENCY, grid.scopes[s], grid.day_labels[day],
            start=_epoch(grid, start), end=_epoch(grid, end), peak=peak,
            rule_value=float(x[start]), baseline=base, threshold=float(level),
            unit=UNITS["concurrency"],
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
