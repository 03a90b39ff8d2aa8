"""The forecast upload: CSV or JSON rows, validated whole and stored all or nothing; and the
deletion of stored traffic by scope and time range, logged."""

from __future__ import annotations

from chalice import Response
from pydantic import AwareDatetime, ConfigDict, Field

from chalicelib.config.bootstrap import Runtime
from chalicelib.domain.model import Model
from chalicelib.domain.vocabulary import Metric
from chalicelib.entry import clock
from chalicelib.entry.api.http import (
    MAX_FORECAST_BYTES,
    ApiError,
    Routes,
    check_size,
    json_response,
    parse_json,
    parse_query,
)
from chalicelib.entry.api.models import IngestResult, Moment, TrafficPoint
from chalicelib.workflows.ingestion import delete_traffic, ingest_traffic

routes = Routes("forecasts")


class TrafficDeletionQuery(Model):
    """Which stored points to delete: a series (metric and scope), every series of a metric
    (metric only) or all traffic (neither), from ``from`` up to ``to`` (excluded)."""

    model_config = ConfigDict(extra="forbid")

    metric: Metric | None = None
    scope: str | None = Field(default=None, description="a billing area or value-added service")
    from_: Moment = Field(alias="from")
    to: Moment
    by: str = Field(min_length=1, max_length=100, description="who deletes (name or user id)")


class TrafficDeletionRecord(Model):
    """What was deleted, by whom and when, and how many points went (the log's entry)."""

    metric: Metric | None
    scope: str | None
    start: AwareDatetime
    end: AwareDatetime
    by: str
    at: AwareDatetime
    points: int
    sequence: int


@routes.route(
    "/forecasts", "POST", "Upload actuals or forecasts (JSON rows or CSV)",
    status=201, response=IngestResult,
    body={"application/json": list[TrafficPoint], "text/csv": str},
    errors=(400, 413, 415),
)  # fmt: skip
def upload_forecast(rt: Runtime) -> Response:
    # NumPy loads here, not at import
    from chalicelib.domain.traffic import accepted_dates
    from chalicelib.domain.traffic_parsing import parse_csv, parse_rows

    ceiling = rt.policy.bandwidth_ceiling_gbps
    dates = accepted_dates(rt.policy, clock.utc_now())
    if routes.content_type() == "text/csv":
        raw = check_size(routes.body(), MAX_FORECAST_BYTES)
        text = _decode(raw)
        traffic = parse_csv(text, "upload", bandwidth_ceiling_gbps=ceiling, dates=dates)
    else:
        data = parse_json(routes.body(), MAX_FORECAST_BYTES)
        traffic = parse_rows(data, "upload", bandwidth_ceiling_gbps=ceiling, dates=dates)
    return json_response(ingest_traffic(rt.store, traffic), 201)


@routes.route(
    "/forecasts", "DELETE", "Delete stored traffic of a scope in a time range (logged)",
    response=TrafficDeletionRecord, query=TrafficDeletionQuery, errors=(400,),
)  # fmt: skip
def delete_forecast(rt: Runtime) -> Response:
    from chalicelib.domain.traffic import TrafficDeletion

    q = parse_query(TrafficDeletionQuery, routes.query())
    deletion = TrafficDeletion(
        metric=q.metric,
        scope=q.scope,
        start=q.from_,
        end=q.to,
        by=routes.actor(rt, q.by),
        at=clock.utc_now(),
    )
    done = delete_traffic(rt.store, deletion)
    return json_response(done.model_dump(mode="json"))


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid-input", "the CSV is not UTF-8", "body") from None
