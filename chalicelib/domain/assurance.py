"""What a plan is made of: assurance requests, their status, and warnings.

Fields: docs/data-formats.md#plan-json.

Plain pydantic models, kept apart from the planner so that the API can describe and parse them
without importing NumPy or the holiday calendar.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import AwareDatetime, ConfigDict

from chalicelib.domain.model import Model
from chalicelib.domain.policy import Policy
from chalicelib.domain.vocabulary import Rule, WarningCode


class Status(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"  # the deadline is within the policy's reminder window
    OVERDUE = "overdue"


class EventRef(Model):
    model_config = ConfigDict(frozen=True)
    id: str
    name: str
    major: bool


class AssuranceRequest(Model):
    """One service-assurance ticket the customer must file, for one burst."""

    model_config = ConfigDict(frozen=True)

    id: str
    rule: Rule
    scope: str
    period: str
    burst_start: AwareDatetime
    burst_end: AwareDatetime
    forecast_peak: float  # the highest forecast point in the burst: what the ticket reserves
    baseline: float
    threshold: float
    rule_value: float  # what the rule compared with the threshold (docs/rules.md)
    unit: str
    event: EventRef | None
    lead_time: str
    deadline: AwareDatetime
    status: Status
    estimated_calendar: bool


class PlanWarning(Model):
    model_config = ConfigDict(frozen=True)
    code: WarningCode
    message: str


class Plan(Model):
    now: AwareDatetime
    requests: list[AssuranceRequest]
    warnings: list[PlanWarning]


def status_at(deadline: dt.datetime, now: dt.datetime, policy: Policy) -> Status:
    if now > deadline:
        return Status.OVERDUE
    if deadline - now <= dt.timedelta(hours=policy.lead_times.reminder_window_hours):
        return Status.DUE
    return Status.UPCOMING
