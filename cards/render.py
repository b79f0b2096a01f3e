"""Plans -> CDS cards: summary, indicator, Markdown detail with evidence, source and links."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from cards.context import Row, fmt_date
from cards.decisions import info, phrase
from cards.dosing import describe
from cards.findings import Alternative, Finding, Plan
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
    "per-protocol": "then decide rechallenge or discontinuation per the protocol (no source-specific rule)",
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


def _summary_parts(plan: Plan, grade: int | None, level: int) -> tuple[str, str]:
    """(what happened, what to do) for the summary; a higher `level` words both more briefly:
    1 leaves the recovery criterion and the branch's event to the detail, 2 names the deciding
    condition by its short label, 3 drops parenthetical remarks from the decision, 4 leaves the date
    of an earlier episode to the detail."""
    short = level >= 1
    lead = plan.lead
    title = plan.knowledge.spec.title
    event = f"{title}: {_event(plan, grade, short)}"
    words = _summary_words(plan, level)
    if level >= 3:
        words = re.sub(r" \([^()]*\)", "", words)
    if plan.decision == "check" and lead.outcome.stale is not None:  # the grade is out of date
        event += f" last recorded {fmt_date(lead.outcome.stale)}"
    if level >= 4:
        event = re.sub(r" on \d{4}-\d{2}-\d{2}", "", event)
    return event, words


def _summary_words(plan: Plan, level: int) -> str:
    lead = plan.lead
    short = level >= 1

    def condition(alternative: Alternative) -> str:
        return alternative.short if level >= 2 else alternative.when

    words = phrase(plan.decision)
    if plan.decision == "check":
        words = f"check before deciding ({phrase(lead.decision)} if confirmed)"
        if plan.alternatives:
            first = plan.alternatives[0]
            words = f"check before deciding ({phrase(first.finding.decision)} if {condition(first)})"
        if lead.outcome.stale is not None:  # the grade is out of date, not merely unqualified
            words = f"check before deciding ({phrase(lead.decision)} if still current)"
    elif plan.alternatives:
        first = plan.alternatives[0]
        other = first.finding.rule.spec.event
        about = f" ({other})" if other != lead.rule.spec.event and not short else ""
        return f"{words} now; {phrase(first.finding.decision)} if {condition(first)}{about}"
    if lead.target is not None:
        unit = plan.knowledge.spec.dose_ladder.unit if plan.knowledge.spec.dose_ladder else "mg"
        dose = describe(lead.target.dose, lead.target.per_day, unit)
        words = (
            f"resume at {dose}" if plan.decision == "resume-reduced" else f"{words}, then resume at {dose}"
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
    return words


_SUMMARY_MAX = 139


def _summary(plan: Plan, grade: int | None) -> str:
    """At most 139 characters, worded more briefly until it fits (the recovery criterion and remarks
    are left to the detail, the condition named by its short label). The decision and its condition
    are never cut: when even the briefest wording is too long, what happened is shortened at a word."""
    for level in range(5):
        event, words = _summary_parts(plan, grade, level)
        text = f"{event}: {words}"
        if len(text) <= _SUMMARY_MAX:
            return text
    room = _SUMMARY_MAX - len(words) - len("...: ")
    if room >= 12:
        cut = event[:room].rsplit(" ", 1)[0].rstrip(",:;")
        return f"{cut}...: {words}"
    return words[: _SUMMARY_MAX - 3].rsplit(" ", 1)[0] + "..."


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _what(finding: Finding, start: bool = True) -> str:
    """A finding's decision in bold, with its until/resume criterion and its dose note (capitalised
    when it starts a sentence)."""
    cap = _cap if start else str
    spec = finding.rule.spec
    note = f" ({finding.note})" if finding.note else ""
    resumption = finding.basis == "resumed" or (
        info(finding.decision).resumes and finding.decision != spec.decision
    )
    if resumption and spec.resume:  # the rule's own resumption, in full ("... or discontinue permanently")
        resume = cap(_RESUME[spec.resume].removeprefix("then "))
        if finding.since is None:
            return f"**{resume}**{note}"
        since = f"met on {fmt_date(finding.since)}, recovered since ({spec.until or 'criterion met'})"
        return f"**{resume}** ({since}){note}"
    text = f"**{cap(phrase(finding.decision))}**"
    if spec.until and not _turned_permanent(finding):
        text += f" until {spec.until}"
    if spec.resume and not _turned_permanent(finding):
        text += f", {_RESUME[spec.resume]}"
    return text + note


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _latest_date(finding: Finding) -> str:
    dates = [r.date for r in finding.outcome.rows if r.date and r.date != "?"]
    return max(dates) if dates else ""


def _what_line(plan: Plan) -> str:
    """Line 1: the decision and what to do (advice, dose caveat, options to choose from)."""
    lead = plan.lead
    spec = lead.rule.spec
    if not plan.fired:
        return "**Check before deciding**: nothing is changed until the check below is answered."
    parts = [_sentence(_what(lead))]
    if spec.advice and not _turned_permanent(lead):  # its advice is about resuming
        parts.append(_sentence(spec.advice))
    knowledge = plan.knowledge.spec
    reduces = lead.decision in ("withhold", "resume-reduced") and spec.resume
    if spec.verified and reduces and not knowledge.dose_ladder:
        parts.append("Dose per the prescribing information (dose levels not confirmed here).")
    if plan.decision == "desensitize" and any(f.rule.spec.protocols for f in plan.fired):
        offered = [p for p in knowledge.desensitization if p.offer]
        failed = [p.label for p in knowledge.desensitization if not p.offer]
        if offered:
            parts.append("Choose one published protocol from the suggestions (steps in their orders).")
        if failed:
            parts.append(f"Not offered, published failure: {'; '.join(failed)}.")
    wanted = {item for f in plan.fired for item in f.rule.spec.suggest}
    advice_only = [p.display for p in knowledge.prophylaxis if p.id in wanted and not p.order]
    if advice_only:
        parts.append(f"Also advise: {'; '.join(advice_only)}.")
    return " ".join(parts)


def _why_line(plan: Plan) -> str:
    """Line 2: the lead rule's criterion with the date it was met, and any caution about its basis."""
    lead = plan.lead
    spec = lead.rule.spec
    text = f"Why: {spec.title}"
    if lead.basis == "episode" and lead.rule.recovery is None:
        text += f", met on {fmt_date(lead.since)}: permanent, a later improvement does not lift it"
    elif lead.basis == "episode":
        text += f", held since {fmt_date(lead.since)}: the recovery criterion is not met yet"
    elif lead.basis != "resumed" and (when := _latest_date(lead)):
        text += f" (as of {when})"
    parts = [_sentence(text)]
    actor = plan.actor
    if not spec.verified and actor is not None:
        parts.append(
            "Not confirmed in the sources held here: the order change offered is the one of the"
            f" confirmed rule `{actor.rule.spec.id}` ({actor.note or 'also met'}), never less."
        )
    elif not spec.verified:
        parts.append(
            "Not confirmed in the sources held here: no order change is suggested"
            " (follow the prescribing information or the protocol)."
        )
    for other in _also_holding(plan):
        parts.append(f"Also met: {other.rule.spec.title}: {_what(other, False)}.")
    if lead.outcome.assumed:
        parts.append(
            "Not confirmed: judged against a default reference range, so no order change is suggested"
            f" ({'; '.join(lead.outcome.assumed)})."
        )
    return " ".join(parts)


def _check_line(plan: Plan) -> str | None:
    """Line 3: the deciding check (unrecorded qualifiers) and what each answer would decide."""
    lead = plan.lead
    checks = [
        *(c for f in plan.pending for c in f.outcome.checks),
        *(lead.outcome.checks if lead.basis == "episode" else ()),
        # Checks of findings the lead subsumes (same toxicity) are answered by the lead's own
        # conditions (a recorded qualifier): only the lead, the rule acting for it and other holds ask.
        *(
            c
            for f in (lead, *_also_holding(plan), *([plan.actor] if plan.actor else []))
            for c in f.rule.spec.checks
        ),
    ]
    listed = "; ".join(dict.fromkeys(checks))
    if plan.alternatives:
        shared = "the action above holds either way" if plan.fired else "no action is shared by the answers"
        branches = "; ".join(f"if {a.when}: {_what(a.finding, False)}" for a in plan.alternatives)
        return f"Deciding check (not recorded; {shared}): {listed}; {branches}."
    if plan.pending:
        branches = "; ".join(f"if confirmed: {_what(f, False)}" for f in plan.pending)
        unrecorded = any(f.outcome.open for f in plan.pending)
        heading = "Check (not recorded, so no branch was picked)" if unrecorded else "Check"
        return f"{heading}: {listed}; {branches}."
    return f"Check: {listed}." if listed else None


def _also_holding(plan: Plan) -> list[Finding]:
    """Other fired findings that hold the drug for another toxicity while the lead does not stop it for
    good: each has its own criterion to meet before a restart, so the card names it. Findings on the
    same toxicity are subsumed by the lead and left to the timeline."""
    lead = plan.lead
    if not plan.fired or info(lead.decision).permanent:
        return []
    terms = set(lead.outcome.terms)
    return [
        f
        for f in plan.fired
        if f is not lead and not terms & set(f.outcome.terms) and info(f.decision).action in ("hold", "stop")
    ]


def _shown(plan: Plan) -> tuple[Finding, ...]:
    """The findings that drove the card: the lead, the confirmed rule acting for it, other holds, the
    open branches."""
    found = [plan.lead, *_also_holding(plan)]
    if plan.actor is not None:
        found.append(plan.actor)
    found += [*plan.pending, *(a.finding for a in plan.alternatives)]
    return tuple({id(f): f for f in found}.values())


_GRADE_ONLY = re.compile(r"^grade \d+ \([^)]*\)$")  # "grade 3 (ctcae-grade extension)": the grade says it


def _evidence_line(row: Row) -> str:
    """One evidence row in a line: what, value (and ULN multiple), date, and the record it comes from."""
    what = row.term or row.observation
    if row.grade is not None:
        what += f" grade {row.grade}"
    value = "" if _GRADE_ONLY.match(row.value) else row.value
    if row.multiple:
        value = f"{value} ({row.multiple})" if value else row.multiple
    text = f"- {what}" + (f": {value}" if value else "")
    if row.date and row.date != "?":
        text += f" on {row.date}"
    return text.replace("\n", " ") + f" ({row.observation})"


def _evidence(plan: Plan) -> list[str]:
    rows = list(dict.fromkeys(r for f in _shown(plan) for r in f.outcome.rows))
    if not rows:
        return []
    versions = list(dict.fromkeys(r.version for r in rows if r.version))
    heading = f"Evidence (CTCAE {', '.join(versions)}):" if versions else "Evidence:"
    return [heading, *(_evidence_line(r) for r in rows)]


def _short_name(item: str) -> str:
    """What a missing item is about, by its display name ("ck (no value; ...)" -> "Creatine kinase")."""
    found = _MISSING.match(item)
    subject = found["subject"] if found else item.split(" (")[0]
    analyte = get_analyte(subject)
    if analyte is not None:
        return analyte.display
    return subject.upper() if len(subject) <= 3 else subject


def _missing(plan: Plan) -> list[str]:
    """Data missing for this decision in full; other rules not checked by name only (one line each)."""
    relevant = list(dict.fromkeys(m for f in _shown(plan) for m in f.outcome.missing))
    lines: list[str] = []
    if relevant:
        lines.append("Missing: " + "; ".join(line[2:] for line in missing_lines(relevant)) + ".")
    others = [m for m in plan.missing if m not in relevant]
    if others:
        names = "; ".join(dict.fromkeys(_short_name(m) for m in others))
        lines.append(f"Not checked, data missing: {names}.")
    return lines


def _link(label: str, url: str) -> str:
    """A Markdown link; brackets and parentheses escaped so the label and URL stay intact."""
    text = label.replace("[", "\\[").replace("]", "\\]")
    target = url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"[{text}]({target})"


def _source_line(plan: Plan, rule_ids: Sequence[str]) -> str:
    """One line: the lead rule's source (label and link) and the ids of the rules on the card."""
    ref = plan.knowledge.spec.references[plan.lead.rule.spec.source]
    mark = "" if ref.verified else " (not confirmed)"
    ids = ", ".join(f"`{r}`" for r in rule_ids)
    return f"Source: {_link(ref.label, ref.url)}{mark}; rule{'s' if len(rule_ids) > 1 else ''} {ids}."


def _detail(plan: Plan, request: EvaluationRequest, rule_ids: Sequence[str]) -> str:
    """What and why in at most three lines, the evidence rows that drove it, one source line.

    Protocol steps, other findings, every source and the full record are in the suggestions, their
    orders and the Toxicity timeline (the card's SMART link).
    """
    lines = [_what_line(plan), _why_line(plan)]
    if (check := _check_line(plan)) is not None:
        lines.append(check)
    lines = [line + "  " for line in lines[:-1]] + lines[-1:]  # hard line breaks in Markdown
    if plan.category == "monitor":
        lines += ["", *_schedule(plan, request)]
    if evidence := _evidence(plan):
        lines += ["", *evidence]
    notes = _missing(plan)
    if request.unavailable:
        notes.append(f"Could not be obtained: {', '.join(request.unavailable)}.")
    if notes:
        lines += ["", *(n + "  " for n in notes[:-1]), notes[-1]]
    lines += ["", _source_line(plan, rule_ids)]
    return "\n".join(lines)


def _schedule(plan: Plan, request: EvaluationRequest) -> list[str]:
    start = plan.subject.therapy_start or request.now
    lines = [f"Schedule from the therapy start ({start.date().isoformat()}), dates from today on:"]
    for item in plan.knowledge.spec.monitoring:
        dates = monitoring_dates(item, start.date(), request.now.date())
        shown = ", ".join(d.isoformat() for d in dates) or "none left in the schedule"
        lines.append(f"- {item.display}: {shown}")
    return lines


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
        detail=_detail(plan, request, rule_ids),
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
    ref = next(iter(spec.references.values()))
    lines = ["**Rules not checked**: the data they need is missing, so nothing was decided on them.", ""]
    lines += missing_lines(plan.missing)
    if request.unavailable:
        lines += ["", f"Could not be obtained: {', '.join(request.unavailable)}."]
    lines += ["", f"Source: {_link(ref.label, ref.url)}."]
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
