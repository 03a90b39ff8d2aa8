"""How fast are the three burst rules? Ours against pandas and against one NumPy pass.

1,000 series of 62 days (December and January) of 5-minute points, in one (series, day, point)
array: 700 bandwidth series (100 in each of the 7 billing areas) and 300 concurrency series
(100 per value-added service; the engine adds their total as one more series). Three ways:

- ours: DayGrids over views of the array, then rules.monthly_bandwidth, rules.daily_peak_jump
  and rules.vas_concurrency on the services and on rules.vas_total(...), as find_bursts does;
- pandas: the same rules written the straightforward pandas way (a DataFrame per metric,
  resample to days, group by month, a rolling 24-hour max); it must find the same bursts;
- one pass: np.fmax.reduce over the whole array (the daily peaks), the least any engine must do.

Two data sets: a realistic one where about 10% of series burst, and a worst case where every
series bursts (several times). Times are the best of --repeat runs; data generation is not timed.

    python benchmarks/bench_rules.py [--repeat N] [--check] [--profile]

--check exits 1 when, on the realistic data, ours is under 20x faster than pandas or over 4x
slower than one pass. The worst case is reported, not gated.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import pstats
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from chalicelib.domain import rules
from chalicelib.domain.grid import POINTS_PER_DAY, DayGrid
from chalicelib.domain.policy import BillingMode, Policy
from chalicelib.domain.rules import REL_TOL
from chalicelib.domain.vocabulary import BILLING_AREAS, VAS_KINDS, VAS_TOTAL

SERIES_PER_AREA = 100
SERIES_PER_SERVICE = 100
DAYS = 62
FIRST_DAY = dt.date(2026, 12, 1)
STEP = pd.Timedelta(minutes=5)
PANDAS_FASTER_THAN = 20.0  # target: pandas time / our time
ONE_PASS_WITHIN = 4.0  # target: our time / one-pass time
SEED = 7

T = TypeVar("T")


class BenchPolicy(Policy):
    """Series are labelled ``AREA#n`` so that every burst id is unique; the rules only ask the
    policy whether a label is the mainland area."""

    def is_mainland(self, area: str) -> bool:
        return super().is_mainland(area.partition("#")[0])


# -- data --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    name: str
    values: np.ndarray  # (series, DAYS, POINTS_PER_DAY): bandwidth rows, then concurrency rows
    bandwidth: tuple[str, ...]
    concurrency: tuple[str, ...]
    bursting_series: int
    gated: bool  # --check holds this data set to the targets


def _labels() -> tuple[tuple[str, ...], tuple[str, ...]]:
    bandwidth = tuple(f"{a}#{i:03d}" for a in BILLING_AREAS for i in range(SERIES_PER_AREA))
    concurrency = tuple(f"{k}#{i:03d}" for k in VAS_KINDS for i in range(SERIES_PER_SERVICE))
    return bandwidth, concurrency


def _daily_shape() -> np.ndarray:
    """Share of the evening peak over a day: trough near 04:00, peak 20:00-22:00."""
    hours = np.arange(POINTS_PER_DAY) / 12
    evening = np.exp(-(((hours - 21) / 2.2) ** 2)) + np.exp(-(((hours + 3) / 2.2) ** 2))
    midday = np.exp(-(((hours - 12.5) / 3) ** 2))
    return 0.25 + 0.45 * midday + 0.75 * evening


def _usual_traffic(levels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    shape = _daily_shape() / _daily_shape().max()
    day_factor = 1 + rng.normal(0, 0.02, (levels.size, DAYS, 1))
    noise = 1 + rng.normal(0, 0.02, (levels.size, DAYS, POINTS_PER_DAY))
    return levels[:, None, None] * shape * day_factor * noise


def _surge(values: np.ndarray, row: int, day: int, extra: float) -> None:
    """Extra load from 20:00 to 22:00 on one day, arriving at once."""
    values[row, day, 240:264] += extra


def make_workload(
    name: str, bursting_share: float, surges: int, seed: int, gated: bool
) -> Workload:
    rng = np.random.default_rng(seed)
    bandwidth, concurrency = _labels()
    mainland = np.array([s.startswith("CN#") for s in bandwidth])
    # Usual levels stay under every threshold: CN peaks 10-75 Gbit/s, others 2-30, services
    # 500-6,000 tasks.
    levels = np.concatenate([
        np.where(mainland, rng.uniform(10, 75, mainland.size), rng.uniform(2, 30, mainland.size)),
        rng.uniform(500, 6000, len(concurrency)),
    ])  # fmt: skip
    values = _usual_traffic(levels, rng)
    n_bw = len(bandwidth)
    bursting = rng.permutation(levels.size)[: round(bursting_share * levels.size)]
    for row in map(int, bursting):
        days = rng.choice(np.arange(1, DAYS), size=surges, replace=False)
        if row >= n_bw:  # a concurrency surge: over 10,000 and 1.5x the day before
            for day in days:
                _surge(values, row, int(day), max(12_000.0, 2 * levels[row]))
            continue
        # Bandwidth: January grows past the threshold (rule a), and days jump (rule b).
        threshold = 100.0 if mainland[row] else 40.0
        increment = 200.0 if mainland[row] else 60.0
        values[row, 31:] *= max(1.5, 1.4 * threshold / levels[row])
        for day in days:
            _surge(values, row, int(day), 1.3 * increment)
    values = np.round(values, 2)
    values[n_bw:] = np.rint(values[n_bw:])  # concurrency is a count
    return Workload(name, values, bandwidth, concurrency, len(bursting), gated)


# -- ours --------------------------------------------------------------------------------------


def _grid(scopes: tuple[str, ...], values: np.ndarray) -> DayGrid:
    day0 = int(dt.datetime.combine(FIRST_DAY, dt.time(0), tzinfo=Policy().zone).timestamp())
    return DayGrid(scopes, FIRST_DAY, day0, values)


def run_ours(work: Workload, policy: Policy) -> list[rules.Burst]:
    n_bw = len(work.bandwidth)
    bandwidth = _grid(work.bandwidth, work.values[:n_bw])
    concurrency = _grid(work.concurrency, work.values[n_bw:])
    found = [
        *rules.monthly_bandwidth(bandwidth, policy),
        *rules.daily_peak_jump(bandwidth, policy),
        *rules.vas_concurrency(concurrency, policy),
        *rules.vas_concurrency(rules.vas_total(concurrency), policy),
    ]
    return [f for f in found if isinstance(f, rules.Burst)]


def run_one_pass(work: Workload) -> np.ndarray:
    return np.fmax.reduce(work.values, axis=-1)


# -- pandas ------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Found:
    id: str
    start: int
    end: int


def _frame(values: np.ndarray, scopes: tuple[str, ...], zone: Any) -> pd.DataFrame:
    start = pd.Timestamp(FIRST_DAY).tz_localize(zone)
    index = pd.date_range(start, periods=DAYS * POINTS_PER_DAY, freq=STEP)
    return pd.DataFrame(values.reshape(len(scopes), -1).T, index=index, columns=list(scopes))


def _found(rule: str, scope: str, period: str, times: pd.Index) -> Found:
    start, end = times[0], times[-1] + STEP
    return Found(f"{rule}/{scope}/{period}", int(start.timestamp()), int(end.timestamp()))


def _ninety_fifth(points: pd.Series) -> float:
    ordered = points.dropna().sort_values()
    if ordered.empty:
        return float("nan")
    return float(ordered.iloc[len(ordered) - 1 - int(len(ordered) * 0.05)])


def _reaches(value: Any, level: Any) -> Any:
    """value >= level, within the engine's relative tolerance for decimal input."""
    return value >= level - REL_TOL * abs(level)


def _mainland(frame: pd.DataFrame, policy: Policy) -> pd.Series:
    return pd.Series([policy.is_mainland(c) for c in frame.columns], index=frame.columns)


def pandas_monthly(frame: pd.DataFrame, policy: Policy) -> Iterator[Found]:
    rule = policy.monthly_bandwidth
    assert policy.billing_mode is BillingMode.MONTHLY_95TH
    mainland = _mainland(frame, policy)
    threshold = mainland.map(
        {True: rule.mainland_threshold_gbps, False: rule.overseas_threshold_gbps}
    )
    valid_day = frame.resample("D").max() > 0
    on_valid_days = frame.where(valid_day.reindex(frame.index, method="ffill"))
    month = frame.index.strftime("%Y-%m")
    charged = on_valid_days.groupby(month).agg(_ninety_fifth)
    growth = rule.growth_ratio * charged.shift(1).fillna(0.0)
    # The mainland threshold is reached (>=), the others must be exceeded (>).
    over = (_reaches(charged, threshold) & mainland) | ((charged > threshold) & ~mainland)
    fires = over & _reaches(charged, growth)
    for label, scope in fires.stack().loc[lambda s: s].index:
        points = frame.loc[month == label, scope]
        limit = threshold[scope]
        above = _reaches(points, limit) if mainland[scope] else points > limit
        firing = above & _reaches(points, growth.at[label, scope])
        yield _found(rules.MONTHLY, scope, label, points.index[firing])


def pandas_daily_jump(frame: pd.DataFrame, policy: Policy) -> Iterator[Found]:
    rule = policy.daily_peak_jump
    increment = _mainland(frame, policy).map(
        {True: rule.mainland_increment_gbps, False: rule.overseas_increment_gbps}
    )
    peaks = frame.resample("D").max()
    yesterday = peaks.shift(1)
    fires = _reaches(peaks - yesterday, increment)
    for day, scope in fires.stack().loc[lambda s: s].index:
        points = frame.loc[day : day + pd.Timedelta(days=1) - STEP, scope]
        firing = _reaches(points - yesterday.at[day, scope], increment[scope])
        yield _found(rules.DAILY_JUMP, scope, f"{day:%Y-%m-%d}", points.index[firing])


def pandas_concurrency(frame: pd.DataFrame, policy: Policy) -> Iterator[Found]:
    rule = policy.concurrency
    frame = frame.assign(**{VAS_TOTAL: frame.sum(axis=1, min_count=1)})
    baseline = frame.rolling(f"{rule.baseline_window_hours}h", closed="left").max()
    firing = (frame > rule.threshold) & (frame > rule.growth_ratio * baseline)
    for scope in firing.columns[firing.any()]:
        points = frame.loc[firing[scope], scope]
        for day, on_day in points.groupby(points.index.normalize()):
            yield _found(rules.CONCURRENCY, scope, f"{day:%Y-%m-%d}", on_day.index)


def run_pandas(work: Workload, policy: Policy) -> list[Found]:
    n_bw = len(work.bandwidth)
    bandwidth = _frame(work.values[:n_bw], work.bandwidth, policy.zone)
    concurrency = _frame(work.values[n_bw:], work.concurrency, policy.zone)
    return [
        *pandas_monthly(bandwidth, policy),
        *pandas_daily_jump(bandwidth, policy),
        *pandas_concurrency(concurrency, policy),
    ]


# -- measuring ---------------------------------------------------------------------------------


def best_of(repeat: int, run: Callable[[], T]) -> tuple[float, T]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        began = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - began)
    assert result is not None
    return best, result


def peak_memory(run: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def same_bursts(ours: list[rules.Burst], theirs: list[Found]) -> None:
    mine = sorted(Found(b.id, b.start, b.end) for b in ours)
    other = sorted(theirs)
    if [b.id for b in mine] != [f.id for f in other]:
        differ = sorted({b.id for b in mine} ^ {f.id for f in other})
        raise SystemExit(f"pandas and ours disagree on these bursts: {differ[:10]}")
    if mine != other:
        raise SystemExit("pandas and ours find the same bursts but with different times")


@dataclass(frozen=True)
class Row:
    name: str
    gated: bool
    bursting_series: int
    bursts: int
    ours: float
    pandas: float
    one_pass: float
    memory: int

    @property
    def speedup(self) -> float:
        return self.pandas / self.ours

    @property
    def overhead(self) -> float:
        return self.ours / self.one_pass

    def meets_targets(self) -> bool:
        return self.speedup >= PANDAS_FASTER_THAN and self.overhead <= ONE_PASS_WITHIN

    @property
    def verdict(self) -> str:
        met = "met" if self.meets_targets() else "MISSED"
        return met if self.gated else f"({met}; not gated)"


def measure(work: Workload, policy: Policy, repeat: int) -> Row:
    ours_time, ours = best_of(repeat, lambda: run_ours(work, policy))
    pandas_time, theirs = best_of(max(1, repeat // 2), lambda: run_pandas(work, policy))
    same_bursts(ours, theirs)
    one_pass_time, _ = best_of(repeat, lambda: run_one_pass(work))
    memory = peak_memory(lambda: run_ours(work, policy))
    return Row(
        work.name,
        work.gated,
        work.bursting_series,
        len(ours),
        ours_time,
        pandas_time,
        one_pass_time,
        memory,
    )


def render(rows: list[Row], repeat: int) -> str:
    header = (
        f"{'data set':34} {'bursting':>8} {'bursts':>6} {'ours':>9} {'pandas':>10} "
        f"{'one pass':>9} {'pandas/ours':>11} {'ours/one pass':>13} {'peak mem':>9}  targets"
    )
    lines = [
        f"{SERIES_PER_AREA * len(BILLING_AREAS) + SERIES_PER_SERVICE * len(VAS_KINDS):,} series x "
        f"{DAYS} days x {POINTS_PER_DAY} points: {SERIES_PER_AREA} bandwidth series per billing "
        f"area, {SERIES_PER_SERVICE} concurrency series per service (+ their total); "
        f"best of {repeat} (pandas: best of {max(1, repeat // 2)})",
        header,
        "-" * len(header),
    ]
    for r in rows:
        lines.append(
            f"{r.name:34} {r.bursting_series:>8,} {r.bursts:>6,} {r.ours * 1e3:>6.1f} ms "
            f"{r.pandas * 1e3:>7.0f} ms {r.one_pass * 1e3:>6.1f} ms {r.speedup:>10.1f}x "
            f"{r.overhead:>12.2f}x {r.memory / 2**20:>5.1f} MiB  {r.verdict}"
        )
    lines.append(
        f"targets: pandas/ours >= {PANDAS_FASTER_THAN:g}x, ours/one pass <= {ONE_PASS_WITHIN:g}x; "
        "--check gates the realistic data set only;\n"
        "peak mem: what ours allocates at its peak (tracemalloc); the input array is not counted"
    )
    return "\n".join(lines)


def profile(work: Workload, policy: Policy) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(run_ours, work, policy)
    print(f"\nprofile of ours, {work.name}:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (best kept)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--profile", action="store_true", help="cProfile ours on each data set")
    args = parser.parse_args(argv)
    policy = BenchPolicy()
    workloads = [
        make_workload("realistic (~10% of series burst)", 0.10, 1, SEED, gated=True),
        make_workload("worst case (every series bursts)", 1.0, 4, SEED + 1, gated=False),
    ]
    rows = [measure(w, policy, args.repeat) for w in workloads]
    print(render(rows, args.repeat))
    if args.profile:
        for work in workloads:
            profile(work, policy)
    missed = [r.name for r in rows if r.gated and not r.meets_targets()]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
