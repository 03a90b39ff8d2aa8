"""Filing a ticket exactly once, though the provider has no idempotency token.

The intent is recorded first (state `filing`, with a marker the ticket carries, and a claim on
the attempt); only then is the filer called. After a crash or an unknown outcome the next attempt
asks the filer for the marker before filing again, so a re-run ends with exactly one case at the
provider. Approved requests whose windows overlap are filed together, in one ticket; the first of
the group (its lead) holds the claim for all of them.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from chalicelib.domain import lifecycle
from chalicelib.domain.errors import Conflict
from chalicelib.domain.tickets import build_group_ticket, filing_group
from chalicelib.domain.tracking import RequestState, TrackedRequest
from chalicelib.workflows.ports import Filer, FilingError, Store
from chalicelib.workflows.requests import get_request, update_request
from chalicelib.workflows.retry import retry_on_conflict


def file_request(
    store: Store,
    filer: Filer,
    request_id: str,
    by: str,
    now: dt.datetime,
    zone: ZoneInfo,
    account: str = "",
) -> TrackedRequest:
    """File the request (and the approved requests overlapping it) now. Raises
    lifecycle.WrongState when it is not approved or another attempt holds the claim, and
    FilingError when the provider call failed (recorded, to be retried or escalated)."""
    members = retry_on_conflict(lambda: _claim(store, filer, request_id, by, now), request_id)
    if members[0].state is RequestState.FILED:  # the lead was filed; this one was left behind
        ticket_id = members[0].ticket_id or ""
        return _record_filed(store, request_id, ticket_id, by, now, filer.channel)
    marker = members[0].filing.marker if members[0].filing else lifecycle.marker_for(request_id)
    try:
        ticket_id = filer.find(marker) or filer.file(
            build_group_ticket(members, marker, account, zone)
        )
    except FilingError as exc:
        _record_failure(store, members, exc, by, now)
        raise
    filed = [_record_filed(store, m.id, ticket_id, by, now, filer.channel) for m in members]
    return next(t for t in filed if t.id == request_id)


def mark_filed(
    store: Store, request_id: str, ticket_id: str, by: str, now: dt.datetime
) -> TrackedRequest:
    """Someone filed the ticket by hand in the console: record its number."""
    return _record_filed(store, request_id, ticket_id, by, now, "manual")


def _claim(
    store: Store, filer: Filer, request_id: str, by: str, now: dt.datetime
) -> list[TrackedRequest]:
    """The group to file, lead first, with the lead's claim written; a lost race re-reads."""
    tracked = get_request(store, request_id)
    if tracked.state is RequestState.APPROVED:
        return _start_group(store, filer.channel, tracked, by, now)
    if tracked.state is not RequestState.FILING or tracked.filing is None:
        state = lifecycle.standing(tracked)
        raise lifecycle.WrongState(f"{request_id} is {state}; only approved ones are filed")
    lead = get_request(store, (tracked.filing.group or (tracked.id,))[0])
    if lead.state is RequestState.FILED:
        return [lead]
    after, audit = lifecycle.claim_filing(lead, by, now)
    store.save_request(after, lead.version, audit, announce=False)
    return [after, *_followers(store, after)]


def _start_group(
    store: Store, channel: str, lead: TrackedRequest, by: str, now: dt.datetime
) -> list[TrackedRequest]:
    approved = [t for t in store.list_requests() if t.state is RequestState.APPROVED]
    group = filing_group(lead, approved)
    ids = tuple(t.id for t in group)
    marker = lifecycle.marker_for(lead.id)
    members = []
    for member in group:  # the lead first: a lost race on it starts everything again
        after, audit = lifecycle.start_filing(member, channel, by, now, marker, ids)
        try:
            store.save_request(after, member.version, audit)
        except Conflict:
            if member is lead:
                raise
            continue  # it changed meanwhile: it will be filed on its own
        members.append(after)
    return members


def _followers(store: Store, lead: TrackedRequest) -> list[TrackedRequest]:
    """The lead's group members still waiting on its marker."""
    assert lead.filing is not None
    found = [store.get_request(rid) for rid in lead.filing.group[1:]]
    return [
        t
        for t in found
        if t is not None and t.filing is not None and t.filing.marker == lead.filing.marker
        if t.state is RequestState.FILING
    ]


def _record_filed(
    store: Store, request_id: str, ticket_id: str, by: str, now: dt.datetime, channel: str
) -> TrackedRequest:
    def step(tracked: TrackedRequest) -> lifecycle.Transition:
        return lifecycle.record_filed(tracked, ticket_id, by, now, channel)

    after = update_request(store, request_id, step)
    assert after is not None
    return after


def _record_failure(
    store: Store, members: list[TrackedRequest], error: FilingError, by: str, now: dt.datetime
) -> None:
    """Every member learns of the failure (the lead's claim is released with it)."""

    def step(tracked: TrackedRequest) -> lifecycle.Transition | None:
        if tracked.state is not RequestState.FILING:
            return None
        return lifecycle.filing_failed(tracked, str(error), error.outcome_unknown, by, now)

    for member in members:
        update_request(store, member.id, step)
