"""The event calendar: stored events, the generated Spring Festival Galas, and the re-plan that
a change to a major event triggers. Importing this module does not load NumPy; a re-plan does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.events import GALA_PREFIX, Event, plannable, with_galas
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import Change
from chalicelib.workflows.ports import Store, TrafficSource


def stored_events(store: Store) -> list[Event]:
    """The events people entered or imported, without the generated ones."""
    return store.list_events()


def calendar_events(
    store: Store,
    policy: Policy,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    major: bool | None = None,
    now: dt.datetime | None = None,
) -> list[Event]:
    """Stored events plus the generated Galas, filtered by overlap and kind.

    Galas are generated for the years of the stored events and of ``now`` (and the next), within
    the asked range."""
    stored = store.list_events()
    years = {e.start.year for e in plannable(stored)}  # a stray year 9999 must not span Galas
    if now is not None:
        years |= {now.year, now.year + 1}
    if start is not None:
        years = {y for y in years if y >= start.year} | {start.year}
    if end is not None:
        years = {y for y in years if y <= end.year} | {end.year}
    if years:
        years = set(range(min(years), max(years) + 1))
    return [
        e
        for e in with_galas(stored, years, policy.zone)
        if (start is None or e.end > start)
        and (end is None or e.start < end)
        and (major is None or e.major is major)
    ]


def get_event(store: Store, policy: Policy, event_id: str) -> Event:
    event = store.get_event(event_id)
    year = event_id.removeprefix(GALA_PREFIX)
    if event is None and event_id.startswith(GALA_PREFIX) and year.isdigit():
        event = next(iter(with_galas([], [int(year)], policy.zone)), None)
    if event is None:
        raise NotFound(f"no event with id {event_id!r}")
    return event


def save_event(
    store: Store,
    source: TrafficSource,
    policy: Policy,
    event: Event,
    now: dt.datetime,
    *,
    create: bool,
) -> list[Change]:
    """Create (``create``) or replace an event; a change to a major event re-plans."""
    old = store.get_event(event.id)
    if create and old is not None:
        raise Conflict(
            f"an event with id {event.id!r} exists; replace it with PUT /events/{event.id} "
            "or `events add --replace`"
        )
    if not create and old is None:
        raise NotFound(f"no event with id {event.id!r}")
    store.put_event(event)
    return _replan(store, source, policy, now) if event.major or (old and old.major) else []


def import_events(
    store: Store, source: TrafficSource, policy: Policy, events: Sequence[Event], now: dt.datetime
) -> list[Change]:
    """Create or update each event (re-importing a file updates, never duplicates), then re-plan
    once if any major event changed."""
    touches_major = False
    for event in events:
        old = store.get_event(event.id)
        touches_major |= event.major or bool(old and old.major)
        store.put_event(event)
    return _replan(store, source, policy, now) if touches_major else []


def remove_event(
    store: Store, source: TrafficSource, policy: Policy, event_id: str, now: dt.datetime
) -> list[Change]:
    old = store.get_event(event_id)
    if old is None or not store.delete_event(event_id):
        raise NotFound(f"no event with id {event_id!r}")
    return _replan(store, source, policy, now) if old.major else []


def _replan(store: Store, source: TrafficSource, policy: Policy, now: dt.datetime) -> list[Change]:
    from chalicelib.workflows.planning import replan  # NumPy and the rules load only here

    return replan(store, source, policy, now)
