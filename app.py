"""The AWS entry points: the Chalice app, its API routes, its schedules and the S3 drops.

Each handler here only hands over to chalicelib.entry, which reads the clock, calls one workflow
and renders. Heavy modules load on first use, not at import (chalicelib.config.bootstrap); the
API's routes are registered from a table and each imports its module with its first request
(chalicelib.entry.api.routing).
"""

from __future__ import annotations

import logging
from typing import Any

from chalice import Chalice, Cron, Rate
from chalice.app import S3Event, SQSEvent

from chalicelib.config.settings import Settings
from chalicelib.entry import schedules
from chalicelib.entry.api.routing import register_routes

app = Chalice(app_name="burst-assurance")
app.log.setLevel(logging.INFO)
app.api.binary_types.append("application/gzip")  # calendar uploads (POST /events/import)
register_routes(app)

# Read when Chalice packages the app: the cycle's rate and the S3 drops' bucket.
PACKAGING = Settings.from_env()
FORECAST_BUCKET = PACKAGING.bucket or "burst-assurance-forecasts"


@app.schedule(Rate(PACKAGING.cycle_minutes, unit=Rate.MINUTES))
def planning_cycle(event: Any) -> dict[str, int]:
    return schedules.planning_cycle(app.log)


@app.schedule(Cron(30, 1, "*", "*", "?", "*"))  # 09:30 Asia/Shanghai
def deadline_watch(event: Any) -> dict[str, int]:
    return schedules.deadline_watch(app.log)


@app.schedule(Rate(1, unit=Rate.HOURS))
def case_follow_up(event: Any) -> dict[str, int]:
    """Filed cases: their state at the provider, urged when unaccepted near the burst."""
    return schedules.case_follow_up(app.log)


# Filing after a Slack approval, outside the 3 seconds Slack allows an interaction. The queue is
# the stack's FilingQueue: infra/template.json points this subscription at it (the name here is
# only what Chalice needs to package the function).
@app.on_sqs_message(queue="burst-assurance-filing", batch_size=1)
def filing_worker(event: SQSEvent) -> None:
    for record in event:
        schedules.filing_work(record.body, app.log)


@app.on_s3_event(bucket=FORECAST_BUCKET, prefix="forecasts/", suffix=".csv")
def forecast_drop(event: S3Event) -> dict[str, Any]:
    """A CSV put under forecasts/ is validated and stored; a bad file stores nothing."""
    return schedules.forecast_drop(event.bucket, event.key, app.log)


@app.on_s3_event(bucket=FORECAST_BUCKET, prefix="calendars/")
def calendar_drop(event: S3Event) -> dict[str, Any]:
    """A calendar (.ics, .ics.gz, .zip) put under calendars/ is imported, all or nothing. Its
    unmarked events are major under calendars/major/, ordinary under calendars/minor/, and
    refused elsewhere. It does not re-plan: the next scheduled planning cycle picks the events
    up (re-planning here would need that cycle's permissions)."""
    return schedules.calendar_drop(event.bucket, event.key, app.log)
