"""The working-day calendar (docs/deadlines.md#working-day-calendar): official years, estimated
years, overrides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import holidays
import pytest
from pydantic import ValidationError
from unpublished import UnpublishedChina, before_publication

from chalicelib.domain.policy import (
    CalendarPolicy,
    Policy,
    YearArrangement,
    describe_validation_error,
)
from chalicelib.domain.workdays import (
    CalendarAnswer,
    WorkingDayCalendar,
    estimated_year,
    spring_festival_eve,
)

ONE_DAY = dt.timedelta(days=1)
HISTORY = range(2010, 2027)  # years whose official arrangement holidays.China knows

# The library's own reading of the published arrangements, used as the reference.
PUBLISHED = holidays.China(years=range(2009, 2027))


def days_of(year: int) -> Iterator[dt.date]:
    day = dt.date(year, 1, 1)
    while day.year == year:
        yield day
        day += ONE_DAY


def test_unpublished_china_hides_the_arrangement() -> None:
    # Guard for the helper above: 2020-01-31 (the Covid-19 extension) and 2026-02-20 (a bridged
    # day) are known to the library but must not be known to the "before publication" view.
    assert dt.date(2020, 1, 31) in holidays.China(years=2020)
    assert dt.date(2020, 1, 31) not in UnpublishedChina(years=2020)
    assert dt.date(2026, 2, 20) in holidays.China(years=2026)
    assert dt.date(2026, 2, 20) not in UnpublishedChina(years=2026)
    assert dt.date(2026, 2, 17) in UnpublishedChina(years=2026)  # Spring Festival day 1


# --- official years -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2025, 1, 26),  # Sun, before the 2025 Spring Festival
        dt.date(2025, 2, 8),  # Sat, after it
        dt.date(2025, 9, 28),  # Sun, before National Day
        dt.date(2025, 10, 11),  # Sat, after it
        dt.date(2026, 1, 4),  # Sun, after New Year
        dt.date(2026, 2, 14),  # Sat, before the 2026 Spring Festival
        dt.date(2026, 2, 28),  # Sat, after it
        dt.date(2026, 5, 9),  # Sat, after Labour Day
        dt.date(2026, 9, 20),  # Sun, before National Day
        dt.date(2026, 10, 10),  # Sat, after it
        dt.date(2011, 12, 31),  # Sat, make-up day for New Year 2012, in the year before
        dt.date(2018, 12, 29),  # Sat, make-up day for New Year 2019, in the year before
    ],
    ids=str,
)
def test_make_up_weekend_days_are_working_days(day: dt.date) -> None:
    assert day.weekday() >= 5
    assert WorkingDayCalendar(CalendarPolicy()).is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2025, 1, 28),  # Spring Festival eve, statutory since 2025
        dt.date(2025, 2, 4),  # bridged, worked back on Sat 8 Feb
        dt.date(2025, 10, 8),  # bridged, worked back on Sat 11 Oct
        dt.date(2026, 1, 2),  # bridged, worked back on Sun 4 Jan
        dt.date(2026, 2, 23),  # bridged, worked back on Sat 28 Feb
        dt.date(2026, 4, 6),  # Qingming falls on Sunday 5 Apr, Monday off
        dt.date(2018, 12, 31),  # New Year 2019 break starting in 2018
        dt.date(2020, 1, 31),  # Spring Festival extended for Covid-19
        dt.date(2015, 9, 3),  # 70th anniversary of the victory, a one-off
    ],
    ids=str,
)
def test_weekday_holidays_are_days_off(day: dt.date) -> None:
    assert day.weekday() < 5
    assert not WorkingDayCalendar(CalendarPolicy()).is_working_day(day)


def test_ordinary_days() -> None:
    calendar = WorkingDayCalendar(CalendarPolicy())
    assert calendar.is_working_day(dt.date(2026, 3, 4))  # Wednesday
    assert not calendar.is_working_day(dt.date(2026, 3, 7))  # Saturday
    assert not calendar.is_working_day(dt.date(2026, 3, 8))  # Sunday


@pytest.mark.parametrize("year", HISTORY, ids=str)
def test_official_years_follow_the_published_arrangement(year: int) -> None:
    calendar = WorkingDayCalendar(CalendarPolicy())
    assert not calendar.is_estimated(year)
    wrong = [d for d in days_of(year) if calendar.is_working_day(d) != PUBLISHED.is_working_day(d)]
    # The last official year's 31 December waits for the next year's notice (2018-12-31 was
    # made a day off by 2019's): off, and estimated, until then.
    assert wrong == ([dt.date(2026, 12, 31)] if year == 2026 else [])


def test_the_last_official_december_is_settled_once_the_next_year_is_known() -> None:
    calendar = WorkingDayCalendar(CalendarPolicy())
    assert calendar.is_estimated_day(dt.date(2026, 12, 31))
    assert not calendar.is_estimated_day(dt.date(2026, 12, 30))
    # 2027 is known once entered by hand (official_through cannot pass what the library has).
    known = WorkingDayCalendar(CalendarPolicy(overrides={2027: YearArrangement(days_off=[])}))
    assert known.is_working_day(dt.date(2026, 12, 31))
    assert not known.is_estimated_day(dt.date(2026, 12, 31))
    # Likewise one year earlier, through the library: Wed 2025-12-31.
    lowered = WorkingDayCalendar(CalendarPolicy(official_through=2025))
    assert lowered.is_estimated_day(dt.date(2025, 12, 31))
    assert not WorkingDayCalendar(CalendarPolicy()).is_estimated_day(dt.date(2025, 12, 31))


def test_an_overridden_year_leaves_its_december_unsettled() -> None:
    # 2027 entered by hand, 2028 unknown: 2028's notice may still make Fri 2027-12-31 a day off
    # (as 2019's did 2018-12-31), exactly as for a year the library publishes.
    arrangement = YearArrangement(days_off=[dt.date(2027, 1, 1)])
    calendar = WorkingDayCalendar(CalendarPolicy(overrides={2027: arrangement}))
    assert not calendar.is_estimated(2027)
    assert calendar.is_estimated_day(dt.date(2027, 12, 31))
    assert not calendar.is_working_day(dt.date(2027, 12, 31))
    assert not calendar.is_estimated_day(dt.date(2027, 12, 30))
    assert calendar.nth_working_day_before(dt.date(2028, 1, 1), 1) == CalendarAnswer(
        dt.date(2027, 12, 30), estimated=True
    )
    # With 2028 entered as well, 31 December is settled by the 2027 override: worked.
    both = WorkingDayCalendar(
        CalendarPolicy(overrides={2027: arrangement, 2028: YearArrangement(days_off=[])})
    )
    assert both.is_working_day(dt.date(2027, 12, 31))
    assert not both.is_estimated_day(dt.date(2027, 12, 31))


# --- official_through ----------------------------------------------------------------------


def make_up_days(year: int) -> set[dt.date]:
    # weekend_workdays also lists a few old make-up days of other years (2011-12-31, ...).
    return {d for d in holidays.China(years=year).weekend_workdays if d.year == year}


def test_last_published_year_is_the_library_s_last_notice() -> None:
    last = CalendarPolicy.last_published_year()
    # holidays 0.109 has the 2026 notice (Sat 14 Feb and Sat 28 Feb worked, Mon 23 Feb bridged)
    assert last >= 2026
    assert dt.date(2026, 2, 14) in holidays.China(years=2026).weekend_workdays
    # ... and the year after its last notice carries no make-up day: only a guess.
    assert make_up_days(last)
    assert not make_up_days(last + 1)


def test_official_through_beyond_the_library_is_refused() -> None:
    last = CalendarPolicy.last_published_year()
    assert CalendarPolicy(official_through=last).official_through == last
    with pytest.raises(ValidationError) as caught:
        Policy.model_validate({"calendar": {"official_through": last + 1}})
    message = describe_validation_error(caught.value)
    assert "\n" not in message
    assert message.startswith("calendar.official_through: ")
    assert f"{last + 1}" in message
    assert f"{last}" in message
    assert len(caught.value.errors()) == 1


def test_official_through_2027_is_refused_with_this_library() -> None:
    # Real dates: holidays 0.109 knows no 2027 notice (no make-up day in 2027), so claiming 2027
    # official would let its guess pass for the published arrangement.
    if make_up_days(2027):
        pytest.skip("the installed holidays knows 2027's notice")
    with pytest.raises(ValidationError, match="official_through"):
        CalendarPolicy(official_through=2027)


def test_years_after_official_through_are_estimated() -> None:
    calendar = WorkingDayCalendar(CalendarPolicy())
    assert not calendar.is_estimated(2026)
    assert calendar.is_estimated(2027)
    assert calendar.is_estimated(2030)
    lowered = WorkingDayCalendar(CalendarPolicy(official_through=2024))
    assert lowered.is_estimated(2025)


# --- estimated years ------------------------------------------------------------------------


def test_estimated_year_has_no_make_up_days() -> None:
    calendar = WorkingDayCalendar(CalendarPolicy())
    weekend_work = [d for d in days_of(2027) if d.weekday() >= 5 and calendar.is_working_day(d)]
    assert weekend_work == []
    # The same holds for a known year once it is treated as unpublished: 2026's six make-up days
    # are all off.
    lowered = WorkingDayCalendar(CalendarPolicy(official_through=2025))
    assert not any(lowered.is_working_day(d) for d in PUBLISHED.weekend_workdays if d.year == 2026)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # Spring Festival 2027 falls on Sat 6 Feb: window 4 Feb .. 14 Feb.
        (dt.date(2027, 2, 3), True),
        (dt.date(2027, 2, 4), False),
        (dt.date(2027, 2, 12), False),
        (dt.date(2027, 2, 15), True),
        # National Day: window 29 Sep .. 8 Oct.
        (dt.date(2027, 9, 28), True),
        (dt.date(2027, 9, 29), False),
        (dt.date(2027, 10, 8), False),
        (dt.date(2027, 10, 11), True),
        # Labour Day: 29 Apr .. 5 May.
        (dt.date(2027, 4, 28), True),
        (dt.date(2027, 4, 29), False),
        (dt.date(2027, 5, 5), False),
        (dt.date(2027, 5, 6), True),
        # Friday 31 December: the 2028 New Year break may start on it.
        (dt.date(2027, 12, 30), True),
        (dt.date(2027, 12, 31), False),
    ],
    ids=str,
)
def test_estimated_2027_windows(day: dt.date, working: bool) -> None:
    assert WorkingDayCalendar(CalendarPolicy()).is_working_day(day) is working


def test_estimated_year_keeps_every_day_the_library_guesses_off() -> None:
    calendar = WorkingDayCalendar(CalendarPolicy())
    guessed = [d for d in holidays.China(years=2027) if d.weekday() < 5]
    assert len(guessed) >= 8
    assert not any(calendar.is_working_day(d) for d in guessed)


# The one weekday off since 2010 that no festival window could anticipate: the 70th anniversary
# of the victory in 1945, decreed in May 2015 (a Thursday, with the Friday bridged).
UNFORESEEABLE = {dt.date(2015, 9, 3), dt.date(2015, 9, 4)}


@pytest.mark.parametrize("year", HISTORY, ids=str)
def test_estimate_never_invents_a_working_day(year: int) -> None:
    """With official_through lowered to the year before, and the library's knowledge of the
    year hidden (it would otherwise hand the real arrangement to the estimate as its guess),
    every day the estimate calls a working day is one in the published arrangement: the days
    off come from the statutory holidays and the default windows alone."""
    with before_publication():
        lowered = WorkingDayCalendar(CalendarPolicy(official_through=year - 1))
        assert lowered.is_estimated(year)
        invented = [
            d
            for d in days_of(year)
            if lowered.is_working_day(d) and not PUBLISHED.is_working_day(d)
        ]
    assert invented == sorted(d for d in UNFORESEEABLE if d.year == year)


def test_windows_matter_for_the_inclusion() -> None:
    """Without the windows, the estimate of an unpublished year would claim bridged days as
    working days (2026-02-20 and 2026-02-23 around the Spring Festival, for instance)."""
    with before_publication():
        bare = WorkingDayCalendar(CalendarPolicy(official_through=2025, estimate_windows={}))
        assert bare.is_working_day(dt.date(2026, 2, 20))
        assert bare.is_working_day(dt.date(2026, 2, 23))
        windowed = WorkingDayCalendar(CalendarPolicy(official_through=2025))
        assert not windowed.is_working_day(dt.date(2026, 2, 20))
        assert not windowed.is_working_day(dt.date(2026, 2, 23))


def test_new_year_window_reaches_into_the_previous_december() -> None:
    # 2019's arrangement gave Monday 2018-12-31 off; estimating 2018 must not count it as working.
    with before_publication():
        lowered = WorkingDayCalendar(CalendarPolicy(official_through=2017))
        assert not lowered.is_working_day(dt.date(2018, 12, 31))
        assert lowered.is_working_day(dt.date(2018, 12, 28))


def test_estimated_year_is_built_from_the_given_windows() -> None:
    narrow = estimated_year(2027, {})
    wide = estimated_year(2027, {"spring-festival": (3, 10)})
    assert dt.date(2027, 2, 12) not in narrow.weekdays_off
    assert dt.date(2027, 2, 12) in wide.weekdays_off
    assert dt.date(2027, 2, 3) in wide.weekdays_off  # 3 days before Sat 6 Feb
    assert dt.date(2027, 2, 2) not in wide.weekdays_off
    assert narrow.estimated
    assert wide.working_weekends == frozenset()


# --- overrides ------------------------------------------------------------------------------


def test_override_makes_a_year_official() -> None:
    arrangement = YearArrangement(
        days_off=[dt.date(2027, 1, 1), dt.date(2027, 2, 5), dt.date(2027, 2, 6)],
        working_weekends=[dt.date(2027, 2, 20)],
    )
    calendar = WorkingDayCalendar(CalendarPolicy(overrides={2027: arrangement}))
    assert not calendar.is_estimated(2027)
    assert calendar.is_estimated(2028)
    assert calendar.is_working_day(dt.date(2027, 2, 20))  # Saturday, worked
    assert not calendar.is_working_day(dt.date(2027, 2, 5))
    # Only what the override says: the estimate's windows are gone.
    assert calendar.is_working_day(dt.date(2027, 2, 4))
    assert calendar.is_working_day(dt.date(2027, 2, 8))
    assert not calendar.is_working_day(dt.date(2027, 2, 6))  # a Saturday listed as off
    assert not calendar.is_working_day(dt.date(2027, 2, 21))  # an ordinary Sunday


def test_override_wins_over_the_library_for_an_official_year() -> None:
    arrangement = YearArrangement(days_off=[dt.date(2026, 3, 4)])
    calendar = WorkingDayCalendar(CalendarPolicy(overrides={2026: arrangement}))
    assert not calendar.is_working_day(dt.date(2026, 3, 4))
    assert calendar.is_working_day(dt.date(2026, 2, 17))  # the override lists no festival
    assert not calendar.is_estimated(2026)


# --- searching ------------------------------------------------------------------------------


def test_nth_working_day_before_is_strict() -> None:
    calendar = WorkingDayCalendar(CalendarPolicy())
    # Wednesday 2026-03-04 is itself a working day; the first one strictly before is Tuesday.
    answer = calendar.nth_working_day_before(dt.date(2026, 3, 4), 1)
    assert answer.day == dt.date(2026, 3, 3)
    assert not answer.estimated


def test_working_day_on_or_before_keeps_a_working_day() -> None:
    calendar = WorkingDayCalendar(CalendarPolicy())
    assert calendar.working_day_on_or_before(dt.date(2026, 3, 4)).day == dt.date(2026, 3, 4)
    # From the first day of the 2025 National Day break back to the Tuesday before it.
    answer = calendar.working_day_on_or_before(dt.date(2025, 10, 8))
    assert answer.day == dt.date(2025, 9, 30)
    assert not answer.estimated


def test_estimated_flag_follows_the_days_consulted() -> None:
    calendar = WorkingDayCalendar(CalendarPolicy())
    # From Monday 2027-01-04 back over Sun 3, Sat 2, Fri 1 (2027, estimated) and Thu 31 Dec
    # (unsettled until 2027's notice) to Wed 30 Dec 2026.
    answer = calendar.nth_working_day_before(dt.date(2027, 1, 4), 1)
    assert answer == CalendarAnswer(dt.date(2026, 12, 30), estimated=True)
    answer = calendar.nth_working_day_before(dt.date(2027, 1, 1), 1)
    assert answer == CalendarAnswer(dt.date(2026, 12, 30), estimated=True)
    # Only settled 2026 days consulted: official.
    answer = calendar.nth_working_day_before(dt.date(2026, 12, 31), 1)
    assert answer == CalendarAnswer(dt.date(2026, 12, 30), estimated=False)
    answer = calendar.working_day_on_or_before(dt.date(2027, 1, 3))
    assert answer == CalendarAnswer(dt.date(2026, 12, 30), estimated=True)


@pytest.mark.parametrize(
    ("year", "eve"),
    [(2025, dt.date(2025, 1, 28)), (2026, dt.date(2026, 2, 16)), (2027, dt.date(2027, 2, 5))],
    ids=str,
)
def test_spring_festival_eve(year: int, eve: dt.date) -> None:
    assert spring_festival_eve(year) == eve
