"""Traffic kept in a store: one compressed chunk per (metric, scope, UTC month).

A month of 5-minute points is 8,928 float64 values; zlib-compressed it fits easily in one
DynamoDB item (400 KB) or SQLite row, and a re-upload rewrites only the months it touches. A read
of a time range reads only the months it touches (``months_of``), so a stray point stored years
away costs nothing until someone asks for its month. The keys, months and revisions, which need
no NumPy, are in ``chunk_keys``: a store loads this module only when it touches traffic.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from chalicelib.domain.traffic import (
    STEP_SECONDS,
    Series,
    TimeRange,
    TrafficSet,
    overlay,
)


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
