"""What Slack shows about a request: the approval message in the channel, the short replies in
its thread, and what the interactions endpoint answers with (the reject modal, refusals).

Pure functions of the request, the policy and a moment; the notifier sends what they build.
Blocks are built with slack_sdk's classes, whose ``to_dict`` checks Block Kit's limits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from chalicelib.domain.assurance import AssuranceRequest
from chalicelib.domain.lifecycle import marker_for
from chalicelib.domain.notices import Notice
from chalicelib.domain.policy import Policy
from chalicelib.domain.tickets import build_ticket
from chalicelib.domain.tracking import Decision, RequestState, TrackedRequest
from chalicelib.domain.vocabulary import BILLING_AREAS, VAS_TOTAL, Rule
from chalicelib.domain.workdays import WorkingDayCalendar

# The interactions endpoint recognises the buttons by these action ids; their value is the
# request id.
APPROVE_ACTION = "approve"
REJECT_ACTION = "reject"
DECISION_BLOCK = "decision"
# The reject modal: its callback id, and the block and action ids of the reason typed in it.
REJECT_CALLBACK = "reject_reason"
REASON_BLOCK = "reason"
REASON_ACTION = "reason"
REASON_MAX_LENGTH = 500

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
TEXT_LIMIT = 3000  # the fallback text; Slack truncates at 40,000, notifications far sooner
MAX_BLOCKS = 50
QUOTE_LIMIT = 300  # an event name, a reason or an error quoted from elsewhere

CLAUSES = {
    Rule.MONTHLY_CHARGED_BANDWIDTH: "2(a)",
    Rule.DAILY_PEAK_JUMP: "2(b)",
    Rule.VAS_CONCURRENCY: "2(c)",
}
STATE_WORDS = {
    RequestState.PENDING: "Pending: approve or reject",
    RequestState.APPROVED: "Approved, to be filed",
    RequestState.REJECTED: "Rejected: no ticket",
    RequestState.FILING: "Being filed",
    RequestState.FILED: "Filed",
    RequestState.WITHDRAWN: "Withdrawn: the burst left the forecast",
    RequestState.MISSED: "Missed: no SLA protection",
}
_SLACK_USER = re.compile(r"[UW][A-Z0-9]+")
_DECIDED_BY = re.compile(r"(?<=\bby )([UW][A-Z0-9]+)\b")


# -- the approval message -----------------------------------------------------------------------


def approval_message(
    tracked: TrackedRequest, policy: Policy, account: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The channel message for a request: ``{"text": ..., "blocks": [...]}``, as it stands
    at ``now`` (default: its last change), for chat.postMessage and chat.update."""
    now = now or tracked.updated_at
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(title(tracked.request), HEADER_LIMIT))),
        SectionBlock(fields=_facts(tracked, policy, now)),
        *_calendar_warning(tracked.request),
        DividerBlock(),
        SectionBlock(text=_ticket_preview(tracked, policy, account)),
        _outcome(tracked, policy.zone),
        ContextBlock(elements=[MarkdownTextObject(text=_footer(tracked, account, policy, now))]),
    ]
    return {
        "text": clip(fallback_text(tracked, policy), TEXT_LIMIT),
        "blocks": [block.to_dict() for block in blocks[:MAX_BLOCKS]],
    }


def title(request: AssuranceRequest) -> str:
    start = request.burst_start
    event = f" – {request.event.name}" if request.event else ""
    return f"Service assurance: {request.scope} {_rule_name(request.rule)}, {start:%a %d %b}{event}"


def fallback_text(tracked: TrackedRequest, policy: Policy) -> str:
    """What notifications and screen readers show instead of the blocks."""
    r, zone = tracked.request, policy.zone
    return (
        f"Service assurance for {escape(r.scope)}, {_rule_name(r.rule)} from "
        f"{local(r.burst_start, zone)}, peak {figure(r.forecast_peak, r.unit)}; file by "
        f"{local(r.deadline, zone)}. {STATE_WORDS[tracked.state]}."
    )


def _facts(tracked: TrackedRequest, policy: Policy, now: dt.datetime) -> list[MarkdownTextObject]:
    r, zone = tracked.request, policy.zone
    facts = [
        f"*What bursts*\n{rule_in_words(r.rule, policy)}\n{scope_in_words(r.scope)}",
        f"*When* ({zone.key})\n{local(r.burst_start, zone)} until\n{local(r.burst_end, zone)}",
        f"*Forecast peak*\n*{figure(r.forecast_peak, r.unit)}* against a threshold of "
        f"{figure(r.threshold, r.unit)}\nbaseline {figure(r.baseline, r.unit)}, "
        f"the rule compared {figure(r.rule_value, r.unit)}",
        f"*Event*\n{_event_words(r)}",
        f"*File by*\n{local(r.deadline, zone)}\n{days_left_words(r, policy, now)} "
        f"(lead: {r.lead_time}){' *estimated*' if r.estimated_calendar else ''}",
        f"*State*\n{STATE_WORDS[tracked.state]}",
    ]
    return [MarkdownTextObject(text=clip(fact, FIELD_LIMIT)) for fact in facts]


def _calendar_warning(request: AssuranceRequest) -> list[Block]:
    if not request.estimated_calendar:
        return []
    text = (
        ":warning: *Estimated calendar*: the official holidays of the deadline's year are not "
        "published yet, so the deadline is set early on purpose; it may move later once they are."
    )
    return [ContextBlock(elements=[MarkdownTextObject(text=text)])]


def _ticket_preview(tracked: TrackedRequest, policy: Policy, account: str) -> MarkdownTextObject:
    ticket = build_ticket(tracked, marker_for(tracked.id), account, policy.zone)
    head = f"*Ticket to file*  `{escape(ticket.summary)}`\n"
    fence = "```"
    body = clip(escape(ticket.body), SECTION_LIMIT - len(head) - 2 * len(fence))
    return MarkdownTextObject(text=f"{head}{fence}{body}{fence}")


def _outcome(tracked: TrackedRequest, zone: ZoneInfo) -> Block:
    """The buttons while a person must decide; afterwards, what was decided and what followed."""
    if tracked.state is RequestState.PENDING:
        return _decision_buttons(tracked.id)
    lines = standing_lines(tracked, zone)
    return SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), SECTION_LIMIT)))


def _decision_buttons(request_id: str) -> ActionsBlock:
    confirm = ConfirmObject(
        title="File this ticket?",
        text="Approving files the service-assurance ticket shown above with the provider.",
        confirm="Approve",
        deny="Not yet",
    )
    approve = ButtonElement(
        text="Approve", action_id=APPROVE_ACTION, value=request_id, style="primary", confirm=confirm
    )
    reject = ButtonElement(text="Reject", action_id=REJECT_ACTION, value=request_id, style="danger")
    return ActionsBlock(block_id=DECISION_BLOCK, elements=[approve, reject])


def standing_lines(tracked: TrackedRequest, zone: ZoneInfo) -> list[str]:
    """Who decided, and what became of the request since: the main message's last section."""
    lines = [decision_line(tracked.decision, zone)] if tracked.decision else []
    state, filing = tracked.state, tracked.filing
    if state is RequestState.FILING and filing:
        lines.append(
            f":hourglass_flowing_sand: Being filed ({escape(filing.channel)}) since "
            f"{local(filing.started_at, zone)}; marker `{filing.marker}`"
        )
        if filing.last_error:
            lines.append(f"Last attempt failed: {clip(escape(filing.last_error), QUOTE_LIMIT)}")
    elif state is RequestState.FILED:
        at = f" at {local(filing.filed_at, zone)}" if filing and filing.filed_at else ""
        lines.append(f":page_facing_up: Filed as ticket *{escape(tracked.ticket_id or '')}*{at}")
        if tracked.provider_state:
            lines.append(f"Provider: {escape(tracked.provider_state)}")
    elif state is RequestState.WITHDRAWN:
        lines.append(
            ":wastebasket: Withdrawn: the latest forecast no longer shows this burst; "
            "nothing to file"
        )
    elif state is RequestState.MISSED:
        lines.append(
            ":rotating_light: Missed: no ticket was filed by the deadline; "
            "the burst has no SLA protection"
        )
    return lines or [STATE_WORDS[state]]


def decision_line(decision: Decision, zone: ZoneInfo) -> str:
    when = local(decision.at, zone)
    if decision.outcome == "approved":
        return f":white_check_mark: Approved by {person(decision.by)} at {when}"
    reason = clip(escape(decision.note or "no reason given"), QUOTE_LIMIT)
    return f":x: Rejected by {person(decision.by)} at {when}: {reason}"


def _footer(tracked: TrackedRequest, account: str, policy: Policy, now: dt.datetime) -> str:
    return (
        f"Request `{escape(tracked.id)}` · account {escape(account) or '(not set)'} · "
        f"as of {local(now, policy.zone)}"
    )


# -- words and figures ------------------------------------------------------------------------


def rule_in_words(rule: str, policy: Policy) -> str:
    clause = f"(Live SLA {CLAUSES[Rule(rule)]})"
    if rule == Rule.MONTHLY_CHARGED_BANDWIDTH:
        growth = policy.monthly_bandwidth.growth_ratio - 1
        return (
            f"The month's charged bandwidth passes its threshold, up {growth:.0%} on last month "
            f"{clause}"
        )
    if rule == Rule.DAILY_PEAK_JUMP:
        return f"The day's peak bandwidth jumps past the previous day's peak {clause}"
    growth = policy.concurrency.growth_ratio - 1
    limit = policy.concurrency.threshold
    return f"Concurrent tasks pass {limit:,.0f}, up more than {growth:.0%} {clause}"


def scope_in_words(scope: str) -> str:
    if scope in BILLING_AREAS:
        return f"Billing area *{scope}*"
    if scope == VAS_TOTAL:
        return "All value-added services together"
    return f"Value-added service *{escape(scope)}*"


def _rule_name(rule: str) -> str:
    return str(rule).replace("-", " ")


def _event_words(request: AssuranceRequest) -> str:
    event = request.event
    if event is None:
        return "None"
    kind = "major event: filed a month ahead" if event.major else "not a major event"
    return f"{clip(escape(event.name), QUOTE_LIMIT)} ({kind})"


def days_left_words(request: AssuranceRequest, policy: Policy, now: dt.datetime) -> str:
    if now > request.deadline:
        return "*deadline passed*"
    left = working_days_left(request, policy, now)
    if left == 0:
        return "*due today*"
    return f"{left} working day{'' if left == 1 else 's'} left"


def working_days_left(request: AssuranceRequest, policy: Policy, now: dt.datetime) -> int:
    """Whole working days after today up to the deadline's day, on the policy's calendar."""
    today = now.astimezone(policy.zone).date()
    deadline_day = request.deadline.astimezone(policy.zone).date()
    return WorkingDayCalendar(policy.calendar).working_days_after(today, deadline_day)


def figure(value: float, unit: str) -> str:
    if unit == "tasks":
        return f"{value:,.0f} tasks"
    return f"{value:,.1f} {unit}"


def local(moment: dt.datetime, zone: ZoneInfo) -> str:
    at = moment.astimezone(zone)
    return f"{at:%a %Y-%m-%d %H:%M} {at.tzname()}"


def person(who: str) -> str:
    """A Slack user id as a mention; anyone else (a CLI user, an API key) by name."""
    return f"<@{who}>" if _SLACK_USER.fullmatch(who) else escape(who)


def with_mentions(text: str) -> str:
    """``text`` escaped, with the Slack user ids after "by" as mentions: "approved by <@U1>"."""
    return _DECIDED_BY.sub(r"<@\1>", escape(text))


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: user text must not turn into mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- replies in the thread --------------------------------------------------------------------

Reply = Callable[[Notice, Policy, str], str]


def thread_reply(notice: Notice, policy: Policy, escalation_group: str | None = None) -> str:
    """A short mrkdwn reply saying what happened; the escalation group is mentioned where a
    person must act now (the last day, a failed filing, a missed deadline)."""
    escalate = f"<!subteam^{escalation_group}> " if escalation_group else ""
    reply = _REPLIES.get(notice.action, _generic)
    return clip(reply(notice, policy, escalate), TEXT_LIMIT)


def _created(notice: Notice, policy: Policy, escalate: str) -> str:
    return ":new: New request: approve or reject it above."


def _updated(notice: Notice, policy: Policy, escalate: str) -> str:
    return f":chart_with_upwards_trend: The forecast changed:\n{change_lines(notice, policy)}"


def _moved(notice: Notice, policy: Policy, escalate: str) -> str:
    return (
        ":left_right_arrow: A re-forecast moved the burst; any decision stands:\n"
        f"{change_lines(notice, policy)}"
    )


def _reopened(notice: Notice, policy: Policy, escalate: str) -> str:
    earlier = notice.audit.changes.get("decision", (None, None))[0]
    which = f" ({with_mentions(str(earlier))})" if earlier else ""
    return (
        f":warning: Material change: the earlier decision{which} no longer holds. "
        f"Please approve or reject again.\n{change_lines(notice, policy)}"
    )


def _withdrawn(notice: Notice, policy: Policy, escalate: str) -> str:
    return (
        ":wastebasket: The latest forecast no longer shows this burst: withdrawn, nothing to file."
    )


def _restored(notice: Notice, policy: Policy, escalate: str) -> str:
    lines = change_lines(notice, policy)
    return ":leftwards_arrow_with_hook: The burst is back in the forecast." + (
        f"\n{lines}" if lines else ""
    )


def _decided(notice: Notice, policy: Policy, escalate: str) -> str:
    decision = notice.request.decision
    if decision is None:  # cleared again since; say what the audit recorded
        outcome = notice.audit.changes.get("state", (None, "decided"))[1]
        return f"{str(outcome).capitalize()} by {person(notice.audit.actor)}."
    return decision_line(decision, policy.zone)


def _filing(notice: Notice, policy: Policy, escalate: str) -> str:
    filing = notice.request.filing
    how = f" via {escape(filing.channel)} (marker `{filing.marker}`)" if filing else ""
    return f":hourglass_flowing_sand: Filing the ticket{how}."


def _filed(notice: Notice, policy: Policy, escalate: str) -> str:
    ticket = notice.request.ticket_id or _new_value(notice, "ticket_id") or "?"
    return f":page_facing_up: Filed as ticket *{escape(str(ticket))}*."


def _filing_failed(notice: Notice, policy: Policy, escalate: str) -> str:
    error = clip(escape(str(_new_value(notice, "error") or "no reason given")), QUOTE_LIMIT)
    r = notice.request.request
    if _new_value(notice, "outcome_unknown"):
        then = "The case may exist anyway: the next attempt looks for it before filing again."
    else:
        then = "Nothing was filed: fix the cause and file again, or file by hand and record it."
    return (
        f"{escalate}:x: Filing failed: {error}. {then} Deadline {local(r.deadline, policy.zone)} "
        f"({days_left_words(r, policy, notice.audit.at)})."
    )


def _retrying(notice: Notice, policy: Policy, escalate: str) -> str:
    attempt = _new_value(notice, "attempt")
    return f":repeat: Filing again{f' (attempt {attempt})' if attempt else ''}."


def _followed(notice: Notice, policy: Policy, escalate: str) -> str:
    old, new = notice.audit.changes.get("provider_state", (None, None))
    ticket = escape(notice.request.ticket_id or "?")
    return f":mag: Provider case *{ticket}*: {escape(str(old or 'unknown'))} → {escape(str(new))}."


def _reminded(notice: Notice, policy: Policy, escalate: str) -> str:
    r = notice.request.request
    left = _new_value(notice, "reminder")
    if not isinstance(left, int):
        left = working_days_left(r, policy, notice.audit.at)
    deadline = local(r.deadline, policy.zone)
    waiting = _waiting_for(notice.request)
    if left <= 0:
        return f"{escalate}:alarm_clock: Last working day: file by {deadline}. {waiting}"
    days = f"{left} working day{'' if left == 1 else 's'}"
    return f":alarm_clock: Reminder: {days} left to file, by {deadline}. {waiting}"


def _waiting_for(tracked: TrackedRequest) -> str:
    if tracked.state is RequestState.PENDING:
        return "Still waiting for a decision."
    if tracked.state is RequestState.APPROVED:
        return "Approved, not filed yet."
    return STATE_WORDS[tracked.state] + "."


def _missed(notice: Notice, policy: Policy, escalate: str) -> str:
    r = notice.request.request
    return (
        f"{escalate}:rotating_light: Missed: no ticket was filed by "
        f"{local(r.deadline, policy.zone)}; the burst from {local(r.burst_start, policy.zone)} "
        "has no SLA protection."
    )


def _urged(notice: Notice, policy: Policy, escalate: str) -> str:
    ticket = escape(notice.request.ticket_id or "?")
    return f":mega: Asked the provider to hurry case *{ticket}*: its burst is near."


def _generic(notice: Notice, policy: Policy, escalate: str) -> str:
    lines = change_lines(notice, policy)
    head = f"{escape(notice.action.capitalize())} by {person(notice.audit.actor)}."
    return head + (f"\n{lines}" if lines else "")


_REPLIES: dict[str, Reply] = {
    "created": _created,
    "updated": _updated,
    "moved": _moved,
    "reopened": _reopened,
    "withdrawn": _withdrawn,
    "restored": _restored,
    "decided": _decided,
    "filing": _filing,
    "filed": _filed,
    "filing-failed": _filing_failed,
    "retrying": _retrying,
    "followed": _followed,
    "reminded": _reminded,
    "missed": _missed,
    "urged": _urged,
}


def _new_value(notice: Notice, name: str) -> Any:
    return notice.audit.changes.get(name, (None, None))[1]


# -- the changes an audit entry recorded, old -> new ---------------------------------------------

FIGURES = {
    "forecast_peak": "peak", "threshold": "threshold", "baseline": "baseline",
    "rule_value": "value compared",
}  # fmt: skip
TIMES = {"burst_start": "start", "burst_end": "end", "deadline": "deadline"}
# Recorded, but said elsewhere in the reply or the main message.
UNSAID = frozenset({"state", "decision", "filing", "version", "updated_at", "presence", "id"})
ORDER = [*FIGURES, *TIMES]


def change_lines(notice: Notice, policy: Policy) -> str:
    unit = notice.request.request.unit
    names = sorted(
        (name for name in notice.audit.changes if name not in UNSAID),
        key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name),
    )
    return "\n".join(
        f"• {FIGURES.get(name) or TIMES.get(name) or escape(name.replace('_', ' '))}: "
        f"{_shown(name, old, unit, policy.zone)} → {_shown(name, new, unit, policy.zone)}"
        for name in names
        for old, new in [notice.audit.changes[name]]
    )


def _shown(name: str, value: Any, unit: str, zone: ZoneInfo) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name in FIGURES and isinstance(value, int | float):
        return figure(value, unit)
    if name in TIMES and isinstance(value, str | dt.datetime):
        return local(_moment(value), zone)
    if isinstance(value, dict) and "name" in value:  # an event
        return clip(escape(str(value["name"])), QUOTE_LIMIT)
    return clip(escape(str(value)), QUOTE_LIMIT)


def _moment(value: str | dt.datetime) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


# -- the interactions endpoint ----------------------------------------------------------------


def reject_modal(request_id: str) -> dict[str, Any]:
    """The views.open modal asking why; its submission carries the request id as
    private_metadata and the reason at state.values[REASON_BLOCK][REASON_ACTION]."""
    view = View(
        type="modal",
        callback_id=REJECT_CALLBACK,
        private_metadata=request_id,
        title=PlainTextObject(text="Reject request"),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip(f"No ticket will be filed for `{escape(request_id)}`.", SECTION_LIMIT)
                )
            ),
            InputBlock(
                block_id=REASON_BLOCK,
                label=PlainTextObject(text="Why not?"),
                element=PlainTextInputElement(
                    action_id=REASON_ACTION, multiline=True, max_length=REASON_MAX_LENGTH
                ),
                optional=False,
            ),
        ],
    )
    return view.to_dict()


def refusal_text(user_id: str) -> str:
    return (
        f"Sorry {person(user_id)}, only the approvers of service-assurance requests can approve "
        "or reject them; ask one of them."
    )


def lost_race_text(standing: str) -> str:
    """``standing`` is chalicelib.domain.lifecycle.standing(): "already approved by U1 at ..."."""
    text = with_mentions(standing.strip()) or "decided already"
    return f"{text[0].upper()}{text[1:]}; nothing changed."
