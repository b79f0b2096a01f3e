"""The rule engine: EvaluationRequest -> EvaluationResult (STUB: no rules yet)."""

from __future__ import annotations

from cards.loader import KnowledgeBase
from cards.model import EvaluationRequest, EvaluationResult

__all__ = ["evaluate"]


def evaluate(request: EvaluationRequest, knowledge: KnowledgeBase) -> EvaluationResult:
    """Pure and deterministic: same request (incl. `now`) and knowledge -> same result."""
    return EvaluationResult()
