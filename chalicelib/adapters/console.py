"""The console notifier: one line per notice (embedded default)."""

from __future__ import annotations

import sys
from typing import TextIO
from zoneinfo import ZoneInfo

from chalicelib.domain.assurance import AssuranceRequest
from chalicelib.domain.notices import Notice


def describe(request: AssuranceRequest, zone: ZoneInfo | None = None) -> str:
    """One line; times in ``zone`` (a stored request's times carry only their UTC offset)."""
    deadline = request.deadline.astimezone(zone) if zone else request.deadline
    due = deadline.strftime("%Y-%m-%d %H:%M %Z")
    event = f", {request.event.name}" if request.event else ""
    estimated = ", estimated calendar" if request.estimated_calendar else ""
    return f"{request.id}: file by {due} ({request.lead_time}{event}{estimated}) [{request.status}]"


def notice_line(notice: Notice, zone: ZoneInfo | None = None) -> str:
    tracked, audit = notice.request, notice.audit
    what = describe(tracked.request, zone)
    match notice.action:
        case "updated" | "moved" | "reopened":
            fields = ", ".join(
                f"{name} {old} -> {new}" for name, (old, new) in sorted(audit.changes.items())
            )
            return f"{notice.action:<9} {what}; {fields}"
        case "decided" if tracked.decision is not None:
            reason = f": {tracked.decision.note}" if tracked.decision.note else ""
            return f"{tracked.decision.outcome:<9} {what} by {tracked.decision.by}{reason}"
        case "filed":
            return f"filed     {what} as {tracked.ticket_id}"
        case "filing-failed":
            return f"FAILED    {what}: filing failed: {audit.changes.get('error', ('', ''))[1]}"
        case "reminded":
            days = audit.changes.get("reminder", (None, None))[1]
            return f"reminder  {what} ({days} working days left)"
        case "missed":
            return (
                f"MISSED    {what}: no ticket filed by the deadline; "
                "the burst has no SLA protection"
            )
    return f"{notice.action:<9} {what}"


class ConsoleNotifier:
    def __init__(self, stream: TextIO | None = None, zone: ZoneInfo | None = None) -> None:
        self.stream = stream or sys.stdout
        self.zone = zone

    def deliver(self, notice: Notice, thread: str | None) -> str | None:
        print(notice_line(notice, self.zone), file=self.stream)
        return None
