"""The monitoring card of one therapy: overdue (warning) and soon-due (info) assessments, with orders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import date

from cards.actions import service_request
from cards.context import Context
from cards.loader import DrugKnowledge
from cards.model import Action, Card, Coding, Link, RenderedCard, Source, Suggestion
from cards.monitoring import ItemState, Review, review_monitoring
from cards.render import OVERRIDE_REASONS, RULE_SYSTEM

__all__ = ["SCHEDULE_RULE", "follow_up", "monitoring_card"]

# Rule id of the follow-up card (feedback analytics); its topic code is "<drug>.monitoring".
SCHEDULE_RULE = "{}.monitoring.schedule"

_PAUSING = frozenset({"contraindicated", "discontinue", "withhold", "desensitize", "switch-agent"})


def _name(state: ItemState) -> str:
    return state.item.short or state.item.display


def _names(states: Sequence[ItemState]) -> str:
    return ", ".join(dict.fromkeys(_name(s) for s in states))


def _line(state: ItemState, what: str) -> str:
    o = state.occurrence
    assert o is not None
    text = f"- {_name(state)}: {o.scheduled.label}, due {o.due.isoformat()}"
    text += f" (counts {o.opens.isoformat()} to {o.closes.isoformat()})"
    return text + (f"; {what}" if what else "")


def _lines(states: Sequence[ItemState], what: Callable[[ItemState], str]) -> list[str]:
    """One bullet per group of tests with the same scheduled day and history (narrow panels)."""
    groups: dict[str, list[ItemState]] = {}
    for state in states:
        key = _line(state, what(state)).split(": ", 1)[1]
        groups.setdefault(key, []).append(state)
    return [f"- {_names(group)}: {rest}" for rest, group in groups.items()]


def _history(state: ItemState) -> str:
    """What is on record for an overdue item: the occurrences missed before, the last result."""
    parts = [f"missed {o.scheduled.label} ({o.due.isoformat()})" for o in state.missed]
    if len(parts) > 2:  # a long run reads better as a count
        parts = [f"{len(parts)} earlier scheduled tests missed since {state.missed[0].due.isoformat()}"]
    parts.append(
        f"last result {state.last_result.isoformat()}" if state.last_result else "no result on record"
    )
    return "; ".join(parts)


def _request(review: Review, state: ItemState) -> Action:
    o = state.occurrence
    assert o is not None
    item = state.item
    today = review.today
    if state.state == "overdue" and o.due <= today:
        period: tuple[date, date] | None = None
        dates: tuple[date, ...] = (today,)
        when = f"now ({today.isoformat()})"
    else:
        start = max(o.opens, today)
        end = max(o.closes if o.due > today or state.state != "overdue" else today, start)
        if state.state == "overdue":  # owed before a cycle that has not started yet
            end = max(o.due, start)
        period, dates = (start, end), ()
        when = f"{start.isoformat()} to {end.isoformat()}"
    return service_request(
        patient_id=review.patient_id,
        description=f"{item.display}: {o.scheduled.label}, {when}.",
        display=item.display,
        loinc=item.loinc if item.code_verified else None,
        snomed=item.snomed if item.code_verified else None,
        dates=dates,
        period=period,
        note=item.note,
    )


def _summary(
    title: str, overdue: list[ItemState], pre: list[ItemState], due: list[ItemState], unknown: list[ItemState]
) -> str:
    parts: list[str] = []
    if pre:
        first = pre[0].occurrence
        assert first is not None
        parts.append(f"missing before cycle {first.scheduled.cycle}: {_names(pre)}")
    if overdue:
        since = min(s.since or s.occurrence.due for s in overdue if s.occurrence)
        parts.append(f"overdue {_names(overdue)} (since {since.isoformat()})")
    if due:
        first_due = min(s.occurrence.due for s in due if s.occurrence)
        parts.append(f"due {_names(due)} (from {first_due.isoformat()})")
    if unknown:
        parts.append(f"not checked, no data: {_names(unknown)}")
    text = f"{title}: schedule monitoring: " + "; ".join(parts)
    return text if len(text) < 140 else text[:136].rstrip() + "..."


def monitoring_card(
    review: Review, knowledge: DrugKnowledge, smart_url: str | None = None
) -> RenderedCard | None:
    """The card, or None when every assessment is on time (nothing overdue, due or unknown)."""
    spec = knowledge.spec
    pre = list(review.pre_cycle_missing)
    pre_ids = {s.item.id for s in pre}
    overdue = [s for s in review.items if s.state == "overdue" and s.item.id not in pre_ids]
    due = [s for s in review.items if s.state in ("due", "soon") and s.item.id not in pre_ids]
    unknown = [s for s in review.items if s.state == "unknown" and s.item.id not in pre_ids]
    if not (pre or overdue or due or unknown):
        return None
    where = f"therapy day {review.therapy_day}" if review.therapy_day >= 0 else "before the first dose"
    if review.cycle is not None:
        where = f"cycle {review.cycle[0]} day {review.cycle[1]}"
    lines = [f"**{spec.title}: monitoring on {review.today.isoformat()} ({where})**", ""]
    if pre:
        first = pre[0].occurrence
        assert first is not None
        lines.append(f"Missing before cycle {first.scheduled.cycle} (this order starts it):")
        lines += _lines(
            pre,
            lambda s: f"last result {s.last_result.isoformat()}" if s.last_result else "no result on record",
        )
    if overdue:
        lines.append("Overdue:")
        lines += _lines(overdue, _history)
    if due:
        lines.append("Due now or soon:")
        lines += _lines(due, lambda s: "window open now" if s.state == "due" else "")
    if unknown:
        keys = sorted({k for s in unknown for k in s.missing_data})
        lines.append(f"Could not be checked ({', '.join(keys)} could not be obtained; not called overdue):")
        lines += _lines(unknown, lambda s: "check the record")
    lines.append("")
    notes = dict.fromkeys(s.item.note for s in (*pre, *overdue, *due, *unknown) if s.item.note)
    if notes:
        lines += ["Schedule: " + " ".join(notes), ""]
    course = review.course
    if course.paused:
        spans = ", ".join(f"{a.isoformat()} to {b.isoformat()}" for a, b in course.paused)
        lines.append(f"Interrupted {spans}: later dates moved by {course.paused_days} days.")
    if course.unknown_ends:
        lines.append(
            f"{', '.join(course.unknown_ends)} stopped or held without an end date: "
            "no interruption assumed, dates not moved."
        )
    window = review.policy.window
    kind = " (local policy)" if window.local_policy else ""
    cycle_start = (
        ""
        if window.pre_cycle_before_days is None
        else f", before a cycle from {window.pre_cycle_before_days}"
    )
    lines.append(
        f"A result counts from {window.before_days} days before to {window.after_days} days after a "
        f"scheduled day{cycle_start}; a baseline from {window.baseline_before_days} days before the first"
        f" dose{kind}."
    )
    lines.append("")
    refs = dict.fromkeys(s.item.source for s in (*pre, *overdue, *due, *unknown))
    refs[window.source] = None
    if review.policy.cycle_source:
        refs[review.policy.cycle_source] = None
    lines.append("Sources:")
    for ref_id in refs:
        cited = spec.references.get(ref_id)
        if cited is None:  # the built-in default window of a file without [monitoring_policy]
            lines.append("- Local policy: toxhooks' default window (no source in the knowledge file).")
            continue
        mark = "" if cited.verified else " (not confirmed)"
        lines.append(f"- {cited.citation}{mark} <{cited.url}>")
    lines.append(f"\nKnowledge: {spec.drug} {spec.version}.")
    actionable = [*pre, *overdue, *due]
    suggestions = None
    if actionable:
        actions = tuple(_request(review, s) for s in actionable)
        label = "Order the overdue and due tests" if (pre or overdue) else "Order the tests due soon"
        suggestions = (Suggestion(label=label, isRecommended=True, actions=actions),)
    ref = spec.references[next(iter(refs))]
    rule_id = f"{spec.drug}.monitoring"
    links = None
    if smart_url:
        context = json.dumps(
            {"patient": review.patient_id, "drug": spec.drug, "rule": SCHEDULE_RULE.format(spec.drug)}
        )
        links = (Link(label="Toxicity timeline", url=smart_url, type="smart", appContext=context),)
    card = Card(
        summary=_summary(spec.title, overdue, pre, due, unknown),
        detail="\n".join(lines).strip(),
        indicator="warning" if (pre or overdue) else "info",
        source=Source(
            label=ref.label,
            url=ref.url,
            topic=Coding(system=RULE_SYSTEM, code=rule_id, display="Monitoring schedule"),
        ),
        suggestions=suggestions,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=OVERRIDE_REASONS,
        links=links,
    )
    states = [
        (s.item.id, s.state, s.occurrence.due.isoformat() if s.occurrence else None) for s in actionable
    ]
    draft = review.draft_content
    key = hashlib.sha256(
        json.dumps([spec.drug, "monitoring", states, draft], sort_keys=True, default=str).encode()
    ).hexdigest()[:32]
    return RenderedCard(
        card=card,
        drug=spec.drug,
        decision="monitor",
        rule_ids=(SCHEDULE_RULE.format(spec.drug),),
        dedupe_key=key,
    )


def follow_up(knowledge: DrugKnowledge, ctx: Context, cards: list[RenderedCard]) -> list[RenderedCard]:
    """The subject's cards with the monitoring check: it replaces the generic schedule card of a
    continuing therapy; a first order keeps its whole-schedule card when the knowledge has one."""
    subject = ctx.subject
    if subject.new_start and any(c.decision == "monitor" for c in cards):
        return cards
    if any(c.decision in _PAUSING for c in cards):
        # The drug is being stopped, held or restarted another way: the schedule pauses with it,
        # and the toxicity card says which tests decide what comes next.
        return cards
    request = ctx.request
    draft = subject.order if subject.order is not None and subject.order.is_draft else None
    orders = [m for m in request.facts.medications if m.drug and m.drug.drug == subject.drug]
    review = review_monitoring(
        knowledge.spec,
        request.facts,
        now=request.now,
        orders=orders,
        draft=draft,
        unavailable=(*request.unavailable, *request.monitoring_unavailable),
        patient_id=request.patient_id,
    )
    kept = [c for c in cards if c.decision != "monitor"]
    card = monitoring_card(review, knowledge, request.links.smart_launch_url) if review else None
    # One card per therapy: drafts of both parts of a co-pack are two subjects of one schedule.
    once = ("monitoring-card", subject.drug)
    if card is None or ctx.memo.get(once):
        return kept
    ctx.memo[once] = True
    return [*kept, card]
