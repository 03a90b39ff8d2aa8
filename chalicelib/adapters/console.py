"""The console notifier: what a cycle changed and what is due, one line each (embedded default)."""

from __future__ import annotations

import sys
from typing import TextIO

from chalicelib.domain.assurance import AssuranceRequest
from chalicelib.domain.tracking import Change, RequestState, TrackedRequest


def describe(request: AssuranceRequest) -> str:
    due = request.deadline.strftime("%Y-%m-%d %H:%M %Z")
    event = f", {request.event.name}" if request.event else ""
    estimated = ", estimated calendar" if request.estimated_calendar else ""
    return f"{request.id}: file by {due} ({request.lead_time}{event}{estimated}) [{request.status}]"


def change_line(change: Change) -> str:
    request = change.after.request
    if change.action == "updated":
        fields = ", ".join(
            f"{name} {old} -> {new}" for name, (old, new) in sorted(change.audit.changes.items())
        )
        return f"updated   {describe(request)}; {fields}"
    return f"{change.action:<9} {describe(request)}"


class ConsoleNotifier:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def announce(self, changes: list[Change]) -> None:
        for change in changes:
            print(change_line(change), file=self.stream)

    def remind(self, requests: list[TrackedRequest]) -> None:
        for tracked in requests:
            if tracked.state is RequestState.MISSED:
                line = f"MISSED    {describe(tracked.request)}: no ticket filed by the deadline; "
                line += "the burst has no SLA protection"
            else:
                line = f"reminder  {describe(tracked.request)}"
            print(line, file=self.stream)
