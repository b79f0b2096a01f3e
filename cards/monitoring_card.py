"""The monitoring card of one therapy: overdue (warning) and soon-due (info) assessments, with orders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, timedelta

from cards.actions import monitoring_order, service_request
from cards.context import Context, align
from cards.loader import DrugKnowledge
from cards.model import Action, Card, Coding, Link, RenderedCard, Source, Suggestion
from cards.monitoring import ItemState, Occurrence, Review, review_monitoring
from cards.render import OVERRIDE_REASONS, RULE_SYSTEM

__all__ = ["SCHEDULE_RULE", "first_order_card", "follow_up", "monitoring_card"]

# Rule id of the follow-up card (feedback analytics); its topic code is "<drug>.monitoring".
SCHEDULE_RULE = "{}.monitoring.schedule"

_HORIZON_DAYS = 182  # a first order's schedule is ordered 26 weeks ahead (as the schedule card lists it)
_SHOWN_DATES = 3  # dates written on a first order's card line; every date is in the order itself
_PAUSING = frozenset({"contraindicated", "discontinue", "withhold", "desensitize", "switch-agent"})


def _name(state: ItemState) -> str:
    return state.item.short or state.item.display


def _names(states: Sequence[ItemState]) -> str:
    return ", ".join(dict.fromkeys(_name(s) for s in states))


# A narrow EHR panel: at most this many test lines; the rest are counted (all are in the orders).
_MAX_LINES = 4


def _line(state: ItemState, what: str) -> str:
    o = state.occurrence
    assert o is not None
    text = f"{o.scheduled.label}, due {o.due.isoformat()}"
    if state.state in ("due", "soon"):
        text += f" (counts {o.opens.isoformat()} to {o.closes.isoformat()})"
    return text + (f"; {what}" if what else "")


def _lines(heading: str, states: Sequence[ItemState], what: Callable[[ItemState], str]) -> list[str]:
    """One bullet per group of tests with the same scheduled day and history (narrow panels)."""
    groups: dict[str, list[ItemState]] = {}
    for state in states:
        groups.setdefault(_line(state, what(state)), []).append(state)
    return [f"- {heading} {_names(group)}: {rest}" for rest, group in groups.items()]


def _last(state: ItemState) -> str:
    return f"last {state.last_result.isoformat()}" if state.last_result else "none on record"


def _history(state: ItemState) -> str:
    """What is on record for an overdue item: the occurrences missed before, the last result."""
    parts = [f"missed {o.scheduled.label} ({o.due.isoformat()})" for o in state.missed]
    if len(parts) > 1:  # a run reads better as a count
        parts = [f"{len(parts)} earlier missed since {state.missed[0].due.isoformat()}"]
    return "; ".join([*parts, _last(state)])


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
        if state.state == "overdue" or o.scheduled.cycle is not None or o.scheduled.day == 0:
            # Owed before a cycle or before the first dose: ordered to be done by that day (the
            # window's days after it only accept a late result).
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


def _sources(review: Review, states: Sequence[ItemState]) -> list[str]:
    """Reference ids of the listed tests, then of the window."""
    refs = dict.fromkeys(s.item.source for s in states)
    refs[review.policy.window.source] = None
    return list(refs)


def _window(review: Review, states: Sequence[ItemState]) -> str:
    """Whose result window applies, in a word: each due test's line gives its own dates; the window
    rules themselves are in the timeline."""
    windows = [review.policy.window, *(s.item.window for s in states if s.item.window)]
    return "; due-date window (local policy)" if any(w.local_policy for w in windows) else ""


def _where(review: Review) -> str:
    if review.cycle is not None and review.therapy_day >= 0:
        return f"Cycle {review.cycle[0]} day {review.cycle[1]}"
    if review.therapy_day >= 0:
        return f"Therapy day {review.therapy_day}"
    return "Before the first dose"


def _detail(
    review: Review,
    knowledge: DrugKnowledge,
    pre: list[ItemState],
    overdue: list[ItemState],
    due: list[ItemState],
    unknown: list[ItemState],
) -> list[str]:
    """A few lines: where the patient is, each test owed with its date, interruptions, one source line."""
    spec = knowledge.spec
    heading = f"**{_where(review)} ({review.today.isoformat()})"
    if pre:
        first = pre[0].occurrence
        assert first is not None
        heading += f": this order starts cycle {first.scheduled.cycle}"
    lines = [heading + "**"]
    tests = _lines("Missing", pre, _last)
    tests += _lines("Overdue", overdue, _history)
    tests += _lines("Due", [s for s in due if s.state == "due"], lambda s: "")
    tests += _lines("Due soon", [s for s in due if s.state == "soon"], lambda s: "")
    tests += _lines(
        "Not checked",
        unknown,
        lambda s: f"{', '.join(s.missing_data)} not obtained, so not called overdue",
    )
    if len(tests) > _MAX_LINES:
        tests = [*tests[: _MAX_LINES - 1], f"- and {len(tests) - _MAX_LINES + 1} more (all in the orders)"]
    lines += tests
    course = review.course
    if course.paused:
        first_day, last_day = course.paused[0][0], course.paused[-1][1]
        span = f"{first_day.isoformat()} to {last_day.isoformat()}"
        if len(course.paused) > 1:
            span = f"{len(course.paused)} times between {span}"
        lines.append(f"Interrupted {span}: later dates moved {course.paused_days} days.")
    if course.unknown_ends:
        lines.append("An order stopped or held with no end date is read as running until the next one.")
    cited = []
    for ref_id in _sources(review, (*pre, *overdue, *due, *unknown)):
        ref = spec.references.get(ref_id)
        if ref is None or ref_id == review.policy.window.source:
            continue  # the window is described in the same line
        cited.append(ref.label + ("" if ref.verified else " (not confirmed)"))
    window = _window(review, (*pre, *overdue, *due, *unknown))
    lines.append(f"Source: {'; '.join(cited)}{window}.")
    return lines


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
    card_lines = _detail(review, knowledge, pre, overdue, due, unknown)
    actionable = [*pre, *overdue, *due]
    suggestions = None
    if actionable:
        actions = tuple(_request(review, s) for s in actionable)
        label = "Order the overdue and due tests" if (pre or overdue) else "Order the tests due soon"
        suggestions = (Suggestion(label=label, isRecommended=True, actions=actions),)
    refs = _sources(review, (*pre, *overdue, *due, *unknown))
    ref = spec.references.get(refs[0]) or spec.references[next(iter(spec.references))]
    rule_id = f"{spec.drug}.monitoring"
    links = None
    if smart_url:
        context = json.dumps(
            {"patient": review.patient_id, "drug": spec.drug, "rule": SCHEDULE_RULE.format(spec.drug)}
        )
        links = (Link(label="Toxicity timeline", url=smart_url, type="smart", appContext=context),)
    card = Card(
        summary=_summary(spec.title, overdue, pre, due, unknown),
        detail="\n".join(card_lines),
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


def _owed(review: Review, occurrences: Sequence[Occurrence]) -> list[date]:
    """Dates still to order: not done, from today to the horizon (a baseline not on record: today on)."""
    end = review.today + timedelta(days=_HORIZON_DAYS)
    dates = [max(o.due, review.today) for o in occurrences if o.status not in ("done", "late")]
    return sorted({d for d in dates if d <= end})


def first_order_card(review: Review, knowledge: DrugKnowledge, card: RenderedCard) -> RenderedCard | None:
    """A first order's schedule card in a few lines, ordering only what is not already on record."""
    spec = knowledge.spec
    by_item: dict[str, list[Occurrence]] = {}
    for occurrence in review.occurrences:
        by_item.setdefault(occurrence.item.id, []).append(occurrence)
    groups: dict[str, list[str]] = {}
    actions: list[Action] = []
    for item in spec.monitoring:
        occurrences = by_item.get(item.id, [])
        dates = _owed(review, occurrences)
        baseline = next((o for o in occurrences if o.scheduled.day == 0), None)
        on_record = baseline.result_date if baseline is not None else None
        text = [f"baseline on record {on_record.isoformat()}"] if on_record is not None else []
        if dates:
            shown = ", ".join(d.isoformat() for d in dates[:_SHOWN_DATES])
            more = len(dates) - _SHOWN_DATES
            text.append(shown + (f" (+{more} to {dates[-1].isoformat()})" if more > 0 else ""))
            actions.append(monitoring_order(item, review.patient_id, dates))
        if text:
            groups.setdefault("; ".join(text), []).append(item.short or item.display)
    if not actions:
        return None  # nothing left to order: no "none left in the schedule" card
    start = review.course.start.isoformat()
    lines = [f"**Schedule from the first dose ({start}), next 26 weeks**"]
    tests = [f"- {', '.join(names)}: {text}" for text, names in groups.items()]
    if len(tests) > _MAX_LINES:
        tests = [*tests[: _MAX_LINES - 1], f"- and {len(tests) - _MAX_LINES + 1} more (all in the orders)"]
    lines += tests
    ids = dict.fromkeys(i.source for i in spec.monitoring)
    refs = [spec.references[r] for r in ids if r in spec.references]
    cited = "; ".join(r.label + ("" if r.verified else " (not confirmed)") for r in refs)
    lines.append(f"Source: {cited}.")
    suggestion = Suggestion(label="Order the monitoring schedule", isRecommended=True, actions=tuple(actions))
    shaped = card.card.model_copy(update={"detail": "\n".join(lines), "suggestions": (suggestion,)})
    return replace(card, card=shaped)


def follow_up(knowledge: DrugKnowledge, ctx: Context, cards: list[RenderedCard]) -> list[RenderedCard]:
    """The subject's cards with the monitoring check: it replaces the generic schedule card of a
    continuing therapy; a first order keeps its whole-schedule card when the knowledge has one,
    shortened and without the tests already on record."""
    subject = ctx.subject
    if any(c.decision in _PAUSING for c in cards):
        # The drug is being stopped, held or restarted another way: the schedule pauses with it
        # (no schedule card either), and the toxicity card says which tests decide what comes next.
        return [c for c in cards if c.decision != "monitor"]
    request = ctx.request
    draft = subject.order if subject.order is not None and subject.order.is_draft else None
    # Only the current course: after a stop long enough to start a new one, the old course's
    # schedule (and its missed tests) is over.
    start = subject.therapy_start
    orders = [
        m
        for m in request.facts.medications
        if m.drug
        and m.drug.drug == subject.drug
        and (start is None or (when := m.start or m.authored_on) is None or align(when, start) >= start)
    ]
    review = review_monitoring(
        knowledge.spec,
        request.facts,
        now=request.now,
        orders=orders,
        draft=draft,
        unavailable=(*request.unavailable, *request.monitoring_unavailable),
        patient_id=request.patient_id,
        look_ahead_days=_HORIZON_DAYS if subject.new_start else 0,
    )
    kept = [c for c in cards if c.decision != "monitor"]
    whole = next((c for c in cards if c.decision == "monitor"), None)
    card: RenderedCard | None = None
    if review is None:
        card = None
    elif subject.new_start and whole is not None:
        # A first order keeps its whole-schedule card (the knowledge has one), in a few lines.
        card = first_order_card(review, knowledge, whole)
    else:
        card = monitoring_card(review, knowledge, request.links.smart_launch_url)
    # One card per therapy: drafts of both parts of a co-pack are two subjects of one schedule.
    once = ("monitoring-card", subject.drug)
    if card is None or ctx.memo.get(once):
        return kept
    ctx.memo[once] = True
    return [*kept, card]
