"""Traffic sources: where a planning cycle reads actuals and forecasts from."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from typing import Protocol

from chalicelib.errors import InputError
from chalicelib.store import Store
from chalicelib.traffic import TrafficSet, load_files


class TrafficSource(Protocol):
    def load(self) -> TrafficSet: ...


class FileTrafficSource:
    """CSV or JSON files (optionally gzipped), named by glob patterns; later files win."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)

    def load(self) -> TrafficSet:
        paths: list[str] = []
        for pattern in self.patterns:
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise InputError(f"no traffic file matches {pattern!r}", field="traffic")
            paths.extend(matches)
        return load_files(paths)


class StoredTrafficSource:
    """Traffic uploaded through the API or the S3 drop and kept in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self) -> TrafficSet:
        return self.store.get_traffic()
