"""Sending the outbox: every pending notice, in order per request, removed once delivered.

A notice that cannot be delivered now stays, and holds back the later notices of its request so
that people never read "filed" before "approved"; the next dispatch tries again. A crash between
delivering a notice and removing it sends that notice twice: at least once, never lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from chalicelib.domain import lifecycle
from chalicelib.domain.notices import Notice
from chalicelib.domain.tracking import TrackedRequest
from chalicelib.workflows.ports import Notifier, NotifierError, Store
from chalicelib.workflows.requests import update_request

DISPATCHER = "notifier"


@dataclass(frozen=True)
class DispatchReport:
    sent: int
    held: list[str] = field(default_factory=list)  # why notices are still waiting


def dispatch_notices(store: Store, notifier: Notifier, now: dt.datetime) -> DispatchReport:
    held_back: set[str] = set()
    problems: list[str] = []
    sent = 0
    for notice in store.pending_notices():
        if notice.request_id in held_back:
            continue
        try:
            _deliver(store, notifier, notice, now)
        except NotifierError as exc:
            held_back.add(notice.request_id)
            problems.append(f"{notice.request_id} v{notice.version} {notice.action}: {exc}")
            continue
        store.notice_sent(notice)
        sent += 1
    return DispatchReport(sent, problems)


def _deliver(store: Store, notifier: Notifier, notice: Notice, now: dt.datetime) -> None:
    current = store.get_request(notice.request_id)
    thread = current.thread if current else notice.request.thread
    started = notifier.deliver(notice, thread)  # a new thread when the old message is gone
    if started is not None and current is not None:
        _remember_thread(store, notice.request_id, started, now)


def _remember_thread(store: Store, request_id: str, thread: str, now: dt.datetime) -> None:
    def step(tracked: TrackedRequest) -> lifecycle.Transition | None:
        if tracked.thread == thread:
            return None
        return lifecycle.announced(tracked, thread, DISPATCHER, now)

    update_request(store, request_id, step, announce=False)
