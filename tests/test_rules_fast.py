"""The rules' shortcuts against a plain reading of docs/rules.md over every point.

To be fast, the rules look only where a burst can be: rule a computes charged bandwidth only for
months whose highest point passes the threshold (and the month before them), ranks the 95th
percentile from a level a sample of the points sets, and finds the first firing point from the
daily peaks; rule b ends a burst inside its day without searching; rule c computes its baselines
only on the days over 10,000 and the days they look back to, and ends each day's first surge for
all days at once. Each property here checks that they find exactly what a plain reading, series
by series over every point, finds, on random grids with gaps, zero days, ties, values right at
the levels, surges at the grid's first and last points, across midnight and across month ends.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable

import numpy as np
import pytest
from builders import CST
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.billing import DROPPED_SHARE, SAMPLE_STEP, charge, charged_bandwidth
from chalicelib.domain.grid import POINTS_PER_DAY, DayGrid
from chalicelib.domain.policy import BillingMode, ConcurrencyRule, Policy
from chalicelib.domain.rules import (
    CONCURRENCY,
    DAILY_JUMP,
    MONTHLY,
    REL_TOL,
    Burst,
    PartialMonth,
    Unchecked,
    _high_day_baselines,
    concurrency_baseline,
    daily_peak_jump,
    monthly_bandwidth,
    preceding_max,
    vas_concurrency,
    vas_total,
)
from chalicelib.domain.traffic import STEP_SECONDS, UNITS
from chalicelib.domain.vocabulary import VAS_TOTAL

NAN = float("nan")
Finding = Burst | Unchecked | PartialMonth

# -- a plain reading of each rule, series by series over every point ------------------------------


def reaches(value: float, level: float) -> bool:
    return bool(value >= level - REL_TOL * abs(level))


def epoch(grid: DayGrid, index: int) -> int:
    return grid.day0_epoch + index * STEP_SECONDS


def day_peaks(row: np.ndarray) -> list[float]:
    days = row.reshape(-1, POINTS_PER_DAY)
    return [float(np.nanmax(d)) if not np.isnan(d).all() else NAN for d in days]


def run_end(x: np.ndarray, start: int, stays: Callable[[float], bool]) -> int:
    """The first index after ``start`` whose point does not stay (no data ends it), or len(x)."""
    for i in range(start + 1, len(x)):
        if np.isnan(x[i]) or not stays(float(x[i])):
            return i
    return len(x)


def plain_charge(days: np.ndarray, mode: BillingMode) -> tuple[float, int]:
    """One series' month (days, points): its charged bandwidth and its points with data."""
    peaks = np.array(day_peaks(days.reshape(-1)))
    valid = peaks > 0
    count = int((~np.isnan(days)).sum())
    if not valid.any():
        return NAN, count
    if mode is BillingMode.MONTHLY_95TH:
        kept = np.sort(days[valid].reshape(-1)[~np.isnan(days[valid].reshape(-1))])
        return float(kept[kept.size - 1 - int(kept.size * DROPPED_SHARE)]), count
    if mode is BillingMode.MONTHLY_AVERAGE_DAILY_PEAK:
        return float(np.where(valid, peaks, 0.0).sum() / valid.sum()), count
    return float(peaks[valid].max()), count


def grid_months(grid: DayGrid) -> list[tuple[str, int, int]]:
    months: list[tuple[str, int, int]] = []
    for index in range(grid.days):
        label = (grid.first_day + dt.timedelta(days=index)).strftime("%Y-%m")
        if months and months[-1][0] == label:
            months[-1] = (label, months[-1][1], index + 1)
        else:
            months.append((label, index, index + 1))
    return months


def plain_monthly(grid: DayGrid, policy: Policy) -> list[Finding]:
    rule, found = policy.monthly_bandwidth, []
    months = grid_months(grid)
    for s, scope in enumerate(grid.scopes):
        mainland = policy.is_mainland(scope)
        threshold = rule.mainland_threshold_gbps if mainland else rule.overseas_threshold_gbps

        def over(value: float, mainland: bool = mainland, threshold: float = threshold) -> bool:
            return reaches(value, threshold) if mainland else value > threshold

        figures = [plain_charge(grid.values[s, a:b], policy.billing_mode) for _, a, b in months]
        for m, (label, a, b) in enumerate(months):
            charged = figures[m][0]
            if np.isnan(charged) or not over(charged):
                continue
            year, month = map(int, label.split("-"))
            following = dt.date(year + month // 12, month % 12 + 1, 1)
            month_end = epoch(grid, (following - grid.first_day).days * POINTS_PER_DAY)
            coverage = 0.0
            if m > 0:
                py, pm = (year - 1, 12) if month == 1 else (year, month - 1)
                coverage = figures[m - 1][1] / (calendar.monthrange(py, pm)[1] * POINTS_PER_DAY)
            known = coverage >= rule.min_previous_coverage and not np.isnan(figures[m - 1][0])
            previous = figures[m - 1][0] if known else 0.0
            if not known:
                before = f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"
                found.append(PartialMonth(scope, label, before, coverage, month_end))
            growth = rule.growth_ratio * previous
            if not reaches(charged, growth):
                continue
            points = grid.values[s, a:b].reshape(-1)
            first = next(
                i
                for i, v in enumerate(points)
                if not np.isnan(v) and over(v) and reaches(v, growth)
            )
            found.append(
                Burst(
                    MONTHLY,
                    scope,
                    label,
                    epoch(grid, a * POINTS_PER_DAY + first),
                    month_end,
                    float(np.nanmax(points[first:])),
                    charged,
                    previous,
                    max(threshold, growth),
                    UNITS["bandwidth"],
                )
            )
    return found


def plain_daily_jump(grid: DayGrid, policy: Policy) -> list[Finding]:
    rule, bursts, unchecked = policy.daily_peak_jump, [], []
    for s, scope in enumerate(grid.scopes):
        mainland = policy.is_mainland(scope)
        step = rule.mainland_increment_gbps if mainland else rule.overseas_increment_gbps
        x = grid.values[s].reshape(-1)
        peaks = day_peaks(x)
        for d, peak in enumerate(peaks):
            if (d == 0 or np.isnan(peaks[d - 1])) and peak >= step:
                unchecked.append(
                    Unchecked(DAILY_JUMP, scope, epoch(grid, d * POINTS_PER_DAY),
                              "no data for the day before")
                )  # fmt: skip
            if d == 0 or not reaches(peak - peaks[d - 1], step):
                continue
            base = peaks[d - 1]

            def stays(v: float, base: float = base, step: float = step) -> bool:
                return reaches(v - base, step)

            day = range(d * POINTS_PER_DAY, (d + 1) * POINTS_PER_DAY)
            firing = [i for i in day if not np.isnan(x[i]) and stays(float(x[i]))]
            start, end = firing[0], run_end(x, firing[-1], stays)
            bursts.append(
                Burst(
                    DAILY_JUMP,
                    scope,
                    grid.day_labels[d],
                    epoch(grid, start),
                    epoch(grid, end),
                    float(np.nanmax(x[start:end])),
                    peak,
                    base,
                    base + step,
                    UNITS["bandwidth"],
                )
            )
    return [*bursts, *unchecked]


def plain_concurrency(grid: DayGrid, policy: Policy) -> list[Finding]:
    rule, found = policy.concurrency, []
    for s, scope in enumerate(grid.scopes):
        x = grid.values[s].reshape(-1)
        if not (x > rule.threshold).any():
            continue
        baseline = concurrency_baseline(x, policy)
        with np.errstate(invalid="ignore"):
            firing = np.flatnonzero((x > rule.threshold) & (x > rule.growth_ratio * baseline))
        by_day: dict[int, list[tuple[int, int, float]]] = {}
        i = 0
        while i < firing.size:
            start = int(firing[i])
            level = max(rule.threshold, rule.growth_ratio * float(baseline[start]))
            end = run_end(x, start, lambda v, level=level: v > level)
            by_day.setdefault(start // POINTS_PER_DAY, []).append((start, end, level))
            i = int(np.searchsorted(firing, end))
        for day, surges in by_day.items():
            start, _, level = surges[0]
            end = max(e for _, e, _ in surges)
            found.append(
                Burst(
                    CONCURRENCY,
                    scope,
                    grid.day_labels[day],
                    epoch(grid, start),
                    epoch(grid, end),
                    float(np.nanmax(x[start:end])),
                    float(x[start]),
                    float(baseline[start]),
                    level,
                    UNITS["concurrency"],
                )
            )
        lacking = np.flatnonzero((x > rule.threshold) & np.isnan(baseline)) // POINTS_PER_DAY
        for day in sorted(set(lacking.tolist())):
            found.append(
                Unchecked(
                    CONCURRENCY,
                    scope,
                    epoch(grid, day * POINTS_PER_DAY),
                    "no earlier data to compare with (the point before, the hour before, the "
                    "day before)",
                )
            )
    return found


# -- random grids ----------------------------------------------------------------------------------


def make_grid(scopes: list[str], first_day: dt.date, values: np.ndarray) -> DayGrid:
    day0 = int(dt.datetime.combine(first_day, dt.time(0), tzinfo=CST).timestamp())
    return DayGrid(tuple(scopes), first_day, day0, values)


def stretches(rng: np.random.Generator, size: int, count: int, longest: int) -> list[slice]:
    """Random stretches of a row, a third of them at its very start or end."""
    out = []
    for _ in range(count):
        length = int(rng.integers(1, longest + 1))
        start = int(rng.choice([0, max(0, size - length), int(rng.integers(0, size))]))
        out.append(slice(start, start + length))
    return out


def concurrency_values(rng: np.random.Generator, series: int, days: int) -> np.ndarray:
    """Flat days at a level, with surges, ramps and gaps anywhere, midnight and the grid's ends
    included."""
    size = days * POINTS_PER_DAY
    levels = [0.0, 900.0, 5000.0, 6667.0, 9000.0, 10_000.0, 12_000.0]
    rows = np.repeat(rng.choice(levels, (series, days)), POINTS_PER_DAY, axis=1)
    for row in rows:
        for part in stretches(rng, size, int(rng.integers(0, 6)), 2 * POINTS_PER_DAY):
            top = float(rng.choice([6000.0, 10_000.0, 10_001.0, 15_000.0, 15_001.0, 40_000.0]))
            length = len(row[part])
            row[part] = np.linspace(row[part][0], top, length) if rng.random() < 0.3 else top
        for part in stretches(rng, size, int(rng.integers(0, 2)), 3 * POINTS_PER_DAY):
            row[part] = 5000.0  # then a surge that falls back exactly to its level
            row[part.start : part.start + int(rng.integers(1, 30))] = 15_000.0
            row[part.start + int(rng.integers(1, 30)) :][:5] = 10_000.0
        for part in stretches(rng, size, int(rng.integers(0, 3)), POINTS_PER_DAY + 20):
            row[part] = NAN
    return rows.reshape(series, days, POINTS_PER_DAY)


def bandwidth_values(rng: np.random.Generator, series: int, days: int) -> np.ndarray:
    """A daily shape around a level that changes from month to month, rounded to 0.01 (ties),
    some months flat right at a threshold, with spikes, zero days, days and stretches without
    data, and months whose every 13th point is high (a sample that misjudges the 95th)."""
    hours = np.arange(POINTS_PER_DAY) / 12
    shape = 0.3 + 0.7 * np.exp(-(((hours - 21) / 2.5) ** 2))
    out = np.empty((series, days, POINTS_PER_DAY))
    for s in range(series):
        level = rng.choice([15.0, 40.0, 60.0, 100.0, 150.0], days // 20 + 2)[np.arange(days) // 20]
        noise = 1 + rng.normal(0, float(rng.choice([0.0, 0.05])), (days, POINTS_PER_DAY))
        out[s] = np.round(level[:, None] * shape * noise * rng.choice([1.0, 1.4]), 2)
        if rng.random() < 0.3:  # flat at a level: charged bandwidth exactly on it
            out[s, : days // 2] = rng.choice([40.0, 100.0, 130.0])
        flat = out[s].reshape(-1)
        for part in stretches(rng, flat.size, int(rng.integers(0, 4)), 3 * POINTS_PER_DAY):
            flat[part] = float(rng.choice([0.0, 250.0, 400.0]))
        for part in stretches(rng, flat.size, int(rng.integers(0, 4)), 4 * POINTS_PER_DAY):
            flat[part] = NAN
        if rng.random() < 0.3:  # high every 13th point, all along or for a while
            high = int(rng.choice([50, 300, flat.size]))
            flat[int(rng.integers(0, SAMPLE_STEP)) :: SAMPLE_STEP][:high] = 900.0
    return out


@st.composite
def concurrency_grids(draw: st.DrawFn) -> DayGrid:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    first_day = draw(st.sampled_from([dt.date(2026, 1, 30), dt.date(2025, 12, 31)]))
    series = draw(st.integers(1, 3))
    values = concurrency_values(rng, series, draw(st.integers(1, 5)))
    return make_grid(["transcoding", "recording", "snapshot"][:series], first_day, values)


@st.composite
def bandwidth_grids(draw: st.DrawFn, min_days: int, max_days: int) -> DayGrid:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    first_day = draw(
        st.sampled_from([dt.date(2026, 1, 1), dt.date(2025, 12, 20), dt.date(2024, 2, 3)])
    )
    scopes = draw(
        st.lists(st.sampled_from(["CN", "AP1", "EU"]), min_size=1, max_size=3, unique=True)
    )
    values = bandwidth_values(rng, len(scopes), draw(st.integers(min_days, max_days)))
    return make_grid(scopes, first_day, values)


POLICIES = [
    Policy(),
    Policy(
        concurrency=ConcurrencyRule(
            previous_point_minutes=15, hour_window_minutes=30, hour_lag_minutes=0
        )
    ),
    Policy(concurrency=ConcurrencyRule(same_time_hours=48, hour_lag_minutes=120)),
    # The hour window reaches further back than the day before: 25 hours.
    Policy(concurrency=ConcurrencyRule(same_time_hours=1, hour_lag_minutes=1440)),
]


# -- the properties ------------------------------------------------------------------------------


@settings(deadline=None, max_examples=60)
@given(concurrency_grids(), st.sampled_from(POLICIES))
def test_concurrency_finds_what_a_plain_reading_finds(grid: DayGrid, policy: Policy) -> None:
    assert list(vas_concurrency(grid, policy)) == plain_concurrency(grid, policy)
    total = vas_total(grid)
    assert list(vas_concurrency(total, policy)) == plain_concurrency(total, policy)


@settings(deadline=None, max_examples=60)
@given(concurrency_grids(), st.sampled_from(POLICIES), st.data())
def test_baselines_on_high_days_equal_those_of_the_whole_series(
    grid: DayGrid, policy: Policy, data: st.DataObject
) -> None:
    pairs = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(grid.scopes) - 1), st.integers(0, grid.days - 1)),
            min_size=1,
            unique=True,
        ).map(sorted)
    )
    rows, days = np.array(pairs).T
    whole = concurrency_baseline(grid.values.reshape(len(grid.scopes), -1), policy)
    expected = whole.reshape(grid.values.shape)[rows, days]
    np.testing.assert_array_equal(_high_day_baselines(grid, rows, days, policy), expected)


@settings(deadline=None, max_examples=40)
@given(bandwidth_grids(min_days=25, max_days=70), st.sampled_from(list(BillingMode)))
def test_monthly_bandwidth_finds_what_a_plain_reading_finds(
    grid: DayGrid, mode: BillingMode
) -> None:
    policy = Policy(billing_mode=mode)
    assert list(monthly_bandwidth(grid, policy)) == plain_monthly(grid, policy)


@settings(deadline=None, max_examples=60)
@given(bandwidth_grids(min_days=1, max_days=8))
def test_daily_jump_finds_what_a_plain_reading_finds(grid: DayGrid) -> None:
    policy = Policy()
    assert list(daily_peak_jump(grid, policy)) == plain_daily_jump(grid, policy)


@settings(deadline=None, max_examples=60)
@given(bandwidth_grids(min_days=1, max_days=35), st.sampled_from(list(BillingMode)), st.data())
def test_charge_equals_a_plain_reading(
    grid: DayGrid, mode: BillingMode, data: st.DataObject
) -> None:
    rows = np.array(
        data.draw(st.lists(st.integers(0, len(grid.scopes) - 1), unique=True).map(sorted)), int
    )
    month = charge(grid.values, mode, grid.peaks, rows)
    for s in range(len(grid.scopes)):
        expected = plain_charge(grid.values[s], mode) if s in rows else (NAN, 0)
        assert (month.bandwidth[s], month.points[s]) == pytest.approx(expected, nan_ok=True, rel=0)
    np.testing.assert_array_equal(
        charged_bandwidth(grid.values, mode),
        [plain_charge(grid.values[s], mode)[0] for s in range(len(grid.scopes))],
    )


def test_the_95th_is_right_when_the_sample_sets_too_high_a_level() -> None:
    # The first 100 of the points the sample takes are high: the sample puts its level at 500,
    # above which there are fewer points than the top 5% (446) it drops.
    points = np.full((1, 31, POINTS_PER_DAY), 10.0)
    points.reshape(-1)[: 100 * SAMPLE_STEP : SAMPLE_STEP] = 500.0
    points.reshape(-1)[1:4] = [1.0, 2.0, 3.0]
    assert plain_charge(points[0], BillingMode.MONTHLY_95TH)[0] == 10.0
    assert charged_bandwidth(points, BillingMode.MONTHLY_95TH).tolist() == [10.0]


@pytest.mark.parametrize("missing", [1, 100, 600, 5000])
def test_the_95th_of_a_month_with_missing_points_counts_only_those_with_data(missing: int) -> None:
    rng = np.random.default_rng(missing)
    points = np.round(rng.uniform(0.5, 100, (2, 30, POINTS_PER_DAY)), 1)
    for row in points.reshape(2, -1):
        row[rng.choice(row.size, missing, replace=False)] = NAN
    got = charge(points, BillingMode.MONTHLY_95TH)
    for s in range(2):
        assert (got.bandwidth[s], got.points[s]) == plain_charge(
            points[s], BillingMode.MONTHLY_95TH
        )


@settings(deadline=None, max_examples=60)
@given(
    st.lists(st.one_of(st.none(), st.floats(0, 1e6)), min_size=1, max_size=1200),
    st.integers(1, 400),
)
def test_preceding_max_matches_a_sliding_window(raw: list[float | None], window: int) -> None:
    x = np.array([NAN if v is None else v for v in raw])
    expected = [
        np.nan
        if np.isnan(x[max(0, i - window) : i]).all()
        else np.nanmax(x[max(0, i - window) : i])
        for i in range(x.size)
    ]
    np.testing.assert_array_equal(preceding_max(x, window), expected)


@settings(deadline=None, max_examples=100)
@given(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 1)), st.integers(1, 120))
def test_months_and_day_labels_follow_the_calendar(first_day: dt.date, days: int) -> None:
    grid = make_grid(["CN"], first_day, np.zeros((1, days, POINTS_PER_DAY)))
    assert grid.months() == grid_months(grid)
    assert grid.day_labels == tuple(
        (first_day + dt.timedelta(days=i)).isoformat() for i in range(days)
    )


def test_the_properties_are_not_vacuous() -> None:
    """The generators reach bursts of every kind, partial months and unchecked days."""
    rng = np.random.default_rng(3)
    kinds: set[str] = set()
    for _ in range(30):
        values = concurrency_values(rng, 2, 4)
        grid = make_grid(["transcoding", "recording"], dt.date(2026, 1, 30), values)
        found = [
            *plain_concurrency(grid, POLICIES[0]),
            *plain_concurrency(vas_total(grid), POLICIES[0]),
        ]
        kinds |= {f"{type(f).__name__}/{f.scope == VAS_TOTAL}" for f in found}
        grid = make_grid(["CN", "EU"], dt.date(2025, 12, 20), bandwidth_values(rng, 2, 60))
        kinds |= {f"{type(f).__name__}/{MONTHLY}" for f in plain_monthly(grid, POLICIES[0])}
        kinds |= {f"{type(f).__name__}/{DAILY_JUMP}" for f in plain_daily_jump(grid, POLICIES[0])}
    assert kinds >= {
        "Burst/False",
        "Burst/True",
        "Unchecked/False",
        f"Burst/{MONTHLY}",
        f"PartialMonth/{MONTHLY}",
        f"Burst/{DAILY_JUMP}",
        f"Unchecked/{DAILY_JUMP}",
    }


def test_services_surging_at_the_same_moment_keep_their_own_end_and_peak() -> None:
    values = np.full((2, 2, POINTS_PER_DAY), 1000.0)
    values[0, 1, 240:252] = 15_000.0  # 20:00 to 21:00
    values[1, 1, 240:264] = 12_000.0  # 20:00 to 22:00, higher from 21:00
    values[1, 1, 252:264] = 20_000.0
    grid = make_grid(["transcoding", "recording"], dt.date(2026, 3, 8), values)
    bursts = list(vas_concurrency(grid, Policy()))
    assert bursts == plain_concurrency(grid, Policy())
    assert [(b.end - b.start, b.peak) for b in bursts] == [(3600, 15_000.0), (7200, 20_000.0)]
