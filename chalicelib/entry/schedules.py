"""What the scheduled Lambda functions and the S3 drop do: read the clock, call a workflow,
log and return a summary. app.py declares when each runs."""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.config.bootstrap import runtime
from chalicelib.entry import clock


def planning_cycle(log: logging.Logger) -> dict[str, int]:
    from chalicelib.workflows.planning import run_cycle

    rt = runtime()
    report = run_cycle(rt.store, rt.source, rt.notifier, rt.policy, clock.utc_now())
    log.info(
        "planning cycle: %d requests, %d changes", len(report.plan.requests), len(report.changes)
    )
    return {"requests": len(report.plan.requests), "changes": len(report.changes)}


def deadline_watch(log: logging.Logger) -> dict[str, int]:
    from chalicelib.workflows.reminders import deadline_watch as watch

    rt = runtime()
    reminded = watch(rt.store, rt.notifier, rt.policy, clock.utc_now())
    log.info("deadline watch: %d reminders", len(reminded))
    return {"reminded": len(reminded)}


def forecast_drop(bucket: str, key: str, log: logging.Logger) -> dict[str, Any]:
    from chalicelib.entry.s3_drop import ingest_object

    rt = runtime()
    return ingest_object(
        rt.store, bucket, key, log, bandwidth_ceiling_gbps=rt.policy.bandwidth_ceiling_gbps
    )
