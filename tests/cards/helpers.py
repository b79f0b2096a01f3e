"""Running the engine in tests and validating every emitted FHIR resource with fhir.resources (R4B)."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from cards.engine import evaluate
from cards.loader import KnowledgeBase, load_knowledge
from cards.model import EvaluationRequest, RenderedCard


@cache
def knowledge() -> KnowledgeBase:
    """The built-in knowledge, loaded once per test session."""
    return load_knowledge()


def validate_resource(resource: dict[str, Any]) -> None:
    """Raise if `resource` is not a valid FHIR R4(B) resource of its type."""
    kind = resource["resourceType"]
    module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
    getattr(module, kind).model_validate(resource)


def run(req: EvaluationRequest, *, monitoring: bool = False) -> list[RenderedCard]:
    """Evaluate and check the invariants every card must meet.

    The monitoring follow-up card (scheduled tests due or overdue) is left out unless `monitoring`:
    toxicity tests build only the data their rule needs, so their schedules are never complete.
    """
    cards = list(evaluate(req, knowledge()).cards)
    if not monitoring:
        cards = [c for c in cards if not c.rule_ids[0].endswith(".monitoring.schedule")]
    for rendered in cards:
        card = rendered.card
        assert len(card.summary) < 140
        assert card.uuid is None
        assert rendered.dedupe_key
        assert card.source.topic is not None
        if card.suggestions:
            assert card.selectionBehavior in ("at-most-one", "any")
        for suggestion in card.suggestions or ():
            for action in suggestion.actions or ():
                if action.type == "delete":
                    assert action.resourceId and "/" in action.resourceId
                else:
                    assert action.resource is not None
                    validate_resource(action.resource)
    return cards


def only(cards: list[RenderedCard], drug: str, decision: str | None = None) -> RenderedCard:
    """The single card about `drug` (and `decision`, when given)."""
    found = [c for c in cards if c.drug == drug and (decision is None or c.decision == decision)]
    assert len(found) == 1, [(c.drug, c.decision, c.card.summary) for c in cards]
    return found[0]


def action_kinds(card: RenderedCard) -> list[tuple[str, str]]:
    """(type, resourceType or 'ref') of every action on a card, in order."""
    out: list[tuple[str, str]] = []
    for suggestion in card.card.suggestions or ():
        for action in suggestion.actions or ():
            out.append((action.type, action.resource["resourceType"] if action.resource else "ref"))
    return out
