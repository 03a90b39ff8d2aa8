"""The calendar of events that drive traffic. A *major* event needs its ticket one month ahead."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.vocabulary import BILLING_AREAS, CONCURRENCY_SCOPES, VAS_TOTAL

EVENT_SCOPES = frozenset((*BILLING_AREAS, *CONCURRENCY_SCOPES))
EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
GALA_PREFIX = "spring-festival-gala-"
GALA_YEARS = range(1983, 2100)  # CCTV's first gala; the lunar calendar we use ends in 2099


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: Annotated[str, Field(pattern=EVENT_ID.pattern)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    start: AwareDatetime
    end: AwareDatetime
    major: bool  # no default: an unmarked event must not mean one thing here and another there
    scopes: tuple[str, ...] = ()  # empty: every billing area and service
    notes: Annotated[str, Field(max_length=2000)] | None = None

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, scopes: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(scopes) - EVENT_SCOPES)
        if unknown:
            raise ValueError(
                f"unknown scope(s) {', '.join(unknown)}; expected billing areas or services "
                f"({', '.join(sorted(EVENT_SCOPES))})"
            )
        return tuple(sorted(set(scopes)))

    @model_validator(mode="after")
    def _ends_after_start(self) -> Event:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def applies_to(self, scope: str) -> bool:
        """Whether a burst in ``scope`` belongs to this event. Value-added services are not
        billed per area, so an event limited to areas covers them unless it names services."""
        if not self.scopes or scope in self.scopes:
            return True
        services = [s for s in self.scopes if s in CONCURRENCY_SCOPES]
        return scope in CONCURRENCY_SCOPES and (not services or scope == VAS_TOTAL)

    def names(self, scope: str) -> bool:
        """Whether the event is about ``scope`` itself: all scopes, or listed by name. (A
        forecast of a service does not forecast an event limited to billing areas.)"""
        return not self.scopes or scope in self.scopes

    def overlaps(
        self, start: dt.datetime, end: dt.datetime, lead: dt.timedelta = dt.timedelta(0)
    ) -> bool:
        """Whether [start, end) overlaps the event widened by ``lead`` before its start."""
        return self.start - lead < end and start < self.end

    @property
    def generated(self) -> bool:
        return self.id.startswith(GALA_PREFIX)


def event_id_for(name: str, start: dt.datetime) -> str:
    """A readable id for a new event: its name as a slug, and its start date."""
    words = "".join(c.lower() if c.isascii() and c.isalnum() else "-" for c in name)
    slug = "-".join(part for part in words.split("-") if part)[:80] or "event"
    return f"{slug}-{start.date().isoformat()}"


def spring_festival_gala(year: int, zone: ZoneInfo) -> Event:
    """CCTV's gala on Chinese New Year's Eve, 20:00-00:30, of the lunar year ``year``."""
    from chalicelib.domain.workdays import (
        spring_festival_eve,  # the holiday tables load on first use
    )

    eve = spring_festival_eve(year)
    start = dt.datetime.combine(eve, dt.time(20, 0), tzinfo=zone)
    return Event(
        id=f"{GALA_PREFIX}{year}",
        name=f"Spring Festival Gala {year}",
        start=start,
        end=start + dt.timedelta(hours=4, minutes=30),
        major=True,
        notes="Generated: CCTV Spring Festival Gala on Chinese New Year's Eve.",
    )


def with_galas(events: Iterable[Event], years: Iterable[int], zone: ZoneInfo) -> list[Event]:
    """The events plus a gala for each year, unless the calendar already holds that year's gala."""
    result = list(events)
    have = {e.id for e in result}
    result.extend(
        spring_festival_gala(y, zone)
        for y in sorted(set(years))
        if y in GALA_YEARS and f"{GALA_PREFIX}{y}" not in have
    )
    return sorted(result, key=lambda e: (e.start, e.id))
