"""iCalendar import and export: real files in, real files out, parsed back with icalendar."""

from __future__ import annotations

import datetime as dt
import functools
import random
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest

from chalicelib.adapters import ical
from chalicelib.domain.assurance import AssuranceRequest, EventRef, Status
from chalicelib.domain.errors import InputError
from chalicelib.domain.events import EVENT_ID, Event, spring_festival_gala

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The policy's zone is always passed in; these tests use the default profile's.
read_events = functools.partial(ical.read_events, zone=SHANGHAI, default_major=True)
NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
write_calendar = functools.partial(ical.write_calendar, zone=SHANGHAI, now=NOW)
UTC = dt.UTC
EIGHT_HOURS = dt.timedelta(hours=8)


def cst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def ics(*vevents: str, head: str = "") -> str:
    """A calendar in the shape Google Calendar exports: CRLF lines, X-WR headers, VTIMEZONE."""
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Live events",
        "X-WR-TIMEZONE:Asia/Shanghai",
        *head.strip().splitlines(),
        "BEGIN:VTIMEZONE",
        "TZID:Asia/Shanghai",
        "X-LIC-LOCATION:Asia/Shanghai",
        "BEGIN:STANDARD",
        "TZOFFSETFROM:+0800",
        "TZOFFSETTO:+0800",
        "TZNAME:CST",
        "DTSTART:19700101T000000",
        "END:STANDARD",
        "END:VTIMEZONE",
    ]
    for body in vevents:
        lines += ["BEGIN:VEVENT", *body.strip().splitlines(), "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(line.strip() for line in lines) + "\r\n"


def vevent(uid: str = "e1@google.com", *extra: str) -> str:
    """A valid timed VEVENT; ``extra`` lines are added or replace the defaults of that name."""
    fields = {
        "UID": uid,
        "SUMMARY": "Cup final",
        "DTSTART;TZID=Asia/Shanghai": "20270701T200000",
        "DTEND;TZID=Asia/Shanghai": "20270701T230000",
        "DTSTAMP": "20260101T000000Z",
    }
    for line in extra:
        name, _, value = line.partition(":")
        for key in [k for k in fields if k.split(";")[0] == name.split(";")[0]]:
            del fields[key]
        fields[name] = value
    return "\n".join(f"{k}:{v}" for k, v in fields.items() if v != "<drop>")


def request(**changes: object) -> AssuranceRequest:
    values: dict[str, object] = {
        "id": "daily-peak-jump/CN/2027-07-01",
        "rule": "daily-peak-jump",
        "scope": "CN",
        "period": "2027-07-01",
        "burst_start": cst(2027, 7, 1, 20, 5),
        "burst_end": cst(2027, 7, 1, 22, 0),
        "forecast_peak": 512.4,
        "baseline": 180.0,
        "threshold": 380.0,
        "rule_value": 400.0,
        "unit": "Gbit/s",
        "event": EventRef(id="cup-final", name="Cup final", major=False),
        "lead_time": "3 working days",
        "deadline": cst(2027, 6, 28, 18, 0),
        "status": Status.UPCOMING,
        "estimated_calendar": False,
    }
    values.update(changes)
    return AssuranceRequest.model_validate(values)


SAMPLE = [
    spring_festival_gala(2027, SHANGHAI),
    Event(
        id="cup-final",
        name="Cup final 决赛",
        start=dt.datetime(2027, 7, 1, 12, 0, tzinfo=UTC),
        end=dt.datetime(2027, 7, 1, 15, 0, tzinfo=UTC),
        major=False,
        scopes=("CN", "AP1", "transcoding"),
        notes="Line one\nline two, with a comma; a semicolon and a back\\slash",
    ),
    Event(
        id="launch@example.com",
        name="US launch",
        start=dt.datetime(2027, 3, 14, 9, 0, tzinfo=ZoneInfo("America/New_York")),
        end=dt.datetime(2027, 3, 14, 11, 0, tzinfo=ZoneInfo("America/New_York")),
        major=True,
        scopes=("AP2",),
    ),
]


def by_uid(data: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(data)
    assert isinstance(calendar, icalendar.Calendar)
    return {str(e["UID"]): e for e in calendar.events}


# -- round trip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("default_major", [True, False])
def test_export_then_import_gives_the_same_events(default_major):
    back = read_events(write_calendar(SAMPLE), default_major=default_major)

    assert back == sorted(SAMPLE, key=lambda e: e.start)
    launch = next(e for e in back if e.id == "launch@example.com")
    assert launch.start == dt.datetime(2027, 3, 14, 13, 0, tzinfo=UTC)  # EDT is UTC-4
    assert all(e.start.utcoffset() == EIGHT_HOURS for e in back)
    assert [e.major for e in back] == [True, True, False]


def test_deadlines_are_skipped_on_import():
    data = write_calendar(SAMPLE, [request(), request(id="x/AP1/2027-07", scope="AP1")])

    assert len(by_uid(data)) == 5
    assert [e.id for e in read_events(data)] == [
        "spring-festival-gala-2027",
        "launch@example.com",
        "cup-final",
    ]


def test_a_deadline_that_lost_its_kind_in_a_calendar_app_is_still_skipped():
    copied = vevent("deadline-daily-peak-jump-CN-2027-07-01@burst-assurance", "CATEGORIES:DEADLINE")

    assert read_events(ics(copied, vevent())) == [read_events(ics(vevent()))[0]]


# -- files from calendar apps --------------------------------------------------------------------

GOOGLE_AND_OUTLOOK = ics(
    vevent("zoned@google.com", "SUMMARY:Zoned"),
    vevent(
        "utc@google.com",
        "SUMMARY:In UTC",
        "DTSTART:20270301T120000Z",
        "DTEND:20270301T133000Z",
    ),
    vevent(
        "allday@google.com",
        "SUMMARY:Double 11",
        "DTSTART;VALUE=DATE:20271111",
        "DTEND;VALUE=DATE:20271112",
        "DESCRIPTION:Shopping festival\\nall day",
    ),
    vevent("major@google.com", "SUMMARY:Derby", "CATEGORIES:Sports,Major"),
    vevent(
        "lasting@google.com",
        "SUMMARY:Concert",
        "DTSTART;TZID=Asia/Shanghai:20270501T193000",
        "DTEND:<drop>",
        "DURATION:PT2H30M",
    ),
    vevent(
        "040000008200E00074C5B7101A82E008000000001",
        "SUMMARY:From Outlook",
        'DTSTART;TZID="China Standard Time":20270601T090000',
        'DTEND;TZID="China Standard Time":20270601T100000',
        "X-BURST-ASSURANCE-SCOPES:cn, ap1",
    ),
    vevent(
        "floating@example.com",
        "SUMMARY:Floating",
        "DTSTART:20270801T080000",
        "DTEND:<drop>",
    ),
    vevent(
        "two-days@example.com",
        "SUMMARY:Expo",
        "DTSTART;VALUE=DATE:20270901",
        "DTEND:<drop>",
        "DURATION:P2D",
    ),
    vevent(
        "one-day@example.com", "SUMMARY:Festival", "DTSTART;VALUE=DATE:20271001", "DTEND:<drop>"
    ),
)


def test_google_and_outlook_files_import_to_exact_times():
    events = {e.id: e for e in read_events(GOOGLE_AND_OUTLOOK.encode(), default_major=False)}

    def expect(uid: str, start: dt.datetime, end: dt.datetime, **fields: object) -> None:
        event = events.pop(uid)
        assert (event.start, event.end) == (start, end), uid
        assert event.start.utcoffset() == event.end.utcoffset() == EIGHT_HOURS
        for name, value in fields.items():
            assert getattr(event, name) == value, (uid, name)

    expect("zoned@google.com", cst(2027, 7, 1, 20), cst(2027, 7, 1, 23), name="Zoned", major=False)
    expect("utc@google.com", cst(2027, 3, 1, 20), cst(2027, 3, 1, 21, 30))
    expect(
        "allday@google.com",
        cst(2027, 11, 11),
        cst(2027, 11, 12),
        notes="Shopping festival\nall day",
    )
    expect("major@google.com", cst(2027, 7, 1, 20), cst(2027, 7, 1, 23), major=True)
    expect("lasting@google.com", cst(2027, 5, 1, 19, 30), cst(2027, 5, 1, 22))
    expect(
        "040000008200E00074C5B7101A82E008000000001",
        cst(2027, 6, 1, 9),
        cst(2027, 6, 1, 10),
        scopes=("AP1", "CN"),
    )
    expect("floating@example.com", cst(2027, 8, 1, 8), cst(2027, 8, 1, 9))
    expect("two-days@example.com", cst(2027, 9, 1), cst(2027, 9, 3))
    expect("one-day@example.com", cst(2027, 10, 1), cst(2027, 10, 2))
    assert events == {}


def test_an_outlook_zone_defined_in_the_file_is_used():
    outlook = ics(
        vevent("o1", 'DTSTART;TZID="Tokyo Time":20270701T210000', "DTEND:20270701T140000Z"),
        head="""
            BEGIN:VTIMEZONE
            TZID:Tokyo Time
            BEGIN:STANDARD
            DTSTART:16010101T000000
            TZOFFSETFROM:+0900
            TZOFFSETTO:+0900
            END:STANDARD
            END:VTIMEZONE
        """,
    )

    [event] = read_events(outlook)

    assert (event.start, event.end) == (cst(2027, 7, 1, 20), cst(2027, 7, 1, 22))


@pytest.mark.parametrize(
    ("lines", "default_major", "major"),
    [
        ((), True, True),
        ((), False, False),
        (("CATEGORIES:major",), False, True),
        (("CATEGORIES:Sports", "CATEGORIES:MAJOR"), False, True),
        (("CATEGORIES:Majorly",), False, False),
        (("X-BURST-ASSURANCE-MAJOR:FALSE", "CATEGORIES:Major"), True, False),
        (("X-BURST-ASSURANCE-MAJOR:true",), False, True),
    ],
)
def test_major_comes_from_our_flag_then_categories_then_the_default(lines, default_major, major):
    [event] = read_events(ics(vevent("e1", *lines)), default_major=default_major)

    assert event.major is major


def test_uids_become_valid_stable_unique_ids():
    uids = ["a b/c", "a-b-c", "a_b_c", "_leading", "x" * 300, "ok@google.com"]
    data = ics(*(vevent(uid) for uid in uids))

    ids = {e.id for e in read_events(data)}

    assert ids == {e.id for e in read_events(data)}
    assert len(ids) == len(uids)
    assert all(EVENT_ID.match(i) for i in ids)
    kept = {"a-b-c", "a_b_c", "ok@google.com"}
    assert kept <= ids
    hashed = sorted(re.sub(r"-[0-9a-f]{10}$", "-HASH", i) for i in ids - kept)
    assert hashed == ["a-b-c-HASH", "uid-_leading-HASH", "x" * 117 + "-HASH"]


def test_an_event_without_uid_gets_an_id_from_title_and_start():
    data = ics(
        vevent("<drop>", "SUMMARY:Cup Final!"),
        vevent(
            "<drop>",
            "SUMMARY:Cup Final!",
            "DTSTART;TZID=Asia/Shanghai:20270702T200000",
            "DTEND;TZID=Asia/Shanghai:20270702T210000",
        ),
    )

    assert [e.id for e in read_events(data)] == [
        "cup-final-20270701T120000Z",
        "cup-final-20270702T120000Z",
    ]


def test_cancelled_events_are_skipped_and_long_notes_are_cut():
    data = ics(
        vevent("gone", "STATUS:CANCELLED"),
        vevent("wordy", "DESCRIPTION:" + "word " * 1000),
    )

    [event] = read_events(data)

    assert event.id == "wordy"
    assert event.notes is not None
    assert len(event.notes) == 2000
    assert event.notes.endswith("…")


def test_text_with_a_byte_order_mark_or_as_str_reads_the_same():
    text = ics(vevent())

    assert read_events(text) == read_events(b"\xef\xbb\xbf" + text.encode()) != []
    assert read_events(ics()) == []


# -- recurring events ----------------------------------------------------------------------------


def test_a_bounded_series_is_expanded_with_exceptions_and_changes():
    data = ics(
        vevent(
            "weekly@google.com",
            "SUMMARY:Weekly show",
            "DTSTART;TZID=Asia/Shanghai:20270301T200000",
            "DTEND;TZID=Asia/Shanghai:20270301T210000",
            "RRULE:FREQ=WEEKLY;COUNT=5",
            "EXDATE;TZID=Asia/Shanghai:20270308T200000",
            "X-BURST-ASSURANCE-SCOPES:CN",
        ),
        vevent(
            "weekly@google.com",
            "RECURRENCE-ID;TZID=Asia/Shanghai:20270315T200000",
            "SUMMARY:Weekly show (special)",
            "DTSTART;TZID=Asia/Shanghai:20270316T193000",
            "DTEND;TZID=Asia/Shanghai:20270316T223000",
        ),
        vevent(
            "weekly@google.com",
            "RECURRENCE-ID:20270322T120000Z",
            "STATUS:CANCELLED",
        ),
    )

    events = read_events(data, default_major=False)

    assert [(e.id, e.name, e.start, e.end) for e in events] == [
        (
            "weekly@google.com-20270301T120000Z",
            "Weekly show",
            cst(2027, 3, 1, 20),
            cst(2027, 3, 1, 21),
        ),
        (
            "weekly@google.com-20270315T120000Z",
            "Weekly show (special)",
            cst(2027, 3, 16, 19, 30),
            cst(2027, 3, 16, 22, 30),
        ),
        (
            "weekly@google.com-20270329T120000Z",
            "Weekly show",
            cst(2027, 3, 29, 20),
            cst(2027, 3, 29, 21),
        ),
    ]
    assert events[0].scopes == ("CN",)


def test_an_all_day_series_until_a_date():
    data = ics(
        vevent(
            "yearly",
            "DTSTART;VALUE=DATE:20270101",
            "DTEND;VALUE=DATE:20270102",
            "RRULE:FREQ=YEARLY;UNTIL=20290101",
        )
    )

    assert [(e.id, e.start, e.end) for e in read_events(data)] == [
        (f"yearly-{y}0101", cst(y, 1, 1), cst(y, 1, 2)) for y in (2027, 2028, 2029)
    ]


# -- bad input -----------------------------------------------------------------------------------

BAD_EVENTS = {
    "end before start": (
        vevent("e1", "DTEND;TZID=Asia/Shanghai:20270701T190000"),
        "event 'e1': ends (2027-07-01T19:00:00+08:00) before it starts",
    ),
    "unknown scope": (
        vevent("e1", "X-BURST-ASSURANCE-SCOPES:CN,MARS"),
        "event 'e1': scopes: Value error, unknown scope(s) MARS",
    ),
    "no start": (vevent("e1", "DTSTART:<drop>"), "event 'e1': has no DTSTART"),
    "no title": (vevent("e1", "SUMMARY:<drop>"), "event 'e1': has no SUMMARY"),
    "end and duration": (vevent("e1", "DURATION:PT1H"), "event 'e1': has both DTEND and DURATION"),
    "bad major flag": (
        vevent("e1", "X-BURST-ASSURANCE-MAJOR:maybe"),
        "event 'e1': X-BURST-ASSURANCE-MAJOR must be TRUE or FALSE, not 'maybe'",
    ),
    "unknown zone": (
        vevent("e1", "DTSTART;TZID=Mars/Olympus:20270701T200000"),
        "event 'e1': DTSTART uses an unknown time zone 'Mars/Olympus'",
    ),
    "broken time": (
        vevent("e1", "DTEND;TZID=Asia/Shanghai:tomorrow"),
        "event 'e1': DTEND cannot be read",
    ),
    "date and time mixed": (
        vevent("e1", "DTSTART;VALUE=DATE:20270701"),
        "event 'e1': DTSTART and DTEND must both be dates or both date-times",
    ),
    "all-day hours": (
        vevent("e1", "DTSTART;VALUE=DATE:20270701", "DTEND:<drop>", "DURATION:PT5H"),
        "event 'e1': the DURATION of an all-day event must be whole days",
    ),
    "endless series": (
        vevent("e1", "RRULE:FREQ=WEEKLY"),
        "event 'e1': repeats forever (RRULE without COUNT or UNTIL)",
    ),
    "huge series": (
        vevent("e1", "RRULE:FREQ=DAILY;COUNT=5000"),
        "event 'e1': repeats more than 1000 times",
    ),
    "named by title": (
        vevent("<drop>", "SUMMARY:Derby", "DTEND;TZID=Asia/Shanghai:20270701T100000"),
        "event 'Derby': ends",
    ),
    "nameless": (
        vevent("<drop>", "SUMMARY:<drop>"),
        "event without UID or SUMMARY (DTSTART 20270701T200000): has no SUMMARY",
    ),
    "long title": (vevent("e1", "SUMMARY:" + "x" * 201), "event 'e1': name: String should"),
}


@pytest.mark.parametrize("case", BAD_EVENTS, ids=list(BAD_EVENTS))
def test_a_bad_event_rejects_the_whole_file_naming_event_and_reason(case):
    body, message = BAD_EVENTS[case]
    good = vevent("good-before")

    with pytest.raises(InputError) as caught:
        read_events(ics(good, body), source="team.ics")

    assert str(caught.value).startswith(f"team.ics: {message}")
    assert caught.value.field == "events"


def test_a_uid_used_twice_is_rejected():
    with pytest.raises(InputError, match=r"^team.ics: event 'e1': appears more than once"):
        read_events(ics(vevent("e1"), vevent("e1")), source="team.ics")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"time,metric,scope,value\n", "not an iCalendar file"),
        (b"", "not an iCalendar file"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ops\r\nEND:VCARD\r\n", "found VCARD, not VCALENDAR"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n", "not an iCalendar file"),
        (ics(vevent()).encode("utf-16"), "not UTF-8"),
        ("calendar.ics", "not an iCalendar file"),  # a str is data, never a path
    ],
)
def test_a_file_that_is_not_icalendar_is_rejected(data, reason):
    with pytest.raises(InputError, match=rf"^in.ics: .*{reason}"):
        read_events(data, source="in.ics")


# -- export --------------------------------------------------------------------------------------


def test_the_calendar_is_ready_to_subscribe_to():
    calendar = icalendar.Calendar.from_ical(write_calendar(SAMPLE, name="Ops CN"))
    assert isinstance(calendar, icalendar.Calendar)

    assert str(calendar["VERSION"]) == "2.0"
    assert "Burst Assurance" in str(calendar["PRODID"])
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["X-WR-CALNAME"]) == "Ops CN"
    assert str(calendar["X-WR-TIMEZONE"]) == "Asia/Shanghai"
    assert [str(tz["TZID"]) for tz in calendar.timezones] == ["Asia/Shanghai"]
    cup = next(e for e in calendar.events if e["UID"] == "cup-final@burst-assurance")
    assert cup["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert cup["DTSTAMP"].dt == NOW  # the time of writing, in UTC
    assert cup["SEQUENCE"] == 0  # no stored revision
    launch = next(e for e in calendar.events if "launch" in str(e["UID"]))
    assert str(launch["UID"]) == "launch%40example.com@burst-assurance"  # one "@"
    assert "MAJOR" not in cup.categories
    assert str(cup["X-BURST-ASSURANCE-SCOPES"]) == "AP1,CN,transcoding"


def test_output_is_reproducible_whatever_the_order():
    requests = [request(), request(id="x/AP1/2027-07", scope="AP1")]
    first = write_calendar(SAMPLE, requests)

    shuffled = SAMPLE[::-1], requests[::-1]
    assert write_calendar(*shuffled) == first
    assert write_calendar(random.sample(SAMPLE, len(SAMPLE)), requests) == first
    assert first.count(b"DTSTAMP") == 5
    assert b"\r\n" in first


def test_an_empty_calendar_still_parses():
    assert read_events(write_calendar([])) == []


def test_the_spring_festival_gala_exports_at_eight_in_the_evening_beijing_time():
    data = write_calendar([spring_festival_gala(2027, SHANGHAI)])
    gala = by_uid(data)["spring-festival-gala-2027@burst-assurance"]

    assert gala.start == dt.datetime(2027, 2, 5, 20, 0, tzinfo=dt.timezone(EIGHT_HOURS))
    assert gala.start.utcoffset() == EIGHT_HOURS
    assert b"DTSTART;TZID=Asia/Shanghai:20270205T200000" in data
    assert "MAJOR" in gala.categories
    assert str(gala["X-BURST-ASSURANCE-MAJOR"]) == "TRUE"


def test_a_request_becomes_a_deadline_with_reminders_before_and_on_the_day():
    data = write_calendar([], [request(estimated_calendar=True)])
    entry = by_uid(data)["deadline-daily-peak-jump-CN-2027-07-01@burst-assurance"]

    assert str(entry["SUMMARY"]) == (
        "File service-assurance ticket: daily-peak-jump CN (2027-07-01)"
    )
    assert (entry.start, entry.end) == (cst(2027, 6, 28, 17, 30), cst(2027, 6, 28, 18))
    assert entry.categories == ["DEADLINE"]
    assert str(entry["X-BURST-ASSURANCE-KIND"]) == "DEADLINE"
    alarms = entry.walk("VALARM")
    assert {str(a["ACTION"]) for a in alarms} == {"DISPLAY"}
    # Without working-day moments from the caller: 3 and 1 days before, 09:00 on the day.
    start = cst(2027, 6, 28, 17, 30)
    assert [start + a["TRIGGER"].dt for a in alarms] == [
        cst(2027, 6, 25, 18), cst(2027, 6, 27, 18), cst(2027, 6, 28, 9)
    ]  # fmt: skip
    text = str(entry["DESCRIPTION"])
    for part in (
        "File a service-assurance ticket in the Huawei Cloud console for CN",
        "Burst starts 2027-07-01 20:05",
        "Forecast peak 512.4 Gbit/s vs threshold 380.0 Gbit/s",
        "Lead time 3 working days",
        "Cup final",
        "estimated working-day calendar",
    ):
        assert part in text
    assert read_events(data) == []


def test_an_official_calendar_deadline_has_no_estimate_note():
    data = write_calendar([], [request(event=None)])
    text = str(
        by_uid(data)["deadline-daily-peak-jump-CN-2027-07-01@burst-assurance"]["DESCRIPTION"]
    )

    assert "estimated" not in text
    assert "During" not in text


def test_the_calendar_is_written_and_read_in_the_zone_it_is_given():
    london = ZoneInfo("Europe/London")
    event = Event(
        id="derby", name="Derby", major=True,
        start=dt.datetime(2027, 7, 3, 15, 0, tzinfo=london),
        end=dt.datetime(2027, 7, 3, 17, 0, tzinfo=london),
    )  # fmt: skip
    data = ical.write_calendar([event], zone=london, now=NOW)
    assert b"X-WR-TIMEZONE:Europe/London" in data
    assert b"DTSTART;TZID=Europe/London:20270703T150000" in data
    floating = ics(vevent("f1", "DTSTART:20270703T150000", "DTEND:20270703T170000"))
    floating = floating.replace("X-WR-TIMEZONE:Asia/Shanghai\r\n", "")  # else read in that zone
    [read] = ical.read_events(floating, zone=london, default_major=True)
    assert read.start == dt.datetime(2027, 7, 3, 14, 0, tzinfo=dt.UTC)
