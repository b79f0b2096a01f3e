"""The decision vocabulary, written once: protectiveness order, card phrase, indicator, category, action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "ACTION_RANK",
    "CARD_STATES",
    "DECISIONS",
    "ActionKind",
    "Decision",
    "DecisionInfo",
    "category",
    "info",
    "phrase",
    "rank",
]

# Decisions a rule may take, most protective first. The pydantic schema reads this Literal.
Decision = Literal[
    "contraindicated",
    "discontinue",
    "withhold",
    "resume-reduced",
    "decide-per-protocol",
    "desensitize",
    "switch-agent",
    "dose-range",
    "resume-same",
    "flag-dlt",
    "supportive-care",
    "prophylaxis",
    "monitor",
    "continue",
]
DECISIONS: tuple[str, ...] = get_args(Decision)

# What a decision does to the order of the drug: stop it, hold it, change its dose, or nothing.
ActionKind = Literal["stop", "hold", "reduce", "none"]
ACTION_RANK: dict[str, int] = {"none": 0, "reduce": 1, "hold": 2, "stop": 3}

Category = Literal["management", "dose-range", "flag-dlt", "prophylaxis", "monitor"]


@dataclass(frozen=True, slots=True)
class DecisionInfo:
    """One row of the vocabulary."""

    name: str
    rank: int  # protectiveness: higher protects more; card states "check"/"data-missing" are 0
    phrase: str  # card wording
    indicator: str  # base indicator (withhold is raised to critical at grade >= 3)
    category: Category  # decisions of one category share one card per drug
    action: ActionKind  # what the card's automatic action does (verified rules only)
    permanent: bool = False  # once fired, holds for good unless the rule gives a recovery criterion
    resumes: bool = False  # a way back to the drug after an episode (resume, rechallenge)
    choices: bool = False  # the card's suggestions are alternatives: at most one is chosen


# name, phrase, indicator, category, action, flags: most protective first (the order of DECISIONS).
_TABLE: tuple[tuple[str, str, str, Category, ActionKind, frozenset[str]], ...] = (
    (
        "contraindicated",
        "contraindicated",
        "critical",
        "management",
        "stop",
        frozenset({"permanent", "choices"}),
    ),
    ("discontinue", "discontinue permanently", "critical", "management", "stop", frozenset({"permanent"})),
    ("withhold", "withhold", "warning", "management", "hold", frozenset()),
    ("resume-reduced", "resume at a reduced dose", "warning", "management", "reduce", frozenset({"resumes"})),
    (
        "decide-per-protocol",
        "decide rechallenge or discontinuation per the protocol",
        "warning",
        "management",
        "none",
        frozenset({"resumes"}),
    ),
    (
        "desensitize",
        "rechallenge only by desensitization",
        "warning",
        "management",
        "none",
        frozenset({"resumes", "choices"}),
    ),
    ("switch-agent", "switch agent", "warning", "management", "stop", frozenset({"choices"})),
    ("dose-range", "check the dose", "warning", "dose-range", "none", frozenset()),
    ("resume-same", "resume at the same dose", "info", "management", "none", frozenset({"resumes"})),
    ("flag-dlt", "possible dose-limiting toxicity", "warning", "flag-dlt", "none", frozenset()),
    ("supportive-care", "continue with supportive care", "info", "management", "none", frozenset()),
    ("prophylaxis", "start prophylaxis", "info", "prophylaxis", "none", frozenset()),
    ("monitor", "schedule monitoring", "info", "monitor", "none", frozenset()),
    ("continue", "continue and monitor", "info", "management", "none", frozenset()),
)
assert tuple(row[0] for row in _TABLE) == DECISIONS, "the table must list every decision, in order"

_INFO: dict[str, DecisionInfo] = {
    name: DecisionInfo(
        name,
        len(_TABLE) - i,
        text,
        indicator,
        cat,
        action,
        permanent="permanent" in flags,
        resumes="resumes" in flags,
        choices="choices" in flags,
    )
    for i, (name, text, indicator, cat, action, flags) in enumerate(_TABLE)
}
# Card states that are not decisions: an open question, or rules that could not be checked.
CARD_STATES: dict[str, DecisionInfo] = {
    "check": DecisionInfo("check", 0, "check before deciding", "warning", "management", "none"),
    "data-missing": DecisionInfo(
        "data-missing", 0, "data missing, rules not checked", "info", "management", "none"
    ),
}


def info(decision: str) -> DecisionInfo:
    """The vocabulary row of a decision or card state (KeyError for an unknown name)."""
    return _INFO.get(decision) or CARD_STATES[decision]


def rank(decision: str) -> int:
    """Protectiveness: higher protects more; 'check' and 'data-missing' rank below every decision."""
    found = _INFO.get(decision)
    return found.rank if found else 0


def phrase(decision: str) -> str:
    """The card wording of a decision."""
    return info(decision).phrase


def category(decision: str) -> str:
    """Which card a decision goes on ('management' shares one card per drug)."""
    return info(decision).category
