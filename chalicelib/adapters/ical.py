"""iCalendar (RFC 5545) import and export of the event calendar.

``read_events`` turns the VEVENTs of an .ics file (Google Calendar, Outlook, or our own export)
into ``Event`` objects; ``write_calendar`` publishes events and ticket deadlines as a calendar
that Outlook and Google Calendar can subscribe to.

Reading rules:

* Times with a TZID or in UTC keep their instant; floating times and all-day dates are read in the
  policy time zone (all-day: midnight to midnight). Every time comes back in that zone.
* No DTEND or DURATION, or a zero length: one hour for a timed event, one day for an all-day one.
* Major: ``X-BURST-ASSURANCE-MAJOR:TRUE|FALSE`` wins, then a ``MAJOR`` category, then the
  caller's default. Scopes come from ``X-BURST-ASSURANCE-SCOPES:CN,AP1``.
* Recurring events are expanded when the series has an end (COUNT or UNTIL) and at most
  ``MAX_OCCURRENCES`` occurrences; EXDATE, RDATE and RECURRENCE-ID overrides are honoured. A
  series that repeats forever is rejected: we have no clock here to bound it by, and silently
  cutting it off would drop events. Each occurrence's id is the series id plus its start.
* Cancelled events (STATUS:CANCELLED) and the deadline entries we export ourselves are skipped.
* Any problem raises ``InputError`` naming the source, the event and the reason, before anything
  is returned.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr
from icalendar import Alarm, Calendar, Timezone
from icalendar import Event as VEvent
from pydantic import ValidationError

from chalicelib.domain.assurance import AssuranceRequest
from chalicelib.domain.errors import InputError
from chalicelib.domain.events import CONTROL_CHARACTERS, EVENT_SCOPES, EVENT_YEARS, Event
from chalicelib.domain.policy import describe_validation_error

log = logging.getLogger(__name__)

DOMAIN = "@burst-assurance"
PRODID = "-//Burst Assurance//Event calendar//EN"
X_MAJOR = "X-BURST-ASSURANCE-MAJOR"
X_SCOPES = "X-BURST-ASSURANCE-SCOPES"
X_KIND = "X-BURST-ASSURANCE-KIND"
DEADLINE = "DEADLINE"
MAJOR = "MAJOR"
MAX_OCCURRENCES = 1000
MAX_ID_LENGTH = 128
MAX_NOTES_LENGTH = 2000
TIMED_DEFAULT = dt.timedelta(hours=1)
ALL_DAY_DEFAULT = dt.timedelta(days=1)
DEADLINE_SLOT = dt.timedelta(minutes=30)
REMINDER = dt.timedelta(days=1)

_UNSAFE = re.compile(r"[^A-Za-z0-9._:@-]")
_SCOPE_NAMES = {scope.lower(): scope for scope in EVENT_SCOPES}
# Properties whose parse errors make an event unreadable; errors in others are ignored.
_READ = frozenset(
    {"UID", "SUMMARY", "DESCRIPTION", "DTSTART", "DTEND", "DURATION", "CATEGORIES", "STATUS"}
    | {"RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", X_MAJOR, X_SCOPES}
)

_Item = TypeVar("_Item", Event, AssuranceRequest)
Moment = dt.date  # a date (all day), or a datetime: floating (naive) or aware


class _Reject(ValueError):
    """One VEVENT cannot be read; the message is the reason, without source or event name."""


# -- reading -------------------------------------------------------------------------------------


def read_events(
    data: bytes | str,
    *,
    default_major: bool = True,
    source: str = "<ics>",
    zone: ZoneInfo,
) -> list[Event]:
    """The events of an iCalendar file, sorted by start; all of them or an ``InputError``.
    ``zone`` is the policy's: floating times and all-day dates are read in it."""
    calendar = _parse(data, source)
    reader = _Reader(zone, default_major)
    vevents, changes = _group(v for v in calendar.events if not _exported_deadline(v))
    events: list[Event] = []
    for vevent in vevents:
        try:
            events.extend(reader.events(vevent, changes.get(_uid(vevent) or "", [])))
        except (_Reject, OverflowError) as exc:  # overflow: a date at the end of time
            raise _input_error(source, f"event {_label(vevent)}: {exc}") from None
    _check_unique(events, source)
    return sorted(events, key=lambda e: (e.start, e.id))


def _input_error(source: str, message: str) -> InputError:
    return InputError(f"{source}: {message}", field="events")


def _parse(data: bytes | str, source: str) -> Calendar:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _input_error(source, f"not an iCalendar file: not UTF-8 ({exc.reason})") from None
    try:
        # Always bytes: icalendar reads a one-line str as a file path.
        calendar = Calendar.from_ical(raw)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise _input_error(source, f"not an iCalendar file: {reason}") from None
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        found = getattr(calendar, "name", type(calendar).__name__)
        raise _input_error(source, f"not an iCalendar file: found {found}, not VCALENDAR")
    return calendar


def _exported_deadline(vevent: VEvent) -> bool:
    """Our deadline entries, recognised by kind or, if a calendar app dropped that, by UID."""
    kind = vevent.get(X_KIND)
    if isinstance(kind, str) and kind.strip().upper() == DEADLINE:
        return True
    uid = _uid(vevent) or ""
    return uid.startswith("deadline-") and uid.endswith(DOMAIN)


def _uid(vevent: VEvent) -> str | None:
    value = vevent.get("UID")
    return (value.strip() or None) if isinstance(value, str) else None


def _group(vevents: Iterable[VEvent]) -> tuple[list[VEvent], dict[str, list[VEvent]]]:
    """The VEVENTs to read, and apart from them the changed occurrences of each recurring
    series in the file (same UID, with a RECURRENCE-ID), by UID."""
    vevents = list(vevents)
    series = {_uid(v) for v in vevents if "RECURRENCE-ID" not in v}
    main: list[VEvent] = []
    changes: dict[str, list[VEvent]] = {}
    for vevent in vevents:
        uid = _uid(vevent)
        if uid is not None and uid in series and "RECURRENCE-ID" in vevent:
            changes.setdefault(uid, []).append(vevent)
        else:
            main.append(vevent)
    return main, changes


def _label(vevent: VEvent) -> str:
    for name in ("UID", "SUMMARY"):
        value = vevent.get(name)
        if isinstance(value, str) and value.strip():
            return repr(value.strip())
    start = vevent.get("DTSTART")
    when = start.to_ical().decode() if hasattr(start, "to_ical") else "unknown"
    return f"without UID or SUMMARY (DTSTART {when})"


def _check_unique(events: Sequence[Event], source: str) -> None:
    seen: set[str] = set()
    for event in events:
        if event.id in seen:
            raise _input_error(
                source, f"event {event.id!r}: appears more than once (UIDs must be unique)"
            )
        seen.add(event.id)


@dataclass(frozen=True)
class _Span:
    start: Moment  # as written
    length: dt.timedelta  # exact, or whole days for an all-day event


@dataclass(frozen=True)
class _Reader:
    zone: ZoneInfo
    default_major: bool

    def events(self, vevent: VEvent, overrides: Sequence[VEvent]) -> list[Event]:
        """The events of one VEVENT: one, or every occurrence of a recurring series."""
        _check_parse_errors(vevent)
        if _cancelled(vevent):
            return []
        span = _span(vevent, self.zone)
        raw_id = _uid(vevent) or _derived_id(vevent, span.start)
        if "RECURRENCE-ID" in vevent:  # an occurrence whose series is not in the file
            return [self._event(vevent, raw_id, _recurrence_key(vevent), span)]
        starts = _occurrences(vevent, span.start)
        if starts is None:
            return [self._event(vevent, raw_id, None, span)]
        changed = {_recurrence_key(o): o for o in overrides}
        result = [
            self._event(vevent, raw_id, _key(start), _Span(start, span.length))
            for start in starts
            if _key(start) not in changed
        ]
        for key, override in sorted(changed.items()):
            result.extend(self._override(override, raw_id, key))
        return result

    def _override(self, vevent: VEvent, raw_id: str, key: str) -> list[Event]:
        try:
            _check_parse_errors(vevent)
            if _cancelled(vevent):
                return []
            return [self._event(vevent, raw_id, key, _span(vevent, self.zone))]
        except _Reject as exc:
            raise _Reject(f"occurrence {key}: {exc}") from None

    def _event(self, vevent: VEvent, raw_id: str, key: str | None, span: _Span) -> Event:
        start, end = _instants(span, self.zone)
        try:
            return Event(
                id=_safe_id(raw_id, f"-{key}" if key else ""),
                name=_summary(vevent),
                start=start,
                end=end,
                major=_major(vevent, self.default_major),
                scopes=_scopes(vevent),
                notes=_notes(vevent),
            )
        except ValidationError as exc:
            raise _Reject(describe_validation_error(exc)) from None


def _check_parse_errors(vevent: VEvent) -> None:
    for name, message in vevent.errors:
        if name in _READ:
            raise _Reject(f"{name} cannot be read: {message}")


def _single(vevent: VEvent, name: str) -> Any:
    value = vevent.get(name)
    if isinstance(value, list):
        raise _Reject(f"has more than one {name}")
    return value


def _text(vevent: VEvent, name: str) -> str | None:
    value = _single(vevent, name)
    text = str(value).strip() if value is not None else ""
    return text or None


def _cancelled(vevent: VEvent) -> bool:
    return (_text(vevent, "STATUS") or "").upper() == "CANCELLED"


def _moment(vevent: VEvent, name: str) -> Moment | None:
    prop = _single(vevent, name)
    if prop is None:
        return None
    value = getattr(prop, "dt", None)
    if not isinstance(value, dt.date):
        raise _Reject(f"{name} is not a date or a date-time")
    tzid = prop.params.get("TZID")
    if isinstance(value, dt.datetime) and value.tzinfo is None and tzid:
        raise _Reject(f"{name} uses an unknown time zone {tzid!r} (no VTIMEZONE for it)")
    return value


def _all_day(moment: Moment) -> bool:
    return not isinstance(moment, dt.datetime)


def _span(vevent: VEvent, zone: ZoneInfo) -> _Span:
    start = _moment(vevent, "DTSTART")
    if start is None:
        raise _Reject("has no DTSTART")
    end = _moment(vevent, "DTEND")
    duration = _single(vevent, "DURATION")
    if end is not None and duration is not None:
        raise _Reject("has both DTEND and DURATION")
    if duration is not None:
        length = getattr(duration, "dt", None)
        if not isinstance(length, dt.timedelta):
            raise _Reject("DURATION is not a duration")
        if _all_day(start) and length % dt.timedelta(days=1):
            raise _Reject("the DURATION of an all-day event must be whole days")
        end = start + length
    if end is not None and _all_day(end) != _all_day(start):
        raise _Reject("DTSTART and DTEND must both be dates or both date-times")
    return _Span(start, _length(start, end, zone))


def _length(start: Moment, end: Moment | None, zone: ZoneInfo) -> dt.timedelta:
    default = ALL_DAY_DEFAULT if _all_day(start) else TIMED_DEFAULT
    if end is None:
        return default
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        length = _aware(end, zone) - _aware(start, zone)
    else:
        length = end - start
    if length < dt.timedelta(0):
        raise _Reject(f"ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    return length or default


def _aware(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The instant, in UTC (so differences are exact); a floating time is read in ``zone``."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(dt.UTC)


def _instants(span: _Span, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = span.start
    if not isinstance(start, dt.datetime):
        midnight = dt.datetime.combine(start, dt.time(0), tzinfo=zone)
        end = dt.datetime.combine(start + span.length, dt.time(0), tzinfo=zone)
        return midnight, end
    instant = _aware(start, zone)
    return instant.astimezone(zone), (instant + span.length).astimezone(zone)


def _key(moment: Moment) -> str:
    """A start as it goes into an occurrence id: the date, the floating time, or UTC."""
    if not isinstance(moment, dt.datetime):
        return moment.strftime("%Y%m%d")
    if moment.tzinfo is None:
        return moment.strftime("%Y%m%dT%H%M%S")
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _recurrence_key(vevent: VEvent) -> str:
    moment = _moment(vevent, "RECURRENCE-ID")
    if moment is None:
        raise _Reject("RECURRENCE-ID has no value")
    return _key(moment)


# -- recurrence ----------------------------------------------------------------------------------


def _occurrences(vevent: VEvent, start: Moment) -> list[Moment] | None:
    """Every start of a recurring event, or None when the event does not recur."""
    rule = _single(vevent, "RRULE")
    extra = _moments(vevent, "RDATE")
    if rule is None and not extra:
        return None
    if rule is not None and "COUNT" not in rule and "UNTIL" not in rule:
        raise _Reject(
            "repeats forever (RRULE without COUNT or UNTIL); give the series an end date "
            "or import its occurrences one by one"
        )
    series = rruleset()
    first = _as_datetime(start)
    try:
        series.rdate(first)  # DTSTART is always an occurrence (RFC 5545 3.8.5.3)
        if rule is not None:
            series.rrule(rrulestr(rule.to_ical().decode(), dtstart=first))
        for moment in extra:
            series.rdate(_as_datetime(moment))
        for moment in _moments(vevent, "EXDATE"):
            series.exdate(_as_datetime(moment))
        starts = list(islice(series, MAX_OCCURRENCES + 1))
    except (ValueError, TypeError) as exc:
        raise _Reject(f"cannot expand its recurrence: {exc}") from None
    if len(starts) > MAX_OCCURRENCES:
        raise _Reject(f"repeats more than {MAX_OCCURRENCES} times; split the series")
    return [s.date() for s in starts] if _all_day(start) else starts


def _moments(vevent: VEvent, name: str) -> list[Moment]:
    """The values of RDATE or EXDATE, which may repeat and hold lists."""
    props = vevent.get(name)
    if props is None:
        return []
    result: list[Moment] = []
    for prop in props if isinstance(props, list) else [props]:
        for item in prop.dts:
            if not isinstance(item.dt, dt.date):
                raise _Reject(f"{name} holds a period; only dates and date-times are supported")
            result.append(item.dt)
    return result


def _as_datetime(moment: Moment) -> dt.datetime:
    if isinstance(moment, dt.datetime):
        return moment
    return dt.datetime.combine(moment, dt.time(0))


# -- fields --------------------------------------------------------------------------------------


def _summary(vevent: VEvent) -> str:
    summary = _text(vevent, "SUMMARY")
    if summary is None:
        raise _Reject("has no SUMMARY (title)")
    return summary


def _notes(vevent: VEvent) -> str | None:
    notes = _text(vevent, "DESCRIPTION")
    if notes is not None and len(notes) > MAX_NOTES_LENGTH:
        notes = notes[: MAX_NOTES_LENGTH - 1] + "…"
    return notes


def _major(vevent: VEvent, default: bool) -> bool:
    flag = _text(vevent, X_MAJOR)
    if flag is not None:
        if flag.upper() not in ("TRUE", "FALSE"):
            raise _Reject(f"{X_MAJOR} must be TRUE or FALSE, not {flag!r}")
        return flag.upper() == "TRUE"
    if any(str(c).strip().upper() == MAJOR for c in vevent.categories):
        return True
    return default


def _scopes(vevent: VEvent) -> tuple[str, ...]:
    values = vevent.get(X_SCOPES)
    if values is None:
        return ()
    lines = values if isinstance(values, list) else [values]
    names = [part.strip() for line in lines for part in str(line).replace("\\,", ",").split(",")]
    return tuple(_SCOPE_NAMES.get(name.lower(), name) for name in names if name)


def _derived_id(vevent: VEvent, start: Moment) -> str:
    """An id for an event without UID: its title and start, so re-imports match."""
    words = "".join(c.lower() if c.isascii() and c.isalnum() else "-" for c in _summary(vevent))
    slug = "-".join(w for w in words.split("-") if w)[:80] or "event"
    return f"{slug}-{_key(start)}"


def _safe_id(raw: str, suffix: str = "") -> str:
    """``raw`` as an Event id. Ids we exported come back as they were; any other UID that needs
    changing (characters mapped to '-', or shortened) gets a hash of itself, so it stays unique."""
    raw = raw.removesuffix(DOMAIN)
    cleaned = _UNSAFE.sub("-", raw)
    if not cleaned[:1].isascii() or not cleaned[:1].isalnum():
        cleaned = f"uid-{cleaned}"
    room = MAX_ID_LENGTH - len(suffix)
    if cleaned != raw or len(cleaned) > room:
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:10]
        cleaned = f"{cleaned[: room - len(digest) - 1]}-{digest}"
    return cleaned + suffix


# -- writing -------------------------------------------------------------------------------------


def write_calendar(
    events: Sequence[Event],
    requests: Sequence[AssuranceRequest] = (),
    *,
    name: str = "Burst Assurance",
    zone: ZoneInfo,
) -> bytes:
    """A calendar to publish for subscription. It holds no clock reading (DTSTAMP comes from each
    entry's start), so the same events and requests give the same bytes. An event or deadline
    that cannot be written (one stored before its dates were bounded) is left out and logged:
    one bad entry must not take the whole feed down."""
    calendar = _new_calendar(name, zone)
    entries = [
        *_written(sorted(events, key=lambda e: (e.start, e.id)), _event_entry, zone),
        *_written(sorted(requests, key=lambda r: (r.deadline, r.id)), _deadline_entry, zone),
    ]
    if entries:
        calendar.add_component(_timezone(entries, zone))
    for entry in entries:
        calendar.add_component(entry)
    return calendar.to_ical()


def _written(
    items: Iterable[_Item], write: Callable[[_Item, ZoneInfo], VEvent], zone: ZoneInfo
) -> list[VEvent]:
    entries = []
    for item in items:
        try:
            entry = write(item, zone)
        except (ValueError, OverflowError) as exc:
            log.warning("left %s out of the calendar: %s", item.id, exc)
            continue
        if {entry.DTSTART.year, entry.DTEND.year} <= set(EVENT_YEARS):
            entries.append(entry)
        else:
            log.warning("left %s out of the calendar: dated outside %s", item.id, EVENT_YEARS)
    return entries


def _new_calendar(name: str, zone: ZoneInfo) -> Calendar:
    calendar = Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", PRODID)
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("NAME", name)
    calendar.add("X-WR-CALNAME", name)
    calendar.add("X-WR-TIMEZONE", zone.key)
    calendar.add("REFRESH-INTERVAL", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", "PT1H")
    return calendar


def _timezone(entries: Sequence[VEvent], zone: ZoneInfo) -> Timezone:
    """The zone's definition over the years the entries span."""
    years = [e.DTSTART.year for e in entries] + [e.DTEND.year for e in entries]
    first, last = dt.date(min(years), 1, 1), dt.date(max(years) + 1, 1, 1)
    return Timezone.from_tzid(zone.key, first_date=first, last_date=last)


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return moment.astimezone(zone).replace(microsecond=0)


def _entry(uid: str, summary: str, start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> VEvent:
    entry = VEvent()
    entry.add("UID", uid)
    entry.add("DTSTAMP", start.astimezone(dt.UTC).replace(microsecond=0))
    entry.add("DTSTART", _local(start, zone))
    entry.add("DTEND", _local(end, zone))
    entry.add("SUMMARY", _one_line(summary))
    return entry


def _event_entry(event: Event, zone: ZoneInfo) -> VEvent:
    entry = _entry(f"{event.id}{DOMAIN}", event.name, event.start, event.end, zone)
    if event.notes:
        entry.add("DESCRIPTION", _lines(event.notes))
    if event.major:
        entry.add("CATEGORIES", [MAJOR])
    entry.add(X_KIND, "EVENT")
    entry.add(X_MAJOR, "TRUE" if event.major else "FALSE")
    if event.scopes:
        entry.add(X_SCOPES, ",".join(event.scopes))
    return entry


def _deadline_entry(request: AssuranceRequest, zone: ZoneInfo) -> VEvent:
    summary = f"File service-assurance ticket: {request.rule} {request.scope} ({request.period})"
    uid = f"deadline-{request.id.replace('/', '-')}{DOMAIN}"
    entry = _entry(uid, summary, request.deadline - DEADLINE_SLOT, request.deadline, zone)
    entry.add("DESCRIPTION", _lines(_deadline_text(request, zone)))
    entry.add("CATEGORIES", [DEADLINE])
    entry.add(X_KIND, DEADLINE)
    reminder = Alarm()
    reminder.add("ACTION", "DISPLAY")
    reminder.add("DESCRIPTION", _one_line(summary))
    reminder.add("TRIGGER", -REMINDER)
    entry.add_component(reminder)
    return entry


def _deadline_text(request: AssuranceRequest, zone: ZoneInfo) -> str:
    unit = request.unit
    lines = [
        f"Burst starts {_local(request.burst_start, zone):%Y-%m-%d %H:%M} ({zone.key}).",
        f"Forecast peak {request.forecast_peak:,.1f} {unit} "
        f"vs threshold {request.threshold:,.1f} {unit}.",
        f"Lead time {request.lead_time}: file the ticket by "
        f"{_local(request.deadline, zone):%Y-%m-%d %H:%M} ({zone.key}).",
    ]
    if request.event:
        kind = "major event" if request.event.major else "event"
        lines.append(f"During {kind}: {request.event.name}.")
    if request.estimated_calendar:
        lines.append(
            "Note: this deadline rests on an estimated working-day calendar (the official "
            "holiday arrangement for the year is not yet published), so it is set early."
        )
    return "\n".join(lines)


def _one_line(text: str) -> str:
    """Text without control characters: events stored before they were refused may hold them."""
    return CONTROL_CHARACTERS.sub(" ", text)


def _lines(text: str) -> str:
    """Multi-line text with plain line breaks (the writer escapes those) and nothing else raw."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(_one_line(line) for line in lines)
