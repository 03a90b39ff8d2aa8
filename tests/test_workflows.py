"""Planning cycles against the embedded store: idempotent, decision-preserving, auditable."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from builders import bandwidth_csv

from chalicelib.adapters.console import ConsoleNotifier
from chalicelib.adapters.outbox_filer import OutboxFiler
from chalicelib.adapters.store.sqlite import SqliteStore
from chalicelib.adapters.traffic_sources import StoredTrafficSource
from chalicelib.domain.events import Event
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import Presence
from chalicelib.domain.traffic import TrafficSet
from chalicelib.domain.traffic_parsing import parse_csv
from chalicelib.workflows.approvals import decide_request
from chalicelib.workflows.events import remove_event, save_event
from chalicelib.workflows.notices import dispatch_notices
from chalicelib.workflows.planning import run_cycle
from chalicelib.workflows.reminders import deadline_watch

CST = ZoneInfo("Asia/Shanghai")
POLICY = Policy()


def cst(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CST)


def cn_traffic(days: int, jump_day: dt.date, jump: float = 260.0) -> TrafficSet:
    """CN bandwidth at 50 Gbit/s from 2026-03-01, with an evening jump on ``jump_day``."""
    peaks = {("CN", jump_day): 50.0 + jump}
    return parse_csv(bandwidth_csv(dt.date(2026, 3, 1), days, {"CN": 50.0}, peaks))


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "state.sqlite3")
    yield s
    s.close()


def decide(store, request_id: str, outcome: str, by: str, at: dt.datetime):
    reason = "not needed" if outcome == "rejected" else None
    return decide_request(store, request_id, outcome, by, at, reason)


def cycle(store, traffic: TrafficSet, now: dt.datetime, out: io.StringIO | None = None):
    store.put_traffic(traffic)
    notifier = ConsoleNotifier(out or io.StringIO(), CST)
    return run_cycle(store, StoredTrafficSource(store), notifier, POLICY, now)


def test_first_cycle_creates_the_request_and_says_so(store):
    out = io.StringIO()
    report = cycle(store, cn_traffic(20, dt.date(2026, 3, 9)), cst(2026, 3, 1, 9), out)

    assert [c.action for c in report.changes] == ["created"]
    tracked = store.get_request("daily-peak-jump/CN/2026-03-09")
    assert tracked is not None
    assert tracked.request.deadline == cst(2026, 3, 4, 18)
    assert tracked.version == 1
    assert "created   daily-peak-jump/CN/2026-03-09: file by 2026-03-04 18:00 CST" in out.getvalue()
    assert [e.action for e in store.audit_trail(tracked.id)] == ["created"]


def test_second_cycle_on_the_same_input_changes_nothing(store):
    traffic = cn_traffic(20, dt.date(2026, 3, 9))
    cycle(store, traffic, cst(2026, 3, 1, 9))
    before = store.list_requests()

    report = cycle(store, traffic, cst(2026, 3, 1, 9))

    assert report.changes == []
    assert store.list_requests() == before
    assert len(store.audit_trail("daily-peak-jump/CN/2026-03-09")) == 1


def test_replanning_keeps_the_decision_and_records_the_new_deadline(store):
    cycle(store, cn_traffic(20, dt.date(2026, 3, 9)), cst(2026, 3, 1, 9))
    decided = decide(
        store, "daily-peak-jump/CN/2026-03-09", "approved", "U123", cst(2026, 3, 1, 10)
    )

    # Two days later the status moves from upcoming to due (deadline within 72 h).
    report = cycle(store, cn_traffic(20, dt.date(2026, 3, 9)), cst(2026, 3, 3, 9))

    after = store.get_request(decided.id)
    assert after.decision == decided.decision
    assert after.version == 3
    assert after.request.status == "due"
    assert report.changes[0].audit.changes == {"status": ("upcoming", "due")}


def test_a_vanished_burst_is_withdrawn_not_deleted_and_comes_back(store):
    cycle(store, cn_traffic(20, dt.date(2026, 3, 9)), cst(2026, 3, 1, 9))
    calm = cn_traffic(20, dt.date(2026, 3, 9), jump=0.0)

    withdrawn = cycle(store, calm, cst(2026, 3, 1, 9)).changes
    assert [c.action for c in withdrawn] == ["withdrawn"]
    assert store.get_request("daily-peak-jump/CN/2026-03-09").presence is Presence.WITHDRAWN

    restored = cycle(store, cn_traffic(20, dt.date(2026, 3, 9)), cst(2026, 3, 1, 9)).changes
    assert [c.action for c in restored] == ["restored"]
    trail = [e.action for e in store.audit_trail("daily-peak-jump/CN/2026-03-09")]
    assert trail == ["created", "withdrawn", "restored"]


def test_a_major_event_change_replans_the_affected_request(store):
    traffic = cn_traffic(20, dt.date(2026, 3, 9))
    cycle(store, traffic, cst(2026, 3, 1, 9))
    final = Event(
        id="cup-final", name="Cup final", start=cst(2026, 3, 9, 20), end=cst(2026, 3, 9, 23),
        major=True,
    )  # fmt: skip
    source = StoredTrafficSource(store)

    _, changes = save_event(store, source, POLICY, final, cst(2026, 3, 1, 9), create=True)

    assert [c.action for c in changes] == ["updated"]
    tracked = store.get_request("daily-peak-jump/CN/2026-03-09")
    # One month before 2026-03-09 is Monday 2026-02-09, a working day.
    assert tracked.request.deadline == cst(2026, 2, 9, 18)
    assert tracked.request.lead_time == "1 month"
    assert tracked.request.status == "overdue"

    changes = remove_event(store, source, POLICY, "cup-final", cst(2026, 3, 1, 9))
    assert store.get_request(tracked.id).request.deadline == cst(2026, 3, 4, 18)
    assert [c.action for c in changes] == ["updated"]


def test_deadline_watch_reminds_at_3_1_and_0_working_days_each_once(store, tmp_path):
    cycle(store, cn_traffic(20, dt.date(2026, 3, 9)), cst(2026, 2, 25, 9))  # due Wed 4 March
    out, filer = io.StringIO(), OutboxFiler(tmp_path)

    def watch(*moment: int) -> list[int | None]:
        report = deadline_watch(store, filer, POLICY, cst(*moment))
        dispatch_notices(store, ConsoleNotifier(out, CST), cst(*moment))
        return [t.last_reminder for t in report.reminded]

    # Saturday 28 February 2026 is a make-up working day for the Spring Festival (调休).
    assert watch(2026, 2, 26, 9, 30) == []  # Thu: 5 working days left (Fri, Sat, Mon-Wed)
    assert watch(2026, 2, 27, 9, 30) == []  # Fri: 4 left
    assert watch(2026, 2, 28, 9, 30) == [3]  # Sat, at work: Mon, Tue, Wed left
    assert watch(2026, 3, 1, 9, 30) == []  # Sunday: still 3, already said
    assert watch(2026, 3, 2, 9, 30) == []  # Mon: 2 left, no point
    assert watch(2026, 3, 3, 9, 30) == [1]
    assert watch(2026, 3, 3, 15, 0) == []
    assert watch(2026, 3, 4, 9, 30) == [0]
    assert out.getvalue().count("reminder  daily-peak-jump/CN/2026-03-09") == 3
    assert "(0 working days left)" in out.getvalue()
    actions = [e.action for e in store.audit_trail("daily-peak-jump/CN/2026-03-09")]
    assert actions == ["created", "reminded", "reminded", "reminded"]


def test_a_watch_that_skipped_days_sends_only_the_most_urgent_reminder(store, tmp_path):
    cycle(store, cn_traffic(20, dt.date(2026, 3, 9)), cst(2026, 2, 25, 9))
    report = deadline_watch(store, OutboxFiler(tmp_path), POLICY, cst(2026, 3, 4, 8))
    assert [t.last_reminder for t in report.reminded] == [0]


def test_deadline_watch_skips_rejected_requests(store, tmp_path):
    cycle(store, cn_traffic(20, dt.date(2026, 3, 9)), cst(2026, 3, 1, 9))
    decide(store, "daily-peak-jump/CN/2026-03-09", "rejected", "U1", cst(2026, 3, 1, 10))

    report = deadline_watch(store, OutboxFiler(tmp_path), POLICY, cst(2026, 3, 3, 9))
    assert report.reminded == []


def test_a_reforecast_that_moves_the_surge_past_midnight_keeps_the_request(store):
    def forecast(day: dt.date, hours: tuple[int, int]) -> TrafficSet:
        peaks = {("CN", day): 310.0}
        return parse_csv(bandwidth_csv(dt.date(2026, 3, 1), 20, {"CN": 50.0}, peaks, hours))

    cycle(store, forecast(dt.date(2026, 3, 9), (23, 24)), cst(2026, 3, 1, 9))
    decide(store, "daily-peak-jump/CN/2026-03-09", "approved", "U1", cst(2026, 3, 2, 10))

    # The next forecast has the surge 00:00-01:00 on the 10th: an hour later, another day.
    report = cycle(store, forecast(dt.date(2026, 3, 10), (0, 1)), cst(2026, 3, 3, 9))

    # Same request, but the approval was for another window: people are asked again.
    assert [(c.action, c.after.id) for c in report.changes] == [
        ("reopened", "daily-peak-jump/CN/2026-03-09")
    ]
    [tracked] = store.list_requests()
    assert tracked.decision is None
    request = tracked.request
    assert (request.burst_start, request.burst_end) == (cst(2026, 3, 10), cst(2026, 3, 10, 1))
    assert request.deadline == cst(2026, 3, 5, 18)  # 3 working days before Tue 10 March
    trail = store.audit_trail(tracked.id)
    assert [e.action for e in trail] == ["created", "decided", "reopened"]
    assert trail[-1].changes["burst_start"] == (
        "2026-03-09T23:00:00+08:00", "2026-03-10T00:00:00+08:00",
    )  # fmt: skip
    # The same forecast again changes nothing: the moved request already says it all.
    assert cycle(store, forecast(dt.date(2026, 3, 10), (0, 1)), cst(2026, 3, 3, 10)).changes == []


def test_a_surge_far_from_the_old_one_is_a_new_request(store):
    def forecast(day: dt.date) -> TrafficSet:
        return parse_csv(bandwidth_csv(dt.date(2026, 3, 1), 20, {"CN": 50.0}, {("CN", day): 310.0}))

    cycle(store, forecast(dt.date(2026, 3, 9)), cst(2026, 3, 1, 9))
    report = cycle(store, forecast(dt.date(2026, 3, 12)), cst(2026, 3, 1, 10))
    assert sorted((c.action, c.after.id) for c in report.changes) == [
        ("created", "daily-peak-jump/CN/2026-03-12"),
        ("withdrawn", "daily-peak-jump/CN/2026-03-09"),
    ]


@pytest.mark.parametrize(
    ("jump", "action", "still_decided"),
    [(310.0, "reopened", False), (270.0, "updated", True)],
    ids=["peak-up-16%", "peak-up-3%"],
)
def test_a_material_change_clears_the_approval_and_asks_again(store, jump, action, still_decided):
    cycle(store, cn_traffic(20, dt.date(2026, 3, 9)), cst(2026, 3, 1, 9))  # peak 310
    decide(store, "daily-peak-jump/CN/2026-03-09", "approved", "U1", cst(2026, 3, 1, 10))

    report = cycle(store, cn_traffic(20, dt.date(2026, 3, 9), jump), cst(2026, 3, 2, 9))

    assert [c.action for c in report.changes] == [action]
    tracked = store.get_request("daily-peak-jump/CN/2026-03-09")
    assert tracked.request.forecast_peak == 50.0 + jump
    assert (tracked.decision is not None) is still_decided
    if not still_decided:
        assert report.changes[0].audit.changes["decision"] == ("approved by U1", None)


def test_a_window_beyond_the_approved_one_asks_again(store):
    def forecast(hours: tuple[int, int]) -> TrafficSet:
        peaks = {("CN", dt.date(2026, 3, 9)): 310.0}
        return parse_csv(bandwidth_csv(dt.date(2026, 3, 1), 20, {"CN": 50.0}, peaks, hours))

    cycle(store, forecast((20, 22)), cst(2026, 3, 1, 9))
    decide(store, "daily-peak-jump/CN/2026-03-09", "approved", "U1", cst(2026, 3, 1, 10))
    assert [c.action for c in cycle(store, forecast((20, 21)), cst(2026, 3, 2, 9)).changes] == [
        "updated"  # inside what was approved
    ]
    assert [c.action for c in cycle(store, forecast((19, 22)), cst(2026, 3, 2, 10)).changes] == [
        "reopened"  # starts an hour before what was approved
    ]


def test_an_event_stored_by_older_code_in_year_1_breaks_no_plan(store):
    # Input refuses such dates now; reading back skips the check, so old data still loads.
    stray = Event.model_validate_json(
        '{"id": "typo", "name": "Typo", "start": "0001-01-01T00:00:00+08:00",'
        ' "end": "9999-12-31T23:00:00-08:00", "major": true, "scopes": []}'
    )
    store.put_event(stray)
    report = cycle(store, cn_traffic(20, dt.date(2026, 3, 9)), cst(2026, 3, 1, 9))
    assert [c.action for c in report.changes] == ["created"]
    assert report.plan.requests[0].event is None
    assert [e.id for e in store.list_events()] == ["typo"]  # still listed, to be removed
