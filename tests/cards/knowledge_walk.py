"""Walk the built-in knowledge files: every threshold, grade range, term and qualifier their rules use."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cards.logic import COMPARATORS
from terminology.families import expand_terms
from tests.cards.helpers import knowledge

# A CTCAE v5.0 term standing for a whole SOC (or any term) in generated patients.
SOC_TERM = {"Eye disorders": "Blurred vision", "Skin and subcutaneous tissue disorders": "Rash acneiform"}


@dataclass(frozen=True)
class Threshold:
    """One numeric test in one rule: a lab multiple/value or an ordered dose."""

    drug: str
    rule: str
    where: str  # "when" or "recovery"
    node: Mapping[str, Any]
    op: str
    value: float


@dataclass(frozen=True)
class GradeRange:
    """One graded-event test in one rule."""

    drug: str
    rule: str
    term: str
    low: int
    high: int


def _nodes(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield spec
    for key in ("all", "any"):
        for child in spec.get(key, ()):
            yield from _nodes(child)
    if "not" in spec:
        yield from _nodes(spec["not"])


def rule_trees() -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
    """(drug, rule id, where, tree) for every `when` and `recovery` of every rule."""
    for drug, item in sorted(knowledge().drugs.items()):
        for rule in item.spec.rules:
            yield drug, rule.id, "when", rule.when
            if rule.recovery:
                yield drug, rule.id, "recovery", rule.recovery


def thresholds() -> list[Threshold]:
    """Every lab and dose threshold of every rule."""
    found = []
    for drug, rule, where, tree in rule_trees():
        for node in _nodes(tree):
            if "lab" in node or "dose" in node:
                for op in COMPARATORS:
                    if op in node:
                        found.append(Threshold(drug, rule, where, node, op, float(node[op])))
    return found


def _term_of(node: Mapping[str, Any]) -> str | None:
    if node.get("event"):  # a family stands for its first member (e.g. "Rash acneiform")
        return sorted(expand_terms([str(node["event"][0])], "5.0"))[0]
    if node.get("soc"):
        return SOC_TERM.get(str(node["soc"][0]))
    if node.get("any_term"):
        return "Rash acneiform"
    return None


def grade_ranges() -> list[GradeRange]:
    """Every graded-event range (current or worst grade) of every rule."""
    found = []
    for drug, rule, _, tree in rule_trees():
        for node in _nodes(tree):
            if "grade" not in node or "qualifier" in node or "history" in node:
                continue
            if node.get("which", "current") == "resolved" or node.get("duration_days_gt"):
                continue
            term = _term_of(node)
            if term is not None:
                low, high = node["grade"]
                found.append(GradeRange(drug, rule, term, int(low), int(high)))
    return found


def event_terms(drug: str) -> tuple[str, ...]:
    """CTCAE terms (one per SOC) the drug's rules read."""
    terms: dict[str, None] = {}
    for name, _, _, tree in rule_trees():
        if name != drug:
            continue
        for node in _nodes(tree):
            if "qualifier" in node or "history" in node:
                continue
            term = _term_of(node)
            if term is not None:
                terms[term] = None
    return tuple(terms)


def qualifiers(drug: str) -> dict[str, tuple[str, ...]]:
    """Qualifier name -> the CTCAE terms it is recorded on, for the drug's rules."""
    found: dict[str, dict[str, None]] = {}
    for name, _, _, tree in rule_trees():
        if name != drug:
            continue
        for node in _nodes(tree):
            if "qualifier" in node:
                found.setdefault(str(node["qualifier"]), {}).update(dict.fromkeys(node.get("event", ())))
    return {k: tuple(v) for k, v in found.items()}


def analytes(drug: str) -> tuple[str, ...]:
    """Lab analytes the drug's rules read."""
    found: dict[str, None] = {}
    for name, _, _, tree in rule_trees():
        if name == drug:
            found.update(dict.fromkeys(str(n["lab"]) for n in _nodes(tree) if "lab" in n))
    return tuple(found)


def against_baseline(drug: str) -> frozenset[str]:
    """Lab analytes the drug's rules compare with the patient's baseline."""
    found = set()
    for name, _, _, tree in rule_trees():
        if name == drug:
            found |= {str(n["lab"]) for n in _nodes(tree) if "lab" in n and n.get("of") == "baseline"}
    return frozenset(found)
