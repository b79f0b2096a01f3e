"""Suggestions with FHIR actions for a card, by decision and hook."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from cards.actions import (
    DESENSITIZATION_SYSTEM,
    change_status,
    delete_draft,
    dosage,
    medication_request,
    monitoring_order,
    reduce_draft,
    service_request,
)
from cards.decisions import info, phrase
from cards.dosing import in_order_units
from cards.findings import Finding, Plan
from cards.model import Action, EvaluationRequest, Suggestion
from cards.schedule import desensitization_steps, monitoring_dates
from cards.schema import DesensitizationProtocol
from cards.switching import switch_suggestions
from terminology.model import MedicationOrder

__all__ = ["alternatives_only", "build_suggestions"]

_FREQUENCY = {1: "once daily", 2: "twice daily", 3: "three times daily"}
_OPEN = ("active", "on-hold")  # orders still in force (a held order resumes unless stopped)


def _drug_concept(plan: Plan) -> tuple[str | None, str]:
    """RxNorm ingredient (only when confirmed) and display for new orders of the subject drug."""
    ident = plan.knowledge.spec.identity
    code = ident.rxnorm[0] if ident.rxnorm and ident.verified else None
    return code, ident.names[0]


def _group(order: MedicationOrder) -> tuple[str, str] | None:
    """The order's groupIdentifier (system, value), e.g. the step orders of one desensitization."""
    raw = order.resource.get("groupIdentifier")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("value"), str):
        return None
    system = raw.get("system")
    return (system if isinstance(system, str) else "", raw["value"])


def _course(plan: Plan, request: EvaluationRequest, order: MedicationOrder) -> list[MedicationOrder]:
    """The order and every open order of the same drug in its group (all steps of a desensitization).

    Stopping only the latest step would leave the next steps to start on their dates.
    """
    group = _group(order)
    if group is None:
        return [order]
    out = [order]
    seen = {order.reference}
    for other in (*request.draft_orders, *request.facts.medications):
        if other.reference in seen or _group(other) != group:
            continue
        if not other.drug or other.drug.drug != plan.subject.drug:
            continue
        if other.is_draft or other.status in _OPEN:
            out.append(other)
            seen.add(other.reference)
    return out


def _stop_actions(plan: Plan, request: EvaluationRequest, decision: str) -> tuple[Action, ...]:
    order = plan.subject.order
    if order is None:
        return ()
    title = plan.knowledge.spec.title
    status = "stopped" if info(decision).action == "stop" else "on-hold"
    out: list[Action] = []
    for item in _course(plan, request, order):
        if item.is_draft:
            out.append(delete_draft(item, f"Remove the draft {title} order ({item.reference})."))
        elif item.status == "active" or (item.status in _OPEN and status == "stopped"):
            out.append(change_status(item, status, f"Set the {title} order {item.reference} to {status}."))
    return tuple(out)


def _protocol_suggestion(
    plan: Plan, request: EvaluationRequest, protocol: DesensitizationProtocol, stop: tuple[Action, ...]
) -> Suggestion:
    code, display = _drug_concept(plan)
    first_day = request.now.date() + timedelta(days=1)
    group = (DESENSITIZATION_SYSTEM, f"{plan.subject.drug}-{protocol.id}-{first_day.isoformat()}")
    actions = list(stop)
    if protocol.verified and protocol.steps:
        for number, step in enumerate(desensitization_steps(protocol, first_day), start=1):
            if len(set(step.doses)) == 1:
                dosages = [dosage(step.doses[0], len(step.doses), start=step.start, end=step.end)]
            else:
                dosages = [
                    dosage(amount, 1, start=step.start, end=step.end, when=when)
                    for amount, when in zip(step.doses, ("MORN", "EVE", "NIGHT"), strict=False)
                ]
            until = f" to {step.end.isoformat()}" if step.end else " onwards"
            actions.append(
                medication_request(
                    patient_id=request.patient_id,
                    description=f"Step {number}: {dosages[0]['text']}"
                    + (f" + {dosages[1]['text']}" if len(dosages) > 1 else "")
                    + f", {step.start.isoformat()}{until}.",
                    rxnorm=code,
                    display=display,
                    dosages=dosages,
                    group=group,
                    note=f"Desensitization step {number} ({protocol.label}).",
                )
            )
        return Suggestion(label=protocol.label[:80], isRecommended=False, actions=tuple(actions))
    # Intermediate steps not confirmed: a placeholder order the prescriber completes, no doses.
    actions.append(
        medication_request(
            patient_id=request.patient_id,
            description=f"Draft desensitization order to complete per the publication: {protocol.summary}",
            rxnorm=code,
            display=display,
            instructions=f"Desensitization per {protocol.label}: {protocol.summary}",
            validity=(first_day, None),
            group=group,
        )
    )
    return Suggestion(label=protocol.label[:80], isRecommended=False, actions=tuple(actions))


def _order_change(
    plan: Plan, request: EvaluationRequest, finding: Finding, label: str = ""
) -> Suggestion | None:
    """The order change of a confirmed finding (stop, hold or reduce the subject order), if any."""
    title = plan.knowledge.spec.title
    kind = info(finding.decision).action
    if kind in ("stop", "hold") and finding.decision != "switch-agent":
        actions = _stop_actions(plan, request, finding.decision)
        if not actions:
            return None
        verb = "Stop" if kind == "stop" else "Withhold"
        return Suggestion(label=(label or f"{verb} {title}")[:80], isRecommended=not label, actions=actions)
    order = plan.subject.order
    if kind == "reduce" and order is not None and order.is_draft:
        target = finding.target
        ladder = plan.knowledge.spec.dose_ladder
        if target and ladder and ladder.verified:
            amount, per_day = target.dose, target.per_day
            text = f"{amount:g} {ladder.unit}"
            ordered = order.dose
            units = in_order_units(ordered, amount) if ladder.unit == "mg" else None
            freq = _FREQUENCY.get(int(per_day), f"{per_day:g} times daily")
            description = f"Reduce {title} to {{}} {freq} (next dose level)."
            if units is not None:  # written in the order's own unit too: "3 capsules (450 mg)"
                form = ordered.count_form or "unit"
                text = f"{units:g} {form}{'s' if units != 1 else ''} ({text})"
            elif ordered.count is not None and ordered.strength_mg:
                # 120 mg of 90 mg tablets: written in mg, and the product must change too.
                description += (
                    f" {amount:g} {ladder.unit} is not a whole number of {ordered.strength_mg:g} mg "
                    f"{ordered.count_form or 'unit'}s: choose a product strength that gives it."
                )
            change = reduce_draft(
                order,
                amount,
                per_day,
                ladder.unit,
                description.format(text),
                units=units,
            )
            return Suggestion(
                label=(label or f"Change the draft to {text} {freq}")[:80],
                isRecommended=not label,
                actions=(change,),
            )
    return None


def _management(plan: Plan, request: EvaluationRequest) -> tuple[Suggestion, ...]:
    decision = plan.decision
    out: list[Suggestion] = []
    # Unconfirmed rules, and values judged against a default reference range, change no order; when
    # an unconfirmed rule leads, the confirmed finding below it (the actor) keeps its order change.
    actor = plan.actor
    if actor is not None and (change := _order_change(plan, request, actor)) is not None:
        out.append(change)
    # Decisions under uncertainty: each branch's further action, as an alternative to choose.
    for alternative in plan.alternatives:
        if alternative.finding.actionable:
            verb = phrase(alternative.finding.decision)
            label = f"If {alternative.when}: {verb}"
            if (change := _order_change(plan, request, alternative.finding, label)) is not None:
                out.append(change)
    if any(f.rule.spec.protocols for f in plan.fired) and decision == "desensitize":
        stop = _stop_actions(plan, request, "withhold")
        for protocol in plan.knowledge.spec.desensitization:
            if protocol.offer:
                out.append(_protocol_suggestion(plan, request, protocol, stop))
    alternatives = [s for f in plan.fired for s in f.rule.spec.suggest]
    if any(f.decision in ("contraindicated", "switch-agent") for f in plan.fired):
        stop = _stop_actions(plan, request, "discontinue")  # switching ends this drug
        out += switch_suggestions(
            plan.knowledge.spec.co_medications, plan.knowledge.alternatives, alternatives, stop, request
        )
    out += _supportive(plan, request, alternatives)
    out += _referrals(plan, request)
    return tuple(out)


def _supportive(plan: Plan, request: EvaluationRequest, wanted: list[str]) -> list[Suggestion]:
    out: list[Suggestion] = []
    today = request.now.date()
    for item in plan.knowledge.spec.prophylaxis:
        if item.id not in wanted or not item.order:
            continue
        end = today + timedelta(days=item.duration_days - 1) if item.duration_days else None
        action = medication_request(
            patient_id=request.patient_id,
            description=f"Draft order: {item.display}. {item.instructions}",
            rxnorm=item.rxnorm if item.code_verified else None,
            display=item.display,
            instructions=item.instructions,
            validity=(today, end),
        )
        label = f"Order {item.display}"
        others = [p.display for p in plan.knowledge.spec.prophylaxis if p.id in item.alternatives]
        if others:  # alternatives: one to pick, each its own suggestion
            label += f" (or {', '.join(others)})"
        out.append(Suggestion(label=label[:80], isRecommended=not others, actions=(action,)))
    return out


def alternatives_only(plan: Plan) -> bool:
    """The card's suggestions are orders of supportive items that are all alternatives to each other
    (doxycycline or minocycline): the clinician picks at most one."""
    if plan.category != "prophylaxis":
        return False
    wanted = {s for f in plan.fired for s in f.rule.spec.suggest}
    offered = [p for p in plan.knowledge.spec.prophylaxis if p.id in wanted and p.order]
    return len(offered) > 1 and all(
        other.id in item.alternatives for item in offered for other in offered if other is not item
    )


def _referrals(plan: Plan, request: EvaluationRequest) -> list[Suggestion]:
    """Referrals named by the fired rules, as draft ServiceRequests (coded only when confirmed)."""
    # A resumption after recovery needs no new referral: the episode that asked for one is over.
    wanted = {r for f in plan.fired if f.basis != "resumed" for r in f.rule.spec.refer}
    out: list[Suggestion] = []
    for item in plan.knowledge.spec.referrals:
        if item.id not in wanted:
            continue
        action = service_request(
            patient_id=request.patient_id,
            description=f"Draft referral: {item.display}.",
            display=item.display,
            loinc=None,
            snomed=item.snomed if item.code_verified else None,
            dates=(),
            note=item.note,
        )
        out.append(Suggestion(label=item.display[:80], isRecommended=True, actions=(action,)))
    return out


def _monitoring(plan: Plan, request: EvaluationRequest) -> tuple[Suggestion, ...]:
    start = plan.subject.therapy_start.date() if plan.subject.therapy_start else request.now.date()
    today = request.now.date()
    actions: list[Action] = []
    for item in plan.knowledge.spec.monitoring:
        dates: tuple[date, ...] = monitoring_dates(item, start, today)
        if not dates:
            continue
        actions.append(monitoring_order(item, request.patient_id, dates))
    if not actions:
        return ()
    return (Suggestion(label="Order the monitoring schedule", isRecommended=True, actions=tuple(actions)),)


def build_suggestions(plan: Plan, request: EvaluationRequest) -> tuple[Suggestion, ...]:
    """The card's suggestions; unconfirmed rules and values never produce a dose-changing action."""
    if plan.category == "management":
        return _management(plan, request)
    if plan.category == "monitor":
        return _monitoring(plan, request)
    if plan.category == "prophylaxis":
        return tuple(_supportive(plan, request, [s for f in plan.fired for s in f.rule.spec.suggest]))
    return ()
