"""What people and filers do to a tracked request, as pure transitions (docs/lifecycle.md).

Each transition checks that the request is in a state that allows it and returns the new version
with its audit entry; the workflow writes both in one conditional write on the version it read,
so a double click, two approvers or two cycles give exactly one outcome.

    pending --approve--> approved --start_filing--> filing --record_filed--> filed
       |  \\--reject--> rejected                        (unknown outcome: look up the marker,
       |                                                 then record_filed or file again)
       +--(forecast gone)--> withdrawn      pending/approved/filing --deadline passes--> missed
    pending/approved --record_filed (by hand, in the console)--> filed
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

from chalicelib.domain.errors import Refused
from chalicelib.domain.tracking import AuditEntry, Decision, Filing, RequestState, TrackedRequest

MARKER_PREFIX = "BA-"
MARKER_LENGTH = 16

Transition = tuple[TrackedRequest, AuditEntry]


class WrongState(Refused):
    """The request is not in a state that allows this; the message says who or what moved it."""


def marker_for(request_id: str) -> str:
    """A short, stable tag for a request's ticket (the provider's summary field is short)."""
    digest = hashlib.sha256(request_id.encode()).hexdigest()
    return (MARKER_PREFIX + digest)[:MARKER_LENGTH]


def decide(
    tracked: TrackedRequest,
    outcome: Literal["approved", "rejected"],
    by: str,
    now: dt.datetime,
    reason: str | None = None,
) -> Transition:
    if tracked.state is not RequestState.PENDING:
        verb = "approve" if outcome == "approved" else "reject"
        raise WrongState(f"{tracked.id} is {standing(tracked)}; nothing to {verb}")
    if outcome == "rejected" and not (reason and reason.strip()):
        raise WrongState("a rejection needs a reason")
    decision = Decision(outcome=outcome, by=by, at=now, note=reason)
    return _next(tracked, now, by, "decided", {"decision": decision}, {"reason": reason})


def start_filing(tracked: TrackedRequest, channel: str, by: str, now: dt.datetime) -> Transition:
    if tracked.state is not RequestState.APPROVED:
        raise WrongState(f"{tracked.id} is {standing(tracked)}; only an approved request is filed")
    filing = Filing(channel=channel, marker=marker_for(tracked.id), started_at=now, by=by)
    changes = {"channel": channel, "marker": filing.marker}
    return _next(tracked, now, by, "filing", {"filing": filing}, changes)


def record_filed(
    tracked: TrackedRequest, ticket_id: str, by: str, now: dt.datetime, channel: str = "manual"
) -> Transition:
    """The provider's case number: after a filer's call, or typed in by whoever filed by hand."""
    if not ticket_id.strip():
        raise WrongState("a ticket number is required")
    allowed = (RequestState.FILING, RequestState.APPROVED, RequestState.PENDING)
    if tracked.state not in allowed:
        raise WrongState(f"{tracked.id} is {standing(tracked)}; it cannot be marked filed")
    filing = tracked.filing or Filing(
        channel=channel, marker=marker_for(tracked.id), started_at=now, by=by
    )
    update = {"ticket_id": ticket_id, "filing": filing.model_copy(update={"filed_at": now})}
    changes = {"ticket_id": ticket_id, "channel": filing.channel}
    return _next(tracked, now, by, "filed", update, changes)


MISSABLE = (RequestState.PENDING, RequestState.APPROVED)


def is_missed(tracked: TrackedRequest, now: dt.datetime) -> bool:
    """Past its deadline with nobody having started to file. A request caught mid-filing is
    not missed: the marker may yet show the ticket went in before the deadline."""
    return tracked.state in MISSABLE and now > tracked.request.deadline


def mark_missed(tracked: TrackedRequest, now: dt.datetime, by: str) -> Transition:
    if not is_missed(tracked, now):
        raise WrongState(f"{tracked.id} is {standing(tracked)}, due {tracked.request.deadline}")
    changes = {"deadline": tracked.request.deadline.isoformat()}
    return _next(tracked, now, by, "missed", {"missed_at": now}, changes)


def standing(tracked: TrackedRequest) -> str:
    """The state, and who put it there where that is known: what the loser of a race is told."""
    state = tracked.state
    if state in (RequestState.APPROVED, RequestState.REJECTED) and tracked.decision:
        return f"already {state} by {tracked.decision.by} at {tracked.decision.at.isoformat()}"
    if state is RequestState.FILED:
        return f"already filed as {tracked.ticket_id}"
    if state is RequestState.FILING and tracked.filing:
        return f"being filed by {tracked.filing.by} since {tracked.filing.started_at.isoformat()}"
    return str(state)


def _next(
    tracked: TrackedRequest,
    now: dt.datetime,
    actor: str,
    action: str,
    update: dict[str, Any],
    changes: dict[str, Any],
) -> Transition:
    after = tracked.model_copy(update={**update, "version": tracked.version + 1, "updated_at": now})
    recorded: dict[str, tuple[Any, Any]] = {"state": (tracked.state.value, after.state.value)}
    recorded |= {name: (None, value) for name, value in changes.items() if value is not None}
    audit = AuditEntry(
        request_id=tracked.id, version=after.version, at=now, actor=actor, action=action,
        changes=recorded,
    )  # fmt: skip
    return after, audit
