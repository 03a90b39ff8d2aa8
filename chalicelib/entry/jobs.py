"""Slow work handed off by a request that must answer fast (a Slack click: 3 seconds).

A job is a small JSON object: {"job": "file", "request_id": ..., "by": ...} files an approved
request, {"job": "announce"} sends the outbox. Where it runs is a setting (work_queue): "sqs" on
AWS (the filing worker), "thread" behind the local server, "inline" in the caller.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from chalicelib.config.bootstrap import Runtime
from chalicelib.domain import lifecycle
from chalicelib.entry import clock
from chalicelib.workflows.ports import FilingError


def submit(rt: Runtime, job: dict[str, Any], log: logging.Logger) -> None:
    queue = rt.settings.work_queue
    if queue == "sqs":
        from chalicelib.adapters.sqs_queue import SqsQueue

        SqsQueue(rt.settings.filing_queue_url or "", rt.settings.sqs_endpoint).send(job)
    elif queue == "thread":
        threading.Thread(target=run_job, args=(rt, job, log), daemon=True).start()
    else:
        run_job(rt, job, log)


def run_job(rt: Runtime, job: dict[str, Any], log: logging.Logger) -> None:
    """Run one job. A filing that fails is recorded and announced (the follow-up round files it
    again), so it does not raise; anything unexpected does, for the queue to retry."""
    from chalicelib.entry.schedules import announce

    if job.get("job") == "file":
        _file(rt, str(job["request_id"]), str(job.get("by") or "slack"), log)
    elif job.get("job") != "announce":
        raise ValueError(f"unknown job {job!r}")
    announce(rt, log)


def _file(rt: Runtime, request_id: str, by: str, log: logging.Logger) -> None:
    from chalicelib.workflows.filing import file_request

    try:
        after = file_request(
            rt.store, rt.filer, request_id, by, clock.utc_now(), rt.policy.zone,
            rt.settings.account,
        )  # fmt: skip
    except lifecycle.WrongState as exc:
        log.info("not filed: %s", exc)
    except FilingError as exc:
        log.warning("filing %s failed (will be retried): %s", request_id, exc)
    else:
        log.info("filed %s as %s", after.id, after.ticket_id)
