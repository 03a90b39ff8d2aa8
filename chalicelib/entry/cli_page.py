"""``burst-assurance plan ... --html FILE``: the plan page as one file that opens offline."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from chalicelib.adapters.plan_page import render_file
from chalicelib.domain.assurance import Plan
from chalicelib.domain.errors import InputError
from chalicelib.domain.events import Event
from chalicelib.domain.policy import Policy
from chalicelib.domain.traffic import TrafficSet
from chalicelib.workflows.plan_view import plan_view


def write_plan_html(
    plan: Plan, traffic: TrafficSet, events: Iterable[Event], policy: Policy, path: str | Path
) -> Path:
    """Writes the page of ``plan`` to ``path`` and returns it; an unwritable path is bad input."""
    target = Path(path)
    document = render_file(plan_view(plan, traffic, events, policy))
    try:
        target.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{target}: cannot write: {exc.strerror}", field="html") from None
    return target
