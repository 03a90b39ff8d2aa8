"""The bundled examples: reproducible, and telling exactly the story of examples/README.md."""

from __future__ import annotations

import datetime as dt
import gzip
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from chalicelib.adapters import ical
from chalicelib.config.policy_file import load_policy
from chalicelib.domain.assurance import Plan
from chalicelib.domain.policy import Policy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CST = dt.timezone(dt.timedelta(hours=8))


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_examples", EXAMPLES / "generate_examples.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


def _committed_traffic() -> list[Path]:
    return sorted((EXAMPLES / "traffic").glob("*.csv.gz"))


@pytest.fixture(scope="module")
def plan() -> Plan:
    return generator.plan_examples(_committed_traffic())


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    generator.main(tmp_path)  # also fails unless the regenerated data tells the story
    committed = [*_committed_traffic(), EXAMPLES / "events.ics"]
    regenerated = [*sorted((tmp_path / "traffic").glob("*.csv.gz")), tmp_path / "events.ics"]
    assert [p.name for p in regenerated] == [p.name for p in committed]
    for new, old in zip(regenerated, committed, strict=True):
        if new.suffix == ".gz":
            same_text = gzip.decompress(new.read_bytes()) == gzip.decompress(old.read_bytes())
            assert same_text, f"{old.name}: the data changed; rerun the generator and commit"
        assert new.read_bytes() == old.read_bytes(), f"{old.name}: bytes differ"


# Deadlines worked out by hand from the calendar (2026 official; 2027 estimated, so its New
# Year break Jan 1-3 and its Spring Festival window Feb 4-14 are off):
# - 3 working days: the third working day strictly before the burst's day, at 18:00.
#   Tue 2026-12-01 -> Mon 30 Nov, Fri 27, Thu 26 Nov.  Sat 2026-12-12 -> Fri 11, Thu 10, Wed 9 Dec.
#   Sat 2027-01-16 -> Fri 15, Thu 14, Wed 13 Jan (walks through 2027, so estimated).
# - 1 month: the earlier of burst and event start, minus a month, back to a working day.
#   CN January (burst from the evening of Fri 2027-01-01, before the final on the 24th)
#   -> Tue 2026-12-01.  CBA final Sun 2027-01-24 -> Thu 2026-12-24.
#   Gala Fri 2027-02-05 -> Tue 2027-01-05 (a working day even on the estimated calendar).
EXPECTED = [
    # id, lead time, deadline, estimated calendar, event id
    ("monthly-charged-bandwidth/AP1/2026-12", "3 working days", dt.datetime(2026, 11, 26, 18),
     False, None),
    ("monthly-charged-bandwidth/CN/2027-01", "1 month", dt.datetime(2026, 12, 1, 18),
     False, "cba-winter-classic-final-2027@examples.burst-assurance"),
    ("vas-concurrency/transcoding/2026-12-12", "3 working days", dt.datetime(2026, 12, 9, 18),
     False, None),
    ("vas-concurrency/vas-total/2026-12-12", "3 working days", dt.datetime(2026, 12, 9, 18),
     False, None),
    ("daily-peak-jump/CN/2027-01-24", "1 month", dt.datetime(2026, 12, 24, 18),
     False, "cba-winter-classic-final-2027@examples.burst-assurance"),
    ("daily-peak-jump/CN/2027-02-05", "1 month", dt.datetime(2027, 1, 5, 18),
     True, "spring-festival-gala-2027"),
    ("daily-peak-jump/AP1/2027-01-16", "3 working days", dt.datetime(2027, 1, 13, 18),
     True, "starlight-kpop-seoul-2027@examples.burst-assurance"),
]  # fmt: skip


def test_plan_tells_the_story(plan: Plan) -> None:
    found = [
        (r.id, r.lead_time, r.deadline, r.estimated_calendar, r.event.id if r.event else None)
        for r in plan.requests
    ]
    expected = [(i, lead, due.replace(tzinfo=CST), est, ev) for i, lead, due, est, ev in EXPECTED]
    assert found == expected
    assert {r.status for r in plan.requests} == {"upcoming"}


def test_bursts_start_on_the_days_the_story_says(plan: Plan) -> None:
    starts = {r.id: r.burst_start.astimezone(CST).date() for r in plan.requests}
    assert starts["monthly-charged-bandwidth/AP1/2026-12"] == dt.date(2026, 12, 1)
    assert starts["monthly-charged-bandwidth/CN/2027-01"] == dt.date(2027, 1, 1)
    by_id = {r.id: r for r in plan.requests}
    cn_january = by_id["monthly-charged-bandwidth/CN/2027-01"]
    # December's charged bandwidth ~85 Gbit/s, January's >= 100 and >= 1.3 x December.
    assert 80 <= cn_january.baseline <= 90
    assert cn_january.rule_value >= max(100, 1.3 * cn_january.baseline)
    # The ticket reserves January's highest point (the CBA final), not the charged bandwidth.
    final = by_id["daily-peak-jump/CN/2027-01-24"]
    assert cn_january.forecast_peak == final.forecast_peak > 3 * cn_january.rule_value
    assert cn_january.burst_end == dt.datetime(2027, 2, 1, tzinfo=CST)
    gala = by_id["daily-peak-jump/CN/2027-02-05"]
    # The gala's surge runs past midnight until it falls back below the 5th's level.
    assert gala.burst_start == dt.datetime(2027, 2, 5, 19, 55, tzinfo=CST)
    assert gala.burst_end == dt.datetime(2027, 2, 6, 0, 35, tzinfo=CST)


def test_plan_warns_about_the_unforecast_final_and_the_estimated_year(plan: Plan) -> None:
    codes = sorted(w.code for w in plan.warnings)
    assert codes == ["estimated-calendar", "event-without-forecast", "partial-baseline"]
    # The data start on 16 November: half a month is no baseline for AP1's December.
    [partial] = [w.message for w in plan.warnings if w.code == "partial-baseline"]
    assert partial.startswith("monthly-charged-bandwidth for AP1 in 2026-12: 2026-11 has only 50%")
    unforecast = next(w for w in plan.warnings if w.code == "event-without-forecast")
    # Sun 2027-03-14 minus a month is Sun 14 Feb, inside the estimated Spring Festival window
    # (Feb 4-14): back to Wed 2027-02-03.
    assert "Winter Esports Cup Final" in unforecast.message
    assert "2027-02-03 18:00" in unforecast.message


def test_ics_reads_back_as_the_generator_events() -> None:
    data = (EXAMPLES / "events.ics").read_bytes()
    for default_major in (True, False):
        read = ical.read_events(
            data, default_major=default_major, source="events.ics", zone=Policy().zone
        )
        assert read == [e.to_event() for e in generator.EVENTS]


def test_sample_policy_loads_as_is_and_with_every_setting_switched_on(tmp_path: Path) -> None:
    path = EXAMPLES / "policy.toml"
    assert load_policy(path).billing_mode == "monthly-95th"
    switched_on = tmp_path / "policy.toml"
    switched_on.write_text(
        "\n".join(
            line[2:] if line.startswith("# ") else "" if line == "#" else line
            for line in path.read_text(encoding="utf-8").splitlines()
        ),
        encoding="utf-8",
    )
    policy = load_policy(switched_on)
    assert 2027 in policy.calendar.overrides
    assert policy.lead_times.cutoff == dt.time(18, 0)
