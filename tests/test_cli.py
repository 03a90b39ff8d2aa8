"""The burst-assurance command: plan from files, run cycles against the store, keep events."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from builders import bandwidth_csv

from chalicelib.entry.cli import main

CST = ZoneInfo("Asia/Shanghai")
NOW = "2026-03-01T09:00:00+08:00"


def write_traffic(path: Path, jump_day: dt.date, days: int = 20) -> Path:
    """CN at 50 Gbit/s from 2026-03-01, +260 Gbit/s from 20:00 on ``jump_day``."""
    path.write_text(
        bandwidth_csv(dt.date(2026, 3, 1), days, {"CN": 50.0}, {("CN", jump_day): 310.0})
    )
    return path


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A clean data folder and traffic file; settings point at them through the environment."""
    traffic = write_traffic(tmp_path / "cn.csv", dt.date(2026, 3, 9))
    monkeypatch.setenv("BURST_ASSURANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BURST_ASSURANCE_TRAFFIC", str(traffic))
    return tmp_path


def test_plan_table_shows_deadline_rule_scope_and_peak(workdir, capsys):
    assert main(["plan", "--traffic", str(workdir / "cn.csv"), "--now", NOW]) == 0
    out = capsys.readouterr().out
    header, row = out.splitlines()[:2]
    assert header.split()[:4] == ["DEADLINE", "LEFT", "STATUS", "RULE"]
    assert row.startswith("Wed 2026-03-04 18:00")
    assert "daily-peak-jump" in row
    assert " CN " in row
    assert "310.0 / 250.0 Gbit/s" in row
    assert "3 working days" in row
    assert "1 request(s) as of 2026-03-01 09:00 CST" in out


def test_plan_json_has_the_documented_shape(workdir, capsys):
    main(["plan", "--traffic", str(workdir / "cn.csv"), "--now", NOW, "--format", "json"])
    plan = json.loads(capsys.readouterr().out)
    assert set(plan) == {"now", "requests", "warnings"}
    (request,) = plan["requests"]
    assert request["id"] == "daily-peak-jump/CN/2026-03-09"
    assert request["deadline"] == "2026-03-04T18:00:00+08:00"
    assert request["burst_start"] == "2026-03-09T20:00:00+08:00"
    assert request["event"] is None
    assert request["status"] == "upcoming"
    assert request["estimated_calendar"] is False


def test_plan_with_a_major_event_file_uses_the_one_month_lead(workdir, capsys):
    events = workdir / "events.json"
    events.write_text(
        json.dumps(
            [
                {
                    "id": "final",
                    "name": "League final",
                    "start": "2026-03-09T19:30:00+08:00",
                    "end": "2026-03-09T22:30:00+08:00",
                    "major": True,
                }
            ]
        )
    )
    args = ["plan", "--traffic", str(workdir / "cn.csv"), "--events", str(events)]
    main([*args, "--now", NOW, "--format", "json"])
    (request,) = json.loads(capsys.readouterr().out)["requests"]
    assert request["event"] == {"id": "final", "name": "League final", "major": True}
    assert request["lead_time"] == "1 month"
    assert request["deadline"] == "2026-02-09T18:00:00+08:00"
    assert request["status"] == "overdue"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--now", "2026-03-01T09:00:00"], "--now '2026-03-01T09:00:00' needs a UTC offset"),
        (["--now", "yesterday"], "--now 'yesterday' is not an ISO 8601 time"),
        (["--policy", "missing.toml"], "missing.toml: policy file not found"),
    ],
)
def test_bad_flags_exit_2_with_one_line(workdir, capsys, args, message):
    code = main(["plan", "--traffic", str(workdir / "cn.csv"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert message in err


def test_bad_traffic_row_names_file_and_line(workdir, capsys):
    bad = workdir / "bad.csv"
    bad.write_text("time,metric,scope,value\n2026-03-01T00:00:00+08:00,bandwidth,CN,-1\n")
    assert main(["plan", "--traffic", str(bad), "--now", NOW]) == 2
    assert f"{bad}:2: value '-1' is negative" in capsys.readouterr().err


def test_bad_policy_names_the_field(workdir, capsys):
    policy = workdir / "policy.toml"
    policy.write_text("[lead_times]\nworking_days = 0\n")
    assert main(["plan", "--traffic", str(workdir / "cn.csv"), "--policy", str(policy)]) == 2
    assert "lead_times.working_days" in capsys.readouterr().err


def test_run_twice_changes_nothing_the_second_time(workdir, capsys):
    assert main(["run", "--now", NOW]) == 0
    first = capsys.readouterr()
    assert "created   daily-peak-jump/CN/2026-03-09" in first.out
    assert "cycle done: 1 created" in first.err

    assert main(["run", "--now", NOW]) == 0
    second = capsys.readouterr()
    assert "created" not in second.out
    assert "cycle done: no changes" in second.err
    assert (workdir / "data" / "burst-assurance.sqlite3").exists()


def test_events_add_list_export_import_remove(workdir, capsys):
    add = ["events", "add", "--name", "Cup Final", "--major", "--scope", "CN"]
    assert (
        main([*add, "--start", "2026-03-09T19:30:00+08:00", "--end", "2026-03-09T22:00:00+08:00"])
        == 0
    )
    assert capsys.readouterr().out.strip() == "saved cup-final-2026-03-09"

    main(["events", "list", "--format", "json"])
    (event,) = json.loads(capsys.readouterr().out)
    assert event["major"] is True
    assert event["scopes"] == ["CN"]

    ics = workdir / "calendar.ics"
    assert main(["events", "export", str(ics)]) == 0
    assert main(["events", "remove", "cup-final-2026-03-09"]) == 0
    capsys.readouterr()
    assert main(["events", "import", str(ics)]) == 0
    assert "imported 1 event(s)" in capsys.readouterr().out
    main(["events", "list", "--format", "json"])
    [back] = json.loads(capsys.readouterr().out)
    assert back.pop("modified") >= event.pop("modified")  # stored anew: a first revision again
    assert back == event


def test_events_remove_unknown_id_fails(workdir, capsys):
    assert main(["events", "remove", "nope"]) == 2
    assert "no event with id 'nope'" in capsys.readouterr().err


def test_events_add_rejects_end_before_start(workdir, capsys):
    args = ["events", "add", "--name", "X", "--start", "2026-03-09T20:00:00+08:00"]
    assert main([*args, "--end", "2026-03-09T19:00:00+08:00"]) == 2
    assert "end must be after start" in capsys.readouterr().err


def test_console_script_is_installed_and_runs(workdir):
    script = shutil.which("burst-assurance", path=str(Path(sys.executable).parent))
    assert script, "the burst-assurance console script is not installed in this environment"
    result = subprocess.run(
        [script, "plan", "--traffic", str(workdir / "cn.csv"), "--now", NOW, "--format", "json"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["requests"][0]["id"] == "daily-peak-jump/CN/2026-03-09"


DUPLICATE = (
    "an event with id 'cup-final' exists; replace it with PUT /events/cup-final "
    "or `events add --replace`"
)  # the API's 409 says the same (tests/test_app.py::test_event_lifecycle)
FINAL_FLAGS = [
    "events", "add", "--id", "cup-final", "--name", "Cup final", "--scope", "CN",
    "--start", "2026-03-09T19:30:00+08:00", "--end", "2026-03-09T22:30:00+08:00", "--now", NOW,
]  # fmt: skip


def test_events_add_of_an_existing_id_is_refused_as_the_api_refuses_it(workdir, capsys):
    assert main(FINAL_FLAGS) == 0
    capsys.readouterr()
    assert main([*FINAL_FLAGS, "--name", "Cup final (moved)"]) == 2
    assert capsys.readouterr().err.strip() == f"burst-assurance: error: {DUPLICATE}"
    assert main([*FINAL_FLAGS, "--name", "Cup final (moved)", "--replace"]) == 0
    assert capsys.readouterr().out.strip() == "saved cup-final"
    main(["events", "list", "--format", "json"])
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == ["Cup final (moved)"]


def test_a_major_event_added_through_the_cli_replans(workdir, capsys):
    from chalicelib.adapters.store.sqlite import SqliteStore

    assert main(["run", "--now", NOW, "--format", "json"]) == 0
    store = SqliteStore(workdir / "data" / "burst-assurance.sqlite3")
    request_id = "daily-peak-jump/CN/2026-03-09"
    assert store.get_request(request_id).request.lead_time == "3 working days"
    capsys.readouterr()

    assert main([*FINAL_FLAGS, "--major"]) == 0
    saved, announced = capsys.readouterr().out.strip().splitlines()
    assert saved == "saved cup-final; re-planned: 1 request change(s)"
    assert announced.startswith(
        "updated   daily-peak-jump/CN/2026-03-09: file by 2026-02-09 18:00 CST (1 month, Cup final)"
    )
    replanned = store.get_request(request_id).request
    assert replanned.lead_time == "1 month"
    assert replanned.event is not None
    assert replanned.event.id == "cup-final"
    assert replanned.deadline.isoformat() == "2026-02-09T18:00:00+08:00"
    assert [entry.action for entry in store.audit_trail(request_id)] == ["created", "updated"]

    assert main(["events", "remove", "cup-final", "--now", NOW]) == 0
    assert "re-planned: 1 request change(s)" in capsys.readouterr().out
    assert store.get_request(request_id).request.lead_time == "3 working days"


def test_requests_approve_file_and_evidence(workdir, capsys):
    assert main(["run", "--now", NOW, "--format", "json"]) == 0
    request_id = "daily-peak-jump/CN/2026-03-09"
    at = ["--now", "2026-03-02T10:00:00+08:00"]
    assert main(["requests", "approve", request_id, "--by", "alice", *at]) == 0
    capsys.readouterr()
    assert main(["requests", "reject", request_id, "--by", "bob", "--reason", "no", *at]) == 2
    assert capsys.readouterr().err.strip() == (
        f"burst-assurance: error: {request_id} is already approved by alice at "
        "2026-03-02T10:00:00+08:00; nothing to reject"
    )
    assert main(["requests", "file", request_id, "--by", "alice", *at]) == 0
    marker = capsys.readouterr().out.split("filed as outbox-")[1].split()[0]
    assert (
        (workdir / "data" / "outbox" / f"{marker}.md")
        .read_text(encoding="utf-8")
        .startswith(f"[{marker}] 业务保障申请 Service assurance: CN 2026-03-09")
    )
    assert main(["requests", "evidence", request_id]) == 0
    evidence = capsys.readouterr().out
    assert "- Filed: 2026-03-02T10:00:00+08:00; in time: yes" in evidence
    assert "| 4 | 2026-03-02T10:00:00+08:00 | alice | filed |" in evidence
    assert main(["requests", "list", "--state", "filed", "--format", "json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["state"], listed["ticket_id"]) == ("filed", f"outbox-{marker}")


@pytest.mark.parametrize(
    ("now", "left"),
    [
        ("2026-02-27T09:00:00+08:00", "4 wd"),  # Sat 28 Feb is a make-up working day
        ("2026-03-01T09:00:00+08:00", "3 wd"),  # Sunday: Mon, Tue and the deadline's Wed
        ("2026-03-03T17:00:00+08:00", "1 wd"),  # 25 hours: the deadline is the next working day
        ("2026-03-04T08:00:00+08:00", "10h"),
        ("2026-03-04T17:59:30+08:00", "1h"),  # rounded up: never "0h"
        ("2026-03-04T18:00:00+08:00", "overdue"),
    ],
)
def test_time_left_is_working_days_or_hours_on_the_last_day(now, left):
    from chalicelib.domain.deadlines import time_left
    from chalicelib.domain.policy import Policy

    deadline = dt.datetime.fromisoformat("2026-03-04T18:00:00+08:00")
    assert time_left(deadline, dt.datetime.fromisoformat(now), Policy()) == left


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("burst-assurance 0.1.0")


def test_dynamodb_without_a_region_is_one_line_not_a_traceback(workdir, monkeypatch, capsys):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(workdir / "no-aws-config"))
    monkeypatch.setenv("BURST_ASSURANCE_STORE", "dynamodb")
    assert main(["requests", "list"]) == 2
    assert capsys.readouterr().err == (
        "burst-assurance: error: the DynamoDB store needs an AWS region: set AWS_REGION or "
        "AWS_DEFAULT_REGION (or BURST_ASSURANCE_DYNAMODB_ENDPOINT for DynamoDB Local)\n"
    )


def test_an_unmarked_calendar_asks_for_major_or_minor_then_imports_once(workdir, capsys):
    from pathlib import Path

    google = str(Path(__file__).parent / "fixtures" / "calendars" / "google-export.ics")
    assert main(["events", "import", google, "--now", NOW]) == 2
    assert "pass --major" in capsys.readouterr().err
    assert main(["events", "import", google, "--minor", "--now", NOW]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("64 new or changed")
    assert main(["events", "import", google, "--minor", "--now", NOW]) == 0  # again: no copies
    assert capsys.readouterr().out.splitlines()[0] == first.replace("64 new", "0 new")
    assert main(["events", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len({e["id"] for e in listed}) == len(listed) > 2  # the weekly rule, expanded
    assert not any(e["major"] for e in listed)


def test_a_changed_event_is_exported_with_a_higher_sequence(workdir, capsys):
    import icalendar

    add = ["events", "add", "--name", "Cup Final", "--major", "--scope", "CN", "--id", "final"]
    times = ["--start", "2026-03-09T19:30:00+08:00", "--end", "2026-03-09T22:00:00+08:00"]
    assert main([*add, *times, "--now", NOW]) == 0
    assert main([*add, *times, "--replace", "--now", NOW]) == 0  # the same: no new revision
    moved = ["--start", "2026-03-09T20:00:00+08:00", "--end", "2026-03-09T22:30:00+08:00"]
    assert main([*add, *moved, "--replace", "--now", NOW]) == 0  # changed: revision 1
    ics = workdir / "calendar.ics"
    assert main(["events", "export", str(ics)]) == 0
    [entry] = icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    assert int(entry["SEQUENCE"]) == 1
    assert entry.decoded("LAST-MODIFIED").tzinfo is not None
