"""Filing a ticket exactly once, though the provider has no idempotency token.

The intent is recorded first (state `filing`, with a marker the ticket carries); only then is
the filer called. After a crash or an unknown outcome the next attempt asks the filer for the
marker before filing again, so a re-run ends with exactly one case at the provider.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from chalicelib.domain import lifecycle
from chalicelib.domain.tickets import build_ticket
from chalicelib.domain.tracking import RequestState, TrackedRequest
from chalicelib.workflows.ports import Filer, Store
from chalicelib.workflows.requests import get_request


def file_request(
    store: Store,
    filer: Filer,
    request_id: str,
    by: str,
    now: dt.datetime,
    zone: ZoneInfo,
    account: str = "",
) -> TrackedRequest:
    tracked = get_request(store, request_id)
    if tracked.state is RequestState.APPROVED:
        after, audit = lifecycle.start_filing(tracked, filer.channel, by, now)
        store.save_request(after, tracked.version, audit)  # a second filer loses here
        tracked = after
    if tracked.state is not RequestState.FILING or tracked.filing is None:
        state = lifecycle.standing(tracked)
        raise lifecycle.WrongState(f"{request_id} is {state}; only approved ones are filed")
    marker = tracked.filing.marker
    ticket_id = filer.find(marker)
    if ticket_id is None:
        ticket_id = filer.file(build_ticket(tracked, marker, account, zone))
    after, audit = lifecycle.record_filed(tracked, ticket_id, by, now, filer.channel)
    store.save_request(after, tracked.version, audit)
    return after


def mark_filed(
    store: Store, request_id: str, ticket_id: str, by: str, now: dt.datetime
) -> TrackedRequest:
    """Someone filed the ticket by hand in the console: record its number."""
    tracked = get_request(store, request_id)
    after, audit = lifecycle.record_filed(tracked, ticket_id, by, now)
    store.save_request(after, tracked.version, audit)
    return after
