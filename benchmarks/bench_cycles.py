"""What does a planning cycle cost with 10,000 tracked requests? New path against the old one.

10,000 rule-b bursts: 200 bandwidth series (labelled ``EU#000`` .. ``EU#199``, so every burst id
is unique) of 100 days from 1 March 2026, flat at 10 Gbit/s with a 20:00-22:00 evening at
100 Gbit/s every other day; planned at 1 March 2026 09:00 (Asia/Shanghai). Two targets:

- steady cycle, SQLite: run_cycle again on the same traffic and events, minutes later, after a
  first cycle recorded its requests (the outbox emptied in between): <= 150 ms;
- first cycle, DynamoDB Local: planning_cycle's planning half (plan_cycle: plan, read the
  requests in reach, write 10,000 requests, each item carrying its audit entry and notice) on
  empty tables: <= 10 s. The notices are not sent: that is dispatch_notices' work.

Also printed, untargeted: the first cycle on SQLite, the steady cycle on DynamoDB Local, and
the old path in the same run (every request read, reconcile, one transaction per change). The
old path's writes are timed on a sample of changes and scaled to all of them (--old-sample).

    python benchmarks/bench_cycles.py [--repeat N] [--check] [--series S] [--old-sample K]

Times are the best of --repeat runs (time.perf_counter, after gc.collect()). --check exits 1
when a target is missed. DynamoDB Local is started as the tests start it (tests/dynamodb_local.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import io
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from chalicelib.adapters.console import ConsoleNotifier
from chalicelib.adapters.store.dynamodb import OUTBOX_INDEX, DynamoStore
from chalicelib.adapters.store.sqlite import SqliteStore
from chalicelib.adapters.traffic_sources import StoredTrafficSource
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import Change, reconcile
from chalicelib.domain.traffic import STEP_SECONDS, Series, TrafficSet
from chalicelib.workflows.planning import current_plan, plan_cycle, run_cycle
from chalicelib.workflows.ports import Store

ROOT = Path(__file__).resolve().parents[1]
CST = ZoneInfo("Asia/Shanghai")
POLICY = Policy()
NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=CST)
FIRST_DAY = dt.datetime(2026, 3, 1, tzinfo=CST)
DAYS = 100
BURSTS_PER_SERIES = DAYS // 2
STEADY_TARGET = 0.150  # seconds: SQLite, a cycle with nothing changed
FIRST_TARGET = 10.0  # seconds: DynamoDB Local, a first cycle on empty tables


@dataclass(frozen=True)
class Figure:
    name: str
    new: float  # seconds, best of the runs
    old: float | None  # seconds, the per-request path in the same run
    old_note: str
    target: float | None

    @property
    def met(self) -> bool:
        return self.target is None or self.new <= self.target


def workload(series: int) -> TrafficSet:
    start = int(FIRST_DAY.timestamp())
    times = start + STEP_SECONDS * np.arange(DAYS * 288, dtype=np.int64)
    day = np.full((DAYS, 288), 10.0)
    day[1::2, 240:264] = 100.0  # a jump of 90 Gbit/s: past rule b's 60 outside the mainland
    values = day.ravel()
    return TrafficSet(
        {
            ("bandwidth", f"EU#{i:03d}"): Series("bandwidth", f"EU#{i:03d}", times, values.copy())
            for i in range(series)
        }
    )


def best(runs: int, once: Callable[[], float]) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        times.append(once())
    return min(times)


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def steady(store: Store, runs: int) -> float:
    """Cycles at 5-minute steps after NOW: same traffic, same events, nothing to send."""
    notifier = ConsoleNotifier(io.StringIO(), CST)
    moments = iter(NOW + dt.timedelta(minutes=5 * (k + 1)) for k in range(runs))

    def once() -> float:
        now = next(moments)
        return timed(lambda: run_cycle(store, StoredTrafficSource(store), notifier, POLICY, now))

    return best(runs, once)


def old_steady(store: Store, runs: int) -> float:
    """The old cycle on the same store: plan, read every request, reconcile (nothing to write)."""

    def once() -> float:
        return timed(lambda: old_changes(store, NOW + dt.timedelta(minutes=1)))

    return best(runs, once)


def old_changes(store: Store, now: dt.datetime) -> list[Change]:
    plan = current_plan(store, StoredTrafficSource(store), POLICY, now)
    stored = {t.id: t for t in store.list_requests()}
    margin = dt.timedelta(hours=POLICY.rematch_margin_hours)
    return reconcile(stored, plan, plan.now, margin, POLICY.approvals.material_peak_change)


def old_first(fresh: Callable[[], Store], sample: int) -> tuple[float, str]:
    """Plan, read, reconcile in full; then ``sample`` changes one transaction each, scaled."""
    store = fresh()
    gc.collect()
    start = time.perf_counter()
    changes = old_changes(store, NOW)
    deciding = time.perf_counter() - start
    taken = changes[:sample]
    start = time.perf_counter()
    for change in taken:
        store.save_request(change.after, change.expected_version, change.audit, planned_at=NOW)
    per_change = (time.perf_counter() - start) / len(taken)
    return deciding + per_change * len(changes), f"~ ({len(taken)} writes timed, scaled)"


def first(fresh: Callable[[], Store], runs: int, expected: int) -> tuple[float, Store]:
    stores: list[Store] = []

    def once() -> float:
        store = fresh()
        stores.append(store)
        gc.collect()
        start = time.perf_counter()
        report = plan_cycle(store, StoredTrafficSource(store), POLICY, NOW)
        took = time.perf_counter() - start
        if len(report.changes) != expected:
            raise SystemExit(f"the first cycle wrote {len(report.changes)} changes, not {expected}")
        return took

    return best(runs, once), stores[-1]


def empty_outbox(store: Store) -> None:
    """Setup only: what the first cycle left to send goes, without sending 10,000 notices."""
    if isinstance(store, SqliteStore):
        with contextlib.closing(sqlite3.connect(store.path)) as db, db:
            db.execute("DELETE FROM notices")
        return
    assert isinstance(store, DynamoStore)
    pages = store.client.get_paginator("scan").paginate(
        TableName=store.requests_table, IndexName=OUTBOX_INDEX
    )
    keys = [{"id": item["id"]} for page in pages for item in page["Items"]]

    def clear(key: dict[str, object]) -> None:
        store.client.update_item(
            TableName=store.requests_table,
            Key=key,
            UpdateExpression="REMOVE #notices, #outbox",
            ExpressionAttributeNames={"#notices": "notices", "#outbox": "outbox"},
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(clear, keys))


def sqlite_figures(traffic: TrafficSet, args: argparse.Namespace, scratch: Path) -> list[Figure]:
    def fresh() -> Store:
        store = SqliteStore(scratch / f"{uuid.uuid4().hex}.sqlite3")
        store.put_traffic(traffic)
        return store

    return both_cycles("SQLite", fresh, traffic, args, targets=(None, STEADY_TARGET))


def both_cycles(
    where: str,
    fresh: Callable[[], Store],
    traffic: TrafficSet,
    args: argparse.Namespace,
    targets: tuple[float | None, float | None],
) -> list[Figure]:
    """The first cycle on fresh stores, then the steady one on the last of them; each against
    the old path in the same run."""
    expected = len(traffic.series) * BURSTS_PER_SERIES
    first_time, store = first(fresh, args.repeat, expected)
    old_first_time, note = old_first(fresh, args.old_sample)
    empty_outbox(store)
    steady_time = steady(store, args.repeat)
    return [
        Figure(f"{where}, first cycle", first_time, old_first_time, note, targets[0]),
        Figure(f"{where}, steady cycle", steady_time, old_steady(store, 1), "", targets[1]),
    ]


def dynamodb_figures(traffic: TrafficSet, args: argparse.Namespace, scratch: Path) -> list[Figure]:
    sys.path.insert(0, str(ROOT / "tests"))
    from dynamodb_local import CLEARED_ENVIRONMENT, DUMMY_ENVIRONMENT, running

    for name in CLEARED_ENVIRONMENT:
        os.environ.pop(name, None)
    os.environ.update(DUMMY_ENVIRONMENT)
    with running(scratch / "dynamodb-local.log") as endpoint:
        made: list[DynamoStore] = []

        def fresh(traffic: TrafficSet = traffic) -> Store:
            store = DynamoStore.connect(f"bench-{uuid.uuid4().hex[:8]}", endpoint)
            store.create_tables()
            store.put_traffic(traffic)
            made.append(store)
            return store

        warm = fresh(workload(20))  # the emulator's JIT warms up on 1,000 untimed changes
        plan_cycle(warm, StoredTrafficSource(warm), POLICY, NOW)
        figures = both_cycles("DynamoDB Local", fresh, traffic, args, targets=(FIRST_TARGET, None))
        for store in made:
            store.delete_tables()
    return figures


def warm_up(traffic: TrafficSet) -> None:
    """One untimed first cycle on SQLite, so that no figure pays for the first imports."""
    with tempfile.TemporaryDirectory() as scratch:
        store = SqliteStore(Path(scratch) / "warm.sqlite3")
        store.put_traffic(traffic)
        plan_cycle(store, StoredTrafficSource(store), POLICY, NOW)
        store.close()


def seconds(value: float) -> str:
    if value < 0.01:
        return f"{value * 1000:.1f} ms"
    return f"{value * 1000:,.0f} ms" if value < 2 else f"{value:,.1f} s"


def report(figures: list[Figure], args: argparse.Namespace, bursts: int) -> None:
    print(
        f"bench_cycles: {bursts:,} tracked requests ({args.series} series x "
        f"{BURSTS_PER_SERIES} bursts), best of {args.repeat} runs\n"
    )
    print(f"{'':30} {'new':>10} {'old path':>12}  {'old/new':>8} {'target':>9} {'new/target':>11}")
    for f in figures:
        old = seconds(f.old) if f.old is not None else "-"
        speedup = f"{f.old / f.new:,.1f}x" if f.old is not None else "-"
        target = seconds(f.target) if f.target is not None else "-"
        ratio = f"{f.new / f.target:.2f}x" if f.target is not None else "-"
        verdict = "" if f.target is None else ("met" if f.met else "MISSED")
        row = f"{f.name:30} {seconds(f.new):>10} {old:>12}  {speedup:>8}"
        print(f"{row} {target:>9} {ratio:>11} {verdict}")
    notes = {f.old_note for f in figures if f.old_note}
    for note in sorted(notes):
        print(f"\nold path {note}: the per-request writes of a first cycle, timed on a sample")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best kept)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--series", type=int, default=200, help="series of 50 bursts each")
    parser.add_argument("--old-sample", type=int, default=300, help="old-path writes timed")
    args = parser.parse_args(argv)

    traffic = workload(args.series)
    warm_up(workload(2))
    with tempfile.TemporaryDirectory() as scratch:
        figures = sqlite_figures(traffic, args, Path(scratch))
        figures += dynamodb_figures(traffic, args, Path(scratch))
    report(figures, args, args.series * BURSTS_PER_SERIES)
    return 1 if args.check and not all(f.met for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
