"""Traffic ingestion: keep validated actuals and forecasts (API upload, S3 drop)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.workflows.ports import Store

if TYPE_CHECKING:
    from chalicelib.domain.traffic import TrafficSet


def ingest_traffic(store: Store, traffic: TrafficSet) -> dict[str, int]:
    """Parsing already rejected any bad row, so this writes all or none."""
    store.put_traffic(traffic)
    return {"series": len(traffic), "points": sum(len(s.times) for s in traffic.series.values())}
