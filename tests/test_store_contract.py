"""The store contract (chalicelib.workflows.ports.Store): one suite, run against every adapter.

SQLite runs on a temporary file, DynamoDB on DynamoDB Local (tests/dynamodb_local.py).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from chalicelib.adapters.store.dynamodb import DynamoStore
from chalicelib.config.settings import Settings
from chalicelib.domain.assurance import AssuranceRequest, EventRef, Status
from chalicelib.domain.errors import Conflict, StalePlan
from chalicelib.domain.events import Event
from chalicelib.domain.notices import Notice
from chalicelib.domain.tracking import (
    AuditEntry,
    Change,
    Decision,
    Presence,
    Reach,
    TrackedRequest,
)
from chalicelib.domain.traffic import STEP_SECONDS, Series, TimeRange, TrafficDeletion, TrafficSet
from chalicelib.workflows.ports import CycleMark, Store

CST = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=CST)


# -- builders ------------------------------------------------------------------------------------


def cst(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CST)


def event(event_id: str, start: dt.datetime, **fields: object) -> Event:
    values: dict[str, object] = {
        "id": event_id,
        "name": f"Event {event_id}",
        "start": start,
        "end": start + dt.timedelta(hours=3),
        "major": False,
    }
    values.update(fields)
    return Event.model_validate(values)


def assurance(
    day: dt.date,
    scope: str = "CN",
    peak: float = 312.5,
    deadline: dt.datetime | None = None,
    event_ref: EventRef | None = None,
) -> AssuranceRequest:
    start = dt.datetime.combine(day, dt.time(20, 5), tzinfo=CST)
    return AssuranceRequest(
        id=f"daily-peak-jump/{scope}/{day.isoformat()}",
        rule="daily-peak-jump",
        scope=scope,
        period=day.isoformat(),
        burst_start=start,
        burst_end=start + dt.timedelta(hours=2, minutes=30),
        forecast_peak=peak,
        baseline=50.0,
        threshold=250.0,
        rule_value=peak,
        unit="Gbit/s",
        event=event_ref,
        lead_time="3 working days",
        deadline=deadline or dt.datetime.combine(day - dt.timedelta(days=5), dt.time(18), CST),
        status=Status.UPCOMING,
        estimated_calendar=False,
    )


def tracked(request: AssuranceRequest, version: int = 1, **fields: object) -> TrackedRequest:
    at = NOW + dt.timedelta(minutes=version)
    return TrackedRequest.model_validate(
        {"request": request, "version": version, "created_at": NOW, "updated_at": at} | fields
    )


def entry(
    t: TrackedRequest, action: str, changes: dict[str, tuple[object, object]] | None = None
) -> AuditEntry:
    return AuditEntry(
        request_id=t.id,
        version=t.version,
        at=t.updated_at,
        actor="planner",
        action=action,
        changes=changes or {},
    )


def created(store: Store, request: AssuranceRequest) -> TrackedRequest:
    first = tracked(request)
    store.save_request(first, None, entry(first, "created"))
    return first


def bumped(t: TrackedRequest, **fields: object) -> TrackedRequest:
    return t.model_copy(
        update={"version": t.version + 1, "updated_at": t.updated_at + dt.timedelta(hours=1)}
        | fields
    )


def series(metric: str, scope: str, first: dt.datetime, values: list[float]) -> Series:
    start = int(first.timestamp())
    times = start + STEP_SECONDS * np.arange(len(values), dtype=np.int64)
    return Series(metric, scope, times, np.array(values, dtype=np.float64))


def traffic(*parts: Series) -> TrafficSet:
    return TrafficSet({(s.metric, s.scope): s for s in parts})


def assert_same_traffic(actual: TrafficSet, expected: TrafficSet) -> None:
    assert sorted(actual.series) == sorted(expected.series)
    for key, want in expected.series.items():
        got = actual.series[key]
        assert (got.metric, got.scope) == key
        assert got.times.dtype == np.int64
        assert got.values.dtype == np.float64
        np.testing.assert_array_equal(got.times, want.times)
        np.testing.assert_array_equal(got.values, want.values)  # bit for bit, not approximately


# -- events --------------------------------------------------------------------------------------


def test_event_round_trip_and_missing(store: Store) -> None:
    gala = event(
        "gala-2027",
        cst(2027, 2, 5, 20),
        name="春节联欢晚会 · Spring Festival Gala 🎆",
        major=True,
        scopes=("CN", "AP1", "transcoding"),
        notes="直播 + 点播; ünïcödé notes",
    )
    store.put_event(gala)
    assert store.get_event("gala-2027") == gala
    assert store.get_event("gala-2028") is None


def test_put_event_replaces_the_stored_one(store: Store) -> None:
    store.put_event(event("launch", cst(2026, 12, 1, 10)))
    moved = event("launch", cst(2026, 12, 3, 10), name="Product launch (moved)", major=True)
    store.put_event(moved)
    assert store.get_event("launch") == moved
    assert store.list_events() == [moved]


def test_delete_event_says_whether_it_existed(store: Store) -> None:
    store.put_event(event("concert", cst(2026, 12, 24, 19)))
    store.put_event(event("final", cst(2026, 12, 18, 23)))
    assert store.delete_event("concert") is True
    assert store.get_event("concert") is None
    assert store.delete_event("concert") is False
    assert store.delete_event("never-there") is False
    assert [e.id for e in store.list_events()] == ["final"]


def test_list_events_by_start_then_id(store: Store) -> None:
    same = cst(2027, 1, 1, 0)
    events = [
        event("z-new-year", same),
        event("a-new-year", same),
        # 2026-12-31 17:00 UTC is 2027-01-01 01:00 in Shanghai: later than `same`
        event("utc-given", dt.datetime(2026, 12, 31, 17, 0, tzinfo=UTC)),
        event("early", cst(2026, 12, 1, 8)),
        event("m-new-year", same),
    ]
    for e in events:
        store.put_event(e)
    listed = store.list_events()
    assert [e.id for e in listed] == [
        "early", "a-new-year", "m-new-year", "z-new-year", "utc-given"
    ]  # fmt: skip
    assert listed[-1] == events[2]


def test_no_events(store: Store) -> None:
    assert store.list_events() == []


# -- tracked requests ----------------------------------------------------------------------------


def test_missing_request(store: Store) -> None:
    assert store.get_request("daily-peak-jump/CN/2026-12-01") is None
    assert store.list_requests() == []
    assert store.audit_trail("daily-peak-jump/CN/2026-12-01") == []


def test_create_then_update_on_the_version_read(store: Store) -> None:
    first = created(store, assurance(dt.date(2026, 12, 7)))
    assert store.get_request(first.id) == first

    decided = bumped(
        first,
        decision=Decision(outcome="approved", by="U024BE7LH", at=NOW, note="好的, file it"),
    )
    store.save_request(decided, 1, entry(decided, "decided", {"decision": (None, "approved")}))
    filed = bumped(decided, ticket_id="CS2026112300042")
    store.save_request(filed, 2, entry(filed, "filed", {"ticket_id": (None, "CS2026112300042")}))

    assert store.get_request(first.id) == filed
    trail = store.audit_trail(first.id)
    assert [(a.version, a.action) for a in trail] == [(1, "created"), (2, "decided"), (3, "filed")]
    assert trail[1] == entry(decided, "decided", {"decision": (None, "approved")})


@pytest.mark.parametrize(
    ("expected_version", "why"),
    [(None, "create when it exists"), (1, "stale"), (3, "ahead"), (0, "wrong")],
)
def test_conflict_writes_nothing(store: Store, expected_version: int | None, why: str) -> None:
    first = created(store, assurance(dt.date(2026, 12, 7)))
    second = bumped(first, presence=Presence.WITHDRAWN)
    store.save_request(second, 1, entry(second, "withdrawn"))
    before = (store.get_request(first.id), store.audit_trail(first.id))

    rival = bumped(second, request=assurance(dt.date(2026, 12, 7), peak=999.0))
    # the rival's audit entry would not collide with a stored one, so only the check stops it
    rival = rival.model_copy(update={"version": 7})
    with pytest.raises(Conflict):
        store.save_request(rival, expected_version, entry(rival, f"updated ({why})"))

    assert (store.get_request(first.id), store.audit_trail(first.id)) == before
    assert store.list_requests() == [second]


def test_update_of_a_missing_request_conflicts_and_creates_nothing(store: Store) -> None:
    ghost = tracked(assurance(dt.date(2026, 12, 9)), version=2)
    with pytest.raises(Conflict):
        store.save_request(ghost, 1, entry(ghost, "updated"))
    assert store.get_request(ghost.id) is None
    assert store.audit_trail(ghost.id) == []
    assert store.list_requests() == []


def test_a_duplicate_audit_entry_aborts_the_whole_write(store: Store) -> None:
    """(request_id, version) is unique in the trail: a write whose entry exists writes nothing."""
    first = created(store, assurance(dt.date(2026, 12, 7)))
    second = bumped(first)
    store.save_request(second, 1, entry(second, "updated"))
    # the request is at 2; writing it as version 3 with an audit entry for version 2 again
    third = bumped(second)
    clash = entry(second, "updated twice")
    with pytest.raises(Conflict):
        store.save_request(third, 2, clash)
    assert store.get_request(first.id) == second
    assert [a.action for a in store.audit_trail(first.id)] == ["created", "updated"]


def test_audit_trail_is_oldest_first_and_per_request(store: Store) -> None:
    current = created(store, assurance(dt.date(2026, 12, 7)))
    other = created(store, assurance(dt.date(2026, 12, 7), scope="AP1"))
    for _ in range(11):  # versions 2..12: numeric order, not text order ("10" < "2")
        following = bumped(current, request=assurance(dt.date(2026, 12, 7), peak=300 + _))
        store.save_request(
            following, current.version, entry(following, "updated", {"forecast_peak": (1, 2)})
        )
        current = following
    trail = store.audit_trail(current.id)
    assert [a.version for a in trail] == list(range(1, 13))
    assert trail[0].action == "created"
    assert all(a.request_id == current.id for a in trail)
    assert store.audit_trail(other.id) == [entry(other, "created")]
    assert store.get_request(current.id) == current


def test_list_requests_by_deadline_then_id(store: Store) -> None:
    shared_deadline = cst(2026, 12, 2, 18)
    requests = [
        assurance(dt.date(2026, 12, 20), deadline=cst(2026, 12, 15, 18)),
        assurance(dt.date(2026, 12, 7), scope="SA", deadline=shared_deadline),
        assurance(
            dt.date(2027, 2, 5),
            event_ref=EventRef(id="gala", name="春晚", major=True),
            deadline=cst(2027, 1, 5, 18),
        ),
        assurance(dt.date(2026, 12, 7), scope="AP1", deadline=shared_deadline),
        # the same instant as shared_deadline written in UTC: ties, ordered by id
        assurance(
            dt.date(2026, 12, 7), scope="EU", deadline=dt.datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
        ),
        assurance(dt.date(2026, 12, 1), deadline=cst(2026, 11, 26, 18)),
    ]
    for r in requests:
        created(store, r)
    listed = store.list_requests()
    assert [t.id for t in listed] == [
        "daily-peak-jump/CN/2026-12-01",
        "daily-peak-jump/AP1/2026-12-07",
        "daily-peak-jump/EU/2026-12-07",
        "daily-peak-jump/SA/2026-12-07",
        "daily-peak-jump/CN/2026-12-20",
        "daily-peak-jump/CN/2027-02-05",
    ]
    assert listed[-1] == tracked(requests[2])


# -- batches of changes, and the latest plan -------------------------------------------------------


def change(t: TrackedRequest, expected: int | None, action: str) -> Change:
    return Change(t, expected, entry(t, action))


def test_save_requests_writes_each_change_with_its_audit_entry_and_notice(store: Store) -> None:
    first = created(store, assurance(dt.date(2026, 12, 7)))
    store.notice_sent(Notice(request=first, audit=entry(first, "created")))
    updated = bumped(first, request=assurance(dt.date(2026, 12, 7), peak=330.0))
    days = [dt.date(2026, 12, 8) + dt.timedelta(days=i) for i in range(40)]  # > 1 transaction
    fresh = [tracked(assurance(day, scope="AP2")) for day in days]
    changes = [change(updated, 1, "updated"), *(change(t, None, "created") for t in fresh)]

    saved = store.save_requests(changes, planned_at=NOW)

    assert (saved.written, saved.conflicted, saved.stale) == (changes, [], False)
    assert store.list_requests() == sorted(
        [updated, *fresh], key=lambda t: (t.request.deadline, t.id)
    )
    assert store.audit_trail(first.id) == [entry(first, "created"), changes[0].audit]
    assert all(store.audit_trail(t.id) == [entry(t, "created")] for t in fresh)
    assert store.pending_notices() == sorted(
        (Notice(request=c.after, audit=c.audit) for c in changes),
        key=lambda n: (n.audit.at, n.request_id, n.version),
    )


def test_notices_leave_the_outbox_in_any_order_and_once(store: Store) -> None:
    first = created(store, assurance(dt.date(2026, 12, 7)))
    second = bumped(first)
    store.save_request(second, 1, entry(second, "updated"))
    third = bumped(second)
    store.save_request(third, 2, entry(third, "decided"))
    notices = [
        Notice(request=first, audit=entry(first, "created")),
        Notice(request=second, audit=entry(second, "updated")),
        Notice(request=third, audit=entry(third, "decided")),
    ]
    assert store.pending_notices() == notices

    store.notice_sent(notices[1])
    assert store.pending_notices() == [notices[0], notices[2]]
    store.notice_sent(notices[1])  # gone already: fine
    store.notice_sent(notices[2])
    assert store.pending_notices() == [notices[0]]
    store.notice_sent(notices[0])
    assert store.pending_notices() == []
    assert store.get_request(first.id) == third
    assert [e.action for e in store.audit_trail(first.id)] == ["created", "updated", "decided"]


def test_save_requests_leaves_out_only_the_changes_that_conflict(store: Store) -> None:
    first = created(store, assurance(dt.date(2026, 12, 7)))
    second = created(store, assurance(dt.date(2026, 12, 7), scope="AP1"))
    stale = bumped(first)
    clash = bumped(second)  # its audit entry collides with the stored version 1
    fresh = tracked(assurance(dt.date(2026, 12, 9)))
    chained = bumped(fresh)  # follows a change of the same batch: fine
    changes = [
        change(stale, 3, "updated"),
        Change(clash, 1, entry(second, "updated twice")),
        change(fresh, None, "created"),
        change(chained, 1, "updated"),
        change(first, None, "created again"),
    ]

    saved = store.save_requests(changes)

    assert saved.written == [changes[2], changes[3]]
    assert saved.conflicted == [changes[0], changes[1], changes[4]]
    assert store.get_request(first.id) == first
    assert store.get_request(second.id) == second
    assert [a.action for a in store.audit_trail(second.id)] == ["created"]
    assert store.get_request(fresh.id) == chained


def test_save_requests_of_a_plan_older_than_the_latest_writes_nothing(store: Store) -> None:
    store.record_plan(NOW + dt.timedelta(hours=1))
    fresh = tracked(assurance(dt.date(2026, 12, 9)))

    saved = store.save_requests([change(fresh, None, "created")], planned_at=NOW)

    assert (saved.written, saved.conflicted, saved.stale) == ([], [], True)
    assert store.list_requests() == []
    assert store.pending_notices() == []
    assert store.save_requests([]).written == []


def test_the_latest_cycle_is_kept_until_a_planned_write(store: Store) -> None:
    assert store.last_cycle() is None
    mark = CycleMark(
        planned_at=NOW,
        inputs="sha256-of-everything",
        steady_until=NOW + dt.timedelta(hours=9),
        ends=tuple(sorted(int(cst(2026, 12, 1 + i % 28, 22).timestamp()) for i in range(2000))),
    )
    store.record_plan(NOW, mark)
    kept = store.last_cycle()
    assert kept == mark
    assert kept.planned(cst(2026, 12, 10, 23)) == sum(
        1 for end in mark.ends if end > cst(2026, 12, 10, 23).timestamp()
    )
    with pytest.raises(StalePlan):
        store.record_plan(NOW - dt.timedelta(seconds=1))
    assert store.last_cycle() == mark

    store.record_plan(NOW, CycleMark(NOW, "other", None, ()))
    assert store.last_cycle() == CycleMark(NOW, "other", None, ())
    store.save_request(*_created(dt.date(2026, 12, 7)), planned_at=NOW)  # a planned write
    assert store.last_cycle() is None
    store.record_plan(NOW, mark)
    first = store.list_requests()[0]
    decided = bumped(first, decision=Decision(outcome="approved", by="U1", at=NOW))
    store.save_request(decided, 1, entry(decided, "decided"))  # not a plan's: the mark stays
    assert store.last_cycle() == mark
    store.save_requests([], planned_at=NOW + dt.timedelta(minutes=5))  # nothing to write
    assert store.last_cycle() == mark


def _created(day: dt.date) -> tuple[TrackedRequest, None, AuditEntry]:
    first = tracked(assurance(day))
    return first, None, entry(first, "created")


def test_requests_in_reach(store: Store) -> None:
    def stored(day: dt.date, scope: str, presence: Presence = Presence.ACTIVE) -> TrackedRequest:
        t = tracked(assurance(day, scope=scope), presence=presence)
        store.save_request(t, None, entry(t, "created"))
        return t

    ended_live = stored(dt.date(2026, 10, 3), "CN")  # burst over long ago, still live
    old_withdrawn = stored(dt.date(2026, 10, 4), "EU", Presence.WITHDRAWN)
    recent_withdrawn = stored(dt.date(2026, 11, 20), "EU", Presence.WITHDRAWN)  # its period
    ending_live = stored(dt.date(2026, 11, 19), "AP1")  # ends 19 Nov 22:35
    ahead = stored(dt.date(2026, 12, 7), "SA")
    ahead_withdrawn = stored(dt.date(2026, 12, 9), "SA", Presence.WITHDRAWN)

    reach = Reach(first_month="2026-11", ends_from=cst(2026, 11, 19, 22))
    assert store.requests_in_reach(reach) == sorted(
        [recent_withdrawn, ending_live, ahead, ahead_withdrawn],
        key=lambda t: (t.request.deadline, t.id),
    )
    assert store.requests_in_reach(Reach(None, cst(2026, 11, 19, 23))) == [ahead]
    assert store.requests_in_reach(Reach("2026-01", cst(2030, 1, 1))) == store.list_requests()
    assert ended_live not in store.requests_in_reach(reach)
    assert old_withdrawn not in store.requests_in_reach(reach)


def test_traffic_revision_changes_with_the_points_of_its_months(store: Store) -> None:
    december = TimeRange(cst(2026, 12, 1), cst(2027, 1, 1))
    empty = store.traffic_revision(december)
    store.put_traffic(traffic(series("bandwidth", "CN", cst(2026, 12, 10), [10.0, 11.0])))
    first = store.traffic_revision(december)
    assert first is not None
    assert first != empty
    assert store.traffic_revision(december) == first  # nothing written: the same

    store.put_traffic(traffic(series("bandwidth", "CN", cst(2027, 3, 10), [1.0])))  # March
    assert store.traffic_revision(december) == first
    store.put_traffic(traffic(series("bandwidth", "EU", cst(2026, 12, 20), [7.0])))
    second = store.traffic_revision(december)
    assert second not in (first, empty)
    store.delete_traffic(
        TrafficDeletion(
            metric="bandwidth",
            scope="EU",
            start=cst(2026, 12, 20),
            end=cst(2026, 12, 21),
            by="U1",
            at=NOW,
        )
    )
    assert store.traffic_revision(december) not in (second, None)


# -- traffic -------------------------------------------------------------------------------------


def test_no_traffic(store: Store) -> None:
    assert len(store.get_traffic()) == 0


def test_traffic_round_trip_is_exact(store: Store) -> None:
    rng = np.random.default_rng(20261123)
    values = rng.uniform(0, 400, 2000)
    values[:4] = [0.0, 0.1, 1e-300, 1.7976931348623157e308]
    bandwidth = series("bandwidth", "CN", cst(2026, 12, 1), values.tolist())
    gappy = series("bandwidth", "AP1", cst(2026, 12, 3), [1.5, 2.25, 3.0, 4.75, 6.0])
    gappy = Series("bandwidth", "AP1", gappy.times[[0, 1, 4]], gappy.values[[0, 1, 4]])
    tasks = series("concurrency", "transcoding", cst(2026, 12, 2, 20), [12000, 16001, 9000.5])
    uploaded = traffic(bandwidth, gappy, tasks)
    store.put_traffic(uploaded)
    assert_same_traffic(store.get_traffic(), uploaded)


def test_second_upload_merges_point_by_point_new_wins(store: Store) -> None:
    start = cst(2026, 12, 10)
    store.put_traffic(traffic(series("bandwidth", "CN", start, [10.0, 11.0, 12.0, 13.0])))
    later = start + dt.timedelta(minutes=10)
    store.put_traffic(
        traffic(
            series("bandwidth", "CN", later, [120.0, 130.0, 140.0, 150.0]),
            series("bandwidth", "EU", start, [7.0]),
        )
    )
    expected = traffic(
        series("bandwidth", "CN", start, [10.0, 11.0, 120.0, 130.0, 140.0, 150.0]),
        series("bandwidth", "EU", start, [7.0]),
    )
    assert_same_traffic(store.get_traffic(), expected)


def test_chunks_across_a_month_boundary(store: Store) -> None:
    # 2026-01-31 22:00 UTC .. 2026-02-01 02:00 UTC: two UTC months, though all of it is
    # 1 February in Shanghai. 48 points, 24 in each month.
    first = dt.datetime(2026, 1, 31, 22, 0, tzinfo=UTC)
    values = [float(i) for i in range(48)]
    store.put_traffic(traffic(series("bandwidth", "CN", first, values)))
    assert_same_traffic(store.get_traffic(), traffic(series("bandwidth", "CN", first, values)))

    # a February-only upload leaves January alone and replaces the points it gives
    february = dt.datetime(2026, 2, 1, 1, 0, tzinfo=UTC)
    store.put_traffic(traffic(series("bandwidth", "CN", february, [-1.0 + 1000] * 24)))
    expected = values[:36] + [999.0] * 24
    assert_same_traffic(store.get_traffic(), traffic(series("bandwidth", "CN", first, expected)))


def test_many_months_in_one_upload(store: Store) -> None:
    """150 monthly chunks: more than one DynamoDB transaction takes; all of them land."""
    months = [dt.datetime(2014 + m // 12, m % 12 + 1, 15, 12, 0, tzinfo=UTC) for m in range(150)]
    times = np.array([int(m.timestamp()) for m in months], dtype=np.int64)
    sparse = Series("bandwidth", "MEAA", times, np.arange(150, dtype=np.float64) * 0.5)
    full_month = series("bandwidth", "SA", dt.datetime(2026, 3, 1, tzinfo=UTC), [9.75] * 8928)
    store.put_traffic(traffic(sparse, full_month))
    store.put_traffic(traffic(Series("bandwidth", "MEAA", times[::10], np.full(15, 42.0))))
    merged = sparse.values.copy()
    merged[::10] = 42.0
    assert_same_traffic(
        store.get_traffic(),
        traffic(Series("bandwidth", "MEAA", times, merged), full_month),
    )


# -- DynamoDB only -------------------------------------------------------------------------------


@pytest.mark.dynamodb
def test_dynamodb_lists_follow_every_page(dynamo_store: DynamoStore) -> None:
    """Two items a page: every Scan and Query must follow LastEvaluatedKey to the end."""
    paged = DynamoStore(dynamo_store.client, dynamo_store.table_prefix, page_size=2)
    events = [event(f"e{i}", cst(2026, 12, 1 + i, 20)) for i in range(5)]
    for e in reversed(events):
        paged.put_event(e)
    assert paged.list_events() == events

    current = created(paged, assurance(dt.date(2026, 12, 7)))
    for _ in range(4):
        following = bumped(current)
        paged.save_request(following, current.version, entry(following, "updated"))
        current = following
    others = [created(paged, assurance(dt.date(2026, 12, 8 + i), scope="AP2")) for i in range(4)]
    assert [a.version for a in paged.audit_trail(current.id)] == [1, 2, 3, 4, 5]
    assert paged.list_requests() == [current, *others]
    assert len(paged.pending_notices()) == 5 + 4  # the outbox index is Scanned page by page

    times = [int(dt.datetime(2026, m, 2, tzinfo=UTC).timestamp()) for m in range(1, 6)]
    monthly = Series("bandwidth", "CN", np.array(times), np.arange(1.0, 6.0))
    paged.put_traffic(traffic(monthly))
    got = paged.get_traffic().series[("bandwidth", "CN")]
    assert got.values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.dynamodb
def test_dynamodb_a_notice_added_while_one_is_taken_out_stays(dynamo_store: DynamoStore) -> None:
    """The outbox changes between the removal's guess and its write: it is read again, and only
    the sent notice goes; the request stays in the outbox index for the other."""
    store = dynamo_store
    first = created(store, assurance(dt.date(2026, 12, 7)))
    second = bumped(first)
    meanwhile: list[bool] = []

    def another_change(**_: object) -> None:
        if not meanwhile:
            meanwhile.append(True)
            store.save_request(second, 1, entry(second, "updated"))

    store.client.meta.events.register("before-call.dynamodb.TransactWriteItems", another_change)
    try:
        store.notice_sent(Notice(request=first, audit=entry(first, "created")))
    finally:
        store.client.meta.events.unregister(
            "before-call.dynamodb.TransactWriteItems", another_change
        )
    assert store.pending_notices() == [Notice(request=second, audit=entry(second, "updated"))]
    index = store.client.scan(TableName=store.requests_table, IndexName="outbox")
    assert [i["id"]["S"] for i in index["Items"]] == [first.id]
    store.notice_sent(Notice(request=second, audit=entry(second, "updated")))
    index = store.client.scan(TableName=store.requests_table, IndexName="outbox")
    assert index["Items"] == []


@pytest.mark.dynamodb
def test_dynamodb_reads_trails_and_notices_written_before_they_moved(
    dynamo_store: DynamoStore,
) -> None:
    """Items as stores before this layout wrote them: the request alone on its item, its audit
    entries in the audit table, its notices in the notices table. They are read with the new
    ones, a change appends to them, and a sent notice of old is deleted from its table."""
    store = dynamo_store
    first = tracked(assurance(dt.date(2026, 12, 7)))
    old_entry, old_notice = (
        entry(first, "created"),
        Notice(request=first, audit=entry(first, "created")),
    )
    put = store.client.put_item
    put(TableName=store.requests_table, Item={
        "id": {"S": first.id}, "version": {"N": "1"}, "doc": {"S": first.model_dump_json()},
        "deadline": {"S": first.request.deadline.isoformat()},
    })  # fmt: skip
    for table, doc in ((store.audit_table, old_entry), (store.notices_table, old_notice)):
        key = {"request_id": {"S": first.id}, "version": {"N": "1"}}
        put(TableName=table, Item=key | {"doc": {"S": doc.model_dump_json()}})
    assert store.audit_trail(first.id) == [old_entry]
    assert store.pending_notices() == [old_notice]

    second = bumped(first)
    with pytest.raises(Conflict):  # version 1 is in the old trail already
        store.save_request(second, 1, entry(first, "created again"))
    store.save_request(second, 1, entry(second, "updated"))
    assert store.audit_trail(first.id) == [old_entry, entry(second, "updated")]
    new_notice = Notice(request=second, audit=entry(second, "updated"))
    assert store.pending_notices() == [old_notice, new_notice]
    store.notice_sent(old_notice)
    assert store.client.scan(TableName=store.notices_table)["Items"] == []
    assert store.pending_notices() == [new_notice]
    store.notice_sent(new_notice)
    assert store.pending_notices() == []


@pytest.mark.dynamodb
def test_dynamodb_errors_other_than_a_lost_condition_propagate(dynamodb_settings: Settings) -> None:
    missing = DynamoStore.connect(
        dynamodb_settings.table_prefix, dynamodb_settings.dynamodb_endpoint
    )  # its tables were never created
    first = tracked(assurance(dt.date(2026, 12, 7)))
    with pytest.raises(ClientError) as raised:
        missing.save_request(first, None, entry(first, "created"))
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def stubbed_store() -> tuple[DynamoStore, Stubber]:
    """A DynamoStore whose client answers from a script (botocore's Stubber), no server."""
    client = boto3.session.Session().client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="stub",
        aws_secret_access_key="stub",
    )
    return DynamoStore(client, "stub"), Stubber(client)


def cancelled(stubber: Stubber, *codes: str) -> None:
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message=f"Transaction cancelled, please refer cancellation reasons [{codes}]",
        modeled_fields={"CancellationReasons": [{"Code": code} for code in codes]},
    )


def test_dynamodb_retries_a_transaction_that_collided_with_another() -> None:
    store, stubber = stubbed_store()
    cancelled(stubber, "TransactionConflict", "None")
    cancelled(stubber, "None", "TransactionConflict")
    stubber.add_response("transact_write_items", {})
    first = tracked(assurance(dt.date(2026, 12, 7)))
    with stubber:
        store.save_request(first, None, entry(first, "created"))
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("answers", "raised"),
    [
        ([("ConditionalCheckFailed", "None")], Conflict),
        ([("None", "ConditionalCheckFailed")], Conflict),
        ([("TransactionConflict", "None")] * 5, Conflict),  # gave up: the caller re-reads
        ([("ValidationError", "None")], ClientError),
    ],
)
def test_dynamodb_cancelled_transactions(
    answers: list[tuple[str, str]], raised: type[Exception]
) -> None:
    store, stubber = stubbed_store()
    for codes in answers:
        cancelled(stubber, *codes)
    first = tracked(assurance(dt.date(2026, 12, 7)))
    with stubber, pytest.raises(raised):
        store.save_request(first, None, entry(first, "created"))
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("answers", "raised"),
    [
        ([("ConditionalCheckFailed",)], StalePlan),
        ([("TransactionConflict",)] * 5, Conflict),  # the marker stayed busy: try again later
    ],
)
def test_dynamodb_recording_a_plan(answers: list[tuple[str]], raised: type[Exception]) -> None:
    store, stubber = stubbed_store()
    for codes in answers:
        cancelled(stubber, *codes)
    with stubber, pytest.raises(raised):
        store.record_plan(NOW)
    stubber.assert_no_pending_responses()
