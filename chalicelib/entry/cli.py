"""``burst-assurance``: plan from files, run a scheduled cycle, keep the event calendar.

Every command parses, calls one workflow with the ports from chalicelib.config.bootstrap, and
renders; bad input (and a missing or duplicate event) exits 2 with one line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from chalicelib.adapters.console import describe
from chalicelib.config.bootstrap import Runtime, build_runtime
from chalicelib.config.policy_file import load_policy
from chalicelib.config.settings import Settings
from chalicelib.domain.assurance import Plan
from chalicelib.domain.errors import Conflict, InputError, NotFound
from chalicelib.domain.events import Event, event_id_for
from chalicelib.domain.policy import Policy, describe_validation_error
from chalicelib.domain.tracking import Change, RequestState, TrackedRequest
from chalicelib.entry.cli_forecasts import add_forecasts_parser
from chalicelib.workflows import events as calendar
from chalicelib.workflows.ports import FilingError
from chalicelib.workflows.requests import RequestHistory

EXIT_BAD_INPUT = 2
EXIT_FAILED = 3  # the provider failed; the attempt is recorded


def parse_now(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--now {text!r} is not an ISO 8601 time", field="now") from None
    if moment.tzinfo is None:
        raise InputError(f"--now {text!r} needs a UTC offset, e.g. +08:00", field="now")
    return moment


def load_events_file(
    path: Path,
    zone: ZoneInfo,
    default_major: bool | None = None,
    window: tuple[dt.datetime, dt.datetime] | None = None,
) -> list[Event]:
    """A JSON list of events, or iCalendar (.ics, .ics.gz, or a .zip of them) with recurring
    events expanded over ``window``. Unmarked iCalendar events take ``default_major``; with
    None, a file with unmarked events is refused, asking for --major or --minor."""
    if path.suffix.lower() == ".json":
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}", field="events") from None
        try:
            items = json.loads(raw)
            if not isinstance(items, list):
                raise InputError(f"{path}: expected a JSON list of events", field="events")
            return [Event.model_validate(item) for item in items]
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        except ValidationError as exc:
            raise InputError(f"{path}: {describe_validation_error(exc)}", field="events") from None
    from chalicelib.adapters.ical import read_calendar_file

    start, end = window if window else (None, None)
    return read_calendar_file(path, zone=zone, default_major=default_major, start=start, end=end)


def _marking(args: argparse.Namespace) -> bool | None:
    return True if args.major else False if args.minor else None


# -- rendering ---------------------------------------------------------------------------------


def render_table(plan: Plan, policy: Policy) -> str:
    from chalicelib.domain.deadlines import time_left

    header = (
        "DEADLINE",
        "LEFT",
        "STATUS",
        "RULE",
        "SCOPE",
        "VALUE / THRESHOLD",
        "PEAK",
        "BURST",
        "LEAD",
        "EVENT",
    )
    rows = [header]
    for r in plan.requests:
        burst = r.burst_start.astimezone(policy.zone)
        rows.append(
            (
                r.deadline.astimezone(policy.zone).strftime("%a %Y-%m-%d %H:%M")
                + ("*" if r.estimated_calendar else ""),
                time_left(r.deadline, plan.now, policy),
                str(r.status),
                r.rule,
                r.scope,
                f"{r.rule_value:,.1f} / {r.threshold:,.1f} {r.unit}",
                f"{r.forecast_peak:,.1f}",
                f"{burst:%Y-%m-%d %H:%M} to {r.burst_end.astimezone(policy.zone):%m-%d %H:%M}",
                r.lead_time,
                r.event.name if r.event else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if not plan.requests:
        lines = ["No service-assurance request needed."]
    lines.append("")
    lines.append(
        f"{len(plan.requests)} request(s) as of {plan.now:%Y-%m-%d %H:%M %Z}; "
        f"times in {policy.time_zone}."
    )
    if any(r.estimated_calendar for r in plan.requests):
        lines.append("* deadline on an estimated working-day calendar (set early, see warnings).")
    if plan.requests:
        lines.append("VALUE is what the rule compared with its threshold; PEAK is what to reserve.")
        lines.append("LEFT is in working days (wd), or in hours on the last day.")
    lines.extend(f"warning: {w.message}" for w in plan.warnings)
    return "\n".join(lines)


def render_plan(plan: Plan, policy: Policy, fmt: str) -> str:
    if fmt == "json":
        return plan.model_dump_json(indent=2)
    return render_table(plan, policy)


# -- commands ----------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    from chalicelib.adapters.traffic_files import load_files
    from chalicelib.domain.planner import make_plan
    from chalicelib.domain.traffic import accepted_dates

    policy, now = load_policy(args.policy), parse_now(args.now)
    traffic = load_files(
        args.traffic,
        bandwidth_ceiling_gbps=policy.bandwidth_ceiling_gbps,
        dates=accepted_dates(policy, now),
    )
    events = (
        load_events_file(
            Path(args.events), policy.zone, _marking(args), calendar.recurrence_window(policy, now)
        )
        if args.events
        else []
    )
    plan = make_plan(traffic, events, policy, now)
    print(render_plan(plan, policy, args.format))
    if args.html:
        from chalicelib.entry.cli_page import write_plan_html

        written = write_plan_html(plan, traffic, events, policy, args.html)
        print(f"wrote {written}", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from chalicelib.workflows.planning import run_cycle

    rt = _runtime(args)
    report = run_cycle(rt.store, rt.source, rt.notifier, rt.policy, parse_now(args.now))
    counts: dict[str, int] = {}
    for change in report.changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "no changes"
    if args.format == "json":
        print(report.plan.model_dump_json(indent=2))
    else:
        print(render_table(report.plan, rt.policy))
    print(
        f"cycle done: {summary}; store {rt.settings.store} ({_where(rt.settings)})", file=sys.stderr
    )
    return 0


def _where(settings: Settings) -> str:
    return str(settings.sqlite_path) if settings.store == "sqlite" else settings.table_prefix


def _runtime(args: argparse.Namespace) -> Runtime:
    return build_runtime(Settings.from_env(), getattr(args, "policy", None))


def _replanned(changes: list[Change]) -> str:
    return f"; re-planned: {len(changes)} request change(s)" if changes else ""


def cmd_events_add(args: argparse.Namespace) -> int:
    start = parse_now(args.start)
    try:
        event = Event(
            id=args.id or event_id_for(args.name, start),
            name=args.name,
            start=start,
            end=parse_now(args.end),
            major=args.major,
            scopes=tuple(args.scope or ()),
            notes=args.notes,
        )
    except ValidationError as exc:
        raise InputError(describe_validation_error(exc), field="event") from None
    rt, now = _runtime(args), parse_now(args.now)
    _, changes = calendar.save_event(
        rt.store, rt.source, rt.policy, event, now, create=not args.replace
    )
    print(f"saved {event.id}{_replanned(changes)}")
    _announce(rt, now)
    return 0


def cmd_events_list(args: argparse.Namespace) -> int:
    events = calendar.stored_events(_runtime(args).store)
    if args.format == "json":
        print(json.dumps([e.model_dump(mode="json") for e in events], indent=2))
        return 0
    for e in events:
        scopes = ",".join(e.scopes) or "all"
        flag = "major" if e.major else "     "
        print(f"{e.start:%Y-%m-%d %H:%M%z}  {flag}  {e.id}  {e.name}  [{scopes}]")
    if not events:
        print("No events. Add one with `burst-assurance events add` or `events import FILE.ics`.")
    return 0


def cmd_events_remove(args: argparse.Namespace) -> int:
    rt, now = _runtime(args), parse_now(args.now)
    changes = calendar.remove_event(rt.store, rt.source, rt.policy, args.id, now)
    print(f"removed {args.id}{_replanned(changes)}")
    _announce(rt, now)
    return 0


def cmd_events_import(args: argparse.Namespace) -> int:
    rt, now = _runtime(args), parse_now(args.now)
    window = calendar.recurrence_window(rt.policy, now)
    events = load_events_file(Path(args.file), rt.policy.zone, _marking(args), window)
    done = calendar.import_events(rt.store, rt.source, rt.policy, events, now)
    print(
        f"imported {len(events)} event(s) from {args.file}, {done.written} new or changed"
        f"{_replanned(done.changes)}"
    )
    _announce(rt, now)
    return 0


def cmd_events_export(args: argparse.Namespace) -> int:
    from chalicelib.adapters.ical import write_calendar

    rt = _runtime(args)
    events = calendar.stored_events(rt.store)
    data = write_calendar(events, zone=rt.policy.zone, now=parse_now(None))
    if args.file == "-":
        sys.stdout.write(data.decode("utf-8"))
    else:
        Path(args.file).write_bytes(data)
        print(f"exported to {args.file}")
    return 0


# -- requests: decide, file, prove -------------------------------------------------------------


def cmd_requests_list(args: argparse.Namespace) -> int:
    from chalicelib.workflows.requests import find_requests

    def wanted(t: TrackedRequest) -> bool:
        return (args.state is None or t.state == args.state) and (
            args.status is None or t.request.status == args.status
        )

    rt = _runtime(args)
    found = find_requests(rt.store, wanted)
    if args.format == "ids":  # for scripts: `requests list --state pending --format ids`
        print("\n".join(t.id for t in found))
        return 0
    if args.format == "json":
        print(json.dumps([t.model_dump(mode="json") for t in found], indent=2, ensure_ascii=False))
        return 0
    for t in found:
        print(
            f"{t.state:<9} {describe(t.request, rt.policy.zone)}"
            + (f" ticket {t.ticket_id}" if t.ticket_id else "")
        )
    if not found:
        print("No requests match.")
    return 0


def cmd_requests_decide(args: argparse.Namespace) -> int:
    from chalicelib.workflows.approvals import decide_request

    outcome: Literal["approved", "rejected"] = (
        "approved" if args.requests_command == "approve" else "rejected"
    )
    rt, now = _runtime(args), parse_now(args.now)
    after = decide_request(rt.store, args.id, outcome, args.by, now, getattr(args, "reason", None))
    _print_request(args, after, f"{after.id}: {after.state} by {args.by}")
    _announce(rt, now)
    return 0


def cmd_requests_file(args: argparse.Namespace) -> int:
    from chalicelib.workflows.filing import file_request

    rt, now = _runtime(args), parse_now(args.now)
    try:
        after = file_request(
            rt.store, rt.filer, args.id, args.by, now, rt.policy.zone, rt.settings.account
        )
    finally:
        _announce(rt, now)  # a failure is announced too: it is escalated
    _print_request(args, after, f"{after.id}: filed as {after.ticket_id} ({rt.filer.channel})")
    return 0


def cmd_requests_mark_filed(args: argparse.Namespace) -> int:
    from chalicelib.workflows.filing import mark_filed

    rt, now = _runtime(args), parse_now(args.now)
    after = mark_filed(rt.store, args.id, args.ticket, args.by, now)
    _print_request(args, after, f"{after.id}: filed as {after.ticket_id}, recorded by {args.by}")
    _announce(rt, now)
    return 0


def _print_request(args: argparse.Namespace, tracked: TrackedRequest, line: str) -> None:
    if args.format == "json":
        print(tracked.model_dump_json(indent=2))
    else:
        print(line)


def cmd_watch(args: argparse.Namespace) -> int:
    """The deadline watch and the follow-up round, as the schedules run them on AWS."""
    from chalicelib.workflows.follow_up import follow_up
    from chalicelib.workflows.reminders import deadline_watch

    rt, now = _runtime(args), parse_now(args.now)
    watched = deadline_watch(rt.store, rt.filer, rt.policy, now, rt.settings.account)
    followed = follow_up(rt.store, rt.filer, rt.policy, now, rt.settings.account)
    _announce(rt, now)
    for failure in watched.failures + followed.failures:
        print(f"burst-assurance: {failure}", file=sys.stderr)
    print(
        f"watch done: {len(watched.reminded)} reminded, {len(watched.missed)} missed, "
        f"{len(watched.auto_filed) + len(followed.filed)} filed, {len(followed.urged)} urged",
        file=sys.stderr,
    )
    return 0


def _announce(rt: Runtime, now: dt.datetime) -> None:
    from chalicelib.workflows.notices import dispatch_notices

    for problem in dispatch_notices(rt.store, rt.notifier, now).held:
        print(f"burst-assurance: notice not sent yet: {problem}", file=sys.stderr)


def cmd_requests_evidence(args: argparse.Namespace) -> int:
    """`requests show` and `requests evidence`: the request with its whole trail."""
    from chalicelib.workflows.requests import request_history

    history = request_history(_runtime(args).store, args.id)
    if args.format == "json":
        print(json.dumps(_history_json(history), indent=2, ensure_ascii=False))
    else:
        print(render_evidence(history))
    return 0


def _history_json(history: RequestHistory) -> dict[str, object]:
    return {
        "request": history.request.model_dump(mode="json"),
        "audit": [e.model_dump(mode="json") for e in history.audit],
    }


def render_evidence(history: RequestHistory) -> str:
    """The trail as Markdown: what was planned, who decided, when it was filed, against the
    deadline; what an SLA claim needs."""
    t, r = history.request, history.request.request
    filed_at = t.filing.filed_at if t.filing else None
    in_time = "yes" if filed_at and filed_at <= r.deadline else "no"
    lines = [
        f"# Evidence for {t.id}",
        "",
        f"- State: {t.state}" + (f", ticket {t.ticket_id}" if t.ticket_id else ""),
        f"- Burst: {r.burst_start.isoformat()} to {r.burst_end.isoformat()}, "
        f"peak {r.forecast_peak:,.1f} {r.unit}",
        f"- Deadline: {r.deadline.isoformat()} ({r.lead_time})",
        f"- Filed: {filed_at.isoformat() if filed_at else 'not yet'}; in time: {in_time}",
        "",
        "| version | at | actor | action | changes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for e in history.audit:
        changes = "; ".join(f"{k}: {old} -> {new}" for k, (old, new) in sorted(e.changes.items()))
        lines.append(f"| {e.version} | {e.at.isoformat()} | {e.actor} | {e.action} | {changes} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="burst-assurance",
        description="Which Huawei Cloud Live service-assurance tickets your traffic needs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="plan from files (stateless)")
    plan.add_argument(
        "--traffic", nargs="+", required=True, metavar="FILE", help="CSV or JSON, optionally .gz"
    )
    plan.add_argument("--events", metavar="FILE", help="iCalendar (.ics) or JSON list of events")
    plan_marking = plan.add_mutually_exclusive_group()
    plan_marking.add_argument("--major", action="store_true", help="unmarked events are major")
    plan_marking.add_argument("--minor", action="store_true", help="unmarked events are minor")
    plan.add_argument("--policy", metavar="FILE", help="TOML policy overrides")
    plan.add_argument("--now", metavar="ISO", help="the moment to plan at (default: the clock)")
    plan.add_argument("--format", choices=("table", "json"), default="table")
    plan.add_argument("--html", metavar="FILE", help="also write the plan as a page (charts)")
    plan.set_defaults(handler=cmd_plan)

    run = commands.add_parser("run", help="one scheduled cycle against the store")
    run.add_argument("--now", metavar="ISO")
    run.add_argument("--policy", metavar="FILE")
    run.add_argument("--format", choices=("table", "json"), default="table")
    run.set_defaults(handler=cmd_run)

    events = commands.add_parser("events", help="the event calendar").add_subparsers(
        dest="events_command", required=True
    )
    add = events.add_parser("add", help="add an event (--replace: replace one)")
    add.add_argument("--name", required=True)
    add.add_argument("--start", required=True, metavar="ISO")
    add.add_argument("--end", required=True, metavar="ISO")
    add.add_argument("--major", action="store_true", help="a major event: tickets one month ahead")
    add.add_argument("--scope", action="append", help="billing area or service (repeatable)")
    add.add_argument("--notes")
    add.add_argument("--id", help="default: made from the name and start date")
    add.add_argument("--replace", action="store_true", help="replace an existing event")
    add.set_defaults(handler=cmd_events_add)
    listing = events.add_parser("list", help="list events")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=cmd_events_list)
    remove = events.add_parser("remove", help="remove an event")
    remove.add_argument("id")
    remove.set_defaults(handler=cmd_events_remove)
    imp = events.add_parser(
        "import", help="import events from iCalendar (.ics, .ics.gz, .zip) or JSON"
    )
    imp.add_argument("file")
    marking = imp.add_mutually_exclusive_group()
    marking.add_argument("--major", action="store_true", help="unmarked events are major")
    marking.add_argument("--minor", action="store_true", help="unmarked events are minor")
    imp.set_defaults(handler=cmd_events_import)
    for command in (add, remove, imp):
        command.add_argument("--now", metavar="ISO", help="re-plan at this moment (default: now)")
        command.add_argument("--policy", metavar="FILE")
    exp = events.add_parser("export", help="export the calendar as iCalendar")
    exp.add_argument("file", nargs="?", default="-")
    exp.set_defaults(handler=cmd_events_export)
    requests = commands.add_parser("requests", help="tracked requests: decide, file, prove")
    req = requests.add_subparsers(dest="requests_command", required=True)
    listing_r = req.add_parser("list", help="tracked requests")
    listing_r.add_argument("--state", choices=[s.value for s in RequestState])
    listing_r.add_argument("--status", choices=("upcoming", "due", "overdue"))
    listing_r.set_defaults(handler=cmd_requests_list)
    show = req.add_parser("show", help="one request with its history")
    show.set_defaults(handler=cmd_requests_evidence)
    approve = req.add_parser("approve", help="approve a planned request")
    approve.set_defaults(handler=cmd_requests_decide)
    reject = req.add_parser("reject", help="reject a planned request, with the reason")
    reject.add_argument("--reason", required=True)
    reject.set_defaults(handler=cmd_requests_decide)
    file_ = req.add_parser("file", help="file an approved request now, with the configured filer")
    file_.set_defaults(handler=cmd_requests_file)
    marked = req.add_parser("mark-filed", help="record a ticket filed by hand in the console")
    marked.add_argument("--ticket", required=True, metavar="NO")
    marked.set_defaults(handler=cmd_requests_mark_filed)
    add_forecasts_parser(commands)
    watch = commands.add_parser(
        "watch", help="remind, mark missed, retry filings and follow filed cases (daily/hourly)"
    )
    watch.add_argument("--now", metavar="ISO")
    watch.add_argument("--policy", metavar="FILE")
    watch.set_defaults(handler=cmd_watch)
    evidence = req.add_parser("evidence", help="the trail that proves the ticket was filed in time")
    evidence.set_defaults(handler=cmd_requests_evidence)
    for command in (show, approve, reject, file_, marked, evidence):
        command.add_argument("id")
    for command in (approve, reject, file_, marked):
        command.add_argument("--by", required=True, metavar="NAME")
        command.add_argument("--now", metavar="ISO", help="the moment to record (default: now)")
    for command in (show, evidence, approve, reject, file_, marked):
        command.add_argument("--format", choices=("table", "json"), default="table")
    listing_r.add_argument("--format", choices=("table", "json", "ids"), default="table")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("burst-assurance")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (InputError, NotFound, Conflict) as exc:
        print(f"burst-assurance: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FilingError as exc:
        print(
            f"burst-assurance: filing failed (recorded; retried by `watch`): {exc}", file=sys.stderr
        )
        return EXIT_FAILED
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
