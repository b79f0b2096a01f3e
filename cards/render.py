"""Plans -> CDS cards: summary, indicator, Markdown detail with evidence, source and links."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from cards.context import Row, fmt_date
from cards.decisions import info, phrase
from cards.dosing import describe
from cards.findings import Finding, Plan
from cards.model import Card, Coding, EvaluationRequest, Link, RenderedCard, Source
from cards.schedule import monitoring_dates
from cards.suggestions import alternatives_only, build_suggestions
from terminology.analytes import get_analyte

__all__ = ["OVERRIDE_REASONS", "RULE_SYSTEM", "render", "render_missing"]

RULE_SYSTEM = "https://toxhooks.org/fhir/CodeSystem/rule"
_OVERRIDE_SYSTEM = "https://toxhooks.org/fhir/CodeSystem/override-reason"
OVERRIDE_REASONS: tuple[Coding, ...] = (
    Coding(system=_OVERRIDE_SYSTEM, code="benefit-outweighs-risk", display="Benefit outweighs risk"),
    Coding(system=_OVERRIDE_SYSTEM, code="already-managed", display="Already managed"),
    Coding(system=_OVERRIDE_SYSTEM, code="data-out-of-date", display="Data out of date or wrong"),
    Coding(system=_OVERRIDE_SYSTEM, code="not-applicable", display="Does not apply to this patient"),
)

_RESUME = {
    "same": "then resume at the same dose",
    "reduced": "then resume at a reduced dose",
    "same-or-reduced": "then resume at the same or a reduced dose",
    "reduced-or-discontinue": "then resume at a reduced dose or discontinue permanently",
}


def _grade(plan: Plan) -> int | None:
    lead = plan.lead
    grades = lead.outcome.grades or tuple(g for f in plan.fired for g in f.outcome.grades)
    return max(grades) if grades and lead.rule.spec.grade_in_summary else None


def _indicator(plan: Plan, grade: int | None) -> str:
    decision = plan.decision
    if decision == "withhold" and grade is not None and grade >= 3:
        return "critical"
    found = info(decision).indicator
    if found == "info" and any(info(a.finding.decision).action != "none" for a in plan.alternatives):
        return "warning"  # an answer to the deciding check changes the order: never a mere note
    return found


def _event(plan: Plan, grade: int | None, short: bool = False) -> str:
    """The summary's event: label, grade, and for an open episode when and what is still missing."""
    lead = plan.lead
    text = lead.rule.spec.event + (f" grade {grade}" if grade is not None else "")
    if lead.basis == "resumed":
        text += f" on {fmt_date(lead.since)}, recovered"
    if lead.basis == "episode":
        text += f" on {fmt_date(lead.since)}"
        if plan.fired and lead.rule.recovery is not None:
            until = lead.rule.spec.until if lead.rule.spec.until and not short else "recovered"
            text += f", not yet {until}"
    return text


def _unconfirmed_reduction(finding: Finding) -> bool:
    """A reduction from an unconfirmed row: worded without a dose number."""
    spec = finding.rule.spec
    reduces = finding.decision == "resume-reduced" or (
        finding.decision == "withhold" and spec.resume == "reduced"
    )
    return reduces and not spec.verified


def _turned_permanent(finding: Finding) -> bool:
    """A reduction that became a permanent stop (already at the lowest dose level): no until, no resume."""
    return finding.decision != finding.rule.spec.decision and info(finding.decision).permanent


def _summary_text(plan: Plan, grade: int | None, short: bool) -> str:
    lead = plan.lead
    title = plan.knowledge.spec.title
    event = _event(plan, grade, short)
    words = phrase(plan.decision)
    if plan.decision == "check":
        words = f"check before deciding ({phrase(lead.decision)} if confirmed)"
        if plan.alternatives:
            first = plan.alternatives[0]
            words = f"check before deciding ({phrase(first.finding.decision)} if {first.when})"
        if lead.outcome.stale is not None:  # the grade is out of date, not merely unqualified
            event += f" last recorded {fmt_date(lead.outcome.stale)}"
            words = f"check before deciding ({phrase(lead.decision)} if still current)"
    elif plan.alternatives:
        first = plan.alternatives[0]
        other = first.finding.rule.spec.event
        about = f" ({other})" if other != lead.rule.spec.event and not short else ""
        return f"{title}: {event}: {words} now; {phrase(first.finding.decision)} if {first.when}{about}"
    if lead.target is not None:
        unit = plan.knowledge.spec.dose_ladder.unit if plan.knowledge.spec.dose_ladder else "mg"
        level = describe(lead.target.dose, lead.target.per_day, unit)
        words = (
            f"resume at {level}" if plan.decision == "resume-reduced" else f"{words}, then resume at {level}"
        )
    elif _unconfirmed_reduction(lead):
        reduced = "resume at a reduced dose per the prescribing information"
        words = reduced if plan.decision == "resume-reduced" else f"{words}, then {reduced}"
    elif lead.basis == "resumed" and lead.rule.spec.resume:
        words = _RESUME[lead.rule.spec.resume].removeprefix("then ")
    elif lead.note and plan.decision == "discontinue":
        words += f" ({lead.note})"
    elif plan.decision == "withhold" and lead.rule.spec.resume == "same":
        words += ", then resume at the same dose"
    return f"{title}: {event}: {words}"


def _summary(plan: Plan, grade: int | None) -> str:
    """At most 139 characters: the recovery criterion is left to the detail when it does not fit."""
    text = _summary_text(plan, grade, short=False)
    if len(text) >= 140:
        text = _summary_text(plan, grade, short=True)
    return text if len(text) < 140 else text[:136].rstrip() + "..."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: Sequence[Row]) -> list[str]:
    if not rows:
        return []
    lines = [
        "| Observation | Value | ULN/baseline multiple | CTCAE term | Grade | CTCAE version | Date |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in dict.fromkeys(rows):
        grade = "" if row.grade is None else str(row.grade)
        cells = (row.observation, row.value, row.multiple, row.term, grade, row.version, row.date)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _finding_line(finding: Finding) -> str:
    spec = finding.rule.spec
    if finding.basis == "resumed" and spec.resume:
        resume = _RESUME[spec.resume].removeprefix("then ")
        since = f"met on {fmt_date(finding.since)}, recovered since ({spec.until or 'criterion met'})"
        return f"- {spec.title}: **{resume}** ({since}) (rule `{spec.id}`)"
    text = f"- {spec.title}: **{phrase(finding.decision)}**"
    if spec.until and not _turned_permanent(finding):
        text += f" until {spec.until}"
    if spec.resume and not _turned_permanent(finding):
        text += f", {_RESUME[spec.resume]}"
    if finding.basis == "episode" and finding.rule.recovery is None:
        text += f" (met on {fmt_date(finding.since)}: permanent, a later improvement does not lift it)"
    elif finding.basis == "episode":
        text += f" (held since {fmt_date(finding.since)}: the recovery criterion is not met yet)"
    if finding.note:
        text += f" ({finding.note})"
    return text + f" (rule `{spec.id}`)"


def _detail(plan: Plan, request: EvaluationRequest) -> str:
    spec = plan.knowledge.spec
    lead = plan.lead
    lines = [f"**{spec.title}: {phrase(plan.decision)}**", ""]
    if plan.fired:  # a pending lead is shown under "Check" with its condition
        lines.append(_finding_line(lead))
    if lead.rule.spec.advice and not _turned_permanent(lead):  # its advice is about resuming
        lines.append(f"  {lead.rule.spec.advice}")
    actor = plan.actor
    if not lead.rule.spec.verified and actor is not None:
        lines.append(
            "  Not confirmed in the sources held here: the order change offered is the one of the"
            f" confirmed rule `{actor.rule.spec.id}` ({actor.note or 'also met'}), never less."
        )
    elif not lead.rule.spec.verified:
        lines.append(
            "  Not confirmed in the sources held here: no order change is suggested"
            " (follow the prescribing information or the protocol)."
        )
    elif lead.decision in ("withhold", "resume-reduced") and lead.rule.spec.resume and not spec.dose_ladder:
        lines.append("  Dose changes per the prescribing information: dose levels not confirmed here.")
    if lead.outcome.assumed:
        lines.append(
            "  Not confirmed: a value was judged against a default reference range,"
            " so no order change is suggested:"
        )
        lines += [f"  - {a}" for a in lead.outcome.assumed]
    lines.append("")
    others = [f for f in plan.fired if f is not lead]
    if others:
        lines += ["Also found (listed as evidence):", *[_finding_line(f) for f in others]]
        lines += [f"  {f.rule.spec.advice}" for f in others if f.rule.spec.advice]
        lines.append("")
    episodes = [f for f in plan.fired if f.basis == "episode" and (f.outcome.missing or f.outcome.checks)]
    if episodes:
        lines.append("Recovery not shown yet (a later value must show it):")
        lines += [f"- {m}" for f in episodes for m in (*f.outcome.missing, *f.outcome.checks)]
        lines.append("")
    checks = [c for f in plan.pending for c in f.outcome.checks] + [
        c for f in plan.fired for c in f.rule.spec.checks
    ]
    if plan.alternatives:
        shared = "the action above holds either way" if plan.fired else "no action is shared by the answers"
        lines.append(f"Deciding check (not recorded; {shared}):")
        lines += [f"- {c}" for c in dict.fromkeys(checks)]
        lines += [f"  - if {a.when}: {_finding_line(a.finding)[2:]}" for a in plan.alternatives]
        lines.append("")
    elif plan.pending or checks:
        lines.append("Check (not recorded, so no branch was picked):")
        lines += [f"- {c}" for c in dict.fromkeys(checks)]
        lines += [f"  - if confirmed: {_finding_line(f)[2:]}" for f in plan.pending]
        lines.append("")
    if plan.category == "monitor":
        lines += _schedule(plan, request)
    wanted = {item for f in plan.fired for item in f.rule.spec.suggest}
    advice = [p for p in spec.prophylaxis if p.id in wanted]
    if advice:
        lines.append("Supportive care:")
        lines += [f"- {p.display}: {p.instructions}" for p in advice]
        lines.append("")
    rows = [r for f in (*plan.fired, *plan.pending) for r in f.outcome.rows]
    if rows:
        lines += ["Evidence:", "", *_table(rows), ""]
    protocols = [p for p in spec.desensitization if any(f.rule.spec.protocols for f in plan.fired)]
    if protocols and plan.decision == "desensitize":
        # Offered protocols are alternatives; a published failure is evidence, never a choice.
        for heading, group in (
            ("Published desensitization protocols (alternatives):", [p for p in protocols if p.offer]),
            ("Published failure (evidence, not offered):", [p for p in protocols if not p.offer]),
        ):
            if not group:
                continue
            lines.append(heading)
            for p in group:
                extra = "; ".join(x for x in (p.setting, p.adjuncts, p.outcome) if x)
                flag = (
                    "" if p.verified else " (intermediate steps not confirmed: complete per the publication)"
                )
                lines.append(f"- {p.label}: {p.summary}{flag}" + (f" [{extra}]" if extra else ""))
            lines.append("")
    if plan.missing:
        lines.append("Not checked, data missing:")
        lines += missing_lines(plan.missing)
        lines.append("")
    if request.unavailable:
        lines.append(f"Could not be obtained: {', '.join(request.unavailable)}.")
        lines.append("")
    # Cite what the card shows: the rules, and the supportive items, schedules and protocols listed.
    shown = (*plan.fired, *plan.pending, *(a.finding for a in plan.alternatives))
    refs = dict.fromkeys(f.rule.spec.source for f in shown)
    refs.update(dict.fromkeys(p.source for p in advice))
    if plan.category == "monitor":
        refs.update(dict.fromkeys(m.source for m in spec.monitoring))
    if protocols and plan.decision == "desensitize":
        refs.update(dict.fromkeys(p.source for p in protocols))
    lines.append("Sources:")
    for ref_id in refs:
        ref = spec.references[ref_id]
        mark = "" if ref.verified else " (not confirmed)"
        lines.append(f"- {ref.citation}{mark} <{ref.url}>")
    lines.append(f"\nKnowledge: {spec.drug} {spec.version}.")
    return "\n".join(lines).strip()


def _schedule(plan: Plan, request: EvaluationRequest) -> list[str]:
    start = plan.subject.therapy_start or request.now
    lines = [f"Schedule from the therapy start ({start.date().isoformat()}), dates from today on:"]
    for item in plan.knowledge.spec.monitoring:
        dates = monitoring_dates(item, start.date(), request.now.date())
        shown = ", ".join(d.isoformat() for d in dates) or "none left in the schedule"
        note = f" ({item.note})" if item.note else ""
        lines.append(f"- {item.display}: {shown}{note}")
    return [*lines, ""]


def _dedupe_key(plan: Plan, rule_ids: tuple[str, ...]) -> str:
    order = plan.subject.order
    content: object = None
    if order is not None:
        resource = order.resource
        content = {
            "medication": resource.get("medicationCodeableConcept") or resource.get("medicationReference"),
            "dosage": resource.get("dosageInstruction"),
            "status": None if order.is_draft else order.status,
        }
    payload = json.dumps(
        [plan.subject.drug, plan.decision, sorted(rule_ids), content], sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def render(plan: Plan, request: EvaluationRequest) -> RenderedCard:
    """One card for one plan."""
    lead = plan.lead
    grade = _grade(plan)
    suggestions = build_suggestions(plan, request)
    shown = (*plan.fired, *plan.pending, *(a.finding for a in plan.alternatives))
    rule_ids = tuple(dict.fromkeys(f.rule.spec.id for f in shown))
    ref = plan.knowledge.spec.references[lead.rule.spec.source]
    links = None
    if request.links.smart_launch_url:
        context = json.dumps(
            {"patient": request.patient_id, "drug": plan.subject.drug, "rule": lead.rule.spec.id}
        )
        links = (
            Link(
                label="Toxicity timeline",
                url=request.links.smart_launch_url,
                type="smart",
                appContext=context,
            ),
        )
    behaviour = None
    if suggestions:
        # Protocols and alternative agents exclude each other; supportive orders combine.
        exclusive = bool(plan.alternatives) or any(info(f.decision).choices for f in plan.fired)
        exclusive = (exclusive and plan.category == "management") or alternatives_only(plan)
        behaviour = "at-most-one" if exclusive else "any"
    card = Card(
        summary=_summary(plan, grade),
        detail=_detail(plan, request),
        indicator=_indicator(plan, grade),
        source=Source(
            label=ref.label,
            url=ref.url,
            topic=Coding(system=RULE_SYSTEM, code=lead.rule.spec.id, display=lead.rule.spec.title[:100]),
        ),
        suggestions=suggestions or None,
        selectionBehavior=behaviour,
        overrideReasons=OVERRIDE_REASONS,
        links=links,
    )
    return RenderedCard(
        card=card,
        drug=plan.subject.drug,
        decision=plan.decision,
        rule_ids=rule_ids,
        dedupe_key=_dedupe_key(plan, rule_ids),
    )


# A missing item reads "<subject> (<why>; needed for <check>)": one line per subject and reason
# lists every check it blocks, instead of one line per check.
_MISSING = re.compile(r"^(?P<subject>[^(]+?) \((?P<why>.*); needed for (?P<check>[^;]*)\)$")


def _subject_name(subject: str) -> str:
    """An analyte id as a clinician reads it ("alt" -> "ALT (Alanine aminotransferase)")."""
    analyte = get_analyte(subject)
    if analyte is None:
        return subject
    return f"{subject.upper()} ({analyte.display})" if len(subject) <= 3 else analyte.display


def missing_lines(missing: Sequence[str]) -> list[str]:
    """Markdown bullets of missing data, grouped by what is missing and why."""
    grouped: dict[tuple[str, str], list[str]] = {}
    lines: list[str] = []
    for item in missing:
        found = _MISSING.match(item)
        if found is None:
            lines.append(f"- {item}")
            continue
        checks = grouped.setdefault((found["subject"], found["why"]), [])
        if found["check"] not in checks:
            checks.append(found["check"])
    grouped_lines = [
        f"- {_subject_name(subject)}: {why}; needed for {', '.join(checks)}"
        for (subject, why), checks in grouped.items()
    ]
    return grouped_lines + lines


def render_missing(plan: Plan, request: EvaluationRequest) -> RenderedCard:
    """An info card naming the data that was missing, so rules could not be checked."""
    spec = plan.knowledge.spec
    ids = sorted({m.split(" (")[0] for m in plan.missing})
    names = [n.upper() if len(n) <= 3 else n for n in ids]  # ALT, AST, CK read better than ids
    summary = f"{spec.title}: rules not checked, missing {', '.join(names)}"
    lines = [f"**{spec.title}: data missing, these checks were not run**", ""]
    lines += missing_lines(plan.missing)
    if request.unavailable:
        lines += ["", f"Could not be obtained: {', '.join(request.unavailable)}."]
    lines += ["", f"Knowledge: {spec.drug} {spec.version}."]
    ref = next(iter(spec.references.values()))
    card = Card(
        summary=summary if len(summary) < 140 else summary[:136] + "...",
        detail="\n".join(lines),
        indicator="info",
        source=Source(
            label=ref.label, url=ref.url, topic=Coding(system=RULE_SYSTEM, code=f"{spec.drug}.data-missing")
        ),
        overrideReasons=OVERRIDE_REASONS,
    )
    rule_ids = (f"{spec.drug}.data-missing",)
    key = hashlib.sha256(
        json.dumps([plan.subject.drug, "data-missing", sorted(plan.missing)]).encode()
    ).hexdigest()[:32]
    return RenderedCard(
        card=card, drug=plan.subject.drug, decision="data-missing", rule_ids=rule_ids, dedupe_key=key
    )
