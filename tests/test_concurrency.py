"""Twenty planning cycles at once over the same forecast: no duplicates, no lost updates.

Each thread opens its own store (its own SQLite connection on the same file, or its own boto3
client on the same DynamoDB Local tables) and keeps it for the test; for every round all of
them wait at a barrier, then apply the same plan with chalicelib.workflows.planning.apply_plan.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import bandwidth_csv, local

from chalicelib.adapters.store.dynamodb import DynamoStore
from chalicelib.adapters.store.sqlite import SqliteStore
from chalicelib.config.settings import Settings
from chalicelib.domain.assurance import Plan
from chalicelib.domain.errors import Conflict
from chalicelib.domain.planner import make_plan
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import AuditEntry, Change, Presence, TrackedRequest
from chalicelib.domain.traffic_parsing import parse_csv
from chalicelib.workflows.approvals import decide_request
from chalicelib.workflows.planning import apply_plan
from chalicelib.workflows.ports import Saved, Store

THREADS = 20
POLICY = Policy()

Spike = tuple[str, int, float]  # billing area, day of December 2026, evening peak in Gbit/s
FIRST_SPIKES: list[Spike] = [("CN", 3, 300.0), ("AP1", 4, 90.0), ("EU", 5, 75.0), ("CN", 6, 320.0)]
# A later forecast: every peak higher, and the EU burst gone.
SECOND_SPIKES: list[Spike] = [("CN", 3, 350.0), ("AP1", 4, 95.0), ("CN", 6, 420.0)]
BASE = {"CN": 50.0, "AP1": 10.0, "EU": 5.0}  # Gbit/s outside the peaks


def forecast_csv(spikes: list[Spike]) -> str:
    """Eight days of 5-minute bandwidth from 2026-12-01 (CST) for CN, AP1 and EU at a flat
    base, with a 20:00-22:00 evening peak on each spike's day."""
    peaks = {(area, dt.date(2026, 12, day)): peak for area, day, peak in spikes}
    return bandwidth_csv(dt.date(2026, 12, 1), 8, BASE, peaks, hours=(20, 22))


def plan_for(spikes: list[Spike], now: dt.datetime) -> Plan:
    plan = make_plan(parse_csv(forecast_csv(spikes), source="forecast.csv"), [], POLICY, now)
    assert len(plan.requests) == len(spikes), [r.id for r in plan.requests]
    return plan


@pytest.fixture(scope="module")
def plans() -> tuple[Plan, Plan]:
    first = plan_for(FIRST_SPIKES, local(2026, 11, 20, 9))
    second = plan_for(SECOND_SPIKES, local(2026, 11, 21, 9, 30))
    return first, second


@pytest.fixture(params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens a new store on the same data each time it is called (one per thread)."""
    opened: list[tuple[SqliteStore, int]] = []
    if request.param == "sqlite":
        path = tmp_path / "shared.sqlite3"

        def open_sqlite() -> Store:
            store = SqliteStore(path)
            opened.append((store, threading.get_ident()))
            return store

        yield open_sqlite
    else:
        request.getfixturevalue("dynamo_store")  # creates the tables
        settings: Settings = request.getfixturevalue("dynamodb_settings")
        yield lambda: DynamoStore.connect(settings.table_prefix, settings.dynamodb_endpoint)
    for store, thread in opened:
        if thread == threading.get_ident():  # race() closes the ones its threads opened
            store.close()


class CountingStore:
    """A store that counts the writes it lost (Conflict), to show the race really happened."""

    def __init__(self, store: Store, lost: Counter[str]) -> None:
        self._store = store
        self._lost = lost

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def save_request(
        self,
        tracked: TrackedRequest,
        expected_version: int | None,
        audit: AuditEntry,
        **options: Any,
    ) -> None:
        try:
            self._store.save_request(tracked, expected_version, audit, **options)
        except Conflict:
            self._lost[threading.current_thread().name] += 1
            raise

    def save_requests(self, changes: list[Change], **options: Any) -> Saved:
        saved = self._store.save_requests(changes, **options)
        self._lost[threading.current_thread().name] += len(saved.conflicted)
        return saved


class PlanningCycles:
    """THREADS threads, each with a store of its own (opened in that thread, used and closed
    there), that run apply_plan on the same plan together each time ``run`` is called."""

    def __init__(self, open_store: Callable[[], Store]) -> None:
        self._open_store = open_store
        self.lost: Counter[str] = Counter()  # Conflicts per thread
        self._barrier = threading.Barrier(THREADS, timeout=60)
        self._inboxes: list[queue.Queue[Plan | None]] = [queue.Queue() for _ in range(THREADS)]
        self._outcomes: queue.Queue[list[Change] | BaseException] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, args=(inbox,), name=f"cycle-{i}", daemon=True)
            for i, inbox in enumerate(self._inboxes)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self, inbox: queue.Queue[Plan | None]) -> None:
        store: Store | None = None
        failed: BaseException | None = None
        try:
            store = self._open_store()
        except BaseException as exc:
            failed = exc
        while (plan := inbox.get()) is not None:
            if store is None or failed is not None:
                self._outcomes.put(failed or RuntimeError("no store"))
                continue
            try:
                self._barrier.wait()  # all threads write together
                self._outcomes.put(apply_plan(CountingStore(store, self.lost), plan, POLICY))
            except BaseException as exc:
                self._barrier.abort()
                self._outcomes.put(exc)
        if isinstance(store, SqliteStore):
            store.close()  # a SQLite connection may only be closed by its own thread

    def run(self, plan: Plan) -> list[Change]:
        """Every change any of the cycles wrote; raises the first error a cycle hit."""
        for inbox in self._inboxes:
            inbox.put(plan)
        try:
            outcomes = [self._outcomes.get(timeout=180) for _ in range(THREADS)]
        except queue.Empty:
            pytest.fail("a planning cycle hung")
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return [change for changes in outcomes if isinstance(changes, list) for change in changes]

    def stop(self) -> None:
        for inbox in self._inboxes:
            inbox.put(None)
        for thread in self._threads:
            thread.join(timeout=30)


@pytest.fixture
def cycles(open_store: Callable[[], Store]) -> Iterator[PlanningCycles]:
    running = PlanningCycles(open_store)
    yield running
    running.stop()


def test_concurrent_cycles_write_each_change_once(
    open_store: Callable[[], Store], cycles: PlanningCycles, plans: tuple[Plan, Plan]
) -> None:
    first, second = plans
    check = open_store()

    # 1. twenty cycles over the same new forecast: one request per burst, created once
    applied = cycles.run(first)
    assert sum(cycles.lost.values()) > 0, "no write lost a race: the cycles did not overlap"
    assert sorted(c.after.id for c in applied) == sorted(r.id for r in first.requests)
    assert {c.action for c in applied} == {"created"}
    created = {c.after.id: c.audit for c in applied}
    stored = {t.id: t for t in check.list_requests()}
    assert sorted(stored) == sorted(r.id for r in first.requests)
    for request in first.requests:
        assert stored[request.id].version == 1
        assert stored[request.id].request == request
        trail = check.audit_trail(request.id)
        assert [(a.request_id, a.version, a.action) for a in trail] == [(request.id, 1, "created")]
        assert trail == [created[request.id]]  # the entry the successful write carried

    # 2. twenty cycles over a changed forecast, a little later: each change made exactly once
    lost_before = sum(cycles.lost.values())
    applied = cycles.run(second)
    assert sum(cycles.lost.values()) > lost_before, "the second round did not race"
    expected = {r.id: "updated" for r in second.requests}
    expected["daily-peak-jump/EU/2026-12-05"] = "withdrawn"
    assert Counter((c.after.id, c.action) for c in applied) == Counter(expected.items())
    changed = {c.after.id: c.audit for c in applied}
    stored = {t.id: t for t in check.list_requests()}
    assert sorted(stored) == sorted(expected)
    for request_id, action in expected.items():
        assert stored[request_id].version == 2
        trail = check.audit_trail(request_id)
        assert [(a.request_id, a.version, a.action) for a in trail] == [
            (request_id, 1, "created"),
            (request_id, 2, action),
        ]
        # The very entries the two successful writes carried, stored whole and in order.
        assert trail == [created[request_id], changed[request_id]]
    for request in second.requests:
        assert stored[request.id].request == request
        assert stored[request.id].presence is Presence.ACTIVE
        changes = check.audit_trail(request.id)[1].changes
        assert "forecast_peak" in changes
    assert stored["daily-peak-jump/EU/2026-12-05"].presence is Presence.WITHDRAWN

    # 3. and once more on the same input: nothing left to do
    assert cycles.run(second) == []


class InterruptingStore:
    """A store where, just before the first write of a cycle, another writer changes the very
    request it is about to write: the cycle's write must lose, and be decided again."""

    def __init__(self, store: Store, interrupt: Callable[[Store], None]) -> None:
        self._store, self._interrupt = store, interrupt
        self.lost = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def save_request(self, *args: Any, **options: Any) -> None:
        interrupt, self._interrupt = self._interrupt, lambda _: None
        interrupt(self._store)
        try:
            self._store.save_request(*args, **options)
        except Conflict:
            self.lost += 1
            raise

    def save_requests(self, *args: Any, **options: Any) -> Saved:
        interrupt, self._interrupt = self._interrupt, lambda _: None
        interrupt(self._store)
        saved = self._store.save_requests(*args, **options)
        self.lost += len(saved.conflicted)
        return saved


def test_a_cycle_that_loses_a_write_reads_again_and_keeps_the_other_change(
    open_store: Callable[[], Store], plans: tuple[Plan, Plan]
) -> None:
    """Fails without retry_on_conflict in apply_plan: the lost write would end the cycle."""
    first, second = plans
    store = open_store()
    apply_plan(store, first, POLICY)
    target = sorted(r.id for r in second.requests)[0]

    def approve_meanwhile(inner: Store) -> None:
        decide_request(inner, target, "approved", "U1", local(2026, 11, 21, 9, 29))

    racing = InterruptingStore(store, approve_meanwhile)
    applied = apply_plan(racing, second, POLICY)  # type: ignore[arg-type]

    assert racing.lost == 1  # the conflict path really ran
    assert {c.after.id for c in applied} == {r.id for r in second.requests} | {
        "daily-peak-jump/EU/2026-12-05"
    }
    tracked = store.get_request(target)
    assert tracked is not None
    assert tracked.decision is not None  # the approval made meanwhile was kept
    assert [e.action for e in store.audit_trail(target)][:2] == ["created", "decided"]


def test_a_plan_overtaken_by_a_later_one_writes_nothing(
    open_store: Callable[[], Store], plans: tuple[Plan, Plan]
) -> None:
    first, second = plans  # made at 11-20 09:00 and 11-21 09:30
    store = open_store()
    apply_plan(store, first, POLICY)
    apply_plan(store, second, POLICY)  # the newer forecast is applied first ...
    before = {t.id: t.version for t in store.list_requests()}

    assert apply_plan(store, first, POLICY) == []  # ... so the slow, older cycle loses
    assert {t.id: t.version for t in store.list_requests()} == before
    for request in second.requests:
        tracked = store.get_request(request.id)
        assert tracked is not None
        assert tracked.request == request
