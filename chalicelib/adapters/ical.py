"""iCalendar (RFC 5545) import and export of the event calendar.

``read_events`` turns the VEVENTs of an .ics file (Google Calendar, Outlook, or our own export)
into ``Event`` objects; ``write_calendar`` publishes events and ticket deadlines as a calendar
that Outlook and Google Calendar can subscribe to.

Reading rules:

* Times with a TZID or in UTC keep their instant; floating times and all-day dates are read in the
  policy time zone (all-day: midnight to midnight). Every time comes back in that zone.
* No DTEND or DURATION, or a zero length: one hour for a timed event, one day for an all-day one.
* Major: ``X-BURST-ASSURANCE-MAJOR:TRUE|FALSE`` wins, then a ``MAJOR`` category, then the
  caller's default; with no default (None) unmarked events refuse the file, asking for
  ``--major`` or ``--minor``. Scopes come from ``X-BURST-ASSURANCE-SCOPES:CN,AP1``.
* Google's ``X-WR-TIMEZONE`` applies to its UTC and floating times (``x-wr-timezone``).
* Recurring events are expanded with ``recurring-ical-events`` (EXDATE, RDATE and
  RECURRENCE-ID overrides honoured) over the caller's window, at most ``MAX_OCCURRENCES``; a
  series that repeats forever needs a window. Ids come from the UID, and for an occurrence its
  RECURRENCE-ID, never from the title (unless there is no UID).
* Cancelled events (STATUS:CANCELLED) and the deadline entries we export ourselves are skipped.
* Any problem raises ``InputError`` naming the source, the event and the reason, before anything
  is returned.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import hashlib
import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import recurring_ical_events
import x_wr_timezone
from icalendar import Alarm, Calendar, Timezone
from icalendar import Event as VEvent
from pydantic import ValidationError

from chalicelib.domain.assurance import AssuranceRequest
from chalicelib.domain.errors import InputError
from chalicelib.domain.events import CONTROL_CHARACTERS, EVENT_SCOPES, EVENT_YEARS, Event
from chalicelib.domain.policy import describe_validation_error

if TYPE_CHECKING:  # the holiday tables load only when a caller builds a calendar
    from chalicelib.domain.workdays import WorkingDayCalendar

log = logging.getLogger(__name__)

DOMAIN = "@burst-assurance"
PRODID = "-//Burst Assurance//Event calendar//EN"
X_MAJOR = "X-BURST-ASSURANCE-MAJOR"
X_SCOPES = "X-BURST-ASSURANCE-SCOPES"
X_KIND = "X-BURST-ASSURANCE-KIND"
DEADLINE = "DEADLINE"
MAJOR = "MAJOR"
MAX_OCCURRENCES = 1000
# How a caller marks a file's unmarked events major or minor: the command line's flags.
CLI_MARKING = ("pass --major", "--minor")
MAX_ID_LENGTH = 128
MAX_NOTES_LENGTH = 2000
TIMED_DEFAULT = dt.timedelta(hours=1)
ALL_DAY_DEFAULT = dt.timedelta(days=1)
DEADLINE_SLOT = dt.timedelta(minutes=30)

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
    default_major: bool | None = None,
    source: str = "<ics>",
    zone: ZoneInfo,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[Event]:
    """The events of an iCalendar file, sorted by start; all of them or an ``InputError``.
    ``zone`` is the policy's: floating times and all-day dates are read in it.

    ``default_major`` is the mark of events the file marks neither way: None refuses them (the
    error says how many, and to pass ``--major`` or ``--minor``). Recurring series are expanded
    over [``start``, ``end``) when given; without a window a series that repeats forever is
    refused."""
    reader = _Reader(zone, default_major, _window(start, end))
    events = reader.read(data, source)
    reader.check_marked(source, len(events))
    _check_unique(events, source)
    return sorted(events, key=lambda e: (e.start, e.id))


def read_calendar_file(
    path: Path,
    *,
    zone: ZoneInfo,
    default_major: bool | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[Event]:
    """The events of an ``.ics`` file, an ``.ics.gz``, or a ``.zip`` holding ``.ics`` files,
    as ``read_calendar_bytes`` reads them."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _input_error(str(path), f"cannot read: {exc.strerror}") from None
    return read_calendar_bytes(
        raw, str(path), zone=zone, default_major=default_major, start=start, end=end
    )


def read_calendar_bytes(
    raw: bytes,
    source: str,
    *,
    zone: ZoneInfo,
    default_major: bool | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    marking: tuple[str, str] = CLI_MARKING,
) -> list[Event]:
    """The events of iCalendar text, gzipped iCalendar, or a zip holding ``.ics`` files (Google
    Takeout: one per calendar), told apart by their first bytes and ``source``'s name. Each
    calendar is read as ``read_events`` reads one. An event found in two calendars of a zip
    with the same content counts once; with different content it is an error. ``marking``: how
    the caller marks unmarked events major or minor, for the error that asks for it."""
    reader = _Reader(zone, default_major, _window(start, end), marking)
    name = source.lower()
    if name.endswith(".zip") or raw.startswith(b"PK\x03\x04"):
        parts = _zip_members(raw, source)
    elif name.endswith(".gz") or raw.startswith(b"\x1f\x8b"):
        parts = [(source, _gunzip(raw, source))]
    else:
        parts = [(source, raw)]
    events: dict[str, Event] = {}
    for part_source, data in parts:
        for event in reader.read(data, part_source):
            if events.setdefault(event.id, event) != event:
                raise _input_error(
                    part_source,
                    f"event {event.id!r}: appears in two calendars with different content",
                )
    reader.check_marked(source, len(events))
    return sorted(events.values(), key=lambda e: (e.start, e.id))


MAX_FILE_BYTES = 64 * 1024 * 1024  # unpacked: a calendar is kilobytes, this bounds a zip bomb


def _gunzip(raw: bytes, source: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unpacked:
            data = unpacked.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise _input_error(source, f"not a gzip file: {exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise _input_error(source, f"unpacks to more than {MAX_FILE_BYTES} bytes")
    return data


def _zip_members(raw: bytes, source: str) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = sorted(
            (i for i in archive.infolist() if i.filename.lower().endswith(".ics")),
            key=lambda i: i.filename,
        )
        if not members:
            raise _input_error(source, "the zip holds no .ics file")
        total = 0
        parts = []
        for info in members:
            with archive.open(info) as member:
                data = member.read(MAX_FILE_BYTES + 1)
            total += len(data)
            if total > MAX_FILE_BYTES:
                raise _input_error(source, f"unpacks to more than {MAX_FILE_BYTES} bytes")
            parts.append((f"{source}!{info.filename}", data))
        return parts
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise _input_error(source, f"not a readable zip file: {exc}") from None


def _window(
    start: dt.datetime | None, end: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime] | None:
    if start is None and end is None:
        return None
    if start is None or end is None or start.tzinfo is None or end.tzinfo is None:
        raise ValueError("give both start and end of the window, with a time zone")
    if end <= start:
        raise ValueError("the window must end after it starts")
    return start, end


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
    return _standard(calendar, source)


def _standard(calendar: Calendar, source: str) -> Calendar:
    """Google's quirk: times in UTC (and floating ones) meant in the calendar's X-WR-TIMEZONE,
    which matters for a weekly rule across a DST change. An unknown zone there is ignored.
    Times written with a TZID are kept as written: the converter takes a zone of the file's own
    VTIMEZONE without TZNAME (Outlook's) and an unknown TZID for floating times."""
    if calendar.get("X-WR-TIMEZONE") is None:
        return calendar
    try:
        result = x_wr_timezone.to_standard(calendar)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        log.warning("%s: X-WR-TIMEZONE ignored: %s", source, exc)
        return calendar
    for before, after in zip(calendar.subcomponents, result.subcomponents, strict=True):
        if before is after or not isinstance(before, VEvent):
            continue
        for name in _ZONED:
            if name in before and _has_tzid(before[name]):
                after[name] = before[name]
    return result


_ZONED = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")


def _has_tzid(prop: Any) -> bool:
    return any("TZID" in p.params for p in (prop if isinstance(prop, list) else [prop]))


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
    default_major: bool | None
    window: tuple[dt.datetime, dt.datetime] | None = None
    marking: tuple[str, str] = CLI_MARKING
    unmarked: list[str] = field(default_factory=list)  # names of events marked neither way

    def read(self, data: bytes | str, source: str) -> list[Event]:
        calendar = _parse(data, source)
        vevents, changes = _group(v for v in calendar.events if not _exported_deadline(v))
        events: list[Event] = []
        for vevent in vevents:
            try:
                events.extend(self.events(vevent, changes.get(_uid(vevent) or "", [])))
            except (_Reject, OverflowError) as exc:  # overflow: a date at the end of time
                raise _input_error(source, f"event {_label(vevent)}: {exc}") from None
        return events

    def check_marked(self, source: str, total: int) -> None:
        if self.default_major is not None or not self.unmarked:
            return
        names = sorted(set(self.unmarked))
        shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
        raise InputError(
            f"{source}: {len(self.unmarked)} of {total} event(s) are marked neither major nor "
            f"minor ({shown}); {self.marking[0]} to import them as major events (tickets "
            f"one month ahead) or {self.marking[1]} as ordinary ones (events marked with "
            "CATEGORIES:MAJOR or "
            f"{X_MAJOR}:TRUE|FALSE keep their marks)",
            field="major",
        )

    def events(self, vevent: VEvent, overrides: Sequence[VEvent]) -> list[Event]:
        """The events of one VEVENT: one, or every occurrence of a recurring series."""
        _check_parse_errors(vevent)
        if _cancelled(vevent):
            return []
        span = _span(vevent, self.zone)
        raw_id = _uid(vevent) or _derived_id(vevent, span.start)
        if "RECURRENCE-ID" in vevent:  # an occurrence whose series is not in the file
            return [self._event(vevent, raw_id, _recurrence_key(vevent), span)]
        if _single(vevent, "RRULE") is None and not _moments(vevent, "RDATE"):
            return [self._event(vevent, raw_id, None, span)]
        changed = {_recurrence_key(o): o for o in overrides}
        for key, change in changed.items():
            self._checked(change, key)
        result: list[Event] = []
        for occurrence in _occurrences(vevent, overrides, self.window):
            key = _recurrence_key(occurrence)
            override = changed.get(key)
            if override is None:
                occurrence_start = _moment(occurrence, "DTSTART")
                if occurrence_start is None:  # the library always sets it
                    raise _Reject(f"occurrence {key} has no DTSTART")
                result.append(
                    self._event(vevent, raw_id, key, _Span(occurrence_start, span.length))
                )
            elif not _cancelled(override):
                result.append(self._event(override, raw_id, key, self._checked(override, key)))
        return result

    def _checked(self, vevent: VEvent, key: str) -> _Span:
        try:
            _check_parse_errors(vevent)
            return _span(vevent, self.zone)
        except _Reject as exc:
            raise _Reject(f"occurrence {key}: {exc}") from None

    def _event(self, vevent: VEvent, raw_id: str, key: str | None, span: _Span) -> Event:
        start, end = _instants(span, self.zone)
        name = _summary(vevent)
        major = _major(vevent, self.default_major)
        if major is None:
            self.unmarked.append(name)
        try:
            return Event(
                id=_safe_id(raw_id, f"-{key}" if key else ""),
                name=name,
                start=start,
                end=end,
                major=bool(major),
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


def _occurrences(
    vevent: VEvent, overrides: Sequence[VEvent], window: tuple[dt.datetime, dt.datetime] | None
) -> list[VEvent]:
    """The occurrences of a recurring series (``recurring-ical-events`` applies RRULE, RDATE,
    EXDATE and the changed occurrences), within the window if one is given. Each carries its
    RECURRENCE-ID: the start the rule gave it, which names it however it was moved."""
    rule = _single(vevent, "RRULE")
    endless = rule is not None and "COUNT" not in rule and "UNTIL" not in rule
    if endless and window is None:
        raise _Reject(
            "repeats forever (RRULE without COUNT or UNTIL); import it with a planning window "
            "to expand it over, or give the series an end date"
        )
    series = Calendar()
    series.add_component(vevent)
    for override in overrides:
        series.add_component(override)
    try:
        query = recurring_ical_events.of(series, skip_bad_series=False)
        found = query.between(*window) if window else islice(query.all(), MAX_OCCURRENCES + 1)
        occurrences = list(islice(found, MAX_OCCURRENCES + 1))
    except (ValueError, TypeError, KeyError, recurring_ical_events.InvalidCalendar) as exc:
        raise _Reject(f"cannot expand its recurrence: {exc}") from None
    if len(occurrences) > MAX_OCCURRENCES:
        where = " within the window" if window else ""
        raise _Reject(f"repeats more than {MAX_OCCURRENCES} times{where}; split the series")
    return occurrences


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


def _major(vevent: VEvent, default: bool | None) -> bool | None:
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
    """An id for an event without UID (RFC 5545 requires one; calendar apps always write it):
    its title and start, so re-imports match. A title that is not all ASCII
    adds a hash of itself, so two events named in Chinese at one time stay apart."""
    summary = _summary(vevent)
    words = "".join(c.lower() if c.isascii() and c.isalnum() else "-" for c in summary)
    slug = "-".join(w for w in words.split("-") if w)[:80] or "event"
    if not summary.isascii():
        slug += "-" + hashlib.sha256(summary.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{_key(start)}"


def _safe_id(raw: str, suffix: str = "") -> str:
    """``raw`` as an Event id. Ids we exported come back as they were; any other UID that needs
    changing (characters mapped to '-', or shortened) gets a hash of itself, so it stays unique."""
    if raw.endswith(DOMAIN):  # ours: an "@" in the id was written as %40
        raw = raw.removesuffix(DOMAIN).replace("%40", "@")
    cleaned = _UNSAFE.sub("-", raw)
    if not cleaned[:1].isascii() or not cleaned[:1].isalnum():
        cleaned = f"uid-{cleaned}"
    room = MAX_ID_LENGTH - len(suffix)
    if cleaned != raw or len(cleaned) > room:
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:10]
        cleaned = f"{cleaned[: room - len(digest) - 1]}-{digest}"
    return cleaned + suffix


# -- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    """The version of an entry: ``sequence`` grows by one with each change of its content,
    ``modified`` is when that change was stored (events: chalicelib.domain.events.revised;
    deadlines: the tracked request's version)."""

    sequence: int
    modified: dt.datetime


DEFAULT_REMINDER_WORKING_DAYS = (3, 1, 0)  # 0: the deadline's own morning
REMINDER_TIME = dt.time(9, 0)


def reminder_moments(
    deadline: dt.datetime,
    workdays: WorkingDayCalendar,
    zone: ZoneInfo,
    points: Iterable[int] = DEFAULT_REMINDER_WORKING_DAYS,
    at: dt.time = REMINDER_TIME,
) -> list[dt.datetime]:
    """The alarm moments of a deadline: ``at`` o'clock on the working day ``n`` working days
    before it for each point (0: the deadline's day), never after the deadline."""
    day = deadline.astimezone(zone).date()
    moments = {
        dt.datetime.combine(
            day if n == 0 else workdays.nth_working_day_before(day, n).day, at, tzinfo=zone
        )
        for n in points
    }
    return sorted(m for m in moments if m < deadline)


def write_calendar(
    events: Sequence[Event],
    requests: Sequence[AssuranceRequest] = (),
    *,
    name: str = "Burst Assurance",
    zone: ZoneInfo,
    now: dt.datetime | None = None,
    revisions: Mapping[str, Revision] | None = None,
    alarms: Callable[[AssuranceRequest], Sequence[dt.datetime]] | None = None,
) -> bytes:
    """A calendar to publish for subscription. DTSTAMP is ``now`` (the time of writing, in
    UTC); SEQUENCE and LAST-MODIFIED come from ``revisions`` by event or request id (without
    one: SEQUENCE 0 and no LAST-MODIFIED). ``alarms`` gives each deadline's alarm moments
    (``reminder_moments``); without it they are 3 and 1 days before, and 09:00 on the day.
    Otherwise the same input gives the same bytes. An event or deadline that cannot be
    written (one stored before its dates were bounded) is left out and logged: one bad entry
    must not take the whole feed down."""
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    writer = _Writer(zone, stamp, revisions or {}, alarms or _default_alarms(zone))
    calendar = _new_calendar(name, zone)
    entries = [
        *_written(sorted(events, key=lambda e: (e.start, e.id)), writer.event, zone),
        *_written(sorted(requests, key=lambda r: (r.deadline, r.id)), writer.deadline, zone),
    ]
    if entries:
        calendar.add_component(_timezone(entries, zone))
    for entry in entries:
        calendar.add_component(entry)
    return calendar.to_ical()


def _default_alarms(zone: ZoneInfo) -> Callable[[AssuranceRequest], Sequence[dt.datetime]]:
    def moments(request: AssuranceRequest) -> list[dt.datetime]:
        deadline = request.deadline.astimezone(zone)
        morning = dt.datetime.combine(deadline.date(), REMINDER_TIME, tzinfo=zone)
        found = {deadline - dt.timedelta(days=3), deadline - dt.timedelta(days=1), morning}
        return sorted(m for m in found if m < deadline)

    return moments


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


def _uid_of(item_id: str) -> str:
    """One domain, one "@": an "@" in the id is written %40 (read back by ``_safe_id``)."""
    return f"{item_id.replace('@', '%40')}{DOMAIN}"


def _whole_days(event: Event, zone: ZoneInfo) -> bool:
    start, end = event.start.astimezone(zone), event.end.astimezone(zone)
    return (
        start.time() == end.time() == dt.time(0)
        and start == dt.datetime.combine(start.date(), dt.time(0), tzinfo=zone)
        and end == dt.datetime.combine(end.date(), dt.time(0), tzinfo=zone)
    )


@dataclass(frozen=True)
class _Writer:
    zone: ZoneInfo
    stamp: dt.datetime
    revisions: Mapping[str, Revision]
    alarms: Callable[[AssuranceRequest], Sequence[dt.datetime]]

    def _entry(
        self,
        revision: Revision | None,
        uid: str,
        summary: str,
        start: dt.datetime,
        end: dt.datetime,
    ) -> VEvent:
        entry = VEvent()
        entry.add("UID", uid)
        entry.add("DTSTAMP", self.stamp)
        entry.add("DTSTART", _local(start, self.zone))
        entry.add("DTEND", _local(end, self.zone))
        self._revision(entry, revision)
        entry.add("SUMMARY", _one_line(summary))
        return entry

    def _revision(self, entry: VEvent, revision: Revision | None) -> None:
        entry.add("SEQUENCE", revision.sequence if revision else 0)
        if revision is not None:
            modified = revision.modified.astimezone(dt.UTC).replace(microsecond=0)
            entry.add("LAST-MODIFIED", min(modified, self.stamp))

    def event(self, event: Event, zone: ZoneInfo) -> VEvent:
        own = Revision(event.revision, event.modified) if event.modified else None  # as stored
        revision = self.revisions.get(event.id, own)
        entry = self._entry(revision, _uid_of(event.id), event.name, event.start, event.end)
        if _whole_days(event, zone):  # all day: VALUE=DATE, as calendar apps write it
            del entry["DTSTART"], entry["DTEND"]
            entry.add("DTSTART", event.start.astimezone(zone).date())
            entry.add("DTEND", event.end.astimezone(zone).date())
            entry.add("TRANSP", "TRANSPARENT")
        if event.notes:
            entry.add("DESCRIPTION", _lines(event.notes))
        if event.major:
            entry.add("CATEGORIES", [MAJOR])
        entry.add(X_KIND, "EVENT")
        entry.add(X_MAJOR, "TRUE" if event.major else "FALSE")
        if event.scopes:
            entry.add(X_SCOPES, ",".join(event.scopes))
        return entry

    def deadline(self, request: AssuranceRequest, zone: ZoneInfo) -> VEvent:
        summary = (
            f"File service-assurance ticket: {request.rule} {request.scope} ({request.period})"
        )
        uid = f"deadline-{request.id.replace('/', '-')}{DOMAIN}"
        start = request.deadline - DEADLINE_SLOT
        revision = self.revisions.get(request.id)
        entry = self._entry(revision, uid, summary, start, request.deadline)
        entry.add("DESCRIPTION", _lines(_deadline_text(request, zone)))
        entry.add("CATEGORIES", [DEADLINE])
        entry.add(X_KIND, DEADLINE)
        when = f"{_local(request.deadline, zone):%a %Y-%m-%d %H:%M}"
        for moment in self.alarms(request):
            reminder = Alarm()
            reminder.add("ACTION", "DISPLAY")
            reminder.add("DESCRIPTION", _one_line(f"{summary}, by {when}"))
            reminder.add("TRIGGER", moment.replace(microsecond=0) - start)  # before: negative
            entry.add_component(reminder)
        return entry


def _deadline_text(request: AssuranceRequest, zone: ZoneInfo) -> str:
    unit = request.unit
    lines = [
        f"File a service-assurance ticket in the Huawei Cloud console for {request.scope}: "
        f"rule {request.rule}, period {request.period}, reserving "
        f"{request.forecast_peak:,.1f} {request.unit} from "
        f"{_local(request.burst_start, zone):%Y-%m-%d %H:%M} to "
        f"{_local(request.burst_end, zone):%Y-%m-%d %H:%M}.",
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
