"""The plan as a picture: its view model, its HTML, and the page in a real headless Chromium,
both as the CLI's file and as served by the app behind the API token."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from servers import local_server

from chalicelib.adapters.plan_page import render_file
from chalicelib.adapters.traffic_files import load_files
from chalicelib.config import bootstrap
from chalicelib.config.policy_file import load_policy
from chalicelib.domain.assurance import Plan
from chalicelib.domain.events import Event
from chalicelib.domain.planner import make_plan
from chalicelib.domain.policy import Policy
from chalicelib.domain.traffic import Series, TrafficSet
from chalicelib.entry.cli import load_events_file, parse_now
from chalicelib.entry.cli_page import write_plan_html
from chalicelib.workflows.plan_view import MAX_POINTS, PlanView, downsample, plan_view

REPO = Path(__file__).resolve().parents[1]
TRAFFIC = sorted(str(p) for p in (REPO / "examples" / "traffic").glob("*.csv.gz"))
EVENTS = REPO / "examples" / "events.ics"
NOW = "2026-11-23T09:00:00+08:00"
TOKEN = "page-test-token-7c2d"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
HOSTILE = "</script><img src=x onerror=\"document.title='pwned'\"><!-- & \"quotes\" 'too'"


@dataclass(frozen=True)
class Example:
    policy: Policy
    traffic: TrafficSet
    events: list[Event]
    plan: Plan


@pytest.fixture(scope="module")
def example() -> Example:
    """The bundled example, loaded as `burst-assurance plan` loads it."""
    policy = load_policy(None)
    traffic = load_files(TRAFFIC, bandwidth_ceiling_gbps=policy.bandwidth_ceiling_gbps)
    events = load_events_file(EVENTS, policy.zone)
    return Example(policy, traffic, events, make_plan(traffic, events, policy, parse_now(NOW)))


@pytest.fixture(scope="module")
def view(example: Example) -> PlanView:
    return plan_view(example.plan, example.traffic, example.events, example.policy)


def hostile_example(example: Example) -> tuple[Plan, list[Event]]:
    """The example with its CBA final renamed to something that tries to break out of HTML."""
    events = [
        e.model_copy(update={"name": HOSTILE}) if "CBA" in e.name else e for e in example.events
    ]
    plan = make_plan(example.traffic, events, example.policy, parse_now(NOW))
    assert any(r.event and r.event.name == HOSTILE for r in plan.requests)
    return plan, events


# -- the view model ----------------------------------------------------------------------------


def test_one_chart_per_scope_with_a_request(example: Example, view: PlanView) -> None:
    scopes = [c.scope for c in view.charts]
    assert scopes == ["CN", "AP1", "transcoding", "vas-total"]
    assert set(scopes) == {r.scope for r in example.plan.requests}
    assert view.without_forecast == []


def test_each_chart_holds_its_requests_thresholds_and_windows(
    example: Example, view: PlanView
) -> None:
    for chart in view.charts:
        mine = [r for r in example.plan.requests if r.scope == chart.scope]
        assert [b.id for b in chart.bursts] == [r.id for r in mine]
        assert [(b.start, b.end, b.deadline) for b in chart.bursts] == [
            (
                int(r.burst_start.timestamp()),
                int(r.burst_end.timestamp()),
                int(r.deadline.timestamp()),
            )
            for r in mine
        ]
        thresholds = [s.value for lv in chart.levels if lv.kind == "threshold" for s in lv.spans]
        assert sorted(thresholds) == sorted(round(r.threshold, 3) for r in mine)
        spans = [s for lv in chart.levels if lv.kind == "threshold" for s in lv.spans]
        for burst, request in zip(chart.bursts, mine, strict=True):  # held over its burst
            assert any(
                s.start <= burst.start and burst.end <= s.end and s.value == request.threshold
                for s in spans
            )


def test_the_example_thresholds_and_windows(view: PlanView) -> None:
    cn = next(c for c in view.charts if c.scope == "CN")
    monthly = next(lv for lv in cn.levels if lv.rule == "monthly-charged-bandwidth")
    assert [s.value for s in monthly.spans] == [111.033]
    gala = next(b for b in cn.bursts if b.id == "daily-peak-jump/CN/2027-02-05")
    start = dt.datetime.fromisoformat("2027-02-05T19:55:00+08:00")
    end = dt.datetime.fromisoformat("2027-02-06T00:35:00+08:00")
    assert (gala.start, gala.end) == (int(start.timestamp()), int(end.timestamp()))
    assert {e.name for e in cn.events} == {"CBA Winter Classic Final", "Spring Festival Gala 2027"}
    assert [c.unit for c in view.charts] == ["Gbit/s", "Gbit/s", "tasks", "tasks"]


def test_the_forecast_is_light_and_keeps_every_peak(example: Example, view: PlanView) -> None:
    for chart in view.charts:
        assert len(chart.forecast) <= MAX_POINTS
        assert chart.bucket_seconds == 1800
        drawn = max(v for v in chart.forecast if v is not None)
        peaks = [r.forecast_peak for r in example.plan.requests if r.scope == chart.scope]
        assert drawn == pytest.approx(max(peaks), abs=0.001)
    cn = example.traffic.series[("bandwidth", "CN")]
    chart = view.charts[0]
    assert max(v for v in chart.forecast if v is not None) == pytest.approx(cn.values.max())


def test_the_services_total_is_their_sum_at_each_point(example: Example, view: PlanView) -> None:
    total = next(c for c in view.charts if c.scope == "vas-total")
    services = example.traffic.of_metric("concurrency")
    summed = np.sum([s.values for s in services], axis=0)  # the example's services share times
    assert max(v for v in total.forecast if v is not None) == pytest.approx(float(summed.max()))


def test_downsampling_takes_each_buckets_highest_point_and_breaks_at_gaps() -> None:
    times = np.array([0, 300, 600, 1800, 2100, 5400], dtype=np.int64)
    values = np.array([1.0, 5.0, 2.0, 3.0, 4.0, 9.0])
    assert downsample(times, values, 1800) == (0, [5.0, 4.0, None, 9.0])


def test_the_tracked_state_of_each_request_is_shown(example: Example) -> None:
    from chalicelib.domain.tracking import reconcile

    changes = reconcile({}, example.plan, example.plan.now, dt.timedelta(hours=6), 0.1)
    tracked = [c.after for c in changes]
    view = plan_view(example.plan, example.traffic, example.events, example.policy, tracked)
    assert {row.state for row in view.rows} == {"pending"}


def test_a_scope_without_a_series_is_named_not_drawn(example: Example) -> None:
    only_cn = TrafficSet({("bandwidth", "CN"): example.traffic.series[("bandwidth", "CN")]})
    view = plan_view(example.plan, only_cn, example.events, example.policy)
    assert [c.scope for c in view.charts] == ["CN"]
    assert view.without_forecast == ["AP1", "transcoding", "vas-total"]


def test_a_gap_in_a_series_shows_as_a_gap() -> None:
    series = Series("bandwidth", "CN", np.array([0, 300, 7200]), np.array([1.0, 2.0, 3.0]))
    first, values = downsample(series.times, series.values, 1800)
    assert (first, values) == (0, [2.0, None, None, None, 3.0])


# -- the HTML ----------------------------------------------------------------------------------


def embedded_data(document: str) -> Any:
    found = re.search(r'<script type="application/json" id="plan-data">(.*?)</script>', document)
    assert found is not None
    return json.loads(found.group(1))


def test_the_file_escapes_a_hostile_event_name(example: Example) -> None:
    plan, events = hostile_example(example)
    document = render_file(plan_view(plan, example.traffic, events, example.policy))
    assert HOSTILE not in document
    assert "<img" not in document
    assert document.count("</script>") == document.count("<script")  # nothing ends one early
    data = embedded_data(document)
    assert HOSTILE in {row["event"] for row in data["rows"]}


def test_the_file_is_self_contained(example: Example, tmp_path: Path) -> None:
    path = write_plan_html(
        example.plan, example.traffic, example.events, example.policy, tmp_path / "plan.html"
    )
    document = path.read_text(encoding="utf-8")
    assert "uPlot" in document
    assert not re.search(r'(src|href)="(?!data:)', document)  # nothing fetched
    assert len(document) < 400_000
    assert embedded_data(document)["rows"][0]["id"] == example.plan.requests[0].id


def test_the_page_routes_import_without_numpy() -> None:
    probe = (
        "import sys, chalicelib.entry.api.page; "
        "print(sorted(m for m in ('numpy', 'holidays', 'boto3') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60,
        cwd=REPO,
    )  # fmt: skip
    assert result.stdout.strip() == "[]"


# -- in a real browser -------------------------------------------------------------------------


@dataclass
class Watched:
    """What a page said: console errors, uncaught exceptions, dialogs it tried to open."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright. Missing either fails, never skips:
    CI must really run the page (.ci/run installs the chromium package)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: pip install playwright", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser: Any, url: str, watched: Watched) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))

    def refuse(dialog: Any) -> None:
        watched.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    page.goto(url)
    return page


def wait_drawn(page: Any) -> None:
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    page.wait_for_function(
        "document.querySelectorAll('.chart canvas').length === "
        "document.querySelectorAll('.chart').length",
        timeout=20_000,
    )


def table_rows(page: Any) -> list[dict[str, str]]:
    script = """() => {
        const text = (node) => node.textContent;
        const heads = [...document.querySelectorAll('#requests thead th')].map(text);
        return [...document.querySelectorAll('#requests tbody tr')].map(tr => {
            const cells = [...tr.querySelectorAll('td')].map(text);
            const pairs = heads.map((h, i) => [h, cells[i]]);
            return Object.fromEntries([['id', tr.dataset.id], ...pairs]);
        });
    }"""
    return list(page.evaluate(script))


def assert_table_matches(rows: list[dict[str, str]], plan: Plan) -> None:
    assert [row["id"] for row in rows] == [r.id for r in plan.requests]
    for row, request in zip(rows, plan.requests, strict=True):
        assert row.get("Status", row.get("Status / state", "")).split(" / ")[0] == request.status
        assert row["Rule"] == request.rule
        assert row["Scope"] == request.scope
        assert row["Lead"] == request.lead_time
        assert row["Event"] == (request.event.name if request.event else "")
        assert row["Deadline"].startswith(request.deadline.strftime("%a %Y-%m-%d %H:%M"))
        assert row["Peak"].startswith(f"{request.forecast_peak:,.1f}")


def test_the_file_in_a_browser(browser: Any, example: Example, tmp_path: Path) -> None:
    path = write_plan_html(
        example.plan, example.traffic, example.events, example.policy, tmp_path / "plan.html"
    )
    watched = Watched()
    page = open_page(browser, path.resolve().as_uri(), watched)
    wait_drawn(page)
    scopes = sorted({r.scope for r in example.plan.requests})
    assert page.locator(".chart canvas").count() == len(scopes)
    titles = page.locator("section.scope h2").all_text_contents()
    assert sorted(t.split(":")[0] for t in titles) == scopes
    assert_table_matches(table_rows(page), example.plan)
    page.get_by_role("button", name="Zoom to #6").click()
    page.screenshot(path=str(tmp_path / "plan-page.png"), full_page=True)
    assert watched.errors == []
    page.close()


def test_a_hostile_event_name_stays_text_in_the_browser(
    browser: Any, example: Example, tmp_path: Path
) -> None:
    plan, events = hostile_example(example)
    path = write_plan_html(plan, example.traffic, events, example.policy, tmp_path / "bad.html")
    watched = Watched()
    page = open_page(browser, path.resolve().as_uri(), watched)
    wait_drawn(page)
    assert HOSTILE in [row["Event"] for row in table_rows(page)]
    assert page.locator("img").count() == 0
    assert page.title() != "pwned"
    assert (watched.errors, watched.dialogs) == ([], [])
    page.close()


# -- served by the app -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, example: Example) -> Iterator[str]:
    """The page's routes on Chalice's local server, over a SQLite store holding the example's
    events and tracked requests (so the table shows their state)."""
    from chalicelib.workflows.planning import replan

    with pytest.MonkeyPatch.context() as env:
        env.setenv("BURST_ASSURANCE_API_TOKEN", TOKEN)
        env.setenv("BURST_ASSURANCE_DATA_DIR", str(tmp_path_factory.mktemp("page-data")))
        env.setenv("BURST_ASSURANCE_TRAFFIC_SOURCE", "files")
        env.setenv("BURST_ASSURANCE_TRAFFIC", ",".join(TRAFFIC))
        bootstrap.reset()
        rt = bootstrap.runtime()
        for event in example.events:
            rt.store.put_event(event)
        replan(rt.store, rt.source, rt.policy, parse_now(NOW))
        with local_server() as url:
            yield url


def get(url: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_shell_and_the_library_are_public_the_data_is_not(served: str) -> None:
    status, headers, body = get(f"{served}/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "script-src 'self' 'sha256-" in headers["Content-Security-Policy"]
    assert b'type="application/json"' not in body  # the shell holds no data
    status, headers, body = get(f"{served}/static/uplot.js")
    assert (status, headers["Cache-Control"]) == (200, "public, max-age=86400")
    assert body.startswith(b"/*! https://github.com/leeoniya/uPlot")
    assert get(f"{served}/static/uplot.css")[0] == 200
    assert get(f"{served}/plan/view")[0] == 401
    assert get(f"{served}/plan/view", token="wrong")[0] == 401
    status, _, body = get(f"{served}/plan/view?now=2026-11-23T09:00:00%2B08:00", token=TOKEN)
    assert status == 200
    assert len(json.loads(body)["rows"]) == 7


def test_the_served_page_asks_for_the_token_once(
    browser: Any, served: str, example: Example, tmp_path: Path
) -> None:
    watched = Watched()
    page = open_page(browser, f"{served}/?now=2026-11-23T09:00:00%2B08:00", watched)
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Show the plan").click()
    wait_drawn(page)
    assert page.locator(".chart canvas").count() == 4
    rows = table_rows(page)
    assert_table_matches(rows, example.plan)
    assert {row["Status / state"] for row in rows} == {"upcoming / pending"}
    page.screenshot(path=str(tmp_path / "served-page.png"), full_page=True)

    page.reload()  # the token is kept for the tab: no second prompt
    wait_drawn(page)
    assert page.locator("#token-form").is_hidden()
    assert page.evaluate("sessionStorage.length") == 1
    assert watched.errors == []
    page.close()


def test_a_refused_token_asks_again(browser: Any, served: str) -> None:
    watched = Watched()
    page = open_page(browser, f"{served}/", watched)
    page.evaluate("sessionStorage.setItem('burst-assurance-api-token', 'stale')")
    page.reload()
    page.wait_for_selector("#token-form:not([hidden])")
    assert "not accepted" in page.locator("#message").text_content()
    assert page.evaluate("sessionStorage.length") == 0
    # The browser reports the 401 itself; nothing else may go wrong.
    assert [e for e in watched.errors if "401" not in e] == []
    page.close()
