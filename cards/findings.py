"""What the rules said about one drug: fired, pending (a qualifier to check) or not checkable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cards.context import Outcome, Subject
from cards.loader import CompiledRule, DrugKnowledge
from cards.schema import DECISIONS, DoseLevel

__all__ = ["CATEGORY", "Finding", "Plan", "severity"]

# Decisions that share one card per drug (the most severe wins); the others get their own card.
CATEGORY: dict[str, str] = {
    "contraindicated": "management",
    "discontinue": "management",
    "withhold": "management",
    "resume-reduced": "management",
    "desensitize": "management",
    "switch-agent": "management",
    "resume-same": "management",
    "supportive-care": "management",
    "continue": "management",
    "dose-range": "dose-range",
    "flag-dlt": "flag-dlt",
    "prophylaxis": "prophylaxis",
    "monitor": "monitor",
}


def severity(decision: str) -> int:
    """Higher is more severe; 'check' and 'data-missing' rank below every decision."""
    if decision in DECISIONS:
        return len(DECISIONS) - DECISIONS.index(decision)
    return 0


@dataclass(frozen=True)
class Finding:
    """One rule's result for one subject."""

    rule: CompiledRule
    outcome: Outcome
    state: Literal["fired", "pending", "missing"]
    decision: str  # may differ from the rule's (e.g. reduce at the lowest level -> discontinue)
    note: str | None = None  # why the decision changed, or the computed dose
    target: DoseLevel | None = None  # the next dose level for reduced decisions (verified ladder)


@dataclass(frozen=True)
class Plan:
    """Findings of one category for one subject, ready to render as one card."""

    knowledge: DrugKnowledge
    subject: Subject
    category: str
    fired: tuple[Finding, ...]
    pending: tuple[Finding, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def lead(self) -> Finding:
        """The most severe fired finding, else the most severe pending one."""
        pool = self.fired or self.pending
        return max(pool, key=lambda f: severity(f.decision))

    @property
    def decision(self) -> str:
        """The card's decision ('check' when only pending findings exist)."""
        return self.lead.decision if self.fired else "check"
