"""Notices: what people must hear about a request, kept in the store's outbox until sent.

A change to a request and the notice announcing it are written in one transaction, so a run that
crashes after its writes still gets them announced: the next dispatch sends what is pending.
Delivery is at least once; a notice is removed from the outbox only after it was sent.
"""

from __future__ import annotations

from pydantic import ConfigDict

from chalicelib.domain.model import Model
from chalicelib.domain.tracking import AuditEntry, TrackedRequest


class Notice(Model):
    model_config = ConfigDict(frozen=True)

    request: TrackedRequest  # the request as the change left it
    audit: AuditEntry  # what changed, who changed it, when

    @property
    def request_id(self) -> str:
        return self.audit.request_id

    @property
    def version(self) -> int:
        return self.audit.version

    @property
    def action(self) -> str:
        return self.audit.action

    @property
    def key(self) -> tuple[str, int]:
        """Unique in the outbox: one notice per request version."""
        return (self.request_id, self.version)


def in_sending_order(notices: list[Notice]) -> list[Notice]:
    """Oldest first, and a request's notices in the order of its versions."""
    return sorted(notices, key=lambda n: (n.audit.at, n.request_id, n.version))
