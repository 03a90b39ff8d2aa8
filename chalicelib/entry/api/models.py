"""What the API takes and gives: the bodies and query strings as pydantic models.

The OpenAPI document (chalicelib.entry.api.openapi) is generated from these and the routes."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chalicelib.domain.assurance import Status
from chalicelib.domain.tracking import AuditEntry, Presence, TrackedRequest
from chalicelib.domain.vocabulary import Metric, Rule


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventBody(_Strict):
    """An event as a client sends it. ``id`` is optional on create and must match on replace."""

    id: str | None = None
    name: str
    start: AwareDatetime
    end: AwareDatetime
    major: bool  # required: an unmarked event would mean different things in different places
    scopes: list[str] = Field(default_factory=list)
    notes: str | None = None


class EventQuery(_Strict):
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    major: bool | None = None


class RequestQuery(_Strict):
    status: Status | None = None
    rule: Rule | None = None
    scope: str | None = None
    presence: Presence | None = None
    deadline_from: AwareDatetime | None = None
    deadline_to: AwareDatetime | None = None

    def matches(self, tracked: TrackedRequest) -> bool:
        r = tracked.request
        return (
            (self.status is None or r.status is self.status)
            and (self.rule is None or r.rule == self.rule)
            and (self.scope is None or r.scope == self.scope)
            and (self.presence is None or tracked.presence is self.presence)
            and (self.deadline_from is None or r.deadline >= self.deadline_from)
            and (self.deadline_to is None or r.deadline <= self.deadline_to)
        )


class PlanQuery(_Strict):
    now: AwareDatetime | None = None


class CalendarQuery(_Strict):
    token: str


class TrafficPoint(_Strict):
    """One row of a JSON forecast upload (the CSV upload has the same columns)."""

    time: str = Field(description="ISO 8601 with offset, on a 5-minute boundary")
    metric: Metric
    scope: str
    value: float = Field(ge=0)


class IngestResult(BaseModel):
    series: int
    points: int


class RequestDetail(BaseModel):
    request: TrackedRequest
    audit: list[AuditEntry]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorBody(BaseModel):
    error: ErrorDetail


class DecisionBody(_Strict):
    by: str = Field(min_length=1, max_length=100, description="who decides (name or user id)")
    reason: str | None = Field(default=None, max_length=2000, description="required to reject")


class FilingBody(_Strict):
    by: str = Field(min_length=1, max_length=100)


class ManualFilingBody(_Strict):
    by: str = Field(min_length=1, max_length=100)
    ticket: str = Field(min_length=1, max_length=100, description="the case number")


class SlackInteraction(BaseModel):
    """What Slack posts to /slack/interactions, form-encoded and signed."""

    payload: str  # JSON: a block_actions click or a view_submission
