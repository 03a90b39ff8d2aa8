"""A request's life after planning: approve or reject, file exactly once, miss, prove
(docs/lifecycle.md). Pure transitions first, then the workflows on both stores."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from pathlib import Path

import pytest
from builders import CST, bandwidth_csv
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters.console import ConsoleNotifier
from chalicelib.adapters.outbox_filer import OutboxFiler
from chalicelib.domain import lifecycle
from chalicelib.domain.planner import make_plan
from chalicelib.domain.policy import Policy
from chalicelib.domain.tickets import Ticket
from chalicelib.domain.tracking import RequestState, TrackedRequest
from chalicelib.domain.traffic_parsing import parse_csv
from chalicelib.workflows.approvals import decide_request
from chalicelib.workflows.filing import file_request, mark_filed
from chalicelib.workflows.notices import dispatch_notices
from chalicelib.workflows.planning import apply_plan
from chalicelib.workflows.ports import Store
from chalicelib.workflows.reminders import deadline_watch

POLICY = Policy()
REQUEST = "daily-peak-jump/CN/2026-03-09"  # due Wed 2026-03-04 18:00 CST


def cst(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CST)


def planned(store: Store) -> TrackedRequest:
    """The store after a cycle at 2026-03-01 09:00 over a CN jump on Monday 9 March."""
    csv = bandwidth_csv(dt.date(2026, 3, 1), 12, {"CN": 50.0}, {("CN", dt.date(2026, 3, 9)): 310.0})
    apply_plan(store, make_plan(parse_csv(csv), [], POLICY, cst(2026, 3, 1, 9)), POLICY)
    tracked = store.get_request(REQUEST)
    assert tracked is not None
    return tracked


# -- pure transitions ------------------------------------------------------------------------------


def test_a_decision_is_taken_once_and_the_loser_is_told_who_took_it(tmp_path: Path) -> None:
    from chalicelib.adapters.store.sqlite import SqliteStore

    tracked = planned(SqliteStore(tmp_path / "s.sqlite3"))
    assert tracked.state is RequestState.PENDING
    approved, audit = lifecycle.decide(tracked, "approved", "U1", cst(2026, 3, 2, 10))
    assert approved.state is RequestState.APPROVED
    assert (audit.action, audit.actor, audit.changes) == (
        "decided", "U1", {"state": ("pending", "approved")},
    )  # fmt: skip
    with pytest.raises(lifecycle.WrongState) as again:
        lifecycle.decide(approved, "rejected", "U2", cst(2026, 3, 2, 10, 1), "too late")
    assert str(again.value) == (
        f"{REQUEST} is already approved by U1 at 2026-03-02T10:00:00+08:00; nothing to reject"
    )
    with pytest.raises(lifecycle.WrongState, match="a rejection needs a reason"):
        lifecycle.decide(tracked, "rejected", "U2", cst(2026, 3, 2, 10), "  ")


@given(st.text(min_size=1, max_size=300))
def test_a_marker_is_short_stable_and_tagged(request_id: str) -> None:
    marker = lifecycle.marker_for(request_id)
    assert len(marker) == 16
    assert marker.startswith("BA-")
    assert marker == lifecycle.marker_for(request_id)


# -- the workflows, on both stores -------------------------------------------------------------


def test_two_approvers_at_once_give_one_decision(store: Store) -> None:
    planned(store)
    barrier, outcomes = threading.Barrier(2), {}

    def click(user: str, outcome: str) -> None:
        barrier.wait()
        try:
            decide_request(store, REQUEST, outcome, user, cst(2026, 3, 2, 10), "no")  # type: ignore[arg-type]
            outcomes[user] = "won"
        except lifecycle.WrongState as exc:
            outcomes[user] = str(exc)

    threads = [
        threading.Thread(target=click, args=("U1", "approved")),
        threading.Thread(target=click, args=("U2", "rejected")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [winner] = [u for u, o in outcomes.items() if o == "won"]
    [loser_message] = [o for o in outcomes.values() if o != "won"]
    assert f"by {winner} at" in loser_message
    decisions = [e for e in store.audit_trail(REQUEST) if e.action == "decided"]
    assert [e.actor for e in decisions] == [winner]


class CrashAfterFiling:
    """The outbox filer, but the process dies after the provider got the ticket."""

    channel = "outbox"

    def __init__(self, folder: Path) -> None:
        self.real = OutboxFiler(folder)

    def find(self, marker: str) -> str | None:
        return self.real.find(marker)

    def file(self, ticket: Ticket) -> str:
        self.real.file(ticket)
        raise TimeoutError("read timed out")

    def follow(self, ticket_id: str) -> str | None:
        return None

    def urge(self, ticket_id: str, message: str) -> None:
        pass


def test_a_crash_after_the_provider_filed_ends_with_exactly_one_ticket(
    store: Store, tmp_path: Path
) -> None:
    planned(store)
    decide_request(store, REQUEST, "approved", "U1", cst(2026, 3, 2, 10))
    outbox = tmp_path / "outbox"
    with pytest.raises(TimeoutError):
        file_request(store, CrashAfterFiling(outbox), REQUEST, "U1", cst(2026, 3, 2, 11), CST)
    assert store.get_request(REQUEST).state is RequestState.FILING  # the intent is on record

    # Within the claim's lease another attempt is told who holds it, and leaves it alone.
    with pytest.raises(lifecycle.WrongState, match="being filed by U1 since"):
        file_request(store, OutboxFiler(outbox), REQUEST, "U2", cst(2026, 3, 2, 11, 4), CST)

    after = file_request(store, OutboxFiler(outbox), REQUEST, "U1", cst(2026, 3, 2, 12), CST)
    marker = lifecycle.marker_for(REQUEST)
    assert after.ticket_id == f"outbox-{marker}"
    assert sorted(p.name for p in outbox.iterdir()) == [f"{marker}.json", f"{marker}.md"]
    record = json.loads((outbox / f"{marker}.json").read_text(encoding="utf-8"))
    assert (record["request_id"], record["scopes"][0]["expected_peak"]) == (REQUEST, 310.0)
    actions = [e.action for e in store.audit_trail(REQUEST)]
    assert actions == ["created", "decided", "filing", "retrying", "filed"]
    with pytest.raises(lifecycle.WrongState, match=f"already filed as outbox-{marker}"):
        file_request(store, OutboxFiler(outbox), REQUEST, "U1", cst(2026, 3, 2, 13), CST)


def test_only_an_approved_request_is_filed(store: Store, tmp_path: Path) -> None:
    planned(store)
    outbox = tmp_path / "outbox"
    with pytest.raises(lifecycle.WrongState, match="is pending; only approved ones are filed"):
        file_request(store, OutboxFiler(outbox), REQUEST, "U1", cst(2026, 3, 2, 11), CST)
    assert not outbox.exists()


def test_a_ticket_filed_by_hand_is_recorded(store: Store) -> None:
    planned(store)
    after = mark_filed(store, REQUEST, "HC-2026-0042", "carol", cst(2026, 3, 3, 16))
    assert (after.state, after.ticket_id, after.filing.channel) == (
        RequestState.FILED, "HC-2026-0042", "manual",
    )  # fmt: skip
    assert not after.needs_filing


def test_a_deadline_passing_unfiled_is_missed_and_said_so(store: Store, tmp_path: Path) -> None:
    planned(store)
    decide_request(store, REQUEST, "approved", "U1", cst(2026, 3, 2, 10))
    out, filer = io.StringIO(), OutboxFiler(tmp_path)
    # 18:00 on Wed 4 March is the deadline: at 18:00 it is not yet missed, a minute later it is.
    deadline_watch(store, filer, POLICY, cst(2026, 3, 4, 18))
    assert store.get_request(REQUEST).state is RequestState.APPROVED
    [missed] = deadline_watch(store, filer, POLICY, cst(2026, 3, 4, 18, 1)).missed
    dispatch_notices(store, ConsoleNotifier(out, CST), cst(2026, 3, 4, 18, 1))
    assert missed.state is RequestState.MISSED
    assert missed.missed_at == cst(2026, 3, 4, 18, 1)
    assert out.getvalue().splitlines()[-1].startswith(f"MISSED    {REQUEST}: file by 2026-03-04")
    assert out.getvalue().endswith("the burst has no SLA protection\n")
    assert deadline_watch(store, filer, POLICY, cst(2026, 3, 5, 9)).missed == []


def test_a_request_caught_mid_filing_at_its_deadline_is_not_missed(
    store: Store, tmp_path: Path
) -> None:
    planned(store)
    decide_request(store, REQUEST, "approved", "U1", cst(2026, 3, 2, 10))
    with pytest.raises(TimeoutError):
        file_request(
            store, CrashAfterFiling(tmp_path / "outbox"), REQUEST, "U1", cst(2026, 3, 4, 17), CST
        )
    for day in (4, 5, 6):  # every watch after the deadline
        report = deadline_watch(store, OutboxFiler(tmp_path), POLICY, cst(2026, 3, day, 18, 30))
        assert report.missed == []
    tracked = store.get_request(REQUEST)
    assert tracked.state is RequestState.FILING  # the marker may show it went in at 17:00
    assert tracked.missed_at is None
    actions = [e.action for e in store.audit_trail(REQUEST)]
    assert actions == ["created", "decided", "filing", "reminded"]  # the deadline day's, once
