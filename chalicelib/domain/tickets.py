"""The service-assurance ticket a request becomes: a short summary carrying the request's marker,
and a body in Chinese and English with what Huawei Cloud needs to reserve capacity."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from chalicelib.domain.assurance import AssuranceRequest
from chalicelib.domain.tracking import TrackedRequest
from chalicelib.domain.vocabulary import Rule

SUMMARY_LIMIT = 100

CLAUSES = {
    Rule.MONTHLY_CHARGED_BANDWIDTH: (
        "直播服务专用条款 2(a)：月计费带宽超过阈值且环比增长超过 30%",
        "Live Specific Terms 2(a): monthly charged bandwidth over the threshold, up >30% on the "
        "previous month",
    ),
    Rule.DAILY_PEAK_JUMP: (
        "直播服务专用条款 2(b)：日峰值带宽较前一日增长超过阈值",
        "Live Specific Terms 2(b): daily peak bandwidth up on the previous day by more than the "
        "threshold",
    ),
    Rule.VAS_CONCURRENCY: (
        "直播服务专用条款 2(c)：增值服务并发任务数超过 10,000 且增长超过 50%",
        "Live Specific Terms 2(c): concurrent value-added tasks over 10,000 and up >50%",
    ),
}


@dataclass(frozen=True)
class Ticket:
    request_id: str  # the group's lead
    marker: str
    summary: str  # goes into the provider's short description; starts with the marker
    body: str  # Markdown, Chinese then English
    fields: dict[str, object]  # the same facts, for machines
    request_ids: tuple[str, ...] = ()  # every request the ticket covers, the lead first


def filing_group(
    lead: TrackedRequest, candidates: Sequence[TrackedRequest]
) -> list[TrackedRequest]:
    """``lead`` and every candidate whose window overlaps the group's, transitively: requests of
    one account bursting at the same time go into one ticket. The lead first, then by start."""
    group = [lead]
    others = [c for c in candidates if c.id != lead.id]
    grew = True
    while grew:
        joining = [c for c in others if any(_overlap(c, member) for member in group)]
        others = [c for c in others if c not in joining]
        group += joining
        grew = bool(joining)
    return [lead, *sorted(group[1:], key=lambda t: (t.request.burst_start, t.id))]


def build_ticket(tracked: TrackedRequest, marker: str, account: str, zone: ZoneInfo) -> Ticket:
    return build_group_ticket([tracked], marker, account, zone)


def build_group_ticket(
    group: Sequence[TrackedRequest], marker: str, account: str, zone: ZoneInfo
) -> Ticket:
    """One ticket for every request of ``group``: each scope with its window and peak."""
    requests = [t.request for t in group]
    start = _local(min(r.burst_start for r in requests), zone)
    end = _local(max(r.burst_end for r in requests), zone)
    scopes = ", ".join(dict.fromkeys(r.scope for r in requests))
    events = list(dict.fromkeys(r.event.name for r in requests if r.event))
    event_zh = f"；活动：{'、'.join(events)}" if events else ""
    event_en = f"; event: {', '.join(events)}" if events else ""
    clauses = [CLAUSES[rule] for rule in dict.fromkeys(Rule(r.rule) for r in requests)]
    summary = f"[{marker}] 业务保障申请 Service assurance: {scopes} {start:%Y-%m-%d}"
    body = "\n".join(
        [
            f"# 业务保障申请 / Service assurance request ({marker})",
            "",
            f"- 账号 / Account: {account or '(set BURST_ASSURANCE_ACCOUNT)'}",
            f"- 时间窗 / Window: {_window(start, end, zone)}",
            "",
            *(line for r in requests for line in _scope_lines(r, zone, len(requests) > 1)),
            "",
            f"请为以上时间窗预留资源{event_zh}。依据：{'；'.join(zh for zh, _ in clauses)}。",
            "",
            f"Please reserve capacity for the window above{event_en}. "
            f"Basis: {'; '.join(en for _, en in clauses)}.",
        ]
    )
    lead = requests[0]
    fields: dict[str, object] = {
        "request_id": lead.id, "request_ids": [r.id for r in requests], "marker": marker,
        "account": account, "window_start": start.isoformat(), "window_end": end.isoformat(),
        "deadline": min(r.deadline for r in requests).isoformat(), "events": events,
        "scopes": [_scope_fields(r) for r in requests],
    }  # fmt: skip
    ids = tuple(r.id for r in requests)
    return Ticket(lead.id, marker, summary[:SUMMARY_LIMIT], body, fields, ids)


def _scope_lines(r: AssuranceRequest, zone: ZoneInfo, own_window: bool) -> list[str]:
    """The scope's figures; its own window too when the ticket covers several scopes."""
    kind = "计费区域 billing area" if r.unit == "Gbit/s" else "增值服务 value-added service"
    window = _window(_local(r.burst_start, zone), _local(r.burst_end, zone), zone)
    return [
        f"- 范围 / Scope: {r.scope} ({kind})",
        *([f"  - 时间窗 / Window: {window}"] if own_window else []),
        f"  - 预计峰值 / Expected peak: {r.forecast_peak:,.1f} {r.unit}",
        f"  - 触发值 / Value compared: {r.rule_value:,.1f} {r.unit} "
        f"(阈值 threshold {r.threshold:,.1f})",
    ]


def _scope_fields(r: AssuranceRequest) -> dict[str, object]:
    return {
        "request_id": r.id, "rule": str(r.rule), "scope": r.scope,
        "window_start": r.burst_start.isoformat(), "window_end": r.burst_end.isoformat(),
        "expected_peak": r.forecast_peak, "unit": r.unit, "rule_value": r.rule_value,
        "threshold": r.threshold, "event": r.event.name if r.event else None,
        "deadline": r.deadline.isoformat(),
    }  # fmt: skip


def _window(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> str:
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} ({zone.key})"


def _overlap(a: TrackedRequest, b: TrackedRequest) -> bool:
    x, y = a.request, b.request
    return x.burst_start < y.burst_end and y.burst_start < x.burst_end


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return moment.astimezone(zone)
