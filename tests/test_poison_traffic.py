"""Poison traffic (issue 10, item 1): rows dated outside the accepted dates are refused wherever
traffic comes in, naming the row; what an older version stored anyway never reaches a planning
cycle; and stored traffic can be deleted by scope and time range, on the record."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from builders import CST, UTC, bandwidth_csv, csv_text
from chalice.test import Client
from servers import app_on_store

from chalicelib.adapters.console import ConsoleNotifier
from chalicelib.adapters.traffic_files import load_file
from chalicelib.adapters.traffic_sources import StoredTrafficSource
from chalicelib.config import bootstrap
from chalicelib.domain.policy import Ingestion, Policy
from chalicelib.domain.traffic import (
    Series,
    TimeRange,
    TrafficDeletion,
    TrafficError,
    TrafficSet,
    accepted_dates,
    planning_window,
)
from chalicelib.domain.traffic_parsing import parse_csv, parse_rows
from chalicelib.entry.cli_forecasts import add_forecasts_parser
from chalicelib.entry.s3_drop import ingest_object
from chalicelib.workflows.planning import current_plan, run_cycle
from chalicelib.workflows.ports import Store

POLICY = Policy()
NOW = dt.datetime(2026, 3, 1, 9, tzinfo=CST)
TOKEN = "poison-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD = ("2026-03-09T00:00:00+08:00", "bandwidth", "CN", "12.5")
MARCH_9 = "from=2026-03-09T00:00:00%2B08:00&to=2026-03-10T00:00:00%2B08:00"  # a query's range
# Dates a typo or a wrong unit produces: before the policy's earliest, centuries ahead, the end
# of time, and just past the two years ahead of NOW.
POISON = [
    "1991-06-01T00:00:00+08:00",
    "1999-12-31T23:55:00+08:00",
    "2300-01-01T00:00:00+08:00",
    "9999-12-31T00:00:00+08:00",
    "2028-03-01T09:00:00+08:00",
]


def cn_jump_csv() -> str:
    """20 days of CN from 2026-03-01 with a daily-peak jump on 2026-03-09."""
    return bandwidth_csv(
        dt.date(2026, 3, 1), 20, {"CN": 50.0}, {("CN", dt.date(2026, 3, 9)): 310.0}
    )


def at(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).timestamp())


def stray_points() -> TrafficSet:
    """What older code accepted and stored: CN points in 1991, 2300 and at 9999-12-31 local."""
    times = np.array([at(t) for t in (POISON[0], POISON[2], POISON[3])], dtype=np.int64)
    return TrafficSet({("bandwidth", "CN"): Series("bandwidth", "CN", times, np.full(3, 900.0))})


# -- the policy and the domain ------------------------------------------------------------------


def test_accepted_dates_run_from_the_policy_s_earliest_to_years_ahead_of_now() -> None:
    dates = accepted_dates(POLICY, NOW)
    assert dates.start == dt.datetime(2000, 1, 1, tzinfo=CST)
    assert dates.end == dt.datetime(2028, 3, 1, 9, tzinfo=CST)
    leap = accepted_dates(POLICY, dt.datetime(2028, 2, 29, tzinfo=UTC))
    assert leap.end == dt.datetime(2030, 2, 28, tzinfo=UTC)
    strict = Policy(ingestion=Ingestion(earliest=dt.date(2025, 1, 1), years_ahead=1))
    assert accepted_dates(strict, NOW) == TimeRange(
        dt.datetime(2025, 1, 1, tzinfo=CST), dt.datetime(2027, 3, 1, 9, tzinfo=CST)
    )


def test_the_planning_window_holds_the_previous_month_and_every_accepted_date() -> None:
    window = planning_window(POLICY, NOW)
    assert window.start == dt.datetime(2026, 2, 1, tzinfo=CST)  # rule a compares with February
    assert window.end == dt.datetime(2028, 4, 1, tzinfo=CST)  # March 2028 whole
    january = planning_window(POLICY, dt.datetime(2026, 1, 1, 0, 30, tzinfo=CST))
    assert january.start == dt.datetime(2025, 12, 1, tzinfo=CST)


@pytest.mark.parametrize("when", POISON)
def test_a_row_outside_the_accepted_dates_is_refused_by_name(when: str) -> None:
    text = csv_text(GOOD, (when, "bandwidth", "CN", 5))
    dates = accepted_dates(POLICY, NOW)
    with pytest.raises(TrafficError) as raised:
        parse_csv(text, "f.csv", dates=dates)
    assert raised.value.problems == [
        f"f.csv:3: time {when!r} is outside the accepted dates, {dates} "
        "(ingestion.earliest, ingestion.years_ahead); is the year right?"
    ]
    with pytest.raises(TrafficError, match=r"f\.json: item 1: time .* outside the accepted"):
        parse_rows([_row(GOOD[0]), _row(when)], "f.json", dates=dates)


def test_without_a_now_the_widest_dates_still_refuse_the_absurd(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text(csv_text(GOOD, ("9999-12-31T00:00:00+08:00", "bandwidth", "CN", 5)))
    with pytest.raises(TrafficError, match=r"old\.csv:3: time '9999-12-31T00:00:00\+08:00'"):
        load_file(path)
    with pytest.raises(TrafficError, match=r"old\.csv:3: .* outside the accepted dates"):
        load_file(path, dates=accepted_dates(POLICY, NOW))


def _row(when: str) -> dict[str, object]:
    return {"time": when, "metric": "bandwidth", "scope": "CN", "value": 5}


# -- what is stored already never reaches a cycle -----------------------------------------------


def test_stray_stored_points_change_nothing_in_a_cycle(store: Store) -> None:
    store.put_traffic(parse_csv(cn_jump_csv()))
    clean = current_plan(store, StoredTrafficSource(store), POLICY, NOW)
    store.put_traffic(stray_points())

    started = time.monotonic()
    report = run_cycle(
        store, StoredTrafficSource(store), ConsoleNotifier(io.StringIO(), CST), POLICY, NOW
    )
    assert time.monotonic() - started < 10
    assert report.plan == clean
    assert [r.id for r in report.plan.requests] == ["daily-peak-jump/CN/2026-03-09"]


def test_a_read_of_a_time_range_returns_only_its_points(store: Store) -> None:
    store.put_traffic(parse_csv(cn_jump_csv()))
    store.put_traffic(stray_points())
    span = TimeRange(dt.datetime(2026, 3, 9, tzinfo=CST), dt.datetime(2026, 3, 10, tzinfo=CST))
    got = store.get_traffic(span).series[("bandwidth", "CN")]
    assert len(got.times) == 288
    assert got.times[0] == at("2026-03-09T00:00:00+08:00")
    assert got.values.max() == 310.0
    everything = store.get_traffic().series[("bandwidth", "CN")]
    assert len(everything.times) == 20 * 288 + 3


# -- deleting stored traffic -----------------------------------------------------------------------


def deletion(**fields: object) -> TrafficDeletion:
    values: dict[str, object] = {
        "metric": "bandwidth",
        "scope": "CN",
        "start": dt.datetime(2026, 3, 9, tzinfo=CST),
        "end": dt.datetime(2026, 3, 10, tzinfo=CST),
        "by": "ops-lee",
        "at": NOW,
    }
    values.update(fields)
    return TrafficDeletion.model_validate(values)


def test_delete_takes_out_the_range_of_the_scope_and_logs_it(store: Store) -> None:
    both = bandwidth_csv(dt.date(2026, 3, 1), 20, {"CN": 50.0, "AP1": 20.0})
    store.put_traffic(parse_csv(both))
    store.put_traffic(stray_points())

    done = store.delete_traffic(deletion())
    assert (done.points, done.sequence, done.by) == (288, 1, "ops-lee")
    cn = store.get_traffic().series[("bandwidth", "CN")]
    assert len(cn.times) == 19 * 288 + 3
    day = (cn.times >= at("2026-03-09T00:00:00+08:00")) & (cn.times < at("2026-03-10T00:00+08:00"))
    assert not day.any()
    assert len(store.get_traffic().series[("bandwidth", "AP1")].times) == 20 * 288

    far = dt.datetime(2200, 1, 1, tzinfo=UTC)
    stray = deletion(start=far, end=dt.datetime.max.replace(tzinfo=UTC), by="ops-kim")
    assert store.delete_traffic(stray).points == 2  # 2300 and 9999-12-31; 1991 stays
    from_now_on = deletion(metric=None, scope=None, start=NOW, end=far)
    morning = 9 * 12  # the points of 2026-03-01 before NOW, 09:00 local
    assert store.delete_traffic(from_now_on).points == (19 * 288 - morning) + (20 * 288 - morning)
    left = store.get_traffic()
    assert [len(s.times) for s in left.series.values()] == [morning, morning + 1]  # AP1, CN

    log = store.traffic_deletions()
    assert [(d.sequence, d.by, d.metric, d.scope) for d in log] == [
        (1, "ops-lee", "bandwidth", "CN"),
        (2, "ops-kim", "bandwidth", "CN"),
        (3, "ops-lee", None, None),
    ]
    assert log[0] == done


def test_a_deletion_of_nothing_is_logged_too(store: Store) -> None:
    done = store.delete_traffic(deletion())
    assert (done.points, done.sequence) == (0, 1)
    assert store.traffic_deletions() == [done]
    assert len(store.get_traffic()) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric": None}, "give the metric of the scope"),
        ({"scope": "transcoding"}, "unknown scope 'transcoding' for bandwidth"),
        ({"end": dt.datetime(2026, 3, 9, tzinfo=CST)}, "is empty"),
        ({"by": ""}, "at least 1 character"),
    ],
)
def test_a_deletion_needs_a_known_scope_a_range_and_a_name(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        deletion(**fields)


# -- through the API, the S3 drop and the CLI ----------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def api(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    kind = request.param
    with app_on_store(kind, request, tmp_path, monkeypatch, token=TOKEN, now=lambda: NOW) as app:
        yield app


def test_the_api_refuses_a_poison_row_and_stores_nothing(api: Client) -> None:
    text = csv_text(GOOD, ("9999-12-31T00:00:00+08:00", "bandwidth", "CN", 5))
    csv_answer = api.http.post(
        "/forecasts", headers={**AUTH, "Content-Type": "text/csv"}, body=text
    )
    rows = json.dumps([_row(GOOD[0]), _row("2300-01-01T00:00:00+08:00")])
    json_answer = api.http.post(
        "/forecasts", headers={**AUTH, "Content-Type": "application/json"}, body=rows
    )
    assert csv_answer.status_code == json_answer.status_code == 400
    assert (
        "upload:3: time '9999-12-31T00:00:00+08:00' is outside the accepted dates"
        in (json.loads(csv_answer.body)["error"]["message"])
    )
    assert (
        "upload: item 1: time '2300-01-01T00:00:00+08:00' is outside"
        in (json.loads(json_answer.body)["error"]["message"])
    )
    assert len(bootstrap.runtime().store.get_traffic()) == 0


def test_delete_forecasts_through_the_api(api: Client) -> None:
    upload = api.http.post(
        "/forecasts", headers={**AUTH, "Content-Type": "text/csv"}, body=cn_jump_csv()
    )
    assert upload.status_code == 201
    plan = json.loads(api.http.get("/plan", headers=AUTH).body)
    assert [r["id"] for r in plan["requests"]] == ["daily-peak-jump/CN/2026-03-09"]

    query = f"metric=bandwidth&scope=CN&{MARCH_9}&by=ops-lee"
    answer = api.http.delete(f"/forecasts?{query}", headers=AUTH)
    assert answer.status_code == 200
    assert json.loads(answer.body) == {
        "metric": "bandwidth",
        "scope": "CN",
        "start": "2026-03-09T00:00:00+08:00",
        "end": "2026-03-10T00:00:00+08:00",
        "by": "ops-lee (api token api)",  # the person, and the caller who said so
        "at": "2026-03-01T09:00:00+08:00",
        "points": 288,
        "sequence": 1,
    }
    assert json.loads(api.http.get("/plan", headers=AUTH).body)["requests"] == []
    assert [d.points for d in bootstrap.runtime().store.traffic_deletions()] == [288]


@pytest.mark.parametrize(
    "query",
    [
        "metric=bandwidth&scope=CN&from=2026-03-09T00:00:00%2B08:00&by=x",  # no end
        f"scope=CN&{MARCH_9}&by=x",  # a scope without its metric
        f"metric=bandwidth&scope=XX&{MARCH_9}&by=x",
        "metric=bandwidth&from=2026-03-10T00:00:00%2B08:00&to=2026-03-09T00:00:00%2B08:00&by=x",
        "metric=bandwidth&from=2026-03-09T00:00:00&to=2026-03-10T00:00:00%2B08:00&by=x",
        f"metric=bandwidth&{MARCH_9}",  # nobody named
        f"metric=bandwidth&{MARCH_9}&by=x&all=1",
    ],
)
def test_a_bad_deletion_gets_400_and_deletes_nothing(api: Client, query: str) -> None:
    api.http.post("/forecasts", headers={**AUTH, "Content-Type": "text/csv"}, body=cn_jump_csv())
    answer = api.http.delete(f"/forecasts?{query}", headers=AUTH)
    assert answer.status_code == 400
    assert json.loads(answer.body)["error"]["code"] == "invalid-input"
    store = bootstrap.runtime().store
    assert len(store.get_traffic().series[("bandwidth", "CN")].times) == 20 * 288
    assert store.traffic_deletions() == []


def test_delete_forecasts_needs_the_token(api: Client) -> None:
    query = f"metric=bandwidth&{MARCH_9}&by=x"
    assert api.http.delete(f"/forecasts?{query}").status_code == 401
    assert bootstrap.runtime().store.traffic_deletions() == []


class _S3:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def head_object(self, Bucket: str, Key: str) -> dict[str, int]:
        return {"ContentLength": len(self.body)}

    def get_object(self, Bucket: str, Key: str) -> dict[str, object]:
        return {"Body": io.BytesIO(self.body)}


def test_the_s3_drop_refuses_a_poison_row_and_stores_nothing(store: Store) -> None:
    text = csv_text(GOOD, ("2300-01-01T00:00:00+08:00", "bandwidth", "CN", 5))
    result = ingest_object(
        store, "b", "f.csv", logging.getLogger("t"), _S3(text.encode()), policy=POLICY, now=NOW
    )
    assert result["stored"] is False
    assert result["reason"].startswith(
        "s3://b/f.csv:3: time '2300-01-01T00:00:00+08:00' is outside"
    )
    assert len(store.get_traffic()) == 0


def test_the_cli_deletes_and_lists_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BURST_ASSURANCE_DATA_DIR", str(tmp_path / "data"))
    bootstrap.reset()
    parser = argparse.ArgumentParser()
    add_forecasts_parser(parser.add_subparsers(dest="command"))

    def run(*argv: str) -> str:
        args = parser.parse_args(argv)
        assert args.handler(args) == 0
        return capsys.readouterr().out

    from chalicelib.config.bootstrap import build_runtime
    from chalicelib.config.settings import Settings

    build_runtime(Settings.from_env(), None).store.put_traffic(parse_csv(cn_jump_csv()))
    out = run(
        "forecasts", "delete", "--metric", "bandwidth", "--scope", "CN",
        "--from", "2026-03-09T00:00+08:00", "--to", "2026-03-10T00:00+08:00",
        "--by", "ops-lee", "--now", "2026-03-01T09:00+08:00",
    )  # fmt: skip
    assert out == (
        "deleted 288 point(s) of bandwidth/CN from 2026-03-09T00:00:00+08:00 to "
        "2026-03-10T00:00:00+08:00; logged as #1\n"
    )
    listed = json.loads(run("forecasts", "log", "--format", "json"))
    assert [(d["by"], d["points"]) for d in listed] == [("ops-lee", 288)]

    from chalicelib.domain.errors import InputError

    args = parser.parse_args(["forecasts", "delete", "--from", "2026-03-09T00:00+08:00",
                              "--to", "2026-03-10T00:00+08:00", "--by", "x"])  # fmt: skip
    with pytest.raises(InputError, match="say --all"):
        args.handler(args)
