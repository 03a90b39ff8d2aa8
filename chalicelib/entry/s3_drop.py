"""The S3 drops: what is put in the stack's bucket is validated and stored, all or nothing.

- ``forecasts/``: a forecast CSV (``ingest_object``). The object is parsed as it streams in, a
  block at a time: memory follows the points it holds (24 bytes each while parsing), not its
  text.
- ``calendars/``: an iCalendar export (``import_calendar_object``): ``.ics``, ``.ics.gz``, or a
  ``.zip`` of ``.ics`` files (Google Takeout). An object has no flags, so its key says what the
  events it leaves unmarked are: major under ``calendars/major/``, ordinary under
  ``calendars/minor/``; anywhere else such a calendar is refused.

An object over ``max_bytes`` is refused unread. A bad object is logged as rejected and stores
nothing; it is not raised, since a retry would fail the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from chalicelib.domain.errors import InputError
from chalicelib.domain.policy import Policy
from chalicelib.workflows.events import recurrence_window, store_events
from chalicelib.workflows.ingestion import ingest_traffic
from chalicelib.workflows.ports import Store

# A 256 MiB CSV is about 5.5 million points (19 years of 5-minute points in 29 series).
MAX_OBJECT_BYTES = 256 * 1024 * 1024
# A calendar is kilobytes; a team's calendar exported for ten years is well under a megabyte.
MAX_CALENDAR_BYTES = 5 * 1024 * 1024
CALENDAR_PREFIX = "calendars/"
# Where a calendar is put says what its unmarked events are (its marked ones keep their marks).
MAJOR_PREFIX = CALENDAR_PREFIX + "major/"
MINOR_PREFIX = CALENDAR_PREFIX + "minor/"
CALENDAR_SUFFIXES = (".ics", ".ics.gz", ".zip")


def ingest_object(
    store: Store,
    bucket: str,
    key: str,
    log: logging.Logger,
    s3: Any = None,
    *,
    policy: Policy,
    now: dt.datetime,
    max_bytes: int = MAX_OBJECT_BYTES,
) -> dict[str, Any]:
    """Store the CSV at s3://bucket/key if every row passes the policy's checks at ``now``."""
    # Each drop loads only what it reads: NumPy here, icalendar for a calendar.
    from chalicelib.adapters.traffic_files import text_blocks
    from chalicelib.domain.traffic import accepted_dates
    from chalicelib.domain.traffic_parsing import parse_csv_blocks

    where = f"s3://{bucket}/{key}"
    body = _body_within(s3, bucket, key, max_bytes)
    if isinstance(body, str):
        reason = f"{where} is {body} (max_object_bytes)"
        log.error("rejected %s", reason)
        return {"stored": False, "reason": reason}
    try:
        traffic = parse_csv_blocks(
            text_blocks(body, where),
            where,
            bandwidth_ceiling_gbps=policy.bandwidth_ceiling_gbps,
            dates=accepted_dates(policy, now),
        )
    except InputError as exc:
        # A bad file is the sender's to fix; retrying would fail the same way, so do not raise.
        log.error("rejected %s: %s", where, exc)
        return {"stored": False, "reason": str(exc)}
    finally:
        body.close()
    counts = ingest_traffic(store, traffic)
    log.info("stored %s: %d series, %d points", where, *counts.values())
    return {"stored": True, **counts}


def import_calendar_object(
    store: Store,
    bucket: str,
    key: str,
    log: logging.Logger,
    s3: Any = None,
    *,
    policy: Policy,
    now: dt.datetime,
    max_bytes: int = MAX_CALENDAR_BYTES,
) -> dict[str, Any]:
    """Store the events of the calendar at s3://bucket/key if all of them can be read.

    Recurring events are expanded over ``recurrence_window(policy, now)``; ids come from the
    UIDs, so dropping the same calendar again updates its events, never duplicates them. An
    unchanged event is not written again. Nothing is re-planned here: the next planning cycle
    reads the events (a changed calendar changes its inputs)."""
    from chalicelib.adapters.ical import read_calendar_bytes

    where = f"s3://{bucket}/{key}"
    if key.endswith("/"):  # a "folder" made in the S3 console: nothing to import
        log.info("ignored %s: a folder, not a calendar", where)
        return {"stored": False, "reason": f"{where} is a folder"}
    if not key.lower().endswith(CALENDAR_SUFFIXES):
        return _rejected(log, where, f"not a calendar: the name must end in {_suffixes()}")
    body = _body_within(s3, bucket, key, max_bytes)
    if isinstance(body, str):
        return _rejected(log, where, body)
    try:
        raw = body.read(max_bytes + 1)  # the object may have been replaced since it was sized
    finally:
        body.close()
    if len(raw) > max_bytes:
        return _rejected(log, where, f"over the limit of {max_bytes} bytes")
    start, end = recurrence_window(policy, now)
    try:
        events = read_calendar_bytes(
            raw, where, zone=policy.zone, default_major=marking_of(key), start=start, end=end,
            marking=key_marking(key),
        )  # fmt: skip
    except InputError as exc:
        # A bad file is the sender's to fix; retrying would fail the same way, so do not raise.
        log.error("rejected %s", exc)
        return {"stored": False, "reason": str(exc)}
    written = store_events(store, events, now).written
    major = sum(e.major for e in events)
    log.info(
        "stored %s: %d events (%d major), %d new or changed; the next planning cycle plans them",
        where, len(events), major, written,
    )  # fmt: skip
    return {"stored": True, "events": len(events), "major": major, "written": written}


def _body_within(s3: Any, bucket: str, key: str, max_bytes: int) -> Any:
    """The object's streaming body; or, for an object over ``max_bytes``, why it is refused
    unread (a str)."""
    if s3 is None:
        from chalicelib.adapters import aws

        s3 = aws.client("s3")
    size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    if size > max_bytes:
        return f"{size} bytes, over the limit of {max_bytes} bytes"
    return s3.get_object(Bucket=bucket, Key=key)["Body"]


def marking_of(key: str) -> bool | None:
    """What a calendar's unmarked events are, by where it was put: major, minor, or unknown."""
    if key.startswith(MAJOR_PREFIX):
        return True
    if key.startswith(MINOR_PREFIX):
        return False
    return None


def key_marking(key: str) -> tuple[str, str]:
    """How the object at ``key`` would mark its unmarked events: put under calendars/major/ or
    calendars/minor/ (for the error that asks for it)."""
    name = key.removeprefix(CALENDAR_PREFIX)
    return f"put it at {MAJOR_PREFIX}{name}", f"at {MINOR_PREFIX}{name}"


def _suffixes() -> str:
    return ", ".join(CALENDAR_SUFFIXES[:-1]) + " or " + CALENDAR_SUFFIXES[-1]


def _rejected(log: logging.Logger, where: str, problem: str) -> dict[str, Any]:
    reason = f"{where}: {problem}"
    log.error("rejected %s", reason)
    return {"stored": False, "reason": reason}
