"""The ports every workflow takes as parameters; adapters implement them (chalicelib.adapters).

Store: every adapter (SQLite, DynamoDB) passes tests/test_store_contract.py.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.events import Event
from chalicelib.domain.notices import Notice
from chalicelib.domain.tracking import AuditEntry, Change, Reach, TrackedRequest

if TYPE_CHECKING:  # traffic.py imports NumPy, which an /events request should not pay for
    from chalicelib.domain.tickets import Ticket
    from chalicelib.domain.traffic import TimeRange, TrafficDeletion, TrafficSet


ANY: Any = object()  # put_event's "whatever is stored"


@dataclass(frozen=True)
class Answer:
    """What a POST answered the first time, kept under its Idempotency-Key."""

    key: str
    request_hash: str  # of the request that got it: the same key with another body is refused
    status: int
    body: str


@dataclass(frozen=True)
class Saved:
    """What became of a batch of changes (Store.save_requests)."""

    written: list[Change]
    conflicted: list[Change]  # not written: the request changed since it was read; read again
    stale: bool = False  # a later plan was applied: what is in neither list was not written


@dataclass(frozen=True)
class CycleMark:
    """What the latest complete planning cycle planned from (chalicelib.workflows.planning).

    ``inputs`` fingerprints its traffic, events, policy and planning code. Until ``steady_until``
    a plan from the same inputs differs only by the bursts that ended meanwhile, which leave
    their requests alone: a cycle on the same inputs would write nothing, so it need not plan.
    This holds because only plans change what reconcile compares (a request's figures and
    presence; decisions, filings and reminders do not), and every planned write drops the mark."""

    planned_at: dt.datetime
    inputs: str
    steady_until: dt.datetime | None  # None: never
    ends: tuple[int, ...]  # the planned bursts' ends, UTC epoch seconds, in order

    def holds(self, inputs: str, now: dt.datetime) -> bool:
        if inputs != self.inputs or now < self.planned_at:
            return False
        return self.steady_until is None or now < self.steady_until

    def planned(self, now: dt.datetime) -> int:
        """How many requests a plan made at ``now`` (while the mark holds) has: the bursts
        that have not ended."""
        return len(self.ends) - bisect.bisect_right(self.ends, now.timestamp())


class Store(Protocol):
    # -- events: plain upserts, the calendar is user data ---------------------------------
    def put_event(
        self, event: Event, expected: Event | Any | None = ANY, first_answer: Answer | None = None
    ) -> None:
        """Write ``event``: unconditionally (``ANY``, imports), only if no event has its id
        (``None``: creation), or only if ``expected`` is still what is stored (a replacement).
        ``first_answer`` (an idempotency key and the answer to keep for it) is written in the
        same step and must be new. Raises Conflict, writing nothing, when a condition fails."""
        ...

    def get_event(self, event_id: str) -> Event | None: ...

    def delete_event(self, event_id: str, expected: Event | None = None) -> bool:
        """True when the event existed. With ``expected``, only if that is what is stored
        (Conflict otherwise)."""
        ...

    def first_answer(self, key: str) -> Answer | None:
        """The answer kept for an idempotency key, if any."""
        ...

    def list_events(self) -> list[Event]:
        """Sorted by start, then id."""
        ...

    # -- tracked requests: every write is conditional -------------------------------------
    def get_request(self, request_id: str) -> TrackedRequest | None: ...

    def list_requests(self) -> list[TrackedRequest]:
        """Sorted by deadline, then id."""
        ...

    def save_request(
        self,
        tracked: TrackedRequest,
        expected_version: int | None,
        audit: AuditEntry,
        announce: bool = True,
        planned_at: dt.datetime | None = None,
    ) -> None:
        """Write ``tracked``, append ``audit`` and (when ``announce``) put the Notice of the
        change in the outbox, in one atomic step, but only if the stored version is still
        ``expected_version`` (None: the request must not exist yet).
        Raises chalicelib.domain.errors.Conflict otherwise, and writes nothing.

        ``planned_at``: the write comes from a plan made at that moment. It also requires that
        no plan made later has written yet (raises StalePlan otherwise, writing nothing) and
        records this plan's moment as the latest."""
        ...

    def requests_in_reach(self, reach: Reach) -> list[TrackedRequest]:
        """The requests ``reach`` covers (what a plan may change), sorted by deadline, then id;
        a planning cycle reads no others."""
        ...

    def save_requests(
        self, changes: Sequence[Change], planned_at: dt.datetime | None = None
    ) -> Saved:
        """Write many changes, in as few steps as the store allows. Each change is saved as
        ``save_request`` would (its request, audit entry and notice together, only on its
        expected version), and alone: one that conflicts is left out of the others' step.
        ``planned_at`` as for ``save_request``: once a later plan is found applied, nothing more
        is written and ``stale`` is set."""
        ...

    def record_plan(self, planned_at: dt.datetime, cycle: CycleMark | None = None) -> None:
        """Record ``planned_at`` as the latest plan's moment and keep ``cycle`` (made at that
        moment; None: no mark). Every other write with ``planned_at`` drops the mark kept.
        Raises StalePlan, writing nothing, when a plan made later was recorded already, and
        Conflict when another writer holds the record (try again)."""
        ...

    def last_cycle(self) -> CycleMark | None:
        """The mark kept by ``record_plan``, unless a write has dropped it since."""
        ...

    def audit_trail(self, request_id: str) -> list[AuditEntry]:
        """The request's audit entries, oldest first."""
        ...

    # -- the outbox of notices ------------------------------------------------------------
    def pending_notices(self) -> list[Notice]:
        """Notices not yet sent, in sending order (chalicelib.domain.notices)."""
        ...

    def notice_sent(self, notice: Notice) -> None:
        """Take a sent notice out of the outbox; a notice already gone is fine."""
        ...

    # -- traffic: uploaded actuals and forecasts -----------------------------------------
    def put_traffic(self, traffic: TrafficSet) -> None:
        """Merge the points in (new points win), as chunks (chalicelib.adapters.store.chunks).
        The upload becomes visible all at once or not at all, even if the writer dies midway;
        concurrent uploads all land, each merged over the others."""
        ...

    def get_traffic(self, span: TimeRange | None = None) -> TrafficSet:
        """The stored points in ``span`` (reading only the months it touches), or every one;
        an empty set when there are none."""
        ...

    def traffic_revision(self, span: TimeRange) -> str | None:
        """A token of the stored points in the months ``span`` touches, cheap to read: equal
        tokens, the same points. None when the store cannot tell."""
        ...

    def delete_traffic(self, deletion: TrafficDeletion) -> TrafficDeletion:
        """Remove the points the deletion covers and append its record (with how many points
        went, and its sequence number) to the log of deletions, in one step."""
        ...

    def traffic_deletions(self) -> list[TrafficDeletion]:
        """The log of deletions, oldest first."""
        ...


class TrafficSource(Protocol):
    """Where a planning cycle reads actuals and forecasts from."""

    def load(self, span: TimeRange | None = None) -> TrafficSet:
        """The points in ``span`` (all of them when None)."""
        ...

    def revision(self, span: TimeRange) -> str | None:
        """A token of the points in ``span``, read before them: equal tokens, the same points.
        None when the source cannot tell (then every cycle plans)."""
        ...


class NotifierError(RuntimeError):
    """A notice could not be delivered now (the service is down, rate-limited); it stays in
    the outbox and is tried again by the next dispatch."""


class Notifier(Protocol):
    """Tells people about requests: console (embedded default) or Slack."""

    def deliver(self, notice: Notice, thread: str | None) -> str | None:
        """Send one notice. ``thread`` is where this request's earlier notices went (for Slack,
        "<channel>/<ts>" of its approval message), None before the first. Returns the thread a
        new message started, None otherwise. Raises NotifierError when it should be retried."""
        ...


class FilingError(RuntimeError):
    """The filer could not file the ticket. ``outcome_unknown``: the case may exist at the
    provider anyway (timeout, 5xx, dropped connection), so look for its marker before filing
    again; otherwise the provider refused it (bad credentials, bad ids) and nothing exists."""

    def __init__(self, message: str, *, outcome_unknown: bool) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


class Filer(Protocol):
    """Files a ticket with the provider, or wherever the deployment sends tickets."""

    channel: str  # outbox | huawei-osm | email

    def find(self, marker: str) -> str | None:
        """The ticket number of a case filed earlier with this marker, if there is one: after an
        unknown outcome this is asked before filing again (there is no idempotency token)."""
        ...

    def file(self, ticket: Ticket) -> str:
        """File the ticket; its number. Raises FilingError."""
        ...

    def follow(self, ticket_id: str) -> str | None:
        """The provider's state of the case (accepted, processing, completed, cancelled), or
        None where the channel cannot tell (outbox, e-mail). Raises FilingError."""
        ...

    def urge(self, ticket_id: str, message: str) -> None:
        """Ask the provider to hurry a case that sits unaccepted near its burst (no-op where
        the channel has no such thing). Raises FilingError."""
        ...
