"""What the rules said about one drug: fired, pending (a qualifier to check) or not checkable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cards.context import Outcome, Subject
from cards.decisions import info, rank
from cards.loader import CompiledRule, DrugKnowledge
from cards.schema import DoseLevel

__all__ = ["Alternative", "Finding", "Plan", "protectiveness"]

# Among equally protective decisions, the one that resumes more cautiously leads.
_RESUME_RANK = {
    None: 0,
    "same": 1,
    "same-or-reduced": 2,
    "reduced": 3,
    "reduced-or-discontinue": 4,
    "per-protocol": 5,
}


@dataclass(frozen=True)
class Finding:
    """One rule's result for one subject."""

    rule: CompiledRule
    outcome: Outcome
    state: Literal["fired", "pending", "missing"]
    decision: str  # may differ from the rule's (e.g. reduce at the lowest level -> discontinue)
    note: str | None = None  # why the decision changed, or the computed dose
    target: DoseLevel | None = None  # the next dose level for reduced decisions (verified ladder)
    # "episode": the rule fired on an earlier value and its recovery criterion is not met yet;
    # "floor": the rule fires for a less severe state of this patient (an unconfirmed rule leads).
    # "resumed": the episode is over (recovery met) and a restart gets the rule's resumption.
    basis: Literal["now", "episode", "floor", "resumed"] = "now"
    since: datetime | None = None  # episode: when the rule last fired

    @property
    def actionable(self) -> bool:
        """May drive an automatic order change: confirmed rule, values judged on real ranges."""
        return self.state == "fired" and self.rule.spec.verified and not self.outcome.assumed


def _leaves(spec: Mapping[str, Any]) -> int:
    """How many facts a condition tree tests: more facts met, a more specific rule."""
    children = [*spec.get("all", ()), *spec.get("any", ()), *([spec["not"]] if "not" in spec else [])]
    return sum(_leaves(c) for c in children) if children else 1


def protectiveness(finding: Finding) -> tuple[int, int, int, int, int, int, int, str]:
    """Sort key: decision rank; what the data shows now before a less severe state (the floor); a rule
    that decides so itself before one turned into it (a reduction at the lowest level); the more
    cautious resumption; the more specific rule (more facts met); a confirmed rule before an
    unconfirmed one; the higher grade. The file's order of rules never decides."""
    spec = finding.rule.spec
    native = finding.decision == spec.decision or finding.basis == "resumed"
    return (
        rank(finding.decision),
        int(finding.basis != "floor"),
        int(native),
        _RESUME_RANK[spec.resume] if native else 0,
        _leaves(spec.when),
        int(spec.verified),
        max(finding.outcome.grades, default=0),
        spec.id,  # a stable last resort, independent of the file's order
    )


@dataclass(frozen=True)
class Alternative:
    """What one branch of unrecorded qualifiers would decide beyond the interim action."""

    when: str  # the branch in words, e.g. "no cholestasis, no hemolysis"
    finding: Finding
    brief: str = ""  # the same branch in the short labels, for the summary

    @property
    def short(self) -> str:
        """The branch in the fewest words (the summary's condition)."""
        return self.brief or self.when


@dataclass(frozen=True)
class Plan:
    """Findings of one category for one subject, ready to render as one card."""

    knowledge: DrugKnowledge
    subject: Subject
    category: str
    fired: tuple[Finding, ...]
    pending: tuple[Finding, ...] = ()
    missing: tuple[str, ...] = ()
    alternatives: tuple[Alternative, ...] = ()  # branch decisions more protective than the interim

    @property
    def lead(self) -> Finding:
        """The most protective fired finding, else the most protective pending one. Between equally
        protective decisions on one toxicity, the current worse state leads over an earlier episode
        (grade 3 held since 5 March, grade 4 now: the headline names grade 4; the confirmed grade 3
        rule still gives the order change, see `actor`)."""
        pool = self.fired or self.pending
        best = max(pool, key=protectiveness)
        if best.basis != "episode":
            return best
        worse = [
            f
            for f in pool
            if f.basis == "now"
            and rank(f.decision) == rank(best.decision)
            and set(f.outcome.terms) & set(best.outcome.terms)
            and max(f.outcome.grades, default=0) > max(best.outcome.grades, default=0)
        ]
        return max(worse, key=protectiveness) if worse else best

    @property
    def actor(self) -> Finding | None:
        """The finding whose order change the card offers: the lead, or when the lead is not confirmed,
        the most protective confirmed finding that changes the order (an unconfirmed rule may add
        caution, never take away the action a confirmed rule gives)."""
        if not self.fired:
            return None
        lead = self.lead
        if lead.actionable:
            return lead
        pool = [f for f in self.fired if f.actionable and info(f.decision).action != "none"]
        return max(pool, key=protectiveness) if pool else None

    @property
    def decision(self) -> str:
        """The card's decision ('check' when only pending findings exist)."""
        return self.lead.decision if self.fired else "check"
