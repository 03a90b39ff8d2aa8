"""The event calendar: stored events, the generated Spring Festival Galas, and the re-plan that
a change to a major event triggers. Importing this module does not load NumPy; a re-plan does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from chalicelib.domain.errors import Conflict, KeyReused, NotFound, PreconditionFailed
from chalicelib.domain.events import GALA_PREFIX, Event, etag, plannable, revised, with_galas
from chalicelib.domain.policy import Policy
from chalicelib.domain.tracking import Change
from chalicelib.workflows.ports import Answer, Store, TrafficSource
from chalicelib.workflows.retry import retry_on_conflict


def recurrence_window(policy: Policy, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Where an imported recurring event's occurrences matter: a month back (bursts under way)
    to the last date ingestion accepts."""
    from chalicelib.domain.traffic import accepted_dates

    return now - dt.timedelta(days=31), accepted_dates(policy, now).end


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
    if_match: str | None = None,
    first_answer: Answer | None = None,
) -> Saved:
    """Create (``create``: exactly one of several at once succeeds) or replace an event (only
    an existing one; with ``if_match``, only the version the caller read). A change to a major
    event re-plans. ``first_answer`` is kept for the request's idempotency key."""
    if create:
        stored = revised(None, event, now)
        try:
            store.put_event(stored, expected=None, first_answer=first_answer)
        except Conflict:
            raise Conflict(
                f"an event with id {event.id!r} exists; replace it with PUT /events/{event.id} "
                "or `events add --replace`"
            ) from None
        return Saved(stored, _replan(store, source, policy, now) if event.major else [])
    old, stored = retry_on_conflict(
        lambda: _replace(store, event, if_match, now), f"event {event.id}"
    )
    changes = _replan(store, source, policy, now) if event.major or old.major else []
    return Saved(stored, changes)


class Saved(NamedTuple):
    event: Event  # as stored, with its revision
    changes: list[Change]  # what the re-plan changed


def _replace(
    store: Store, event: Event, if_match: str | None, now: dt.datetime
) -> tuple[Event, Event]:
    old = _as_read(store, event.id, if_match)
    stored = revised(old, event, now)
    try:
        store.put_event(stored, expected=old)
    except Conflict:
        if if_match is not None:
            raise PreconditionFailed(f"event {event.id!r} changed since it was read") from None
        raise  # changed meanwhile: read it again
    return old, stored


def _as_read(store: Store, event_id: str, if_match: str | None) -> Event:
    """The stored event, which must exist and, with ``if_match``, carry that ETag."""
    old = store.get_event(event_id)
    if old is None:
        raise NotFound(f"no event with id {event_id!r}")
    if if_match is not None and if_match not in ("*", etag(old)):
        raise PreconditionFailed(
            f"event {event_id!r} is at {etag(old)}, not {if_match}: read it again"
        )
    return old


def replay(store: Store, key: str, request_hash: str) -> Answer | None:
    """The first answer to this idempotency key, if the same request got one already."""
    answer = store.first_answer(key)
    if answer is not None and answer.request_hash != request_hash:
        raise KeyReused(f"Idempotency-Key {key!r} was used for another request", "Idempotency-Key")
    return answer


class Imported(NamedTuple):
    written: int  # events new or changed; the others were already stored as they are
    major_changed: bool  # a major event was created, changed, or is no longer major
    changes: list[Change]  # what the re-plan changed


def store_events(store: Store, events: Sequence[Event], now: dt.datetime) -> Imported:
    """Create or update each event (re-importing a file updates, never duplicates); an event
    already stored as it is is not written again. Nothing is re-planned."""
    written, major_changed = 0, False
    for event in events:
        old = store.get_event(event.id)
        stored = revised(old, event, now)
        if stored != old:
            store.put_event(stored)
            written += 1
            major_changed |= event.major or bool(old and old.major)
    return Imported(written, major_changed, [])


def import_events(
    store: Store, source: TrafficSource, policy: Policy, events: Sequence[Event], now: dt.datetime
) -> Imported:
    """``store_events``, then one re-plan if a major event changed."""
    done = store_events(store, events, now)
    if not done.major_changed:
        return done
    return done._replace(changes=_replan(store, source, policy, now))


def remove_event(
    store: Store,
    source: TrafficSource,
    policy: Policy,
    event_id: str,
    now: dt.datetime,
    if_match: str | None = None,
) -> list[Change]:
    old = _as_read(store, event_id, if_match)
    try:
        existed = store.delete_event(event_id, expected=old if if_match else None)
    except Conflict:
        raise PreconditionFailed(f"event {event_id!r} changed since it was read") from None
    if not existed:
        raise NotFound(f"no event with id {event_id!r}")
    return _replan(store, source, policy, now) if old.major else []


def _replan(store: Store, source: TrafficSource, policy: Policy, now: dt.datetime) -> list[Change]:
    from chalicelib.workflows.planning import replan  # NumPy and the rules load only here

    return replan(store, source, policy, now)
