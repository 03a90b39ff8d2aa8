"""The service-assurance ticket a request becomes: a short summary carrying the request's marker,
and a body in Chinese and English with what Huawei Cloud needs to reserve capacity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

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
    request_id: str
    marker: str
    summary: str  # goes into the provider's short description; starts with the marker
    body: str  # Markdown, Chinese then English
    fields: dict[str, object]  # the same facts, for machines


def build_ticket(tracked: TrackedRequest, marker: str, account: str, zone: ZoneInfo) -> Ticket:
    r = tracked.request
    start, end = _local(r.burst_start, zone), _local(r.burst_end, zone)
    window = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} ({zone.key})"
    peak = f"{r.forecast_peak:,.1f} {r.unit}"
    clause_zh, clause_en = CLAUSES[Rule(r.rule)]
    event_zh = f"；活动：{r.event.name}" if r.event else ""
    event_en = f"; event: {r.event.name}" if r.event else ""
    kind = "计费区域 billing area" if r.unit == "Gbit/s" else "增值服务 value-added service"
    summary = f"[{marker}] 业务保障申请 Service assurance: {r.scope} {start:%Y-%m-%d}"
    body = "\n".join(
        [
            f"# 业务保障申请 / Service assurance request ({marker})",
            "",
            f"- 账号 / Account: {account or '(set BURST_ASSURANCE_ACCOUNT)'}",
            f"- 范围 / Scope: {r.scope} ({kind})",
            f"- 时间窗 / Window: {window}",
            f"- 预计峰值 / Expected peak: {peak}",
            f"- 触发值 / Value compared: {r.rule_value:,.1f} {r.unit} "
            f"(阈值 threshold {r.threshold:,.1f})",
            "",
            f"请为以上时间窗预留资源{event_zh}。依据：{clause_zh}。",
            "",
            f"Please reserve capacity for the window above{event_en}. Basis: {clause_en}.",
        ]
    )
    fields: dict[str, object] = {
        "request_id": r.id, "marker": marker, "account": account, "rule": str(r.rule),
        "scope": r.scope, "window_start": r.burst_start.isoformat(),
        "window_end": r.burst_end.isoformat(), "expected_peak": r.forecast_peak, "unit": r.unit,
        "rule_value": r.rule_value, "threshold": r.threshold,
        "event": r.event.name if r.event else None, "deadline": r.deadline.isoformat(),
    }  # fmt: skip
    return Ticket(r.id, marker, summary[:SUMMARY_LIMIT], body, fields)


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return moment.astimezone(zone)
