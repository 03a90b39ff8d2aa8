"""What people and filers do to a tracked request, as pure transitions (docs/lifecycle.md).

Each transition checks that the request is in a state that allows it and returns the new version
with its audit entry; the workflow writes both in one conditional write on the version it read,
so a double click, two approvers or two cycles give exactly one outcome.

    pending --approve--> approved --start_filing--> filing --record_filed--> filed --followed-->
       |  \\--reject--> rejected      ^                  |                       (provider states)
       |                              +--filing_failed---+ (refused: back to approved)
       |                                  filing_failed (unknown outcome): stays filing, claim
       |                                  released; the next attempt looks up the marker first
       +--(forecast gone)--> withdrawn      pending/approved --deadline passes--> missed
    pending/approved --record_filed (by hand, in the console)--> filed

Only the holder of a fresh claim (``FILING_LEASE``) calls the provider: a second worker finds
the claim and stops, and a crashed worker's claim lapses so that another can take over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

from chalicelib.domain.errors import Refused
from chalicelib.domain.tracking import AuditEntry, Decision, Filing, RequestState, TrackedRequest

MARKER_PREFIX = "BA-"
MARKER_LENGTH = 16
# Longer than any one attempt (the filers' timeouts are seconds): a claim this old was abandoned.
FILING_LEASE = dt.timedelta(minutes=5)

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
    r = tracked.request
    decision = Decision(
        outcome=outcome, by=by, at=now, note=reason,
        forecast_peak=r.forecast_peak, burst_start=r.burst_start, burst_end=r.burst_end,
    )  # fmt: skip
    return _next(tracked, now, by, "decided", {"decision": decision}, {"reason": reason})


def start_filing(
    tracked: TrackedRequest,
    channel: str,
    by: str,
    now: dt.datetime,
    marker: str | None = None,
    group: tuple[str, ...] = (),
) -> Transition:
    """Record the intent before the provider is called, and claim the first attempt. Requests
    filed together in one ticket share its ``marker`` and list the whole ``group``."""
    if tracked.state is not RequestState.APPROVED:
        raise WrongState(f"{tracked.id} is {standing(tracked)}; only an approved request is filed")
    filing = Filing(
        channel=channel, marker=marker or marker_for(tracked.id), started_at=now, by=by,
        claimed_at=now, attempts=1, group=group or (tracked.id,),
    )  # fmt: skip
    changes = {"channel": channel, "marker": filing.marker, "group": ",".join(filing.group)}
    return _next(tracked, now, by, "filing", {"filing": filing}, changes)


def claim_filing(tracked: TrackedRequest, by: str, now: dt.datetime) -> Transition:
    """Take over a filing whose claim was released or has lapsed."""
    filing = tracked.filing
    if tracked.state is not RequestState.FILING or filing is None:
        raise WrongState(f"{tracked.id} is {standing(tracked)}; nothing is being filed")
    if filing.claimed_at is not None and now - filing.claimed_at < FILING_LEASE:
        raise WrongState(f"{tracked.id} is {standing(tracked)}")
    claimed = filing.model_copy(update={"claimed_at": now, "attempts": filing.attempts + 1})
    return _next(tracked, now, by, "retrying", {"filing": claimed}, {"attempt": claimed.attempts})


def filing_failed(
    tracked: TrackedRequest, error: str, outcome_unknown: bool, by: str, now: dt.datetime
) -> Transition:
    """The provider call failed. If the case may exist anyway it stays `filing` with the claim
    released, so the next attempt looks for its marker first; if the provider refused it, the
    request is approved again, to be filed once whatever was wrong is fixed."""
    filing = tracked.filing
    if tracked.state is not RequestState.FILING or filing is None:
        raise WrongState(f"{tracked.id} is {standing(tracked)}; nothing is being filed")
    changes = {"error": error, "outcome_unknown": outcome_unknown, "attempt": filing.attempts}
    if outcome_unknown:
        released = filing.model_copy(update={"claimed_at": None, "last_error": error})
        return _next(tracked, now, by, "filing-failed", {"filing": released}, changes)
    return _next(tracked, now, by, "filing-failed", {"filing": None}, changes)


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


def followed(tracked: TrackedRequest, provider_state: str, by: str, now: dt.datetime) -> Transition:
    """The provider's state of a filed case changed (accepted, processing, completed...)."""
    if tracked.state is not RequestState.FILED:
        raise WrongState(f"{tracked.id} is {standing(tracked)}; only a filed case is followed")
    changes = {"provider_state": (tracked.provider_state, provider_state)}
    after, audit = _next(tracked, now, by, "followed", {"provider_state": provider_state}, {})
    return after, audit.model_copy(update={"changes": audit.changes | changes})


def urged(tracked: TrackedRequest, by: str, now: dt.datetime) -> Transition:
    return _next(tracked, now, by, "urged", {"urged_at": now}, {"ticket_id": tracked.ticket_id})


def reminded(tracked: TrackedRequest, point: int, by: str, now: dt.datetime) -> Transition:
    """A reminder ``point`` working days before the deadline was sent (0: the deadline's day)."""
    changes = {"reminder": (tracked.last_reminder, point)}
    after, audit = _next(tracked, now, by, "reminded", {"last_reminder": point}, {})
    return after, audit.model_copy(update={"changes": audit.changes | changes})


def announced(tracked: TrackedRequest, thread: str, by: str, now: dt.datetime) -> Transition:
    """Where the request's notices go from now on (its Slack message); saved unannounced."""
    after, audit = _next(tracked, now, by, "announced", {"thread": thread}, {})
    return after, audit.model_copy(update={"changes": {"thread": (tracked.thread, thread)}})


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
    recorded: dict[str, tuple[Any, Any]] = {}
    if after.state is not tracked.state:
        recorded["state"] = (tracked.state.value, after.state.value)
    recorded |= {name: (None, value) for name, value in changes.items() if value is not None}
    audit = AuditEntry(
        request_id=tracked.id, version=after.version, at=now, actor=actor, action=action,
        changes=recorded,
    )  # fmt: skip
    return after, audit
