"""The S3 drop: a forecast CSV put in the bucket is validated and stored, all or nothing.

The object is parsed as it streams in, a block at a time: memory follows the points it holds
(24 bytes each while parsing), not its text. An object over ``max_bytes`` is refused unread.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from chalicelib.adapters.traffic_files import text_lines
from chalicelib.domain.errors import InputError
from chalicelib.domain.policy import Policy
from chalicelib.domain.traffic import accepted_dates, parse_csv_lines
from chalicelib.workflows.ingestion import ingest_traffic
from chalicelib.workflows.ports import Store

# A 256 MiB CSV is about 5.5 million points (19 years of 5-minute points in 29 series).
MAX_OBJECT_BYTES = 256 * 1024 * 1024


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
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    where = f"s3://{bucket}/{key}"
    size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    if size > max_bytes:
        reason = f"{where} is {size} bytes, over the limit of {max_bytes} bytes (max_object_bytes)"
        log.error("rejected %s", reason)
        return {"stored": False, "reason": reason}
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        traffic = parse_csv_lines(
            text_lines(body, where),
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
