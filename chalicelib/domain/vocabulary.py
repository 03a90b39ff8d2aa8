"""The closed sets of the domain, named once. Each is a StrEnum, so its JSON and CLI spelling is
the plain string value (docs/rules.md, docs/data-formats.md).

Members compare equal to their strings; sets and dict keys of plain strings are built from
``.value`` (a StrEnum member does not hash like its value unless name and value coincide)."""

from __future__ import annotations

from enum import StrEnum


class Rule(StrEnum):
    """The SLA's three burst clauses (a), (b), (c)."""

    MONTHLY_CHARGED_BANDWIDTH = "monthly-charged-bandwidth"
    DAILY_PEAK_JUMP = "daily-peak-jump"
    VAS_CONCURRENCY = "vas-concurrency"


class Metric(StrEnum):
    BANDWIDTH = "bandwidth"  # Gbit/s, per billing area
    CONCURRENCY = "concurrency"  # tasks, per value-added service


class BillingArea(StrEnum):
    """Huawei Cloud Live's billing areas, by their API codes."""

    CN = "CN"  # Chinese mainland
    AP1 = "AP1"
    AP2 = "AP2"
    AP3 = "AP3"
    MEAA = "MEAA"
    SA = "SA"
    EU = "EU"


class Service(StrEnum):
    """Value-added services whose concurrent tasks rule (c) counts."""

    TRANSCODING = "transcoding"
    RECORDING = "recording"
    SNAPSHOT = "snapshot"


VAS_TOTAL = "vas-total"  # the scope of the three services' sum


class LeadKind(StrEnum):
    WORKING_DAYS = "working-days"  # the usual lead: n working days
    MAJOR_EVENT = "major-event"  # a burst covered by a major event: n calendar months


class WarningCode(StrEnum):
    EVENT_WITHOUT_FORECAST = "event-without-forecast"
    ESTIMATED_CALENDAR = "estimated-calendar"
    UNCHECKED_DAY = "unchecked-day"
    PARTIAL_BASELINE = "partial-baseline"  # rule a's previous month too thin to compare with
    SPARSE_SERIES = "sparse-series"  # points wider apart than 5 minutes: peaks understated


BILLING_AREAS = tuple(a.value for a in BillingArea)
VAS_KINDS = tuple(s.value for s in Service)
CONCURRENCY_SCOPES = (*VAS_KINDS, VAS_TOTAL)
