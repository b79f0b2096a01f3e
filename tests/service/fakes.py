"""Test doubles for the service tests: a deterministic rule engine, frozen time, sequential uuids."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson

from cards.loader import KnowledgeBase
from cards.model import (
    Action,
    Card,
    Coding,
    EvaluationRequest,
    EvaluationResult,
    Link,
    RenderedCard,
    Source,
    Suggestion,
)
from terminology.model import DrugIdentity

__all__ = ["FROZEN_NOW", "FakeEngine", "LabKnowledge", "sequential_ids"]

# A non-UTC instant: times must survive time-zone conversion.
FROZEN_NOW = datetime(2026, 3, 14, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))


class LabKnowledge(KnowledgeBase):
    """Knowledge with no drug files whose rules read CK only (keeps the prefetch query small and stable).

    It recognises alectinib, the drug of the example drafts, so order hooks are not answered
    early as "no covered drug".
    """

    def drug_identities(self) -> tuple[DrugIdentity, ...]:
        """Alectinib by name only."""
        return (DrugIdentity(drug="alectinib", names=("alectinib", "Alecensa")),)

    def analytes(self) -> frozenset[str]:
        """Only creatine kinase."""
        return frozenset({"ck"})


def sequential_ids() -> Callable[[], str]:
    """A uuid factory giving 00000000-0000-0000-0000-000000000001, ...2, ... (stable goldens)."""
    counter = itertools.count(1)
    return lambda: str(uuid.UUID(int=next(counter)))


class FakeEngine:
    """Stands in for cards.engine.evaluate: one card per draft MedicationRequest, echoing the request."""

    def __init__(self) -> None:
        self.requests: list[EvaluationRequest] = []

    def __call__(self, request: EvaluationRequest, knowledge: KnowledgeBase) -> EvaluationResult:
        self.requests.append(request)
        cards: list[RenderedCard] = []
        for order in request.draft_orders:
            lab = {
                "resourceType": "ServiceRequest",
                "status": "draft",
                "intent": "proposal",
                "code": {"coding": [{"system": "http://loinc.org", "code": "2157-6"}]},
                "subject": {"reference": f"Patient/{request.patient_id}"},
            }
            selected = ", ".join(request.selections) or "none"
            card = Card(
                summary=f"Check toxicity before {request.hook}: {order.reference}",
                detail=f"Drafts: {len(request.draft_orders)}; selected: {selected}",
                indicator="warning",
                source=Source(label="Test rules"),
                selectionBehavior="at-most-one",
                suggestions=(
                    Suggestion(
                        label="Withdraw the order and check CK",
                        isRecommended=True,
                        actions=(
                            Action(
                                type="delete",
                                description=f"Remove {order.reference}",
                                resourceId=order.reference,
                            ),
                            Action(type="create", description="Order CK", resource=lab),
                        ),
                    ),
                ),
                overrideReasons=(Coding(system="http://example.org/reasons", code="aware", display="Aware"),),
            )
            cards.append(
                RenderedCard(
                    card=card,
                    drug="alectinib",
                    decision="withhold",
                    rule_ids=("test.withhold",),
                    dedupe_key=f"withhold:{order.reference}",
                )
            )
        if request.hook == "patient-view":
            links: tuple[Link, ...] = ()
            if request.links.smart_launch_url:
                context = orjson.dumps(
                    {"patient": request.patient_id, "drug": "alectinib", "rule": "test.summary"}
                )
                links = (
                    Link(
                        label="Toxicity timeline",
                        url=request.links.smart_launch_url,
                        type="smart",
                        appContext=context.decode(),
                    ),
                )
            card = Card(
                summary="Toxicity summary",
                detail=f"Unavailable: {', '.join(request.unavailable) or 'none'}",
                indicator="info",
                source=Source(label="Test rules"),
                links=links or None,
            )
            cards.append(RenderedCard(card=card, drug=None, decision="inform", rule_ids=("test.summary",)))
        system_actions: tuple[Action, ...] = ()
        if request.hook == "order-sign":
            note = {
                "resourceType": "Communication",
                "status": "completed",
                "subject": {"reference": f"Patient/{request.patient_id}"},
                "payload": [{"contentString": "toxicity check done"}],
            }
            system_actions = (Action(type="create", description="Record the check", resource=note),)
        return EvaluationResult(cards=tuple(cards), system_actions=system_actions)
