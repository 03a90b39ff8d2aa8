"""What the scheduled Lambda functions, the filing worker and the S3 drops do: read the clock,
call a workflow, announce what changed, log and return a summary. app.py declares when each runs."""

from __future__ import annotations

import json
import logging
from typing import Any

from chalicelib.config.bootstrap import Runtime, runtime
from chalicelib.entry import clock


def planning_cycle(log: logging.Logger) -> dict[str, int]:
    from chalicelib.workflows.planning import run_cycle

    rt = runtime()
    report = run_cycle(rt.store, rt.source, rt.notifier, rt.policy, clock.utc_now())
    _log_held(log, report.dispatch.held)
    log.info(
        "planning cycle: %d requests, %d changes, %d notices sent",
        report.planned, len(report.changes), report.dispatch.sent,
    )  # fmt: skip
    return {"requests": report.planned, "changes": len(report.changes)}


def deadline_watch(log: logging.Logger) -> dict[str, int]:
    from chalicelib.workflows.reminders import deadline_watch as watch

    rt = runtime()
    report = watch(rt.store, rt.filer, rt.policy, clock.utc_now(), rt.settings.account)
    for tracked in report.missed:  # the "missed" alarm counts these lines (infra/)
        log.error("request missed: %s (deadline %s)", tracked.id, tracked.request.deadline)
    for failure in report.failures:
        log.warning("auto-filing failed: %s", failure)
    announce(rt, log)
    log.info("deadline watch: %d reminders, %d missed", len(report.reminded), len(report.missed))
    return {"reminded": len(report.reminded), "missed": len(report.missed)}


def case_follow_up(log: logging.Logger) -> dict[str, int]:
    from chalicelib.workflows.follow_up import follow_up

    rt = runtime()
    report = follow_up(rt.store, rt.filer, rt.policy, clock.utc_now(), rt.settings.account)
    for failure in report.failures:
        log.warning("follow-up: %s", failure)
    announce(rt, log)
    return {
        "filed": len(report.filed),
        "followed": len(report.followed),
        "urged": len(report.urged),
    }


def filing_work(body: str, log: logging.Logger) -> None:
    """One job from the filing queue (chalicelib.entry.jobs)."""
    from chalicelib.entry.jobs import run_job

    run_job(runtime(), json.loads(body), log)


def announce(rt: Runtime, log: logging.Logger) -> None:
    """Send the outbox; what cannot be sent now waits for the next run."""
    from chalicelib.workflows.notices import dispatch_notices

    _log_held(log, dispatch_notices(rt.store, rt.notifier, clock.utc_now()).held)


def _log_held(log: logging.Logger, held: list[str]) -> None:
    for problem in held:
        log.warning("notice not sent yet: %s", problem)


def forecast_drop(bucket: str, key: str, log: logging.Logger) -> dict[str, Any]:
    from chalicelib.entry.s3_drop import ingest_object

    rt = runtime()
    return ingest_object(
        rt.store, bucket, key, log, policy=rt.policy, now=clock.utc_now(),
        max_bytes=rt.settings.max_object_bytes,
    )  # fmt: skip


def calendar_drop(bucket: str, key: str, log: logging.Logger) -> dict[str, Any]:
    """Import a calendar put under calendars/. No re-plan: that needs the planning cycle's
    permissions, and its next run reads the events."""
    from chalicelib.entry.s3_drop import import_calendar_object

    rt = runtime()
    return import_calendar_object(rt.store, bucket, key, log, policy=rt.policy, now=clock.utc_now())
