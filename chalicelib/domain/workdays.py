"""China's working-day calendar: statutory holidays off, weekend make-up working days (调休) on.

Official years come from ``holidays.China``, or from a policy override entered by hand. For a year
whose arrangement is not yet published, holidays.China silently returns a guess; we do not trust
it. Such a year is *estimated*: no weekend is a working day, and a wide window around every holiday
is off, so an estimated working day is always a working day once the real arrangement comes out,
and a deadline computed on it is never later than the official one will be.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.domain.policy import CalendarPolicy

if TYPE_CHECKING:
    from holidays.countries.china import China

ONE_DAY = dt.timedelta(days=1)

# Holidays whose date moves (lunar or solar-term); the rest are fixed in the Gregorian year.
_MOVABLE_ANCHORS = {
    "spring-festival": "Chinese New Year (Spring Festival)",
    "qingming": "Tomb-Sweeping Day",
    "dragon-boat": "Dragon Boat Festival",
    "mid-autumn": "Mid-Autumn Festival",
}
_FIXED_ANCHORS = {"new-year": (1, 1), "labour-day": (5, 1), "national-day": (10, 1)}


@dataclass(frozen=True)
class YearTable:
    """Which days of one year break the Monday-to-Friday pattern."""

    weekdays_off: frozenset[dt.date]
    working_weekends: frozenset[dt.date]
    estimated: bool
    # Days of an official year that the next year's notice may still change (its New Year's
    # break can reach back into this December): off, and estimated, until that notice is known.
    unsettled: frozenset[dt.date] = frozenset()


@dataclass(frozen=True)
class CalendarAnswer:
    day: dt.date
    estimated: bool  # the answer rests on at least one day of an estimated year


class WorkingDayCalendar:
    def __init__(self, policy: CalendarPolicy) -> None:
        self._policy = policy
        self._years: dict[int, YearTable] = {}

    def is_estimated(self, year: int) -> bool:
        return self._table(year).estimated

    def is_estimated_day(self, day: dt.date) -> bool:
        table = self._table(day.year)
        return table.estimated or day in table.unsettled

    def is_working_day(self, day: dt.date) -> bool:
        table = self._table(day.year)
        if day.weekday() >= 5:
            return day in table.working_weekends
        return day not in table.weekdays_off

    def nth_working_day_before(self, day: dt.date, n: int) -> CalendarAnswer:
        """The n-th working day strictly before ``day``."""
        estimated = False
        found = 0
        cursor = day
        while found < n:
            cursor -= ONE_DAY
            estimated |= self.is_estimated_day(cursor)
            found += self.is_working_day(cursor)
        return CalendarAnswer(cursor, estimated)

    def working_days_after(self, today: dt.date, day: dt.date) -> int:
        """Working days after ``today`` up to and including ``day``: how many whole working
        days are left before a deadline on ``day`` (0 on the day itself; negative when past)."""
        if day < today:
            return -self.working_days_after(day, today)
        count, cursor = 0, today
        while cursor < day:
            cursor += ONE_DAY
            count += self.is_working_day(cursor)
        return count

    def working_day_on_or_before(self, day: dt.date) -> CalendarAnswer:
        estimated = self.is_estimated_day(day)
        while not self.is_working_day(day):
            day -= ONE_DAY
            estimated |= self.is_estimated_day(day)
        return CalendarAnswer(day, estimated)

    def _table(self, year: int) -> YearTable:
        if year not in self._years:
            self._years[year] = self._build(year)
        return self._years[year]

    def _build(self, year: int) -> YearTable:
        override = self._policy.overrides.get(year)
        if override is not None:
            table = YearTable(
                frozenset(d for d in override.days_off if d.weekday() < 5),
                frozenset(override.working_weekends),
                estimated=False,
            )
        elif year <= self._policy.official_through:
            table = official_year(year)
        else:
            return estimated_year(year, self._policy.estimate_windows)
        # A known year (published or entered by hand) followed by an unknown one: the next
        # year's notice may still take days off at the end of this December.
        if self._is_official(year + 1):
            return table
        return with_unsettled_december(table, year, self._policy.estimate_windows)

    def _is_official(self, year: int) -> bool:
        return year in self._policy.overrides or year <= self._policy.official_through


@functools.cache
def _china() -> type[China]:
    """``holidays.China``, imported on its own. The usual way in goes through the package
    ``holidays.countries``, which imports every country (about 0.15 s of a cold start, 300
    modules); china.py itself needs only the library's core. It is registered under its own name,
    so a later ``holidays.China`` gets this same class."""
    name = "holidays.countries.china"
    if name not in sys.modules:
        import holidays  # the core: HolidayBase, calendars, translations

        spec = importlib.util.spec_from_file_location(
            name, f"{holidays.__path__[0]}/countries/china.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    china: type[China] = sys.modules[name].China
    return china


def official_year(year: int) -> YearTable:
    published = _china()(years=year)
    return YearTable(
        frozenset(d for d in published if d.weekday() < 5 and d.year == year),
        frozenset(d for d in published.weekend_workdays if d.year == year),
        estimated=False,
    )


def with_unsettled_december(
    table: YearTable, year: int, windows: dict[str, tuple[int, int]]
) -> YearTable:
    before, _ = windows.get("new-year", (0, 0))
    december = {dt.date(year, 12, 31) - ONE_DAY * i for i in range(before)}
    unsettled = frozenset(d for d in december if d.weekday() < 5 and d not in table.weekdays_off)
    return YearTable(
        table.weekdays_off | unsettled, table.working_weekends, table.estimated, unsettled
    )


def estimated_year(year: int, windows: dict[str, tuple[int, int]]) -> YearTable:
    guess = _china()(years=year, language="en_US")
    anchors = {key: dt.date(year, m, d) for key, (m, d) in _FIXED_ANCHORS.items()}
    for key, name in _MOVABLE_ANCHORS.items():
        dates = [d for d in guess.get_named(name, lookup="startswith") if d.year == year]
        if dates:
            anchors[key] = min(dates)
    off: set[dt.date] = {d for d in guess if d.year == year}
    spans = [(anchor, windows.get(key, (0, 0))) for key, anchor in anchors.items()]
    # The next New Year's break can start in this December (2018-12-31 was a day off).
    spans.append((dt.date(year + 1, 1, 1), windows.get("new-year", (0, 0))))
    for anchor, (before, after) in spans:
        off.update(anchor + ONE_DAY * offset for offset in range(-before, after + 1))
    return YearTable(
        frozenset(d for d in off if d.weekday() < 5 and d.year == year),
        frozenset(),
        estimated=True,
    )


def spring_festival_eve(year: int) -> dt.date:
    """Chinese New Year's Eve of the lunar year that starts in ``year``."""
    new_year = min(
        _china()(years=year, language="en_US").get_named(
            _MOVABLE_ANCHORS["spring-festival"], lookup="startswith"
        )
    )
    return new_year - ONE_DAY
