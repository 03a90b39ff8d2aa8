"""What the API takes and gives: the bodies and query strings as pydantic models.

The OpenAPI document (chalicelib.entry.api.openapi) is generated from these and the routes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
)

from chalicelib.domain.assurance import Status
from chalicelib.domain.events import EVENT_YEARS
from chalicelib.domain.model import Model
from chalicelib.domain.tracking import AuditEntry, Presence, TrackedRequest
from chalicelib.domain.vocabulary import Metric, Rule

ISO_WITH_OFFSET = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})", re.ASCII
)


def _iso_with_offset(value: object) -> object:
    """Only what a person means unambiguously: no epoch numbers, no dates without a time."""
    if isinstance(value, str) and ISO_WITH_OFFSET.fullmatch(value):
        return value
    raise ValueError("expected ISO 8601 with a timezone offset, e.g. 2026-03-09T19:30:00+08:00")


def _true_or_false(value: object) -> object:
    """A query string's boolean: the words true and false, nothing else that looks like one."""
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("expected true or false")


def _in_event_years(moment: dt.datetime) -> dt.datetime:
    if moment.year not in EVENT_YEARS:
        raise ValueError(f"must be in the years {EVENT_YEARS[0]} to {EVENT_YEARS[-1]}")
    return moment


Moment = Annotated[AwareDatetime, BeforeValidator(_iso_with_offset)]
QueryBool = Annotated[bool, BeforeValidator(_true_or_false)]


class _Strict(Model):
    model_config = ConfigDict(extra="forbid")


class EventBody(_Strict):
    """An event as a client sends it. ``id`` is optional on create and must match on replace."""

    id: str | None = None
    name: str
    start: Moment
    end: Moment
    major: StrictBool  # required: an unmarked event would mean different things in different places
    scopes: list[str] = Field(default_factory=list)
    notes: str | None = None


class EventQuery(_Strict):
    from_: Moment | None = Field(default=None, alias="from")
    to: Moment | None = None
    major: QueryBool | None = None


class ImportQuery(_Strict):
    major: QueryBool | None = Field(
        default=None,
        description="the mark of events the calendar marks neither major nor minor; without "
        "it, a calendar with such events is refused",
    )


class ImportResult(Model):
    imported: int = Field(description="events in the calendar")
    written: int = Field(description="of those, events new or changed (the rest were stored)")
    ids: list[str]
    replanned: int = Field(description="requests the re-plan changed (0 if no major event)")


class RequestQuery(_Strict):
    status: Status | None = None
    rule: Rule | None = None
    scope: str | None = None
    presence: Presence | None = None
    deadline_from: Moment | None = None
    deadline_to: Moment | None = None

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
    now: Annotated[Moment, AfterValidator(_in_event_years)] | None = None


class CalendarQuery(Model):
    """Calendar apps and link trackers add parameters of their own (utm_source...): ignored."""

    model_config = ConfigDict(extra="ignore")

    token: str | None = Field(default=None, description="or send it as a bearer token")


class TrafficPoint(_Strict):
    """One row of a JSON forecast upload (the CSV upload has the same columns)."""

    time: str = Field(description="ISO 8601 with offset, on a 5-minute boundary")
    metric: Metric
    scope: str
    value: Annotated[float, Strict()] = Field(ge=0)


class IngestResult(Model):
    series: int
    points: int


class RequestDetail(Model):
    request: TrackedRequest
    audit: list[AuditEntry]


class ErrorDetail(Model):
    code: str
    message: str
    field: str | None


class ErrorBody(Model):
    error: ErrorDetail


class DecisionBody(_Strict):
    by: str = Field(min_length=1, max_length=100, description="who decides (name or user id)")
    reason: str | None = Field(default=None, max_length=2000, description="required to reject")


class FilingBody(_Strict):
    by: str = Field(min_length=1, max_length=100)


class ManualFilingBody(_Strict):
    by: str = Field(min_length=1, max_length=100)
    ticket: str = Field(min_length=1, max_length=100, description="the case number")


class SlackInteraction(Model):
    """What Slack posts to /slack/interactions, form-encoded and signed."""

    payload: str  # JSON: a block_actions click or a view_submission
