"""The forecast upload: CSV or JSON rows, validated whole and stored all or nothing."""

from __future__ import annotations

from chalice import Response

from chalicelib.config.bootstrap import Runtime
from chalicelib.entry.api.http import (
    MAX_FORECAST_BYTES,
    ApiError,
    Routes,
    check_size,
    json_response,
    parse_json,
)
from chalicelib.entry.api.models import IngestResult, TrafficPoint
from chalicelib.workflows.ingestion import ingest_traffic

routes = Routes("forecasts")


@routes.route(
    "/forecasts", "POST", "Upload actuals or forecasts (JSON rows or CSV)",
    status=201, response=IngestResult,
    body={"application/json": list[TrafficPoint], "text/csv": str},
    errors=(400, 413, 415),
)  # fmt: skip
def upload_forecast(rt: Runtime) -> Response:
    from chalicelib.domain.traffic import parse_csv, parse_rows  # NumPy loads here, not at import

    ceiling = rt.policy.bandwidth_ceiling_gbps
    if routes.content_type() == "text/csv":
        raw = check_size(routes.body(), MAX_FORECAST_BYTES)
        traffic = parse_csv(_decode(raw), source="upload", bandwidth_ceiling_gbps=ceiling)
    else:
        data = parse_json(routes.body(), MAX_FORECAST_BYTES)
        traffic = parse_rows(data, source="upload", bandwidth_ceiling_gbps=ceiling)
    return json_response(ingest_traffic(rt.store, traffic), 201)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid-input", "the CSV is not UTF-8", "body") from None
