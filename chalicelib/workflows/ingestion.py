"""Traffic ingestion: keep validated actuals and forecasts (API upload, S3 drop), and take
stored ones out again, on the record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.workflows.ports import Store

if TYPE_CHECKING:
    from chalicelib.domain.traffic import TrafficDeletion, TrafficSet


def ingest_traffic(store: Store, traffic: TrafficSet) -> dict[str, int]:
    """Parsing already rejected any bad row, so this writes all or none."""
    store.put_traffic(traffic)
    return {"series": len(traffic), "points": sum(len(s.times) for s in traffic.series.values())}


def delete_traffic(store: Store, deletion: TrafficDeletion) -> TrafficDeletion:
    """Remove the stored points the deletion covers; its record (who, when, what, how many
    points) goes to the store's append-only log of deletions in the same step."""
    return store.delete_traffic(deletion)
