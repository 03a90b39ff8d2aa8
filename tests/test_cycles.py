"""Planning cycles that cost what changed: a cycle on unchanged inputs writes nothing, a first
cycle writes its changes in batches, only the requests a plan can reach are read, and the store
ends exactly as the per-request path (every request read, one transaction per change) leaves it.

Every store test runs on SQLite and on DynamoDB Local (the ``store`` fixture of conftest.py).
"""

from __future__ import annotations

import datetime as dt
import io
import random
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from builders import bandwidth, local, spans, traffic

from chalicelib.adapters.console import ConsoleNotifier
from chalicelib.adapters.store import sqlite as sqlite_store
from chalicelib.adapters.store.dynamodb import WRITERS, DynamoStore
from chalicelib.adapters.store.plans import plan_moment
from chalicelib.adapters.store.sqlite import SqliteStore
from chalicelib.adapters.traffic_sources import StoredTrafficSource
from chalicelib.domain.assurance import AssuranceRequest, Plan, Status
from chalicelib.domain.events import Event
from chalicelib.domain.notices import Notice
from chalicelib.domain.planner import make_plan
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import (
    Change,
    Presence,
    TrackedRequest,
    reach_of,
    reconcile,
    steady_until,
)
from chalicelib.domain.traffic import TimeRange, TrafficSet
from chalicelib.workflows.approvals import decide_request
from chalicelib.workflows.notices import dispatch_notices
from chalicelib.workflows.planning import apply_plan, current_plan, run_cycle
from chalicelib.workflows.ports import Saved, Store

POLICY = Policy()
MARGIN = dt.timedelta(hours=POLICY.rematch_margin_hours)
NOW = local(2026, 3, 1, 9)  # Sunday
BASE = {"CN": 50.0, "AP1": 10.0, "EU": 5.0}
RISE = {"CN": 260.0, "AP1": 80.0, "EU": 80.0}  # past rule b's jump: 200 in CN, 60 elsewhere
# Days of March 2026 with a 20:00-22:00 jump. At NOW: CN 3rd overdue, AP1 5th due (by Mon 2 March
# 18:00), EU 7th and CN 9th upcoming (by Wed 4 March 18:00: due from Sun 1 March 18:00).
JUMPS: Mapping[str, tuple[int, ...]] = {"CN": (3, 9, 16), "AP1": (5, 12), "EU": (7,)}
SIXTEENTH = "daily-peak-jump/CN/2026-03-16"
GALA = Event(
    id="gala", name="Gala", start=local(2026, 3, 12, 19), end=local(2026, 3, 12, 23), major=True
)
WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
STORE_WRITES = frozenset(
    {
        "put_event", "delete_event", "save_request", "save_requests", "record_plan",
        "notice_sent", "put_traffic", "delete_traffic",
    }
)  # fmt: skip


def forecast(
    jumps: Mapping[str, tuple[int, ...]] = JUMPS, extra: float = 0.0, days: int = 20
) -> TrafficSet:
    """Bandwidth from 1 March 2026 at each area's base, jumping on the given evenings."""
    first, last = dt.date(2026, 3, 1), dt.date(2026, 3, days)
    return traffic(
        *(
            bandwidth(
                scope, first, last,
                spans(level, [
                    (local(2026, 3, d, 20), local(2026, 3, d, 22), level + RISE[scope] + extra)
                    for d in jumps.get(scope, ())
                ]),
            )
            for scope, level in BASE.items()
        )
    )  # fmt: skip


def every_other_evening(
    scopes: tuple[str, ...] = ("CN", "AP1", "EU"),
) -> dict[str, tuple[int, ...]]:
    return {scope: tuple(range(2, 21, 2)) for scope in scopes}


class Recording:
    """A store that notes every write it is asked for, by method name, then passes it on."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writes: list[str] = []
        self.saved: list[Saved] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.store, name)
        if name not in STORE_WRITES:
            return attribute

        def write(*args: Any, **options: Any) -> Any:
            self.writes.append(name)
            result = attribute(*args, **options)
            if isinstance(result, Saved):
                self.saved.append(result)
            return result

        return write


@contextmanager
def storage_writes(store: Store) -> Iterator[Callable[[], list[str]]]:
    """What reached the storage meanwhile: DynamoDB write calls by operation, or for SQLite
    "commit" for each time the file's data changed (PRAGMA data_version, seen from outside)."""
    if isinstance(store, DynamoStore):
        calls: list[str] = []

        def note(**details: Any) -> None:
            if details["model"].name in WRITE_OPERATIONS:
                calls.append(details["model"].name)

        store.client.meta.events.register("before-call.dynamodb", note)
        try:
            yield lambda: list(calls)
        finally:
            store.client.meta.events.unregister("before-call.dynamodb", note)
        return
    assert isinstance(store, SqliteStore)
    watcher = sqlite3.connect(store.path, isolation_level=None)
    first = watcher.execute("PRAGMA data_version").fetchone()[0]

    def commits() -> list[str]:
        return ["commit"] if watcher.execute("PRAGMA data_version").fetchone()[0] != first else []

    try:
        yield commits
    finally:
        watcher.close()


def contents(store: Store) -> dict[str, list[str]]:
    """Every stored row or item, raw, table by table."""
    if isinstance(store, SqliteStore):
        db = sqlite3.connect(store.path)
        try:
            names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return {n: sorted(map(repr, db.execute(f"SELECT * FROM {n}"))) for n in names}
        finally:
            db.close()
    assert isinstance(store, DynamoStore)
    pages = store.client.get_paginator("scan")
    return {
        table["TableName"]: sorted(
            repr(sorted(item.items()))
            for page in pages.paginate(TableName=table["TableName"], ConsistentRead=True)
            for item in page["Items"]
        )
        for table in store.table_definitions()
    }


def history(store: Store) -> dict[str, Any]:
    """What the cycles left, store-independent: requests, their trails, the outbox."""
    requests = store.list_requests()
    return {
        "requests": requests,
        "audit": {t.id: store.audit_trail(t.id) for t in requests},
        "notices": store.pending_notices(),
    }


class Collecting:
    """A notifier that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def deliver(self, notice: Notice, thread: str | None) -> str | None:
        self.sent.append(notice)
        return None


def cycle(store: Store, now: dt.datetime, source: Any = None, notifier: Any = None) -> Any:
    notifier = notifier or ConsoleNotifier(io.StringIO(), POLICY.zone)
    return run_cycle(store, source or StoredTrafficSource(store), notifier, POLICY, now)


def per_request_cycle(store: Store, now: dt.datetime) -> list[Change]:
    """The cycle as it was: every request read, every change its own transaction."""
    plan = current_plan(store, StoredTrafficSource(store), POLICY, now)
    stored = {t.id: t for t in store.list_requests()}
    peak_change = POLICY.approvals.material_peak_change
    changes = reconcile(stored, plan, plan.now, MARGIN, peak_change)
    for change in changes:
        store.save_request(change.after, change.expected_version, change.audit, planned_at=now)
    return changes


class Blind:
    """The store's traffic, from a source that never knows whether it changed: every cycle
    plans and reconciles in full."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, span: TimeRange | None = None) -> TrafficSet:
        return self.store.get_traffic(span)

    def revision(self, span: TimeRange) -> str | None:
        return None


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[SqliteStore]:
    """A second store, for the per-request path to run beside the one under test."""
    other = SqliteStore(tmp_path / "reference.sqlite3")
    yield other
    other.close()


# -- a cycle with nothing changed ----------------------------------------------------------------


def test_a_cycle_with_nothing_changed_writes_nothing(store: Store) -> None:
    store.put_traffic(forecast())
    first = cycle(store, NOW)
    assert len(first.changes) == 6
    assert store.pending_notices() == []  # the first cycle sent them
    # People decide between cycles: that changes no plan, and skipping stays right.
    decide_request(store, "daily-peak-jump/CN/2026-03-16", "approved", "U1", NOW)
    dispatch_notices(store, ConsoleNotifier(io.StringIO(), POLICY.zone), NOW)
    before = contents(store)

    # minutes later, hours later, and the last moment before two requests fall due
    last = local(2026, 3, 1, 18) - dt.timedelta(microseconds=1)
    for now in (NOW + dt.timedelta(minutes=5), local(2026, 3, 1, 17), last):
        recording = Recording(store)
        with storage_writes(store) as written:
            report = cycle(recording, now)  # type: ignore[arg-type]
            assert written() == []
        assert recording.writes == []
        assert report.changes == []
        assert report.planned == 6
        assert contents(store) == before
        # the plan is still there for whoever asks, made from the same inputs
        assert report.plan == current_plan(store, StoredTrafficSource(store), POLICY, now)


def test_the_first_moment_a_status_moves_the_cycle_writes_it(store: Store) -> None:
    store.put_traffic(forecast())
    cycle(store, NOW)
    report = cycle(store, local(2026, 3, 1, 18))  # 72 hours before Wed 4 March 18:00
    assert sorted((c.action, c.after.id) for c in report.changes) == [
        ("updated", "daily-peak-jump/CN/2026-03-09"),
        ("updated", "daily-peak-jump/EU/2026-03-07"),
    ]
    assert {str(c.audit.changes) for c in report.changes} == {"{'status': ('upcoming', 'due')}"}
    with storage_writes(store) as written:
        assert cycle(store, local(2026, 3, 1, 19)).changes == []
        assert written() == []
    # just past the AP1 deadline
    report = cycle(store, local(2026, 3, 2, 18) + dt.timedelta(microseconds=1))
    assert [(c.action, c.after.id) for c in report.changes] == [
        ("updated", "daily-peak-jump/AP1/2026-03-05")
    ]


def test_new_traffic_or_events_are_planned_again(store: Store) -> None:
    store.put_traffic(forecast())
    cycle(store, NOW)
    store.put_traffic(forecast({"CN": (3, 9, 16), "AP1": (5, 12), "EU": (7, 14)}))
    report = cycle(store, NOW + dt.timedelta(minutes=5))
    assert [(c.action, c.after.id) for c in report.changes] == [
        ("created", "daily-peak-jump/EU/2026-03-14")
    ]
    final = Event(
        id="final", name="Cup final", start=local(2026, 3, 16, 20), end=local(2026, 3, 16, 23),
        major=True,
    )  # fmt: skip
    store.put_event(final)
    report = cycle(store, NOW + dt.timedelta(minutes=10))
    assert [(c.action, c.after.id) for c in report.changes] == [
        ("updated", "daily-peak-jump/CN/2026-03-16")
    ]
    assert report.changes[0].after.request.lead_time == "1 month"


def test_a_source_that_cannot_tell_is_planned_every_time(store: Store) -> None:
    store.put_traffic(forecast())
    cycle(store, NOW, Blind(store))
    recording = Recording(store)
    report = cycle(recording, NOW + dt.timedelta(minutes=5), Blind(store))  # type: ignore[arg-type]
    assert report.changes == []
    assert recording.writes == ["save_requests"]  # reconciled in full; nothing to write
    assert store.last_cycle() is None


def test_skipping_leaves_what_the_per_request_path_leaves(
    store: Store, reference: SqliteStore
) -> None:
    """Cycles every five hours for three weeks, through status changes and ended bursts, with
    a re-forecast, a decision, a new event and a withdrawn burst on the way: after each one
    both stores hold the same requests, trails and notices."""
    steps: list[tuple[dt.datetime, Callable[[Store], Any]]] = [
        (local(2026, 3, 1, 9), lambda s: s.put_traffic(forecast())),
        (local(2026, 3, 3, 4), lambda s: s.put_traffic(forecast(extra=40.0))),
        (local(2026, 3, 4, 19), lambda s: s.put_event(GALA)),
        (local(2026, 3, 6, 9), lambda s: s.put_traffic(forecast({"CN": (9, 16), "AP1": (12,)}))),
        (local(2026, 3, 7, 14), lambda s: decide_request(s, SIXTEENTH, "approved", "U1", NOW)),
    ]
    now, skipped = NOW, 0
    while now < local(2026, 3, 22):
        while steps and steps[0][0] <= now:
            for target in (store, reference):
                steps[0][1](target)
            steps.pop(0)
        notices, recording = Collecting(), Recording(store)
        cycle(recording, now, notifier=notices)  # type: ignore[arg-type]
        skipped += "save_requests" not in recording.writes
        per_request_cycle(reference, now)
        assert history(store) == history(reference) | {"notices": []}, now
        assert notices.sent == reference.pending_notices(), now
        for notice in notices.sent:
            reference.notice_sent(notice)
        now += dt.timedelta(hours=5)
    assert len(reference.list_requests()) == 6
    assert 80 <= skipped < 101  # of 101 cycles, 91 had nothing to do


# -- a first cycle with many bursts --------------------------------------------------------------


def test_a_first_cycle_writes_its_requests_in_batches(store: Store, reference: SqliteStore) -> None:
    store.put_traffic(forecast(every_other_evening(("CN", "AP1", "EU")), days=21))
    reference.put_traffic(forecast(every_other_evening(("CN", "AP1", "EU")), days=21))
    plan = current_plan(store, StoredTrafficSource(store), POLICY, NOW)
    assert len(plan.requests) == 30

    recording = Recording(store)
    with storage_writes(store) as written:
        applied = apply_plan(recording, plan, POLICY)  # type: ignore[arg-type]
        calls = written()
    assert recording.writes == ["save_requests"]
    assert sorted(c.after.id for c in applied) == sorted(r.id for r in plan.requests)
    if isinstance(store, DynamoStore):  # 30 changes of one item each and the marker: one
        assert calls == ["TransactWriteItems"]
    per_request_cycle(reference, NOW)
    assert history(store) == history(reference)
    assert all(n.action == "created" for n in store.pending_notices())


def test_many_changes_span_several_transactions(
    store: Store, reference: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chalicelib.adapters.store.dynamodb.CHANGES_PER_TRANSACTION", 4)
    monkeypatch.setattr(sqlite_store, "CHANGES_PER_TRANSACTION", 4)
    store.put_traffic(forecast())
    reference.put_traffic(forecast())
    with storage_writes(store) as written:
        report = cycle(store, NOW)
        calls = written()
    assert len(report.changes) == 6
    if isinstance(store, DynamoStore):  # the claim, batches of 4 and 2, the mark; six sent,
        # each the only notice of its request: one conditional removal each
        assert calls == ["TransactWriteItems"] * 10
    per_request_cycle(reference, NOW)
    assert history(store)["requests"] == history(reference)["requests"]
    assert history(store)["audit"] == history(reference)["audit"]


class Interrupted:
    """A store where another writer acts just before the first batch of changes is written."""

    def __init__(self, store: Store, meanwhile: Callable[[Store], None]) -> None:
        self.store = store
        self.meanwhile: Callable[[Store], None] | None = meanwhile
        self.saved: list[Saved] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def save_requests(self, changes: list[Change], **options: Any) -> Saved:
        if self.meanwhile is not None:
            self.meanwhile(self.store)
            self.meanwhile = None
        self.saved.append(self.store.save_requests(changes, **options))
        return self.saved[-1]


def test_a_conflict_loses_only_its_own_change_and_is_retried(
    store: Store, reference: SqliteStore
) -> None:
    jumps = every_other_evening(("CN", "AP1", "EU"))
    store.put_traffic(forecast(jumps, days=21))
    apply_plan(store, current_plan(store, StoredTrafficSource(store), POLICY, NOW), POLICY)
    store.put_traffic(forecast(jumps, extra=5.0, days=21))  # every peak a little higher
    later = NOW + dt.timedelta(hours=1)
    plan = current_plan(store, StoredTrafficSource(store), POLICY, later)
    target = "daily-peak-jump/AP1/2026-03-12"

    racing = Interrupted(store, lambda s: decide_request(s, target, "approved", "U7", later))
    applied = apply_plan(racing, plan, POLICY)  # type: ignore[arg-type]

    first, retry = racing.saved
    assert [c.after.id for c in first.conflicted] == [target]
    assert len(first.written) == 29  # the others of its batch were written all the same
    assert [c.after.id for c in retry.written] == [target]
    assert len(applied) == 30
    tracked = store.get_request(target)
    assert tracked is not None
    assert tracked.decision is not None  # kept: the peak moved by less than 10%
    assert [e.action for e in store.audit_trail(target)] == ["created", "decided", "updated"]
    assert tracked.request == next(r for r in plan.requests if r.id == target)


def test_a_request_created_meanwhile_is_not_created_twice(store: Store) -> None:
    store.put_traffic(forecast())
    plan = current_plan(store, StoredTrafficSource(store), POLICY, NOW)
    early = next(r for r in plan.requests if r.id == "daily-peak-jump/EU/2026-03-07")

    def create_it(s: Store) -> None:
        [change] = reconcile({}, Plan(now=NOW, requests=[early], warnings=[]), NOW, MARGIN)
        s.save_request(change.after, None, change.audit)

    racing = Interrupted(store, create_it)
    applied = apply_plan(racing, plan, POLICY)  # type: ignore[arg-type]
    assert [c.after.id for c in racing.saved[0].conflicted] == [early.id]
    assert sorted(c.after.id for c in applied) == sorted(r.id for r in plan.requests if r != early)
    assert [e.action for e in store.audit_trail(early.id)] == ["created"]
    assert len(store.list_requests()) == 6


def overtake_after_the_first_batch(
    store: Store, later: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the store has written its first batch, a plan made ``later`` is recorded."""
    done: list[bool] = []
    if isinstance(store, DynamoStore):

        def overtake(**_: Any) -> None:
            if not done:
                done.append(True)
                store.record_plan(later)

        store.client.meta.events.register("after-call.dynamodb.TransactWriteItems", overtake)
        return
    write_all = SqliteStore._write_all

    def write_then_overtake(db: sqlite3.Connection, changes: list[Change]) -> None:
        write_all(db, changes)
        if not done:  # in the same transaction: recorded as soon as the batch is
            done.append(True)
            db.execute("UPDATE latest_plan SET at_us = ?", (plan_moment(later),))

    monkeypatch.setattr(SqliteStore, "_write_all", staticmethod(write_then_overtake))


def test_a_plan_overtaken_between_batches_stops_writing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chalicelib.adapters.store.dynamodb.CHANGES_PER_TRANSACTION", 2)
    monkeypatch.setattr("chalicelib.adapters.store.dynamodb.WRITERS", 1)  # one batch at a time
    monkeypatch.setattr(sqlite_store, "CHANGES_PER_TRANSACTION", 2)
    store.put_traffic(forecast())
    plan = current_plan(store, StoredTrafficSource(store), POLICY, NOW)
    overtake_after_the_first_batch(store, NOW + dt.timedelta(hours=1), monkeypatch)

    applied = apply_plan(store, plan, POLICY)

    assert [c.after.id for c in applied] == [r.id for r in plan.requests[:2]]
    assert [t.id for t in store.list_requests()] == [r.id for r in plan.requests[:2]]
    assert len(store.pending_notices()) == 2


@pytest.mark.dynamodb
def test_a_plan_overtaken_while_batches_are_in_flight_keeps_only_what_was_written(
    dynamo_store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several transactions in flight: those that beat the later plan are written, with their
    notices, and reported; no transaction starts after one found the plan overtaken."""
    monkeypatch.setattr("chalicelib.adapters.store.dynamodb.CHANGES_PER_TRANSACTION", 1)
    store = dynamo_store
    store.put_traffic(forecast(every_other_evening(("CN", "AP1", "EU")), days=21))
    plan = current_plan(store, StoredTrafficSource(store), POLICY, NOW)
    overtake_after_the_first_batch(store, NOW + dt.timedelta(hours=1), monkeypatch)
    with storage_writes(store) as written:
        applied = apply_plan(store, plan, POLICY)
        transactions = len(written())

    stored = sorted(t.id for t in store.list_requests())
    assert 1 <= len(applied) < 30
    assert sorted(c.after.id for c in applied) == stored
    assert sorted(n.request_id for n in store.pending_notices()) == stored
    # the overtaking plan's own write, and at most the other writers' batches then in flight
    assert transactions <= 1 + len(applied) + WRITERS


def test_requests_of_several_changes_are_written_in_order(store: Store) -> None:
    """A request changed twice in one call: its second change waits for its first."""
    store.put_traffic(forecast())
    plan = current_plan(store, StoredTrafficSource(store), POLICY, NOW)
    changes = reconcile({}, plan, NOW, MARGIN)
    again = [
        Change(
            after=c.after.model_copy(update={"version": 2}),
            expected_version=1,
            audit=c.audit.model_copy(update={"version": 2, "action": "updated"}),
        )
        for c in changes[:3]
    ]
    saved = store.save_requests([changes[0], again[0], *changes[1:], *again[1:]])
    assert not saved.conflicted
    assert len(saved.written) == len(changes) + 3
    for change in again:
        assert [e.version for e in store.audit_trail(change.after.id)] == [1, 2]
        assert [n.version for n in store.pending_notices() if n.request_id == change.after.id] == [
            1,
            2,
        ]


# -- what a cycle reads -------------------------------------------------------------------------


def test_old_requests_are_out_of_reach_and_left_alone(store: Store) -> None:
    store.put_traffic(forecast())
    cycle(store, NOW)
    january = forecast_request("daily-peak-jump/CN/2026-01-20", local(2026, 1, 20, 20))
    withdrawn = forecast_request("daily-peak-jump/EU/2026-02-10", local(2026, 2, 10, 20))
    for tracked in (january, withdrawn.model_copy(update={"presence": Presence.WITHDRAWN})):
        [change] = reconcile(
            {}, Plan(now=NOW, requests=[tracked.request], warnings=[]), NOW, MARGIN
        )
        store.save_request(
            change.after.model_copy(update={"presence": tracked.presence}), None, change.audit
        )

    store.put_traffic(forecast(extra=10.0))
    plan = current_plan(store, StoredTrafficSource(store), POLICY, NOW + dt.timedelta(hours=1))
    reach = reach_of(plan, MARGIN)
    in_reach = {t.id for t in store.requests_in_reach(reach)}
    assert in_reach == {r.id for r in plan.requests}
    everything = {t.id: t for t in store.list_requests()}
    assert len(everything) == 8
    assert reconcile(everything, plan, plan.now, MARGIN) == reconcile(
        {i: t for i, t in everything.items() if i in in_reach}, plan, plan.now, MARGIN
    )
    cycle(store, NOW + dt.timedelta(hours=1))
    assert [e.action for e in store.audit_trail(january.id)] == ["created"]


def forecast_request(request_id: str, start: dt.datetime, hours: float = 2) -> TrackedRequest:
    rule, scope, period = request_id.split("/")
    request = AssuranceRequest(
        id=request_id, rule=rule, scope=scope, period=period, burst_start=start,  # type: ignore[arg-type]
        burst_end=start + dt.timedelta(hours=hours), forecast_peak=300.0, baseline=50.0,
        threshold=250.0, rule_value=300.0, unit="Gbit/s", event=None, lead_time="3 working days",
        deadline=start - dt.timedelta(days=5), status=Status.OVERDUE, estimated_calendar=False,
    )  # fmt: skip
    return TrackedRequest(request=request, created_at=NOW, updated_at=NOW)


def test_reconcile_needs_nothing_out_of_reach() -> None:
    """Random stores and plans: what reconcile decides from the requests in reach is what it
    decides from all of them."""
    rng = random.Random(12)
    base = local(2026, 3, 10)
    kinds = [("daily-peak-jump", "CN"), ("daily-peak-jump", "EU"), ("vas-concurrency", "recording")]

    def burst(day: int, hour: float, hours: float, kind: tuple[str, str]) -> AssuranceRequest:
        start = base + dt.timedelta(days=day, hours=hour)
        period = start.date().isoformat()
        request = forecast_request(f"{kind[0]}/{kind[1]}/{period}", start, hours).request
        return request.model_copy(update={"forecast_peak": rng.choice([300.0, 320.0, 400.0])})

    def random_burst() -> AssuranceRequest:
        return burst(
            rng.randint(-40, 10),
            rng.choice([0, 5, 20, 23.5]),
            rng.choice([0.5, 3, 30]),
            rng.choice(kinds),
        )

    for _ in range(400):
        stored: dict[str, TrackedRequest] = {}
        for request in (random_burst() for _ in range(rng.randint(0, 12))):
            presence = rng.choice([Presence.ACTIVE, Presence.ACTIVE, Presence.WITHDRAWN])
            stored[request.id] = TrackedRequest(
                request=request, presence=presence, created_at=base, updated_at=base
            )
        now = base + dt.timedelta(hours=rng.randint(-24, 48))
        planned = {r.id: r for r in (random_burst() for _ in range(rng.randint(0, 8)))}
        plan = Plan(
            now=now, requests=[r for r in planned.values() if r.burst_end > now], warnings=[]
        )
        reach = reach_of(plan, MARGIN)
        in_reach = {i: t for i, t in stored.items() if reach.covers(t)}
        assert reconcile(in_reach, plan, now, MARGIN) == reconcile(stored, plan, now, MARGIN)


def test_steady_until_is_the_next_status_change_of_a_burst_still_ahead() -> None:
    plan = make_plan(forecast(), [], POLICY, NOW)
    window = dt.timedelta(hours=POLICY.lead_times.reminder_window_hours)
    assert steady_until(plan, window) == local(2026, 3, 1, 18)
    later = make_plan(forecast(), [], POLICY, local(2026, 3, 1, 18))
    assert steady_until(later, window) == local(2026, 3, 2, 18) + dt.timedelta(microseconds=1)
    # a burst that ends before its status would move does not count
    ending = make_plan(forecast(), [], POLICY, local(2026, 3, 3, 21))  # the CN 3rd runs to 22:00
    assert steady_until(ending, window) == local(2026, 3, 4, 18) + dt.timedelta(microseconds=1)
    assert steady_until(Plan(now=NOW, requests=[], warnings=[]), window) is None


# -- SQLite: a store written by the previous version ---------------------------------------------


def test_a_store_from_before_gets_the_new_columns_filled_in(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for step in sqlite_store.MIGRATIONS[:5]:
        assert isinstance(step, str)
        for statement in step.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 5")
    old = forecast_request("daily-peak-jump/CN/2026-03-09", local(2026, 3, 9, 20))
    db.execute(
        "INSERT INTO requests (id, version, deadline, doc) VALUES (?, ?, ?, ?)",
        (old.id, 1, old.request.deadline.isoformat(), old.model_dump_json()),
    )
    db.close()

    store = SqliteStore(path)
    try:
        reach = reach_of(Plan(now=NOW, requests=[], warnings=[]), MARGIN)
        assert store.requests_in_reach(reach) == [old]  # live, its burst ahead
        store.put_traffic(forecast())
        span = TimeRange(local(2026, 3, 1), local(2026, 4, 1))
        assert store.traffic_revision(span) is not None
        assert store.last_cycle() is None
    finally:
        store.close()
