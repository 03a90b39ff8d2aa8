"""The ports every workflow takes as parameters; adapters implement them (chalicelib.adapters).

Store: every adapter (SQLite, DynamoDB) passes tests/test_store_contract.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from chalicelib.domain.events import Event
from chalicelib.domain.tracking import AuditEntry, Change, TrackedRequest

if TYPE_CHECKING:  # traffic.py imports NumPy, which an /events request should not pay for
    from chalicelib.domain.tickets import Ticket
    from chalicelib.domain.traffic import TrafficSet


class Store(Protocol):
    # -- events: plain upserts, the calendar is user data ---------------------------------
    def put_event(self, event: Event) -> None: ...

    def get_event(self, event_id: str) -> Event | None: ...

    def delete_event(self, event_id: str) -> bool:
        """True when the event existed."""
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
        self, tracked: TrackedRequest, expected_version: int | None, audit: AuditEntry
    ) -> None:
        """Write ``tracked`` and append ``audit`` in one atomic step, but only if the stored
        version is still ``expected_version`` (None: the request must not exist yet).
        Raises chalicelib.domain.errors.Conflict otherwise, and writes nothing."""
        ...

    def audit_trail(self, request_id: str) -> list[AuditEntry]:
        """The request's audit entries, oldest first."""
        ...

    # -- traffic: uploaded actuals and forecasts -----------------------------------------
    def put_traffic(self, traffic: TrafficSet) -> None:
        """Merge the points in (new points win), as chunks (chalicelib.adapters.store.chunks).
        A chunk is written whole or not at all."""
        ...

    def get_traffic(self) -> TrafficSet:
        """Every stored point; an empty set when nothing was uploaded."""
        ...


class TrafficSource(Protocol):
    """Where a planning cycle reads actuals and forecasts from."""

    def load(self) -> TrafficSet: ...


class Notifier(Protocol):
    """Tells people what changed. Console here; Slack later."""

    def announce(self, changes: list[Change]) -> None:
        """What a planning cycle changed."""
        ...

    def remind(self, requests: list[TrackedRequest]) -> None:
        """Requests still to be filed whose deadline is near or past."""
        ...


class Filer(Protocol):
    """Files a ticket with the provider, or wherever the deployment sends tickets."""

    channel: str  # outbox | huawei-osm | email

    def find(self, marker: str) -> str | None:
        """The ticket number of a case filed earlier with this marker, if there is one: after an
        unknown outcome this is asked before filing again (there is no idempotency token)."""
        ...

    def file(self, ticket: Ticket) -> str:
        """File the ticket; its number."""
        ...
