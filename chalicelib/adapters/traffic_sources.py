"""Traffic sources (the TrafficSource port): files named by globs, or what was uploaded."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chalicelib.domain.errors import InputError
from chalicelib.workflows.ports import Store

if TYPE_CHECKING:
    from chalicelib.domain.traffic import TimeRange, TrafficSet


class FileTrafficSource:
    """CSV or JSON files (optionally gzipped), named by glob patterns; later files win.

    Bandwidth above ``bandwidth_ceiling_gbps`` (the policy's) refuses the load.
    """

    def __init__(self, patterns: Sequence[str], *, bandwidth_ceiling_gbps: float) -> None:
        self.patterns = tuple(patterns)
        self.bandwidth_ceiling_gbps = bandwidth_ceiling_gbps

    def load(self, span: TimeRange | None = None) -> TrafficSet:
        from chalicelib.adapters.traffic_files import load_files

        paths: list[str] = []
        for pattern in self.patterns:
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise InputError(f"no traffic file matches {pattern!r}", field="traffic")
            paths.extend(matches)
        traffic = load_files(paths, bandwidth_ceiling_gbps=self.bandwidth_ceiling_gbps)
        return traffic if span is None else traffic.within(span)

    def revision(self, span: TimeRange) -> str | None:
        return None  # files change without telling: every cycle reads them


class StoredTrafficSource:
    """Traffic uploaded through the API or the S3 drop and kept in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, span: TimeRange | None = None) -> TrafficSet:
        return self.store.get_traffic(span)

    def revision(self, span: TimeRange) -> str | None:
        return self.store.traffic_revision(span)
