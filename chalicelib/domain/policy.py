"""The provider's service-assurance policy: every threshold, lead time and calendar setting.

The defaults are the Huawei Cloud Live profile (docs/rules.md, docs/deadlines.md). Changing a number
is a config
change: write a TOML file with the fields to override and pass it as ``--policy``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from chalicelib.domain.model import Model
from chalicelib.domain.vocabulary import BillingArea

Positive = Annotated[float, Field(gt=0)]
# Bandwidth above this is refused at ingestion (parsing takes it as its default too).
DEFAULT_BANDWIDTH_CEILING_GBPS: float = 20_000


class BillingMode(StrEnum):
    MONTHLY_95TH = "monthly-95th"
    MONTHLY_AVERAGE_DAILY_PEAK = "monthly-average-daily-peak"
    DAILY_PEAK = "daily-peak"
    TRAFFIC = "traffic"


class _Section(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MonthlyBandwidthRule(_Section):
    """Clause (a): charged bandwidth of the month, with growth over the previous month."""

    mainland_area: BillingArea = BillingArea.CN
    mainland_threshold_gbps: Positive = 100.0  # reached: >=
    overseas_threshold_gbps: Positive = 40.0  # exceeded: >
    growth_ratio: Annotated[float, Field(gt=1)] = 1.3  # charged(M) >= ratio x charged(M-1)
    # A previous month with fewer of its 5-minute points than this share counts as unknown.
    min_previous_coverage: Annotated[float, Field(gt=0, le=1)] = 0.9


class DailyPeakJumpRule(_Section):
    """Clause (b): today's peak minus yesterday's peak."""

    mainland_increment_gbps: Positive = 200.0
    overseas_increment_gbps: Positive = 60.0


class ConcurrencyRule(_Section):
    """Clause (c): value-added-service tasks per 5-minute interval. A point fires when it exceeds
    the threshold and grew by more than the ratio over ANY of three baselines
    (docs/rules.md#rule-c-value-added-service-concurrency)."""

    threshold: Positive = 10_000  # exceeded: >
    growth_ratio: Annotated[float, Field(gt=1)] = 1.5  # exceeded: > ratio x baseline
    # Baseline 1: the point this long before (the previous 5-minute point).
    previous_point_minutes: Annotated[int, Field(ge=5, le=24 * 60, multiple_of=5)] = 5
    # Baseline 2: the highest value in a window of this length that ends this long before the
    # point, so that a ramp shorter than the lag is compared with the level before it.
    hour_window_minutes: Annotated[int, Field(ge=5, le=24 * 60, multiple_of=5)] = 60
    hour_lag_minutes: Annotated[int, Field(ge=0, le=24 * 60, multiple_of=5)] = 60
    # Baseline 3: the value at the same time this many hours before (the day before).
    same_time_hours: Annotated[int, Field(ge=1, le=24 * 7)] = 24


class LeadTimes(_Section):
    working_days: Annotated[int, Field(ge=1, le=30)] = 3
    major_event_months: Annotated[int, Field(ge=1, le=12)] = 1
    cutoff: dt.time = dt.time(18, 0)
    reminder_window_hours: Annotated[int, Field(ge=0, le=24 * 60)] = 72

    @field_validator("cutoff")
    @classmethod
    def _naive_cutoff(cls, value: dt.time) -> dt.time:
        if value.tzinfo is not None:
            raise ValueError("give the cutoff as a local wall-clock time, without an offset")
        return value


class Approvals(_Section):
    """How people are asked, reminded and pressed (docs/lifecycle.md)."""

    # A re-forecast that moves the peak by this fraction, or a window the decision did not
    # cover, clears an approval or rejection and asks again.
    material_peak_change: Annotated[float, Field(gt=0, le=1)] = 0.10
    # Reminders in the request's thread, this many working days before its deadline (0: the
    # deadline's own day, when the escalation group is mentioned too).
    reminder_working_days: tuple[Annotated[int, Field(ge=0, le=30)], ...] = (3, 1, 0)
    # At the last reminder, approve and file a request nobody has answered.
    auto_file_when_unanswered: bool = False
    # A filed case the provider has not accepted this close to its burst is urged.
    urge_within_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 48

    @field_validator("reminder_working_days")
    @classmethod
    def _distinct_points(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("give at least one reminder point, e.g. [3, 1, 0]")
        return tuple(sorted(set(value), reverse=True))


class YearArrangement(_Section):
    """A year's official arrangement, entered by hand when the State Council publishes it
    before the holidays library does."""

    days_off: list[dt.date] = Field(description="weekdays that are holidays or bridged days off")
    working_weekends: list[dt.date] = Field(
        default_factory=list, description="weekend make-up working days (调休)"
    )


class CalendarPolicy(_Section):
    # The last year whose official arrangement holidays.China is trusted for; no later than the
    # last year the installed library publishes (later years: enter them as overrides).
    official_through: Annotated[int, Field(ge=2000, le=2100)] = 2026
    overrides: dict[int, YearArrangement] = Field(default_factory=dict)
    # For a year with no published arrangement: days around each holiday that are treated as off,
    # as (days before, days after) the holiday's anchor date. Wide enough to cover every
    # arrangement published from 2010 to 2026 (tests/test_workdays.py checks it), except the
    # one-off days off of 2015-09-03/04, decreed mid-year, which no window could foresee.
    estimate_windows: dict[str, tuple[int, int]] = Field(
        default_factory=lambda: {
            "new-year": (1, 2),
            "spring-festival": (2, 8),
            "qingming": (2, 2),
            "labour-day": (2, 4),
            "dragon-boat": (2, 2),
            "mid-autumn": (2, 2),
            "national-day": (2, 7),
        }
    )

    @staticmethod
    def last_published_year() -> int:
        """The last year whose official arrangement the installed ``holidays`` has for China.

        The library has no attribute for it: for a year without the State Council's notice,
        holidays.China silently computes the statutory days only. Every notice since 2001 moves
        days (bridged days off worked back on weekends, 调休), and the library transcribes each
        notice as one entry of ``ChinaStaticHolidays.special_public_holidays``, keyed by year
        (its ``weekend_workdays`` come from there). So the last key is the last published
        year: 2026 in holidays 0.109."""
        from holidays.countries.china import ChinaStaticHolidays

        return max(ChinaStaticHolidays.special_public_holidays)

    @field_validator("official_through")
    @classmethod
    def _published_by_the_library(cls, value: int) -> int:
        last = cls.last_published_year()
        if value > last:
            raise ValueError(
                f"{value} is later than {last}, the last year whose official arrangement the "
                f"installed holidays library has for China; enter later years as "
                f"calendar.overrides"
            )
        return value

    @model_validator(mode="after")
    def _overrides_match_their_year(self) -> CalendarPolicy:
        for year, arrangement in self.overrides.items():
            for day in (*arrangement.days_off, *arrangement.working_weekends):
                if day.year != year:
                    raise ValueError(f"override for {year} lists {day}, which is in another year")
            for day in arrangement.working_weekends:
                if day.weekday() < 5:
                    raise ValueError(f"working_weekends lists {day}, which is not a weekend day")
        return self


class Ingestion(_Section):
    """Which traffic rows are believed. A row dated outside [earliest, now + years_ahead) is
    refused at ingestion (a typo in the year, or epoch milliseconds read as seconds), and
    planning never reads past that horizon either, whatever an older version stored."""

    earliest: dt.date = dt.date(2000, 1, 1)  # local midnight, in the policy's time zone
    years_ahead: Annotated[int, Field(ge=1, le=10)] = 2


class Policy(_Section):
    provider: str = "huawei-cloud-live"
    time_zone: str = "Asia/Shanghai"
    billing_mode: BillingMode = BillingMode.MONTHLY_95TH
    billing_areas: tuple[BillingArea, ...] = tuple(BillingArea)
    monthly_bandwidth: MonthlyBandwidthRule = MonthlyBandwidthRule()
    daily_peak_jump: DailyPeakJumpRule = DailyPeakJumpRule()
    concurrency: ConcurrencyRule = ConcurrencyRule()
    lead_times: LeadTimes = LeadTimes()
    approvals: Approvals = Approvals()
    calendar: CalendarPolicy = CalendarPolicy()
    event_warning_horizon_days: Annotated[int, Field(ge=1, le=730)] = 120
    # A burst is covered by a major event when its window overlaps the event widened by this much
    # before the event's start (audiences and transcoding arrive early).
    major_event_margin_hours: Annotated[float, Field(ge=0, le=72)] = 3
    # A re-forecast burst keeps the live request of its rule and scope whose window overlaps it
    # or starts within this margin of it, instead of withdrawing one and creating another.
    rematch_margin_hours: Annotated[float, Field(ge=0, le=72)] = 6
    # Bandwidth above this is refused at ingestion: almost always Mbit/s given as Gbit/s.
    bandwidth_ceiling_gbps: Positive = DEFAULT_BANDWIDTH_CEILING_GBPS
    ingestion: Ingestion = Ingestion()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _mainland_is_an_area(self) -> Policy:
        if self.monthly_bandwidth.mainland_area not in self.billing_areas:
            raise ValueError(
                f"monthly_bandwidth.mainland_area {str(self.monthly_bandwidth.mainland_area)!r} "
                f"is not one of billing_areas {[str(a) for a in self.billing_areas]}"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_mainland(self, area: str) -> bool:
        return area == self.monthly_bandwidth.mainland_area


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming the field by its dotted path."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
