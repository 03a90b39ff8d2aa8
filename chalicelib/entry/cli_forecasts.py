"""``burst-assurance forecasts``: take stored traffic out (logged), and read the log.

cli.py registers these with ``add_forecasts_parser(commands)``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pydantic import ValidationError

from chalicelib.config.bootstrap import Runtime, build_runtime
from chalicelib.config.settings import Settings
from chalicelib.domain.errors import InputError
from chalicelib.domain.vocabulary import Metric


def cmd_forecasts_delete(args: argparse.Namespace) -> int:
    from chalicelib.domain.traffic import TrafficDeletion
    from chalicelib.entry.cli import parse_now
    from chalicelib.workflows.ingestion import delete_traffic

    if args.metric is None and not args.all:
        raise InputError("name a --metric (and --scope), or say --all to delete every series")
    try:
        deletion = TrafficDeletion(
            metric=args.metric,
            scope=args.scope,
            start=parse_now(args.start),
            end=parse_now(args.end),
            by=args.by,
            at=parse_now(args.now),
        )
    except ValidationError as exc:
        problems = "; ".join(str(error["msg"]) for error in exc.errors())
        raise InputError(problems, field="forecasts") from None
    done = delete_traffic(_runtime().store, deletion)
    if args.format == "json":
        print(done.model_dump_json(indent=2))
    else:
        print(f"deleted {done.points} point(s) of {done.describe()}; logged as #{done.sequence}")
    return 0


def cmd_forecasts_log(args: argparse.Namespace) -> int:
    deletions = _runtime().store.traffic_deletions()
    if args.format == "json":
        print(json.dumps([d.model_dump(mode="json") for d in deletions], indent=2))
        return 0
    for d in deletions:
        print(f"#{d.sequence}  {d.at.isoformat()}  {d.by}  {d.points} point(s)  {d.describe()}")
    if not deletions:
        print("No traffic was ever deleted.")
    return 0


def add_forecasts_parser(commands: Any) -> None:
    """``commands``: the subparsers of the top-level parser."""
    forecasts = commands.add_parser("forecasts", help="stored actuals and forecasts")
    sub = forecasts.add_subparsers(dest="forecasts_command", required=True)
    delete = sub.add_parser("delete", help="delete stored traffic in a time range (logged)")
    delete.add_argument("--metric", choices=[str(m) for m in Metric])
    delete.add_argument("--scope", help="a billing area or value-added service")
    delete.add_argument("--all", action="store_true", help="every series, when no --metric")
    delete.add_argument("--from", dest="start", required=True, metavar="ISO")
    delete.add_argument("--to", dest="end", required=True, metavar="ISO", help="excluded")
    delete.add_argument("--by", required=True, metavar="NAME")
    delete.add_argument("--now", metavar="ISO", help="the moment to record (default: now)")
    delete.set_defaults(handler=cmd_forecasts_delete)
    log = sub.add_parser("log", help="the deletions of stored traffic, oldest first")
    log.set_defaults(handler=cmd_forecasts_log)
    for command in (delete, log):
        command.add_argument("--format", choices=("table", "json"), default="table")


def _runtime() -> Runtime:
    return build_runtime(Settings.from_env(), None)
