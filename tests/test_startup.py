"""What each entry point imports: a cold start pays for every module, so the heavy ones load only
where they are used (issue 12; the times are in benchmarks/bench_cold_start.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "holidays", "slack_sdk", "huaweicloudsdkcore", "icalendar", "boto3")


def loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level packages a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_app_loads_no_heavy_library() -> None:
    modules = loaded_after("import app")
    assert not {m for m in modules if m.split(".")[0] in HEAVY}


def test_the_command_line_loads_no_heavy_library_to_start() -> None:
    modules = loaded_after("import chalicelib.entry.cli")
    assert not {m for m in modules if m.split(".")[0] in HEAVY}


def test_each_s3_drop_loads_only_its_own_reader() -> None:
    # One module serves both drops; neither function should pay for the other's libraries.
    modules = loaded_after("import chalicelib.entry.s3_drop")
    assert not {m for m in modules if m.split(".")[0] in ("numpy", "icalendar")}


def test_the_working_day_calendar_loads_china_and_no_other_country() -> None:
    modules = loaded_after(
        "from chalicelib.domain.workdays import official_year, spring_festival_eve\n"
        "official_year(2026), spring_festival_eve(2027)"
    )
    countries = {m for m in modules if m.startswith("holidays.countries.")}
    assert countries == {"holidays.countries.china"}
    assert "holidays.countries" not in modules


@pytest.mark.parametrize("year", [2026, 2027])
def test_china_loaded_alone_gives_the_library_s_own_calendar(year: int) -> None:
    import holidays

    from chalicelib.domain.workdays import _china

    alone = _china()(years=year)
    through_registry = holidays.country_holidays("CN", years=year)
    assert dict(alone) == dict(through_registry)
    assert alone.weekend_workdays == through_registry.weekend_workdays


LIST_EVENTS = {
    "resource": "/events", "path": "/events", "httpMethod": "GET",
    "headers": {"Authorization": "Bearer startup-token"}, "multiValueHeaders": {},
    "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
    "requestContext": {"resourcePath": "/events", "httpMethod": "GET", "stage": "api"},
}  # fmt: skip
# The API's modules other than the events routes: what GET /events does not need.
OTHER_ROUTES = tuple(
    f"chalicelib.entry.api.{name}" for name in ("openapi", "forecasts", "requests", "slack", "page")
)


def list_events_once(tmp_path: Path) -> set[str]:
    """The modules a fresh interpreter loaded to import the app and answer GET /events."""
    return loaded_after(
        f"import app\nassert app.app({LIST_EVENTS!r}, None)['statusCode'] == 200",
        {"BURST_ASSURANCE_DATA_DIR": str(tmp_path), "BURST_ASSURANCE_API_TOKEN": "startup-token"},
    )


def test_an_api_call_that_needs_no_traffic_loads_no_numpy(tmp_path: Path) -> None:
    # Listing events builds the runtime (settings, policy, store) and the Spring Festival Galas,
    # but reads no traffic: NumPy (0.15 s of a cold start) stays out.
    modules = list_events_once(tmp_path)
    assert "chalicelib.adapters.store.sqlite" in modules
    assert "numpy" not in modules


def test_importing_the_app_imports_no_route_module() -> None:
    # The routes are registered from a table; each module loads with its route's first request.
    modules = loaded_after("import app")
    api = {m for m in modules if m.startswith("chalicelib.entry.api.")}
    assert api == {"chalicelib.entry.api.routing"}


def test_listing_events_loads_only_the_events_routes(tmp_path: Path) -> None:
    # Not the other routes' modules and models, nor the OpenAPI generator; and with the default
    # policy, no TOML parser.
    modules = list_events_once(tmp_path)
    assert "chalicelib.entry.api.events" in modules
    assert not modules & {*OTHER_ROUTES, "chalicelib.workflows.requests", "tomllib"}


def test_the_aws_adapters_make_their_clients_without_boto3() -> None:
    # boto3 (resources, S3 transfers) costs a cold start about 0.1 s more than botocore, and
    # every adapter uses low-level clients only.
    modules = loaded_after(
        "from chalicelib.adapters.store.dynamodb import DynamoStore\n"
        "from chalicelib.adapters.sqs_queue import SqsQueue\n"
        "from chalicelib.adapters.email_filer import EmailFiler\n"
        "from chalicelib.adapters import aws\n"
        "DynamoStore.connect('startup', 'http://127.0.0.1:9')\n"
        "SqsQueue('http://127.0.0.1:9/queue', 'http://127.0.0.1:9')\n"
        "EmailFiler('a@example.com', ['b@example.com'], 'http://127.0.0.1:9', 'us-east-1')"
        "._client\n"
        "aws.client('s3', region_name='us-east-1')\n",
        {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert "botocore" in modules
    assert "boto3" not in modules
    assert "s3transfer" not in modules


def test_aws_clients_read_botocore_s_data_files_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second client of a process reads no endpoint or service model again; its session
    is its own all the same (credentials are resolved per client)."""
    from chalicelib.adapters import aws

    reads: list[str] = []
    file_loader = aws._shared_loader().file_loader
    load_file = file_loader.load_file
    monkeypatch.setattr(
        file_loader, "load_file", lambda path: reads.append(path) or load_file(path)
    )
    options = {"region_name": "us-east-1", "aws_access_key_id": "a", "aws_secret_access_key": "b"}
    first = aws.client("kinesis", **options)  # a service nothing else here makes a client of
    assert any("kinesis" in path for path in reads)
    read_by_first = len(reads)
    second = aws.client("kinesis", **dict(options, aws_access_key_id="c"))
    assert len(reads) == read_by_first
    assert first is not second
    assert second._request_signer._credentials.access_key == "c"
