"""Chunk keys, months and revisions: what a store needs to find and name traffic chunks
without loading NumPy (``chunks`` holds the points)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.domain.traffic import TimeRange, TrafficDeletion

# The audit id under which stores log deletions of traffic (no request id starts with '#').
TRAFFIC_LOG = "#traffic"


def revision_of(blob: bytes) -> str:
    """A stored chunk's revision: its content's, so that the same points give the same one."""
    return hashlib.blake2b(blob, digest_size=12).hexdigest()


def revision_of_chunks(revisions: Iterable[tuple[str, str]]) -> str:
    """One token for many chunks, from their (key, revision) pairs in any order."""
    digest = hashlib.blake2b(digest_size=16)
    for key, revision in sorted(revisions):
        digest.update(f"{key}={revision}\n".encode())
    return digest.hexdigest()


def month_of(key: str) -> str:
    """YYYY-MM of a chunk key."""
    return key.rsplit("/", 1)[-1]


def months_of(span: TimeRange) -> tuple[str, str]:
    """The first and last UTC month (YYYY-MM) with a point in ``span``; compared as strings,
    a chunk's month lies between them exactly when it may hold one of the span's points."""
    lo, hi = span.epochs
    return _utc_month(lo), _utc_month(hi - 1)


def _utc_month(epoch: int) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def in_months(key: str, months: tuple[str, str]) -> bool:
    return months[0] <= month_of(key) <= months[1]


def touched_by(key: str, deletion: TrafficDeletion) -> bool:
    """Whether the chunk at ``key`` may hold points the deletion removes."""
    metric, scope, _ = key.split("/")
    return deletion.covers(metric, scope) and in_months(key, months_of(deletion.span))
