"""The calendar of events that drive traffic. A *major* event needs its ticket one month ahead."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chalicelib.domain.model import Model
from chalicelib.domain.vocabulary import BILLING_AREAS, CONCURRENCY_SCOPES, VAS_TOTAL

EVENT_SCOPES = frozenset((*BILLING_AREAS, *CONCURRENCY_SCOPES))
EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
GALA_PREFIX = "spring-festival-gala-"
# The years an event may fall in: a date outside them is a typo, and the lunar calendar we use
# ends in 2099. Galas are generated for the same years.
EVENT_YEARS = range(2000, 2100)
GALA_YEARS = EVENT_YEARS
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
LINE_BREAKS_AND_TABS = re.compile(r"[\t\n\r]")


class Event(Model):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: Annotated[str, Field(pattern=EVENT_ID.pattern)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    start: AwareDatetime
    end: AwareDatetime
    major: bool  # no default: an unmarked event must not mean one thing here and another there
    scopes: tuple[str, ...] = ()  # empty: every billing area and service
    notes: Annotated[str, Field(max_length=2000)] | None = None
    # How many times the event changed since it was first stored, and when it last did: what
    # calendar clients read as SEQUENCE and LAST-MODIFIED. Set by the store's writers (revised).
    revision: Annotated[int, Field(ge=0)] = 0
    modified: AwareDatetime | None = None

    # The stores read events back as JSON. An event stored before these checks existed must
    # still load, so they apply to new input only, and the readers that cannot take such an
    # event skip or clean it (adapters.ical.write_calendar).

    @field_validator("start", "end")
    @classmethod
    def _within_event_years(cls, moment: dt.datetime, info: ValidationInfo) -> dt.datetime:
        if info.mode != "json" and moment.year not in EVENT_YEARS:
            raise ValueError(f"must be in the years {EVENT_YEARS[0]} to {EVENT_YEARS[-1]}")
        return moment

    @field_validator("name", "notes")
    @classmethod
    def _no_control_characters(cls, text: str | None, info: ValidationInfo) -> str | None:
        allowed = LINE_BREAKS_AND_TABS if info.field_name == "notes" else None
        if text is not None and info.mode != "json" and has_control_characters(text, allowed):
            raise ValueError("must not contain control characters")
        return text

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


def has_control_characters(text: str, allowed: re.Pattern[str] | None = None) -> bool:
    return bool(CONTROL_CHARACTERS.search(allowed.sub("", text) if allowed else text))


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


def plannable(events: list[Event]) -> list[Event]:
    """Events dated within EVENT_YEARS. Input refuses any other date, but an event stored by
    older code may still carry one (year 9999), and must not break a plan or the feed."""
    return [e for e in events if e.start.year in EVENT_YEARS and e.end.year in EVENT_YEARS]


def etag(event: Event) -> str:
    """The event's version as HTTP names it (ETag): the same for the same content."""
    return '"' + hashlib.sha256(event.model_dump_json().encode()).hexdigest()[:20] + '"'


def revised(old: Event | None, new: Event, now: dt.datetime) -> Event:
    """``new`` as it is to be stored: a first version, the same revision when nothing but the
    revision would change, or the next revision, modified ``now``."""
    if old is None:
        return new.model_copy(update={"revision": 0, "modified": now})
    bookkeeping = {"revision", "modified"}
    if old.model_dump(exclude=bookkeeping) == new.model_dump(exclude=bookkeeping):
        return new.model_copy(update={"revision": old.revision, "modified": old.modified})
    return new.model_copy(update={"revision": old.revision + 1, "modified": now})
