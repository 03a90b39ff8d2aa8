"""The plan (docs/deadlines.md, docs/data-formats.md): which requests a forecast needs, by when, and
what to warn about."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from builders import CST, UTC, bandwidth, concurrency, local, series_from, spans, traffic
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.domain.assurance import Plan
from chalicelib.domain.events import Event, spring_festival_gala
from chalicelib.domain.planner import make_plan
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import reconcile
from chalicelib.domain.traffic import TrafficSet

POLICY = Policy()
NOW = local(2026, 3, 1, 10)
REQUEST_KEYS = {
    "id", "rule", "scope", "burst_start", "burst_end", "forecast_peak", "baseline", "threshold",
    "unit", "event", "lead_time", "deadline", "status", "estimated_calendar", "rule_value",
}  # fmt: skip


def jump(day: dt.date, scope: str = "CN", hours: tuple[int, int] = (19, 21)) -> TrafficSet:
    """The day before ``day`` flat at 50 Gbit/s; ``day`` the same but 300 between the hours."""
    start = dt.datetime.combine(day, dt.time(hours[0]), tzinfo=CST)
    end = dt.datetime.combine(day, dt.time(hours[1]), tzinfo=CST)
    return traffic(
        bandwidth(scope, day - dt.timedelta(days=1), day, spans(50.0, [(start, end, 300.0)]))
    )


def plan_json(data: TrafficSet, now: dt.datetime, events: list[Event] | None = None) -> Any:
    return json.loads(make_plan(data, events or [], POLICY, now).model_dump_json())


def event(
    id: str, start: dt.datetime, end: dt.datetime, major: bool = True, scopes: tuple[str, ...] = ()
) -> Event:
    return Event(
        id=id, name=id.replace("-", " ").title(), start=start, end=end, major=major, scopes=scopes
    )


def test_a_cn_jump_needs_a_ticket_three_working_days_ahead() -> None:
    plan = plan_json(jump(dt.date(2026, 3, 9)), NOW)
    assert set(plan) == {"now", "requests", "warnings"}
    assert plan["now"] == "2026-03-01T10:00:00+08:00"
    assert plan["warnings"] == []
    [request] = plan["requests"]
    assert set(request) >= REQUEST_KEYS
    assert {k: request[k] for k in REQUEST_KEYS} == {
        "id": "daily-peak-jump/CN/2026-03-09",
        "rule": "daily-peak-jump",
        "scope": "CN",
        "burst_start": "2026-03-09T19:00:00+08:00",
        "burst_end": "2026-03-09T21:00:00+08:00",
        "forecast_peak": 300.0,
        "baseline": 50.0,
        "threshold": 250.0,
        "rule_value": 300.0,
        "unit": "Gbit/s",
        "event": None,
        # Monday 9 March: Friday 6, Thursday 5, Wednesday 4 March, at 18:00 CST.
        "lead_time": "3 working days",
        "deadline": "2026-03-04T18:00:00+08:00",
        "status": "upcoming",  # 80 hours ahead
        "estimated_calendar": False,
    }


def test_now_in_utc_is_shown_in_the_provider_zone() -> None:
    plan = plan_json(jump(dt.date(2026, 3, 9)), dt.datetime(2026, 3, 1, 2, tzinfo=UTC))
    assert plan["now"] == "2026-03-01T10:00:00+08:00"


def test_requests_are_ordered_by_deadline() -> None:
    both = TrafficSet(
        {**jump(dt.date(2026, 3, 16), "AP1").series, **jump(dt.date(2026, 3, 9)).series}
    )
    plan = plan_json(both, NOW)
    assert [(r["id"], r["deadline"]) for r in plan["requests"]] == [
        ("daily-peak-jump/CN/2026-03-09", "2026-03-04T18:00:00+08:00"),
        ("daily-peak-jump/AP1/2026-03-16", "2026-03-11T18:00:00+08:00"),
        # AP1 at 50 is also over 40 all month from Sunday 15 March: the same deadline, so the
        # id breaks the tie.
        ("monthly-charged-bandwidth/AP1/2026-03", "2026-03-11T18:00:00+08:00"),
    ]


# -- events ------------------------------------------------------------------------------------


def test_a_major_event_over_the_burst_needs_a_month() -> None:
    final = event("cup-final", local(2026, 3, 9, 18), local(2026, 3, 9, 23))
    [request] = plan_json(jump(dt.date(2026, 3, 9)), NOW, [final])["requests"]
    assert request["event"] == {"id": "cup-final", "name": "Cup Final", "major": True}
    assert request["lead_time"] == "1 month"
    assert request["deadline"] == "2026-02-09T18:00:00+08:00"  # Monday 9 February
    assert request["status"] == "overdue"
    assert request["estimated_calendar"] is False


def test_a_month_ahead_counts_from_the_earlier_of_event_and_burst() -> None:
    # The event starts the evening before: 8 March - 1 month = Sunday 8 February, so Friday 6.
    weekend = event("cup-weekend", local(2026, 3, 8, 20), local(2026, 3, 9, 23))
    [request] = plan_json(jump(dt.date(2026, 3, 9)), NOW, [weekend])["requests"]
    assert request["deadline"] == "2026-02-06T18:00:00+08:00"


def test_a_month_ahead_clamps_to_the_month_end_and_keeps_make_up_days() -> None:
    # 31 March - 1 month = 28 February 2026, a Saturday but an official make-up working day.
    gala = event("spring-show", local(2026, 3, 31, 19), local(2026, 3, 31, 22))
    [request] = plan_json(jump(dt.date(2026, 3, 31)), NOW, [gala])["requests"]
    assert request["deadline"] == "2026-02-28T18:00:00+08:00"


@pytest.mark.parametrize(
    ("other", "expected_event"),
    [
        (event("ap1-final", local(2026, 3, 9, 18), local(2026, 3, 9, 23), scopes=("AP1",)), None),
        (event("before", local(2026, 3, 9, 17), local(2026, 3, 9, 19)), None),  # ends at start
        (
            event("concert", local(2026, 3, 9, 20), local(2026, 3, 9, 22), major=False),
            {"id": "concert", "name": "Concert", "major": False},
        ),
        (
            event("cn-concert", local(2026, 3, 9, 20), local(2026, 3, 9, 22), False, ("CN", "EU")),
            {"id": "cn-concert", "name": "Cn Concert", "major": False},
        ),
    ],
)
def test_events_that_do_not_make_it_a_month(other: Event, expected_event: object) -> None:
    [request] = plan_json(jump(dt.date(2026, 3, 9)), NOW, [other])["requests"]
    assert request["event"] == expected_event
    assert request["lead_time"] == "3 working days"
    assert request["deadline"] == "2026-03-04T18:00:00+08:00"


def test_the_spring_festival_gala_is_generated() -> None:
    gala = spring_festival_gala(2027, CST)
    assert (gala.id, gala.name, gala.major) == (
        "spring-festival-gala-2027",
        "Spring Festival Gala 2027",
        True,
    )
    assert gala.start == dt.datetime(2027, 2, 5, 12, tzinfo=UTC)  # 20:00 CST, New Year's Eve
    assert gala.end == dt.datetime(2027, 2, 5, 16, 30, tzinfo=UTC)  # 00:30 CST


def test_a_jump_on_gala_evening_needs_a_month_on_an_estimated_calendar() -> None:
    now = local(2026, 12, 1, 10)
    plan = plan_json(jump(dt.date(2027, 2, 5), hours=(20, 22)), now)
    [request] = plan["requests"]
    assert request["id"] == "daily-peak-jump/CN/2027-02-05"
    assert request["event"] == {
        "id": "spring-festival-gala-2027",
        "name": "Spring Festival Gala 2027",
        "major": True,
    }
    assert request["lead_time"] == "1 month"
    # 5 February - 1 month = Tuesday 5 January 2027; 2027's arrangement is not published yet.
    assert request["deadline"] == "2027-01-05T18:00:00+08:00"
    assert request["estimated_calendar"] is True
    assert request["status"] == "upcoming"
    [warning] = plan["warnings"]  # the gala has a forecast: no event warning
    assert warning["code"] == "estimated-calendar"
    assert "1 deadline(s)" in warning["message"]
    assert "for 2027:" in warning["message"]
    assert "calendar.official_through = 2026" in warning["message"]


# -- status and time -----------------------------------------------------------------------------

DEADLINE = local(2026, 3, 4, 18)


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (DEADLINE - dt.timedelta(hours=72, minutes=5), "upcoming"),
        (DEADLINE - dt.timedelta(hours=72), "due"),  # the 72-hour reminder window opens
        ((DEADLINE - dt.timedelta(hours=72)).astimezone(UTC), "due"),
        (DEADLINE - dt.timedelta(minutes=1), "due"),
        (DEADLINE, "due"),
        (DEADLINE + dt.timedelta(minutes=1), "overdue"),
        (local(2026, 3, 9, 20, 55), "overdue"),  # the burst is still on
    ],
)
def test_status_around_the_reminder_window_and_the_deadline(now: dt.datetime, status: str) -> None:
    [request] = plan_json(jump(dt.date(2026, 3, 9)), now)["requests"]
    assert request["status"] == status


@pytest.mark.parametrize("now", [local(2026, 3, 9, 21), local(2026, 3, 12)])
def test_a_burst_that_is_over_is_not_planned(now: dt.datetime) -> None:
    assert plan_json(jump(dt.date(2026, 3, 9)), now)["requests"] == []


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        make_plan(jump(dt.date(2026, 3, 9)), [], POLICY, dt.datetime(2026, 3, 1, 10))


# -- warnings ----------------------------------------------------------------------------------


def test_a_major_event_without_a_forecast_is_a_warning() -> None:
    events = [
        event("world-final", local(2026, 6, 10, 20), local(2026, 6, 10, 23)),
        event("beyond-horizon", local(2026, 7, 1, 20), local(2026, 7, 1, 23)),  # > 120 days
        event("minor", local(2026, 5, 10, 20), local(2026, 5, 10, 23), major=False),
        event("over", local(2026, 2, 20, 20), local(2026, 3, 1, 10)),  # ended at now
        event("covered", local(2026, 3, 9, 20), local(2026, 3, 9, 21)),
        event("ap1-only", local(2026, 3, 9, 8), local(2026, 3, 9, 9), scopes=("AP1",)),
    ]
    plan = plan_json(jump(dt.date(2026, 3, 9)), NOW, events)
    assert plan["warnings"] == [
        {
            "code": "event-without-forecast",
            # The CN forecast covers 9 March, but this event is for AP1 only. It starts at 08:00:
            # a month before is 08:00 on 9 February, earlier than that day's 18:00 cutoff.
            "message": "no forecast yet for Ap1 Only (2026-03-09); "
            "a ticket would be due by 2026-02-09 08:00 CST",
        },
        {
            "code": "event-without-forecast",
            # 10 June - 1 month = Sunday 10 May; Saturday 9 May 2026 is a make-up working day.
            "message": "no forecast yet for World Final (2026-06-10); "
            "a ticket would be due by 2026-05-09 18:00 CST",
        },
    ]


def test_the_gala_without_a_forecast_is_a_warning() -> None:
    plan = plan_json(TrafficSet(), local(2026, 12, 1, 10))
    assert plan["requests"] == []
    assert plan["warnings"] == [
        {
            "code": "event-without-forecast",
            "message": "no forecast yet for Spring Festival Gala 2027 (2027-02-05); "
            "a ticket would be due by 2027-01-05 18:00 CST",
        }
    ]


def test_a_high_first_day_is_warned_as_unchecked_until_it_is_over() -> None:
    first = traffic(
        bandwidth(
            "AP1",
            dt.date(2026, 3, 9),
            dt.date(2026, 3, 9),
            spans(10.0, [(local(2026, 3, 9, 20), local(2026, 3, 9, 21), 70.0)]),
        )
    )
    warning = {
        "code": "unchecked-day",
        "message": "daily-peak-jump not checked for AP1 on 2026-03-09: no data for the day before",
    }
    assert warning in plan_json(first, NOW)["warnings"]
    assert warning in plan_json(first, local(2026, 3, 9, 23, 59))["warnings"]
    assert warning not in plan_json(first, local(2026, 3, 10))["warnings"]


# -- which bursts an event covers ---------------------------------------------------------------


def _transcoding(start: dt.datetime, end: dt.datetime) -> TrafficSet:
    """Transcoding at 1,000 tasks on the local days around the surge, 15,000 in [start, end)."""
    return traffic(
        concurrency(
            "transcoding", start.date() - dt.timedelta(days=1), end.date(),
            spans(1000.0, [(start, end, 15_000.0)]),
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    ("surge_start", "surge_end", "lead"),
    [
        (local(2026, 2, 16, 19, 30), local(2026, 2, 16, 23), "1 month"),  # starts before 20:00
        (local(2026, 2, 16, 17, 30), local(2026, 2, 16, 19, 30), "1 month"),  # within 3 h before
        (local(2026, 2, 16, 15), local(2026, 2, 16, 16, 55), "3 working days"),  # 3 h 5 min
    ],
)
def test_a_surge_before_the_gala_is_covered_within_the_margin(
    surge_start: dt.datetime, surge_end: dt.datetime, lead: str
) -> None:
    # The 2026 gala starts at 20:00 on Mon 16 February, New Year's Eve.
    plan = make_plan(_transcoding(surge_start, surge_end), [], POLICY, local(2026, 1, 5, 9))
    request = next(r for r in plan.requests if r.scope == "transcoding")
    assert request.lead_time == lead
    if lead == "1 month":
        assert request.event is not None
        assert request.event.id == "spring-festival-gala-2026"
        # A month before the earlier of surge and gala: Fri 16 January, at most 18:00.
        assert request.deadline == min(
            local(2026, 1, 16, 18), surge_start - relativedelta(months=1)
        )


@pytest.mark.parametrize(
    ("scopes", "covers"),
    [
        (("CN",), {"transcoding": True, "vas-total": True}),  # services are not billed per area
        (("CN", "recording"), {"transcoding": False, "vas-total": True}),  # names its services
        (("CN", "transcoding"), {"transcoding": True, "vas-total": True}),
        (("AP1",), {"transcoding": True, "vas-total": True}),
    ],
)
def test_an_event_limited_to_areas_still_covers_the_services(
    scopes: tuple[str, ...], covers: dict[str, bool]
) -> None:
    surge = (local(2026, 7, 1, 20), local(2026, 7, 1, 22))
    final = event("cup-final", *surge, major=True, scopes=scopes)
    plan = make_plan(_transcoding(*surge), [final], POLICY, local(2026, 5, 4, 9))
    leads = {r.scope: r.lead_time for r in plan.requests}
    assert leads == {s: "1 month" if c else "3 working days" for s, c in covers.items()}


def test_an_event_must_say_whether_it_is_major() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Event(id="x", name="X", start=local(2026, 7, 1, 20), end=local(2026, 7, 1, 22))
    assert [e["loc"] for e in excinfo.value.errors()] == [("major",)]


# -- properties of bursts and their requests ------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([500.0, 8000.0, 10_500.0, 13_000.0, 20_000.0]), min_size=576,
             max_size=576),
)  # fmt: skip
def test_a_burst_window_always_contains_its_peak(levels: list[float]) -> None:
    first = local(2026, 7, 1)
    values = {first + dt.timedelta(minutes=5 * i): v for i, v in enumerate(levels)}
    data = traffic(series_from("concurrency", "snapshot", values))
    plan = make_plan(data, [], POLICY, local(2026, 6, 1))
    for request in plan.requests:
        inside = [v for t, v in values.items() if request.burst_start <= t < request.burst_end]
        assert request.forecast_peak == max(inside)
        assert request.rule_value > request.threshold
        assert request.rule_value <= request.forecast_peak


@settings(max_examples=25, deadline=None)
@given(st.integers(-36, 36))
def test_shifting_a_surge_by_minutes_never_withdraws_its_request(steps: int) -> None:
    def plan_at(offset: int) -> Plan:
        start = local(2026, 3, 9, 22) + dt.timedelta(minutes=5 * offset)
        surge = [(start, start + dt.timedelta(hours=2), 300.0)]
        data = traffic(
            bandwidth("CN", dt.date(2026, 3, 7), dt.date(2026, 3, 11), spans(50.0, surge))
        )
        return make_plan(data, [], POLICY, NOW)

    margin = dt.timedelta(hours=POLICY.rematch_margin_hours)
    stored = {c.after.id: c.after for c in reconcile({}, plan_at(0), NOW, margin)}
    changes = reconcile(stored, plan_at(steps), NOW, margin)
    assert {c.action for c in changes} <= {"updated", "moved"}
    assert len(changes) <= 1


def test_an_hourly_series_is_planned_with_a_warning() -> None:
    hourly = {local(2026, 3, 9, h): 20.0 for h in range(24)}
    plan = plan_json(traffic(series_from("bandwidth", "EU", hourly)), NOW)
    assert plan["warnings"] == [
        {
            "code": "sparse-series",
            "message": "bandwidth EU has a point every 60 minutes, not every 5: averages over "
            "longer intervals understate the 5-minute peaks the rules judge",
        }
    ]


def test_a_service_forecast_is_no_forecast_for_an_event_limited_to_an_area() -> None:
    final = event("cn-final", local(2026, 5, 10, 20), local(2026, 5, 10, 23), scopes=("CN",))
    services = _transcoding(local(2026, 5, 10, 20), local(2026, 5, 10, 23))
    plan = make_plan(services, [final], POLICY, NOW)
    assert [w.code for w in plan.warnings if w.code == "event-without-forecast"] == [
        "event-without-forecast"
    ]
    assert "Cn Final (2026-05-10)" in plan.warnings[0].message
