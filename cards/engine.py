"""The rule engine: EvaluationRequest -> EvaluationResult, pure and deterministic (clock injected)."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import Any

from cards.context import Context, Subject, align
from cards.dosing import describe, reduce_from, reference_order
from cards.findings import CATEGORY, Finding, Plan, severity
from cards.loader import DrugKnowledge, KnowledgeBase
from cards.model import EvaluationRequest, EvaluationResult, RenderedCard
from cards.monitoring_card import follow_up
from cards.render import render, render_missing
from terminology.model import EventSource, GradedEvent, MedicationOrder

__all__ = ["evaluate"]

_CATEGORY_ORDER = ("management", "dose-range", "flag-dlt", "prophylaxis", "monitor")
_ORDER_HOOKS = ("order-select", "order-sign")


def _when(order: MedicationOrder, like: datetime | None = None) -> datetime | None:
    moment = order.start or order.authored_on
    return align(moment, like) if moment is not None and like is not None else moment


def _subjects(request: EvaluationRequest, drug: str) -> list[Subject]:
    """Orders of `drug` the hook is about: the drafts (order hooks) or the active order (patient-view)."""
    on_record = [m for m in request.facts.medications if m.drug and m.drug.drug == drug]
    starts = [t for m in on_record if (t := _when(m, request.now)) is not None]
    first = min(starts) if starts else None
    if request.hook in _ORDER_HOOKS:
        drafts = [d for d in request.draft_orders if d.drug and d.drug.drug == drug]
        if request.hook == "order-select" and request.selections:
            chosen = [d for d in drafts if d.reference in request.selections]
            drafts = chosen or drafts
        return [
            Subject(
                drug=drug,
                order=d,
                therapy_start=first or _when(d, request.now) or request.now,
                new_start=not on_record,
            )
            for d in drafts
        ]
    active = [m for m in on_record if m.status == "active"]
    if not active:
        return []
    latest = max(active, key=lambda m: (_when(m) is not None, _when(m, request.now) or request.now))
    return [Subject(drug=drug, order=latest, therapy_start=first, new_start=False)]


def _adjust(knowledge: DrugKnowledge, finding: Finding, ctx: Context) -> Finding | None:
    """Compute the next dose level for 'reduced' decisions; lowest level -> discontinue."""
    spec = finding.rule.spec
    ladder = knowledge.spec.dose_ladder
    wants_reduction = finding.decision == "resume-reduced" or (
        finding.decision == "withhold" and spec.resume == "reduced"
    )
    if not wants_reduction or ladder is None or not ladder.verified or ctx.subject.order is None:
        return finding
    before = reference_order(ctx.request.facts.medications, ctx.subject.drug, finding.outcome.anchor)
    basis = before.dose if before is not None else ctx.subject.order.dose
    step = reduce_from(ladder, basis)
    if step is None:
        why = basis.problem or "ordered dose not readable"
        return Finding(finding.rule, finding.outcome, finding.state, finding.decision, why)
    if step.target is None:
        lowest = describe(ladder.levels[-1].dose, ladder.levels[-1].per_day, ladder.unit)
        note = f"already at the lowest dose level, {lowest}"
        return Finding(finding.rule, finding.outcome, finding.state, "discontinue", note)
    target = step.target
    ordered = ctx.subject.order.dose
    if (
        finding.decision == "resume-reduced"
        and ctx.subject.order.is_draft
        and ordered.daily is not None
        and ordered.daily <= target.dose * target.per_day + 1e-6
    ):
        return None  # the draft is already reduced: nothing to say
    note = f"{describe(target.dose, target.per_day, ladder.unit)}, next level below {step.reference}"
    if not ordered.understood and ordered.problem:  # the draft's own dose is named, never used as mg
        note += f"; the draft's {ordered.problem}"
    return Finding(finding.rule, finding.outcome, finding.state, finding.decision, note, target)


def _evaluate_subject(knowledge: DrugKnowledge, ctx: Context) -> list[RenderedCard]:
    fired: list[Finding] = []
    pending: list[Finding] = []
    missing: list[str] = []
    for rule in knowledge.rules:
        if ctx.request.hook not in rule.spec.hooks:
            continue
        outcome = rule.condition(ctx)
        if outcome.value is True:
            adjusted = _adjust(knowledge, Finding(rule, outcome, "fired", rule.spec.decision), ctx)
            if adjusted is not None:
                fired.append(adjusted)
        elif outcome.value is None:
            missing += outcome.missing
            if outcome.trigger:  # an abnormal part of the condition is met: say what is left to check
                pending.append(Finding(rule, outcome, "pending", rule.spec.decision))
    missing = list(dict.fromkeys(missing))
    cards: list[RenderedCard] = []
    for category in _CATEGORY_ORDER:
        mine = tuple(
            sorted(
                (f for f in fired if CATEGORY[f.decision] == category), key=lambda f: -severity(f.decision)
            )
        )
        waiting = tuple(f for f in pending if CATEGORY[f.decision] == category)
        if category == "management" and mine:
            # A pending finding matters only if it would be more severe than what already fired.
            top = severity(mine[0].decision)
            waiting = tuple(f for f in waiting if severity(f.decision) > top)
        if not mine and not waiting:
            continue
        plan = Plan(
            knowledge=knowledge,
            subject=ctx.subject,
            category=category,
            fired=mine,
            pending=waiting,
            missing=tuple(missing) if category == "management" else (),
        )
        cards.append(render(plan, ctx.request))
    has_management = any(CATEGORY.get(c.decision, "management") == "management" for c in cards)
    if missing and not has_management:
        plan = Plan(
            knowledge=knowledge,
            subject=ctx.subject,
            category="data-missing",
            fired=(),
            missing=tuple(missing),
        )
        cards.insert(0, render_missing(plan, ctx.request))
    return cards


def evaluate(request: EvaluationRequest, knowledge: KnowledgeBase) -> EvaluationResult:
    """Pure and deterministic: same request (incl. `now`) and knowledge -> same result."""
    lab_events: dict[str, GradedEvent] = {
        event.evidence.resource: event
        for timeline in request.facts.timelines.values()
        for event in timeline.events
        if event.source == EventSource.LAB
    }
    classes = knowledge.class_map
    cards: list[RenderedCard] = []
    memo: dict[Hashable, Any] = {}  # derived from the request alone: valid for every subject
    for drug in sorted(knowledge.drugs):
        item = knowledge.drugs[drug]
        for subject in _subjects(request, drug):
            ctx = Context(
                request=request,
                subject=subject,
                classes=classes,
                lab_max_age_days=item.spec.lab_max_age_days,
                event_max_age_days=item.spec.event_max_age_days,
                lab_events=lab_events,
                memo=memo,
            )
            cards += follow_up(item, ctx, _evaluate_subject(item, ctx))
    return EvaluationResult(cards=tuple(cards))
