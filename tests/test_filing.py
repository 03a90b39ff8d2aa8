"""Filing exactly once, end to end: the filing workflow on both stores, the real Huawei Cloud SDK
against the stand-in, a crash injected at each step, then a re-run. Also the outbox of notices,
the follow-up round and auto-filing."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import CST, bandwidth_csv
from huawei_standin import HuaweiStandIn, serving

from chalicelib.adapters.console import ConsoleNotifier
from chalicelib.adapters.huawei_osm import HuaweiOsmFiler
from chalicelib.adapters.outbox_filer import OutboxFiler
from chalicelib.domain import lifecycle
from chalicelib.domain.errors import Conflict
from chalicelib.domain.notices import Notice
from chalicelib.domain.planner import make_plan
from chalicelib.domain.policy import Approvals, Policy
from chalicelib.domain.tickets import Ticket
from chalicelib.domain.tracking import RequestState, TrackedRequest
from chalicelib.domain.traffic_parsing import parse_csv
from chalicelib.workflows.approvals import decide_request
from chalicelib.workflows.filing import file_request
from chalicelib.workflows.follow_up import follow_up
from chalicelib.workflows.notices import dispatch_notices
from chalicelib.workflows.planning import apply_plan
from chalicelib.workflows.ports import FilingError, NotifierError, Store
from chalicelib.workflows.reminders import deadline_watch

POLICY = Policy()
CN = "daily-peak-jump/CN/2026-03-09"  # due Wed 2026-03-04 18:00 CST
LEASE = lifecycle.FILING_LEASE


class Crash(BaseException):
    """The process dies here: nothing after it runs (not an Exception, so nothing catches it)."""


def cst(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CST)


def planned(store: Store, peaks: dict[tuple[str, dt.date], float] | None = None) -> None:
    jumps = peaks or {("CN", dt.date(2026, 3, 9)): 310.0}
    areas = {area: 50.0 for area, _ in jumps}
    csv = bandwidth_csv(dt.date(2026, 3, 1), 12, areas, jumps)
    apply_plan(store, make_plan(parse_csv(csv), [], POLICY, cst(2026, 3, 1, 9)), POLICY)


def approved(store: Store, request_id: str = CN) -> None:
    decide_request(store, request_id, "approved", "U1", cst(2026, 3, 2, 10))


@pytest.fixture
def huawei(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, HuaweiStandIn]]:
    with serving() as served:
        monkeypatch.setenv("HUAWEICLOUD_SDK_IAM_ENDPOINT", served[0])
        yield served


def osm(endpoint: str) -> HuaweiOsmFiler:
    return HuaweiOsmFiler(
        endpoint, "AKSTANDIN0000EXAMPLE", "sk-standin-secret", business_type_id="bt-assure-01",
        timeout=(1, 0.5),
    )  # fmt: skip


def file_at(store: Store, filer: Any, *moment: int) -> TrackedRequest:
    return file_request(store, filer, CN, "U1", cst(*moment), CST, "acct-1")


class CrashingFiler:
    """The real filer, dying just before or just after one of its calls."""

    def __init__(self, real: HuaweiOsmFiler, when: str) -> None:
        self.real, self.when, self.channel = real, when, real.channel

    def find(self, marker: str) -> str | None:
        if self.when == "before-find":
            raise Crash
        return self.real.find(marker)

    def file(self, ticket: Ticket) -> str:
        if self.when == "before-file":
            raise Crash
        ticket_id = self.real.file(ticket)
        if self.when == "after-file":
            raise Crash
        return ticket_id

    def follow(self, ticket_id: str) -> str | None:
        return self.real.follow(ticket_id)

    def urge(self, ticket_id: str, message: str) -> None:
        self.real.urge(ticket_id, message)


@pytest.mark.parametrize("when", ["before-find", "before-file", "after-file"])
def test_a_crash_at_any_filing_step_then_a_rerun_gives_exactly_one_case(store, huawei, when):
    endpoint, provider = huawei
    planned(store)
    approved(store)
    with pytest.raises(Crash):
        file_at(store, CrashingFiler(osm(endpoint), when), 2026, 3, 2, 11)
    assert store.get_request(CN).state is RequestState.FILING

    # The crashed attempt's claim keeps others off until it lapses; then the round files it.
    assert follow_up(store, osm(endpoint), POLICY, cst(2026, 3, 2, 11, 1)).filed == []
    report = follow_up(store, osm(endpoint), POLICY, cst(2026, 3, 2, 11) + LEASE)
    assert report.filed == [CN]

    assert len(provider.cases) == 1
    [case_id] = provider.cases
    tracked = store.get_request(CN)
    assert (tracked.state, tracked.ticket_id) == (RequestState.FILED, case_id)
    actions = [e.action for e in store.audit_trail(CN)]
    assert actions == ["created", "decided", "filing", "retrying", "filed"]


@pytest.mark.parametrize("lost", ["500", "stall", "drop"])
def test_a_lost_answer_is_recorded_and_the_next_attempt_finds_the_case(store, huawei, lost):
    endpoint, provider = huawei
    planned(store)
    approved(store)
    provider.lose_create, provider.stall_seconds = lost, 1.5  # the case exists; the answer is lost
    with pytest.raises(FilingError) as failed:
        file_at(store, osm(endpoint), 2026, 3, 2, 11)
    assert failed.value.outcome_unknown
    tracked = store.get_request(CN)
    assert tracked.state is RequestState.FILING
    assert tracked.filing.claimed_at is None

    after = file_at(store, osm(endpoint), 2026, 3, 2, 11, 30)  # released: no need to wait
    assert len(provider.cases) == 1
    assert after.ticket_id in provider.cases
    actions = [e.action for e in store.audit_trail(CN)]
    assert actions == ["created", "decided", "filing", "filing-failed", "retrying", "filed"]


def test_provider_5xx_is_retried_by_the_round_and_files_once(store, huawei):
    endpoint, provider = huawei
    planned(store)
    approved(store)
    provider.fail_next = 2  # the next two calls answer 500
    with pytest.raises(FilingError):
        file_at(store, osm(endpoint), 2026, 3, 2, 11)
    first = follow_up(store, osm(endpoint), POLICY, cst(2026, 3, 2, 12))
    assert (first.filed, len(first.failures)) == ([], 1)  # still down: recorded, kept
    assert follow_up(store, osm(endpoint), POLICY, cst(2026, 3, 2, 13)).filed == [CN]
    assert len(provider.cases) == 1
    failed = [e for e in store.audit_trail(CN) if e.action == "filing-failed"]
    assert [e.changes["outcome_unknown"][1] for e in failed] == [True, True]


def test_a_refusal_puts_the_request_back_to_approved_and_escalates(store, huawei):
    endpoint, provider = huawei
    planned(store)
    approved(store)
    provider.fail_next, provider.fail_status = 1, 403
    provider.fail_message = "The AK is not authorised for OSM"
    with pytest.raises(FilingError) as refused:
        file_at(store, osm(endpoint), 2026, 3, 2, 11)
    assert not refused.value.outcome_unknown
    assert store.get_request(CN).state is RequestState.APPROVED
    assert provider.cases == {}
    out = io.StringIO()
    dispatch_notices(store, ConsoleNotifier(out, CST), cst(2026, 3, 2, 11))
    assert "FAILED    daily-peak-jump/CN/2026-03-09" in out.getvalue()
    assert "403" in out.getvalue()


def test_a_read_timeout_on_create_is_an_unknown_outcome(store, huawei):
    endpoint, provider = huawei
    planned(store)
    approved(store)
    provider.lose_create, provider.stall_seconds = "stall", 2  # past the 0.5 s read timeout
    with pytest.raises(FilingError, match=r"no answer within 0\.5 s"):
        file_at(store, osm(endpoint), 2026, 3, 2, 11)
    file_at(store, osm(endpoint), 2026, 3, 2, 11, 5)
    assert len(provider.cases) == 1


def test_overlapping_approved_requests_go_into_one_ticket(store, tmp_path):
    day = dt.date(2026, 3, 9)
    planned(store, {("CN", day): 310.0, ("AP1", day): 200.0})
    jumps = ["daily-peak-jump/AP1/2026-03-09", CN]
    monthly = "monthly-charged-bandwidth/AP1/2026-03"  # AP1 at 50 is over 40 Gbit/s all month
    assert sorted(t.id for t in store.list_requests()) == [*jumps, monthly]
    for request_id in jumps:
        approved(store, request_id)

    after = file_at(store, OutboxFiler(tmp_path), 2026, 3, 2, 11)

    filed = {t.id: t.ticket_id for t in store.list_requests()}
    assert filed == {jumps[0]: after.ticket_id, CN: after.ticket_id, monthly: None}
    [ticket] = [p.read_text(encoding="utf-8") for p in tmp_path.glob("*.md")]
    assert "Scope: CN (计费区域 billing area)" in ticket
    assert "Scope: AP1 (计费区域 billing area)" in ticket


def test_a_filed_case_is_followed_and_urged_when_unaccepted_near_the_burst(store, huawei):
    endpoint, provider = huawei
    planned(store)
    approved(store)
    case = file_at(store, osm(endpoint), 2026, 3, 2, 11).ticket_id
    # Mon 9 March 20:00 is the burst; 48 h before it the case is still awaiting acceptance.
    assert follow_up(store, osm(endpoint), POLICY, cst(2026, 3, 6, 9)).urged == []
    report = follow_up(store, osm(endpoint), POLICY, cst(2026, 3, 7, 21))
    assert report.urged == [CN]
    assert [c for c, _ in provider.presses] == [case]
    assert follow_up(store, osm(endpoint), POLICY, cst(2026, 3, 7, 22)).urged == []  # once

    provider.cases[case]["status"] = 3  # completed
    assert follow_up(store, osm(endpoint), POLICY, cst(2026, 3, 8, 9)).followed == [CN]
    assert store.get_request(CN).provider_state == "completed"


def test_auto_filing_at_the_last_reminder_when_nobody_answered(store, tmp_path):
    policy = Policy(approvals=Approvals(auto_file_when_unanswered=True))
    planned(store)
    assert deadline_watch(store, OutboxFiler(tmp_path), policy, cst(2026, 3, 3, 9)).auto_filed == []
    report = deadline_watch(store, OutboxFiler(tmp_path), policy, cst(2026, 3, 4, 9))
    assert report.auto_filed == [CN]
    tracked = store.get_request(CN)
    assert tracked.state is RequestState.FILED
    assert tracked.decision.by.startswith("deadline-watch")


def test_without_auto_filing_an_unanswered_request_is_missed(store, tmp_path):
    planned(store)
    deadline_watch(store, OutboxFiler(tmp_path), POLICY, cst(2026, 3, 4, 9))
    report = deadline_watch(store, OutboxFiler(tmp_path), POLICY, cst(2026, 3, 4, 18, 1))
    assert [t.id for t in report.missed] == [CN]


# -- the outbox of notices ---------------------------------------------------------------------


class Flaky:
    """A notifier that is down for its first ``failures`` notices."""

    def __init__(self, failures: int = 0) -> None:
        self.failures, self.sent = failures, []

    def deliver(self, notice: Notice, thread: str | None) -> str | None:
        if self.failures:
            self.failures -= 1
            raise NotifierError("the service is down")
        self.sent.append((notice.request_id, notice.action, thread))
        return "C1/1700000000.000100" if thread is None else None


def test_a_crash_between_a_change_and_its_announcement_still_announces_it_once(store):
    planned(store)  # the change is written, and the process "dies" before any dispatch
    assert [n.action for n in store.pending_notices()] == ["created"]

    notifier = Flaky()
    assert dispatch_notices(store, notifier, cst(2026, 3, 1, 9, 15)).sent == 1
    assert dispatch_notices(store, notifier, cst(2026, 3, 1, 9, 30)).sent == 0
    assert notifier.sent == [(CN, "created", None)]
    tracked = store.get_request(CN)
    assert tracked.thread == "C1/1700000000.000100"  # later notices go to the same message
    approved(store)
    dispatch_notices(store, notifier, cst(2026, 3, 2, 10))
    assert notifier.sent[-1] == (CN, "decided", "C1/1700000000.000100")


def test_a_notice_that_cannot_be_sent_waits_and_holds_back_its_successors(store):
    planned(store)
    approved(store)
    notifier = Flaky(failures=1)
    report = dispatch_notices(store, notifier, cst(2026, 3, 2, 10))
    assert (report.sent, len(report.held)) == (0, 1)  # "decided" never before "created"
    assert [n.action for n in store.pending_notices()] == ["created", "decided"]
    dispatch_notices(store, notifier, cst(2026, 3, 2, 10, 15))
    assert [action for _, action, _ in notifier.sent] == ["created", "decided"]
    assert store.pending_notices() == []


def test_recording_the_thread_is_not_itself_announced(store):
    planned(store)
    dispatch_notices(store, Flaky(), cst(2026, 3, 1, 9, 15))
    assert store.pending_notices() == []
    assert [e.action for e in store.audit_trail(CN)] == ["created", "announced"]


def test_a_written_change_and_its_notice_are_one_write(store, tmp_path: Path):
    """A conditional write that loses writes neither the change nor its notice."""
    planned(store)
    tracked = store.get_request(CN)
    after, audit = lifecycle.decide(tracked, "approved", "U1", cst(2026, 3, 2, 10))
    store.save_request(after, tracked.version, audit)
    with pytest.raises(Conflict):
        store.save_request(after, tracked.version, audit)
    assert [n.action for n in store.pending_notices()] == ["created", "decided"]
