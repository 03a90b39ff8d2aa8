"""Filing deadlines (docs/deadlines.md). Pure: every time is given, none is read from a clock."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pendulum

from chalicelib.domain.policy import Policy
from chalicelib.domain.vocabulary import LeadKind
from chalicelib.domain.workdays import WorkingDayCalendar


@dataclass(frozen=True)
class Deadline:
    at: dt.datetime  # aware, in the policy's time zone; a cutoff, or a 1-month exact mark
    kind: LeadKind
    lead_time: str  # as people read it: "3 working days", "1 month"
    estimated: bool  # rests on a year whose official arrangement is not yet published


class DeadlineCalculator:
    def __init__(self, policy: Policy, calendar: WorkingDayCalendar | None = None) -> None:
        self.policy = policy
        self.calendar = calendar or WorkingDayCalendar(policy.calendar)

    def working_days_ahead(self, burst_start: dt.datetime) -> Deadline:
        """The cutoff on the n-th working day strictly before the burst's local calendar day."""
        n = self.policy.lead_times.working_days
        answer = self.calendar.nth_working_day_before(self._local_day(burst_start), n)
        unit = "working day" if n == 1 else "working days"
        return Deadline(
            self._at_cutoff(answer.day), LeadKind.WORKING_DAYS, f"{n} {unit}", answer.estimated
        )

    def months_ahead(self, anchor: dt.datetime) -> Deadline:
        """The earlier of the exact mark and the cutoff on the working day on or before it.

        The mark is ``anchor`` minus n calendar months, at the same wall-clock time in the
        policy's zone; pendulum clamps to the month's end (31 March - 1 month = 28 or 29
        February). Only the days from the mark's day back to the answer are consulted."""
        n = self.policy.lead_times.major_event_months
        local = self._local(anchor)
        target = pendulum.date(local.year, local.month, local.day).subtract(months=n)
        mark = dt.datetime.combine(
            dt.date(target.year, target.month, target.day), local.time(), tzinfo=self.policy.zone
        )
        answer = self.calendar.working_day_on_or_before(mark.date())
        unit = "month" if n == 1 else "months"
        return Deadline(
            min(mark, self._at_cutoff(answer.day)),
            LeadKind.MAJOR_EVENT,
            f"{n} {unit}",
            answer.estimated,
        )

    def _local_day(self, moment: dt.datetime) -> dt.date:
        return self._local(moment).date()

    def _local(self, moment: dt.datetime) -> dt.datetime:
        if moment.tzinfo is None:
            raise ValueError(f"{moment.isoformat()} has no UTC offset")
        return moment.astimezone(self.policy.zone)

    def _at_cutoff(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, self.policy.lead_times.cutoff, tzinfo=self.policy.zone)


def time_left(deadline: dt.datetime, now: dt.datetime, policy: Policy) -> str:
    """As people read it: working days left on the official calendar, or hours (rounded up, so
    never "0h") within the last day, or "overdue"."""
    hours = (deadline - now).total_seconds() / 3600
    if hours <= 0:
        return "overdue"
    if hours < 24:
        return f"{math.ceil(hours)}h"
    days = WorkingDayCalendar(policy.calendar).working_days_after(
        now.astimezone(policy.zone).date(), deadline.astimezone(policy.zone).date()
    )
    return f"{days} wd"
