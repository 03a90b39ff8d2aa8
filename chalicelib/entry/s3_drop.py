"""The S3 drop: a forecast CSV put in the bucket is validated and stored, all or nothing."""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.domain.errors import InputError
from chalicelib.domain.traffic import parse_csv
from chalicelib.workflows.ingestion import ingest_traffic
from chalicelib.workflows.ports import Store

MAX_OBJECT_BYTES = 64 * 1024 * 1024


def ingest_object(
    store: Store,
    bucket: str,
    key: str,
    log: logging.Logger,
    s3: Any = None,
    *,
    bandwidth_ceiling_gbps: float,
) -> dict[str, Any]:
    """Store the CSV at s3://bucket/key; bandwidth above the ceiling (the policy's) refuses it."""
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    head = s3.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] > MAX_OBJECT_BYTES:
        log.error(
            "rejected s3://%s/%s: %d bytes is over the limit", bucket, key, head["ContentLength"]
        )
        return {"stored": False, "reason": "too large"}
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        traffic = parse_csv(
            body.decode("utf-8-sig"),
            source=f"s3://{bucket}/{key}",
            bandwidth_ceiling_gbps=bandwidth_ceiling_gbps,
        )
    except (InputError, UnicodeDecodeError) as exc:
        # A bad file is the sender's to fix; retrying would fail the same way, so do not raise.
        log.error("rejected s3://%s/%s: %s", bucket, key, exc)
        return {"stored": False, "reason": str(exc)}
    counts = ingest_traffic(store, traffic)
    log.info("stored s3://%s/%s: %d series, %d points", bucket, key, *counts.values())
    return {"stored": True, **counts}
