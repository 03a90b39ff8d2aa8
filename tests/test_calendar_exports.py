"""Real calendar exports in (Google, Outlook, Takeout zip, gzip), our feed out and back again."""

from __future__ import annotations

import datetime as dt
import gzip
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from chalicelib.adapters import ical
from chalicelib.domain.assurance import AssuranceRequest, Status
from chalicelib.domain.errors import InputError
from chalicelib.domain.events import EVENT_ID, Event, revised

FIXTURES = Path(__file__).parent / "fixtures" / "calendars"
GOOGLE = FIXTURES / "google-export.ics"
OUTLOOK = FIXTURES / "outlook-export.ics"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
WINDOW = {
    "start": dt.datetime(2027, 1, 1, tzinfo=SHANGHAI),
    "end": dt.datetime(2027, 3, 1, tzinfo=SHANGHAI),
}


def cst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def read(path: Path, **options: object) -> list[Event]:
    return ical.read_calendar_file(path, zone=SHANGHAI, **options)  # type: ignore[arg-type]


# -- import ----------------------------------------------------------------------------------


def test_an_unmarked_calendar_is_refused_asking_for_major_or_minor():
    with pytest.raises(InputError) as caught:
        read(GOOGLE, **WINDOW)

    message = str(caught.value)
    assert message.startswith(f"{GOOGLE}: 11 of 11 event(s) are marked neither major nor minor")
    assert "pass --major" in message
    assert "--minor" in message


def test_marked_events_keep_their_marks_whatever_the_flag():
    data = GOOGLE.read_text(encoding="utf-8").replace(
        "SUMMARY:篮球决赛", "SUMMARY:篮球决赛\r\nCATEGORIES:Major"
    )
    for default_major in (True, False):
        events = {e.name: e for e in ical.read_events(
            data, zone=SHANGHAI, default_major=default_major, **WINDOW
        )}  # fmt: skip
        assert events["篮球决赛"].major is True
        assert events["足球决赛"].major is default_major
    with pytest.raises(InputError, match=r"10 of 11 event\(s\)"):
        ical.read_events(data, zone=SHANGHAI, **WINDOW)


def test_google_export_endless_weekly_rule_all_day_event_and_chinese_names():
    events = read(GOOGLE, default_major=False, **WINDOW)

    weekly = [e for e in events if e.name == "每周直播 Weekly live show"]
    # Every Monday of January and February 2027, 20:00 Beijing time (written in UTC by Google).
    mondays = [cst(2027, 1, 4, 20) + dt.timedelta(weeks=n) for n in range(8)]
    assert [e.start for e in weekly] == mondays
    assert all(e.end - e.start == dt.timedelta(hours=2) for e in weekly)
    assert weekly[0].id == "7kq3b2r1s0m9v8c6d5e4f3g2h1@google.com-20270104T120000Z"
    assert weekly[0].notes == "每周一晚间直播"
    # Two finals named in Chinese on one date: two events, ids from their UIDs.
    finals = {e.id: e.name for e in events if e.start == cst(2027, 7, 1, 20)}
    assert finals == {"finalA@google.com": "篮球决赛", "finalB@google.com": "足球决赛"}
    [double11] = [e for e in events if e.name == "双十一购物节"]
    assert (double11.start, double11.end) == (cst(2027, 11, 11), cst(2027, 11, 12))
    assert all(EVENT_ID.match(e.id) for e in events)


def test_an_endless_rule_without_a_window_is_refused_naming_the_way_out():
    with pytest.raises(InputError, match=r"repeats forever .* planning window"):
        read(GOOGLE, default_major=False)


def test_outlook_export_its_own_time_zone_block_is_honoured():
    events = read(OUTLOOK, default_major=True)

    # 21:00 in "Tokyo Standard Time" (+09:00, defined in the file) is 20:00 in Beijing.
    assert [e.start for e in events] == [cst(2027, 3, d, 20) for d in (1, 8, 15, 22)]
    assert {e.name for e in events} == {"东京发布会 Tokyo launch"}
    assert all(EVENT_ID.match(e.id) and e.major for e in events)
    assert len({e.id for e in events}) == 4


def test_gzip_and_takeout_zip_read_like_the_plain_files(tmp_path):
    gz = tmp_path / "google.ics.gz"
    gz.write_bytes(gzip.compress(GOOGLE.read_bytes()))
    archive = tmp_path / "takeout.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(GOOGLE, "Takeout/Calendar/直播活动.ics")
        z.write(OUTLOOK, "Takeout/Calendar/office.ics")
        z.writestr("Takeout/archive_browser.html", "<html></html>")
    plain = read(GOOGLE, default_major=False, **WINDOW)

    assert read(gz, default_major=False, **WINDOW) == plain
    both = read(archive, default_major=False, start=WINDOW["start"], end=cst(2028, 1, 1))
    assert len(both) == len(read(GOOGLE, default_major=False, start=WINDOW["start"],
                                 end=cst(2028, 1, 1))) + 4  # fmt: skip
    with pytest.raises(InputError, match=r"takeout\.zip: \d+ of \d+ event"):
        read(archive, **WINDOW)


def test_re_importing_gives_the_same_ids():
    first = read(GOOGLE, default_major=False, **WINDOW)
    assert [e.id for e in read(GOOGLE, default_major=False, **WINDOW)] == [e.id for e in first]


# -- export and round trip -------------------------------------------------------------------


def request() -> AssuranceRequest:
    return AssuranceRequest(
        id="daily-peak-jump/CN/2027-07-01", rule="daily-peak-jump", scope="CN",
        period="2027-07-01", burst_start=cst(2027, 7, 1, 20, 5), burst_end=cst(2027, 7, 1, 22),
        forecast_peak=512.4, baseline=180.0, threshold=380.0, rule_value=400.0, unit="Gbit/s",
        event=None, lead_time="3 working days", deadline=cst(2027, 6, 28, 18),
        status=Status.UPCOMING, estimated_calendar=False,
    )  # fmt: skip


def marked() -> list[Event]:
    data = GOOGLE.read_text(encoding="utf-8").replace(
        "SUMMARY:篮球决赛",
        "SUMMARY:篮球决赛\r\nCATEGORIES:Major\r\nX-BURST-ASSURANCE-SCOPES:CN,AP1",
    )
    return ical.read_events(data, zone=SHANGHAI, default_major=False, **WINDOW)


def test_round_trip_keeps_events_instants_marks_and_scopes():
    imported = marked()
    exported = ical.write_calendar(imported, [request()], zone=SHANGHAI, now=NOW)
    again = ical.read_events(exported, zone=SHANGHAI, **WINDOW)  # every event carries its mark
    assert again == imported
    assert ical.write_calendar(again, [request()], zone=SHANGHAI, now=NOW) == exported
    final = next(e for e in again if e.name == "篮球决赛")
    assert (final.major, final.scopes) == (True, ("AP1", "CN"))


def test_the_export_parses_with_icalendar_and_recurring_ical_events():
    data = ical.write_calendar(marked(), [request()], zone=SHANGHAI, now=NOW)
    calendar = icalendar.Calendar.from_ical(data)
    assert isinstance(calendar, icalendar.Calendar)
    found = recurring_ical_events.of(calendar).between(cst(2027, 1, 1), cst(2028, 1, 1))
    assert len(found) == len(calendar.events) == 8 + 3 + 1
    uids = [str(e["UID"]) for e in calendar.events]
    assert len(set(uids)) == len(uids)
    assert all(u.count("@") == 1 and u.endswith("@burst-assurance") for u in uids)
    for entry in calendar.events:
        assert entry["DTSTAMP"].dt == NOW
        assert "SEQUENCE" in entry
    double11 = next(e for e in calendar.events if str(e["SUMMARY"]) == "双十一购物节")
    assert double11["DTSTART"].dt == dt.date(2027, 11, 11)
    assert b"DTSTART;VALUE=DATE:20271111" in data
    assert [str(tz["TZID"]) for tz in calendar.timezones] == ["Asia/Shanghai"]
    assert max(len(line) for line in data.split(b"\r\n")) <= 75  # folded


def test_a_changed_events_sequence_grows():
    first = revised(None, marked()[0], NOW)
    moved = first.model_copy(update={"start": first.start + dt.timedelta(hours=1),
                                     "end": first.end + dt.timedelta(hours=1)})  # fmt: skip
    later = NOW + dt.timedelta(hours=2)
    second = revised(first, moved, later)
    assert revised(second, second, later + dt.timedelta(hours=1)) == second

    def entry(e: Event) -> icalendar.Event:
        data = ical.write_calendar([e], zone=SHANGHAI, now=later)
        calendar = icalendar.Calendar.from_ical(data)
        assert isinstance(calendar, icalendar.Calendar)
        return calendar.events[0]

    before, after = entry(first), entry(second)
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["LAST-MODIFIED"].dt > before["LAST-MODIFIED"].dt


def test_long_multi_line_chinese_names_are_escaped_and_folded():
    name = "春节联欢晚会，直播; 特别节目\\" + "长" * 120
    event = Event(id="gala-x", name=name[:200], start=cst(2027, 2, 5, 20),
                  end=cst(2027, 2, 6, 0, 30), major=True, notes="第一行\n第二行, 逗号")  # fmt: skip
    data = ical.write_calendar([event], zone=SHANGHAI, now=NOW)
    assert max(len(line) for line in data.split(b"\r\n")) <= 75
    data.decode("utf-8")  # folding never splits a character
    assert ical.read_events(data, zone=SHANGHAI) == [event]


def test_alarms_at_the_working_day_reminder_points():
    from chalicelib.domain.policy import Policy
    from chalicelib.domain.workdays import WorkingDayCalendar

    workdays = WorkingDayCalendar(Policy().calendar)
    r = request()  # deadline Mon 2027-06-28 18:00
    moments = ical.reminder_moments(r.deadline, workdays, SHANGHAI)
    assert moments == [cst(2027, 6, 23, 9), cst(2027, 6, 25, 9), cst(2027, 6, 28, 9)]
    data = ical.write_calendar(
        [], [r], zone=SHANGHAI, now=NOW,
        alarms=lambda q: ical.reminder_moments(q.deadline, workdays, SHANGHAI),
    )  # fmt: skip
    calendar = icalendar.Calendar.from_ical(data)
    assert isinstance(calendar, icalendar.Calendar)
    [entry] = calendar.events
    assert [entry.start + a["TRIGGER"].dt for a in entry.walk("VALARM")] == moments
    assert "Huawei Cloud console for CN" in str(entry["DESCRIPTION"])
