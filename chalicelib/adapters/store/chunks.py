"""Traffic kept in a store: one compressed chunk per (metric, scope, UTC month).

A month of 5-minute points is 8,928 float64 values; zlib-compressed it fits easily in one
DynamoDB item (400 KB) or SQLite row, and a re-upload rewrites only the months it touches. A read
of a time range reads only the months it touches (``months_of``), so a stray point stored years
away costs nothing until someone asks for its month.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from chalicelib.domain.traffic import (
    STEP_SECONDS,
    Series,
    TimeRange,
    TrafficDeletion,
    TrafficSet,
    overlay,
)

# The audit id under which stores log deletions of traffic (no request id starts with '#').
TRAFFIC_LOG = "#traffic"


@dataclass(frozen=True)
class Chunk:
    metric: str
    scope: str
    month: str  # YYYY-MM, UTC
    times: np.ndarray
    values: np.ndarray

    @property
    def key(self) -> str:
        return f"{self.metric}/{self.scope}/{self.month}"

    @property
    def points(self) -> int:
        return len(self.times)

    def without(self, span: TimeRange) -> Chunk | None:
        """This chunk less its points in ``span``; None when none is left."""
        lo, hi = span.epochs
        keep = (self.times < lo) | (self.times >= hi)
        if keep.all():
            return self
        if not keep.any():
            return None
        return Chunk(self.metric, self.scope, self.month, self.times[keep], self.values[keep])

    def as_series(self) -> Series:
        return Series(self.metric, self.scope, self.times, self.values)

    def encode(self) -> bytes:
        """Times as 5-minute steps from the first point (uint16 fits a month), then values."""
        steps = ((self.times - self.times[0]) // STEP_SECONDS).astype("<u2")
        header = np.array([self.times[0], len(self.times)], dtype="<i8")
        payload = header.tobytes() + steps.tobytes() + self.values.astype("<f8").tobytes()
        return zlib.compress(payload, 6)

    @classmethod
    def decode(cls, key: str, blob: bytes) -> Chunk:
        metric, scope, month = key.split("/")
        raw = zlib.decompress(blob)
        first, count = np.frombuffer(raw[:16], dtype="<i8")
        steps = np.frombuffer(raw[16 : 16 + 2 * count], dtype="<u2").astype(np.int64)
        values = np.frombuffer(raw[16 + 2 * count :], dtype="<f8").copy()
        return cls(metric, scope, month, first + steps * STEP_SECONDS, values)


def split_into_chunks(traffic: TrafficSet) -> Iterator[Chunk]:
    for (metric, scope), series in sorted(traffic.series.items()):
        labels = series.times.astype("datetime64[s]").astype("datetime64[M]")
        boundaries = np.flatnonzero(np.diff(labels.astype(np.int64))) + 1
        for times, values, label in zip(
            np.split(series.times, boundaries),
            np.split(series.values, boundaries),
            [str(labels[0])] + [str(labels[b]) for b in boundaries],
            strict=True,
        ):
            yield Chunk(metric, scope, label, times, values)


def merge_chunk(old: Chunk | None, new: Chunk) -> Chunk:
    """The new chunk's points win where both have one."""
    if old is None:
        return new
    series = overlay(old.as_series(), new.as_series())
    return Chunk(new.metric, new.scope, new.month, series.times, series.values)


def assemble(chunks: Iterator[Chunk] | list[Chunk]) -> TrafficSet:
    by_series: dict[tuple[str, str], list[Chunk]] = {}
    for chunk in chunks:
        by_series.setdefault((chunk.metric, chunk.scope), []).append(chunk)
    result = TrafficSet()
    for (metric, scope), parts in sorted(by_series.items()):
        parts.sort(key=lambda c: c.month)
        result.series[(metric, scope)] = Series(
            metric, scope,
            np.concatenate([c.times for c in parts]),
            np.concatenate([c.values for c in parts]),
        )  # fmt: skip
    return result


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
    first, last = np.array([lo, hi - 1], dtype="datetime64[s]").astype("datetime64[M]")
    return str(first), str(last)


def in_months(key: str, months: tuple[str, str]) -> bool:
    return months[0] <= month_of(key) <= months[1]


def touched_by(key: str, deletion: TrafficDeletion) -> bool:
    """Whether the chunk at ``key`` may hold points the deletion removes."""
    metric, scope, _ = key.split("/")
    return deletion.covers(metric, scope) and in_months(key, months_of(deletion.span))
