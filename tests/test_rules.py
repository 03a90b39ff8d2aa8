"""The three burst rules of the Live SLA (docs/rules.md), each exactly at its boundary."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from builders import (
    CST,
    bandwidth,
    concurrency,
    epoch,
    local,
    spans,
    traffic,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.grid import POINTS_PER_DAY, build_grid
from chalicelib.domain.policy import BillingMode, ConcurrencyRule, Policy
from chalicelib.domain.rules import (
    CONCURRENCY,
    DAILY_JUMP,
    MONTHLY,
    Burst,
    Unchecked,
    daily_peak_jump,
    find_bursts,
    monthly_bandwidth,
    preceding_max,
    vas_concurrency,
)
from chalicelib.domain.traffic import Series, TrafficSet
from chalicelib.domain.vocabulary import BILLING_AREAS, VAS_KINDS

POLICY = Policy()
D = dt.date


def found(
    data: TrafficSet, rule: str, policy: Policy = POLICY
) -> tuple[list[Burst], list[Unchecked]]:
    bursts, unchecked = find_bursts(data, policy)
    return [b for b in bursts if b.rule == rule], [u for u in unchecked if u.rule == rule]


# -- rule a: monthly charged bandwidth ---------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "level", "fires"),
    [
        ("CN", 100.0, True),  # reached: >= 100
        ("CN", 99.99, False),
        ("AP1", 40.0, False),  # elsewhere it must be exceeded: > 40
        ("AP1", 40.01, True),
        ("EU", 40.01, True),
        ("CN", 40.01, False),
    ],
)
def test_monthly_threshold_by_area(scope: str, level: float, fires: bool) -> None:
    # A flat March: every mode charges exactly `level`; no February, so growth is over 0.
    data = traffic(bandwidth(scope, D(2026, 3, 1), D(2026, 3, 31), spans(level)))
    bursts, _ = found(data, MONTHLY)
    if not fires:
        assert bursts == []
        return
    threshold = 100.0 if scope == "CN" else 40.0
    assert bursts == [
        Burst(
            rule=MONTHLY,
            scope=scope,
            period="2026-03",
            start=epoch(local(2026, 3, 1)),
            end=epoch(local(2026, 4, 1)),
            peak=level,
            baseline=0.0,
            threshold=threshold,
            unit="Gbit/s",
        )
    ]
    assert bursts[0].id == f"monthly-charged-bandwidth/{scope}/2026-03"


@pytest.mark.parametrize(
    ("scope", "february", "march", "fires"),
    [
        ("CN", 100.0, 130.0, True),  # exactly +30%
        ("CN", 100.0, 129.9, False),  # +29.9%
        ("CN", 77.0, 100.1, True),  # exactly +30% in decimal; 1.3 * 77 is 100.10000000000001
        ("CN", 200.0, 260.0, True),
        ("CN", 200.0, 259.99, False),
        ("CN", 1000.0, 1300.0, True),
        ("CN", 60.0, 99.0, False),  # +65%, but under 100
        ("AP1", 40.0, 52.0, True),
        ("AP1", 40.0, 51.99, False),
        ("AP1", 30.0, 40.0, False),  # +33%, but not over 40
    ],
)
def test_monthly_growth_over_previous_month(
    scope: str, february: float, march: float, fires: bool
) -> None:
    data = traffic(
        bandwidth(
            scope,
            D(2026, 2, 1),
            D(2026, 3, 31),
            spans(february, [(local(2026, 3, 1), local(2026, 4, 1), march)]),
        )
    )
    bursts = [b for b in found(data, MONTHLY)[0] if b.period == "2026-03"]
    if not fires:
        assert bursts == []
        return
    [burst] = bursts
    assert burst.start == epoch(local(2026, 3, 1))
    assert burst.peak == march
    assert burst.baseline == february
    floor = 100.0 if scope == "CN" else 40.0
    assert burst.threshold == pytest.approx(max(floor, 1.3 * february))


def test_unknown_or_empty_previous_month_counts_as_zero() -> None:
    march = spans(0.0, [(local(2026, 3, 1), local(2026, 4, 1), 100.0)])
    no_february = traffic(bandwidth("CN", D(2026, 3, 1), D(2026, 3, 31), march))
    zero_february = traffic(bandwidth("CN", D(2026, 2, 1), D(2026, 3, 31), march))
    for data in (no_february, zero_february):
        [burst] = found(data, MONTHLY)[0]
        assert (burst.period, burst.baseline, burst.threshold) == ("2026-03", 0.0, 100.0)

    # A partly known February does count: charged 90 there means March needs 117.
    partial = traffic(
        bandwidth(
            "CN",
            D(2026, 2, 20),
            D(2026, 3, 31),
            spans(90.0, [(local(2026, 3, 1), local(2026, 4, 1), 110.0)]),
        )
    )
    assert found(partial, MONTHLY)[0] == []


def test_monthly_burst_starts_at_the_first_point_meeting_both_levels() -> None:
    value_at = spans(
        100.0,  # February: charged 100, so March needs 130
        [
            (local(2026, 3, 1), local(2026, 4, 1), 120.0),
            (local(2026, 3, 3, 9), local(2026, 3, 3, 9, 5), 129.99),  # over 100, under 130
            (local(2026, 3, 10, 12), local(2026, 4, 1), 150.0),
        ],
    )
    data = traffic(bandwidth("CN", D(2026, 2, 1), D(2026, 3, 31), value_at))
    [burst] = [b for b in found(data, MONTHLY)[0] if b.period == "2026-03"]
    # 21.5 of March's 31 days are at 150: far more than the top 5%, so charged is 150.
    assert burst == Burst(
        MONTHLY, "CN", "2026-03",
        start=epoch(local(2026, 3, 10, 12)), end=epoch(local(2026, 4, 1)),
        peak=150.0, baseline=100.0, threshold=130.0, unit="Gbit/s",
    )  # fmt: skip


def test_overseas_monthly_burst_starts_strictly_above_the_threshold() -> None:
    value_at = spans(
        30.0,
        [
            (local(2026, 3, 15, 10), local(2026, 3, 15, 11), 40.0),  # at 40: not above
            (local(2026, 3, 20), local(2026, 3, 20, 8), 45.0),
            (local(2026, 3, 25), local(2026, 4, 1), 45.0),
        ],
    )
    data = traffic(bandwidth("AP1", D(2026, 3, 1), D(2026, 3, 31), value_at))
    [burst] = found(data, MONTHLY)[0]
    # 7 days and 8 hours at 45 are well over 5% of the month: charged 45.
    assert (burst.start, burst.end) == (epoch(local(2026, 3, 20)), epoch(local(2026, 4, 1)))
    assert (burst.peak, burst.threshold) == (45.0, 40.0)


def test_monthly_identity_is_the_local_month() -> None:
    # 2026-04-01 00:00 in Shanghai is still 31 March in UTC: the burst belongs to April.
    def forecast(april: float) -> TrafficSet:
        value_at = spans(10.0, [(local(2026, 4, 1), local(2026, 4, 6), april)])
        return traffic(bandwidth("CN", D(2026, 3, 25), D(2026, 4, 5), value_at))

    [burst] = found(forecast(120.0), MONTHLY)[0]
    assert burst.id == "monthly-charged-bandwidth/CN/2026-04"
    assert burst.start == epoch(local(2026, 3, 31, 16).replace(tzinfo=dt.UTC))
    assert burst.baseline == 10.0  # March's 7 days at 10

    [changed] = found(forecast(140.0), MONTHLY)[0]  # a revised forecast: the same request
    assert changed.id == burst.id
    assert changed.peak == 140.0


@pytest.mark.parametrize(
    ("mode", "fires"),
    [
        (BillingMode.MONTHLY_95TH, False),  # 1 point of 288 on the only valid day: dropped
        (BillingMode.MONTHLY_AVERAGE_DAILY_PEAK, True),  # the one valid day's peak: 100
        (BillingMode.DAILY_PEAK, True),
        (BillingMode.TRAFFIC, True),
    ],
)
def test_monthly_rule_follows_the_billing_mode(mode: BillingMode, fires: bool) -> None:
    spike = local(2026, 3, 15, 20)
    value_at = spans(0.0, [(spike, spike + dt.timedelta(minutes=5), 100.0)])
    data = traffic(bandwidth("CN", D(2026, 3, 1), D(2026, 3, 31), value_at))
    bursts = found(data, MONTHLY, Policy(billing_mode=mode))[0]
    if fires:
        assert [(b.start, b.end, b.peak) for b in bursts] == [
            (epoch(spike), epoch(spike) + 300, 100.0)
        ]
    else:
        assert bursts == []


# -- rule b: daily peak jump -------------------------------------------------------------------


def _jump_day(scope: str, yesterday: float, today: float) -> TrafficSet:
    """8 March flat at ``yesterday``; 9 March the same, with 19:00-21:00 at ``today``."""
    value_at = spans(yesterday, [(local(2026, 3, 9, 19), local(2026, 3, 9, 21), today)])
    return traffic(bandwidth(scope, D(2026, 3, 8), D(2026, 3, 9), value_at))


@pytest.mark.parametrize(
    ("scope", "yesterday", "today", "fires"),
    [
        ("CN", 50.0, 250.0, True),  # +200 exactly
        ("CN", 50.0, 249.99, False),
        ("CN", 0.0, 200.0, True),
        ("CN", 56.02, 256.02, True),  # 256.02 - 56.02 is 199.99999999999997 in binary
        ("CN", 16.17, 216.17, True),  # 216.17 - 16.17 >= 200, but 216.17 < 16.17 + 200
        ("CN", 300.5, 500.49, False),
        ("AP2", 10.0, 70.0, True),  # +60 exactly
        ("AP2", 10.0, 69.99, False),
        ("MEAA", 0.3, 60.3, True),
        ("CN", 10.0, 70.0, False),  # +60 is no jump on the mainland
    ],
)
def test_daily_jump_at_its_boundary(
    scope: str, yesterday: float, today: float, fires: bool
) -> None:
    bursts, _ = found(_jump_day(scope, yesterday, today), DAILY_JUMP)
    if not fires:
        assert bursts == []
        return
    increment = 200.0 if scope == "CN" else 60.0
    [burst] = bursts
    assert burst.id == f"daily-peak-jump/{scope}/2026-03-09"
    assert (burst.start, burst.end) == (epoch(local(2026, 3, 9, 19)), epoch(local(2026, 3, 9, 21)))
    assert (burst.peak, burst.baseline) == (today, yesterday)
    assert burst.threshold == pytest.approx(yesterday + increment)
    assert burst.unit == "Gbit/s"


def test_daily_jump_starts_at_the_first_point_reaching_yesterdays_peak_plus_200() -> None:
    day9 = local(2026, 3, 9)
    value_at = spans(
        20.0,
        [
            (local(2026, 3, 8, 21), local(2026, 3, 8, 21, 5), 100.0),  # yesterday's peak
            (day9.replace(hour=18), day9.replace(hour=18, minute=30), 290.0),
            (day9.replace(hour=19), day9.replace(hour=19, minute=5), 300.0),  # the first >= 300
            (day9.replace(hour=19, minute=5), day9.replace(hour=19, minute=10), 299.99),
            (day9.replace(hour=19, minute=10), day9.replace(hour=20), 350.0),
            (day9.replace(hour=22), day9.replace(hour=22, minute=5), 300.0),  # the last
        ],
    )
    data = traffic(bandwidth("CN", D(2026, 3, 8), D(2026, 3, 10), value_at))
    assert found(data, DAILY_JUMP)[0] == [
        Burst(
            DAILY_JUMP, "CN", "2026-03-09",
            start=epoch(day9.replace(hour=19)), end=epoch(day9.replace(hour=22, minute=5)),
            peak=350.0, baseline=100.0, threshold=300.0, unit="Gbit/s",
        )
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("scope", "first_peak", "unchecked"),
    [("CN", 300.0, True), ("CN", 199.0, False), ("AP3", 60.0, True), ("AP3", 59.0, False)],
)
def test_the_first_day_of_a_series_is_unchecked_not_a_burst(
    scope: str, first_peak: float, unchecked: bool
) -> None:
    value_at = spans(5.0, [(local(2026, 3, 9, 20), local(2026, 3, 9, 21), first_peak)])
    data = traffic(bandwidth(scope, D(2026, 3, 9), D(2026, 3, 10), value_at))
    bursts, days = found(data, DAILY_JUMP)
    assert bursts == []
    expected = [
        Unchecked(DAILY_JUMP, scope, epoch(local(2026, 3, 9)), "no data for the day before")
    ]
    assert days == (expected if unchecked else [])


def test_a_day_after_a_day_without_data_is_unchecked() -> None:
    def value_at(t: dt.datetime) -> float | None:
        if t.date() == D(2026, 3, 8):
            return None  # no data at all on 8 March
        return 500.0 if t.date() == D(2026, 3, 9) else 10.0

    data = traffic(bandwidth("CN", D(2026, 3, 7), D(2026, 3, 9), value_at))
    bursts, days = found(data, DAILY_JUMP)
    assert bursts == []
    assert [(u.scope, u.day_start) for u in days] == [("CN", epoch(local(2026, 3, 9)))]


# -- rule c: value-added-service concurrency ---------------------------------------------------


def _vas(scope: str, level: float, windows: list[tuple[dt.datetime, dt.datetime, float]]) -> Series:
    return concurrency(scope, D(2026, 3, 8), D(2026, 3, 9), spans(level, windows))


def _at(moment: dt.datetime, value: float) -> tuple[dt.datetime, dt.datetime, float]:
    return (moment, moment + dt.timedelta(minutes=5), value)


@pytest.mark.parametrize(
    ("base", "peak", "fires"),
    [
        (1000.0, 10_000.0, False),  # must exceed 10,000
        (1000.0, 10_001.0, True),
        (8000.0, 12_000.0, False),  # exactly 1.5 x baseline: not more
        (8000.0, 12_001.0, True),
        (6667.0, 10_001.0, True),  # 1.5 x 6667 = 10000.5
        (6668.0, 10_001.0, False),  # 1.5 x 6668 = 10002
    ],
)
def test_concurrency_thresholds(base: float, peak: float, fires: bool) -> None:
    noon = local(2026, 3, 9, 12)
    data = traffic(_vas("transcoding", base, [_at(noon, peak)]))
    bursts = [b for b in found(data, CONCURRENCY)[0] if b.scope == "transcoding"]
    if not fires:
        assert bursts == []
        return
    assert bursts == [
        Burst(
            CONCURRENCY, "transcoding", "2026-03-09",
            start=epoch(noon), end=epoch(noon) + 300,
            peak=peak, baseline=base, threshold=max(10_000.0, 1.5 * base), unit="tasks",
        )
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("when", "fires"),
    [
        (local(2026, 3, 9, 12, 5), False),  # the 9,000 at 12:05 yesterday is 24 h before: in
        (local(2026, 3, 9, 12, 10), True),  # 24 h 5 min before: out of the window
    ],
)
def test_concurrency_baseline_is_the_preceding_24_hours(when: dt.datetime, fires: bool) -> None:
    data = traffic(
        _vas("recording", 1000.0, [_at(local(2026, 3, 8, 12, 5), 9000.0), _at(when, 13_000.0)])
    )
    bursts = [b for b in found(data, CONCURRENCY)[0] if b.scope == "recording"]
    assert [(b.start, b.baseline) for b in bursts] == ([(epoch(when), 1000.0)] if fires else [])


def _ramp(start: dt.datetime, levels: list[float]) -> list[tuple[dt.datetime, dt.datetime, float]]:
    return [_at(start + dt.timedelta(minutes=5 * i), v) for i, v in enumerate(levels)]


# A show's transcoding climbs from 5,000 to 13,000 over 25 minutes: each step is under 1.5 x the
# step before, so against the preceding 24 hours (the reading in docs/rules.md) nothing ever fires.
RAMP = [6000.0, 7500.0, 9000.0, 11_000.0, 13_000.0]


@pytest.mark.parametrize(("lag", "fires"), [(0, False), (30, True), (60, True)])
def test_a_ramp_fires_only_with_a_baseline_lag(lag: int, fires: bool) -> None:
    policy = Policy(concurrency=ConcurrencyRule(baseline_lag_minutes=lag))
    start = local(2026, 3, 9, 20)
    data = traffic(_vas("transcoding", 5000.0, _ramp(start, RAMP)))
    bursts = [b for b in found(data, CONCURRENCY, policy)[0] if b.scope == "transcoding"]
    if not fires:
        assert bursts == []
        return
    # 11,000 at 20:15 is the first point over 10,000 and 1.5 x 5,000 (the level an hour before).
    (burst,) = bursts
    assert (burst.start, burst.peak, burst.baseline) == (epoch(start) + 15 * 60, 13_000.0, 5000.0)


@pytest.mark.parametrize(
    ("when", "fires"),
    [
        (local(2026, 3, 9, 13, 5), False),  # 9,000 at 12:05 yesterday: 25 h before, in the window
        (local(2026, 3, 9, 13, 10), True),  # 25 h 5 min before: out
    ],
)
def test_the_lag_moves_the_whole_window(when: dt.datetime, fires: bool) -> None:
    policy = Policy(concurrency=ConcurrencyRule(baseline_lag_minutes=60))
    data = traffic(
        _vas("recording", 1000.0, [_at(local(2026, 3, 8, 12, 5), 9000.0), _at(when, 13_000.0)])
    )
    bursts = [b for b in found(data, CONCURRENCY, policy)[0] if b.scope == "recording"]
    assert [(b.start, b.baseline) for b in bursts] == ([(epoch(when), 1000.0)] if fires else [])


def test_vas_total_sums_the_services() -> None:
    evening = local(2026, 3, 9, 20)
    data = traffic(
        _vas("transcoding", 1000.0, [_at(evening, 6000.0)]),
        _vas("recording", 1000.0, [_at(evening, 5000.0)]),
        # Snapshots report only on 9 March before noon; the total adds what reports.
        concurrency(
            "snapshot", D(2026, 3, 9), D(2026, 3, 9), lambda t: 1.0 if t.hour < 12 else None
        ),
    )
    bursts, _ = found(data, CONCURRENCY)
    assert bursts == [
        Burst(
            CONCURRENCY, "vas-total", "2026-03-09",
            start=epoch(evening), end=epoch(evening) + 300,
            peak=11_000.0, baseline=2001.0, threshold=10_000.0, unit="tasks",
        )
    ]  # fmt: skip


def test_concurrency_without_a_day_before_is_unchecked() -> None:
    data = traffic(concurrency("snapshot", D(2026, 3, 9), D(2026, 3, 9), spans(12_000.0)))
    bursts, days = found(data, CONCURRENCY)
    assert bursts == []  # every later point has the 12,000 before it as baseline
    assert {(u.scope, u.day_start) for u in days} == {
        ("snapshot", epoch(local(2026, 3, 9))),
        ("vas-total", epoch(local(2026, 3, 9))),
    }
    assert days[0].reason == "no data in the 24 hours before"


# -- preceding_max against a plain loop ---------------------------------------------------------


def _brute_preceding_max(x: np.ndarray, window: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    for i in range(x.size):
        seen = [v for v in x[max(0, i - window) : i] if not np.isnan(v)]
        if seen:
            out[i] = max(seen)
    return out


@settings(deadline=None, max_examples=100)
@given(
    st.lists(
        st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False)),
        min_size=1,
        max_size=80,
    ),
    st.integers(min_value=1, max_value=40),
)
def test_preceding_max_matches_a_loop(raw: list[float | None], window: int) -> None:
    x = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
    np.testing.assert_array_equal(preceding_max(x, window), _brute_preceding_max(x, window))


# -- a grid of several series gives each series' own findings -----------------------------------

FIRST_DAY = D(2026, 1, 27)  # so the series straddle January and February


def _day_series(metric: str, scope: str, offset: int, days: list[tuple[float | None, int, float]]):
    """Per day: a level (None: no data that day), and one spike (point index, value)."""
    start = epoch(local(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day)) + offset * 86_400
    times, values = [], []
    for d, (level, spike_at, spike) in enumerate(days):
        if level is None:
            continue
        row = np.full(POINTS_PER_DAY, level)
        row[spike_at] = spike
        times.append(start + d * 86_400 + 300 * np.arange(POINTS_PER_DAY, dtype=np.int64))
        values.append(row)
    if not times:
        return None
    return Series(metric, scope, np.concatenate(times), np.concatenate(values))


def _several(metric: str, scopes: tuple[str, ...], levels: list[float]) -> st.SearchStrategy:
    day = st.tuples(
        st.one_of(st.none(), st.sampled_from(levels)),
        st.integers(0, POINTS_PER_DAY - 1),
        st.sampled_from(levels),
    )
    one = st.tuples(st.integers(0, 6), st.lists(day, min_size=1, max_size=8))
    return (
        st.lists(
            st.tuples(st.sampled_from(scopes), one),
            min_size=2,
            max_size=4,
            unique_by=lambda t: t[0],
        )
        .map(
            lambda items: [
                s for scope, (o, d) in items if (s := _day_series(metric, scope, o, d)) is not None
            ]
        )
        .filter(bool)
    )


@settings(deadline=None, max_examples=40)
@given(_several("bandwidth", BILLING_AREAS, [0.0, 10.0, 35.0, 41.0, 60.0, 100.0, 140.0, 300.0]))
def test_bandwidth_rules_on_a_grid_match_each_series_alone(several: list[Series]) -> None:
    def run(series: list[Series]) -> set[Burst | Unchecked]:
        grid = build_grid(series, CST)
        return {*monthly_bandwidth(grid, POLICY), *daily_peak_jump(grid, POLICY)}

    together = run(several)
    alone: set[Burst | Unchecked] = set()
    for s in several:
        alone |= run([s])
    assert together == alone


@settings(deadline=None, max_examples=40)
@given(_several("concurrency", VAS_KINDS, [0.0, 1000.0, 7000.0, 10_001.0, 12_000.0, 20_000.0]))
def test_concurrency_rule_on_a_grid_matches_each_series_alone(several: list[Series]) -> None:
    def run(series: list[Series]) -> set[Burst | Unchecked]:
        return set(vas_concurrency(build_grid(series, CST), POLICY))

    together = run(several)
    alone: set[Burst | Unchecked] = set()
    for s in several:
        alone |= run([s])
    assert together == alone


def test_the_grid_property_is_not_vacuous() -> None:
    # A fixed case of the generator above: two areas, each firing on its own day.
    cn = _day_series("bandwidth", "CN", 0, [(10.0, 0, 10.0), (10.0, 100, 300.0)])
    ap1 = _day_series("bandwidth", "AP1", 3, [(0.0, 0, 0.0), (0.0, 5, 70.0)])
    assert cn is not None
    assert ap1 is not None
    grid = build_grid([cn, ap1], CST)
    assert {b.id for b in daily_peak_jump(grid, POLICY) if isinstance(b, Burst)} == {
        "daily-peak-jump/CN/2026-01-28",
        "daily-peak-jump/AP1/2026-01-31",
    }
