"""The one entry point that answers a hook call: gather -> read -> decide -> cards -> response.

HTTP (service/routes/hooks.py), `toxhooks evaluate` (service/offline.py) and the preview page call
`answer_hook` with a parsed call and their dependencies; the SMART timeline reads data with the
same `service.reading.read_patient` stage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from cards.engine import evaluate
from cards.loader import KnowledgeBase
from cards.model import (
    Action,
    AppLinks,
    Card,
    EvaluationRequest,
    EvaluationResult,
    RenderedCard,
    Source,
    Suggestion,
)
from service.dedupe import ShownCardsStore
from service.fhir_models import invalid_field
from service.gathering import draft_medications, gather
from service.observability.metrics import record_cards
from service.protocol import HookCall
from service.reading import PatientData, no_covered_draft, read_patient
from service.settings import Settings
from service.storage.issued import IssuedCard

__all__ = ["DATA_RULE_ID", "HookAnswer", "HookDependencies", "HookResponse", "IssuedCardSink", "answer_hook"]

log = logging.getLogger(__name__)

DATA_RULE_ID = "service.data-completeness"
_SOURCE = Source(label="toxhooks")


class IssuedCardSink(Protocol):
    """Where issued cards are recorded (service.storage.recorder.IssuedCardRecorder)."""

    def add(self, cards: Iterable[IssuedCard]) -> None:
        """Queue cards for the record."""
        ...


@dataclass(frozen=True)
class HookDependencies:
    """What answering a call needs besides the call: injected so tests and the CLI can replace it."""

    knowledge: KnowledgeBase
    settings: Settings
    clock: Callable[[], datetime]
    id_factory: Callable[[], str]
    client: httpx.AsyncClient | None = None  # None: nothing is fetched, missing keys are unavailable
    shown: ShownCardsStore | None = None  # None: no dedupe between order-select and order-sign
    recorder: IssuedCardSink | None = None  # None: issued cards are not recorded
    links: AppLinks = field(default_factory=AppLinks)
    metrics: bool = False  # count cards in the Prometheus metrics (the HTTP service)


@dataclass(frozen=True)
class HookAnswer:
    """The response JSON and the record of the cards in it."""

    response: dict[str, Any]
    issued: tuple[IssuedCard, ...]
    rendered: tuple[RenderedCard, ...]


class HookResponse(BaseModel):
    """The shape of `HookAnswer.response` (spec: "CDS Service Response"), for the OpenAPI document."""

    cards: list[Card]
    systemActions: list[Action] | None = None


_NO_CARDS = HookAnswer(response={"cards": []}, issued=(), rendered=())


async def answer_hook(call: HookCall, deps: HookDependencies) -> HookAnswer:
    """Answer one parsed hook call (spec: "Calling a CDS Service"); raises the service.errors hierarchy.

    Orders of drugs the knowledge does not cover are answered `{"cards": []}` at once (no data is
    asked for or fetched). order-sign leaves out cards already shown at order-select for the same
    unchanged draft (`deps.shown`).
    """
    if no_covered_draft(call, deps.knowledge):
        return _NO_CARDS
    now = deps.clock()
    gathered = await gather(
        call, knowledge=deps.knowledge, settings=deps.settings, now=now, client=deps.client
    )
    patient = read_patient(
        gathered,
        patient_id=call.patient_id,
        knowledge=deps.knowledge,
        ctcae_version=deps.settings.ctcae_version,
        drafts=call.draft_resources,
        draft_medications=draft_medications(call),
        now=now,
    )
    result = decide(call, patient, knowledge=deps.knowledge, now=now, links=deps.links)
    rendered = list(result.cards)
    hook = call.service.hook
    if deps.shown is not None and hook == "order-sign":
        prior = await deps.shown.recent(call.patient_id)
        rendered = [c for c in rendered if c.dedupe_key is None or c.dedupe_key not in prior]
    data_card = _data_card(patient.unavailable, patient.problems)
    if data_card is not None:
        rendered.append(data_card)
    answer = _answer(call, result, rendered, now=now, id_factory=deps.id_factory)
    if deps.shown is not None and hook == "order-select":
        await deps.shown.remember(call.patient_id, [c.dedupe_key for c in answer.rendered if c.dedupe_key])
    if deps.recorder is not None:
        deps.recorder.add(answer.issued)
    if deps.metrics:
        record_cards(call.service.id, hook, [(c.decision, c.card.indicator) for c in answer.rendered])
    return answer


def decide(
    call: HookCall, patient: PatientData, *, knowledge: KnowledgeBase, now: datetime, links: AppLinks
) -> EvaluationResult:
    """The rule engine's cards for the call's hook and the patient's data."""
    request = EvaluationRequest(
        hook=call.service.hook,  # type: ignore[arg-type]  # validated against the catalog's hooks
        patient_id=call.patient_id,
        facts=patient.facts,
        now=now,
        draft_orders=patient.drafts,
        selections=call.selections,
        unavailable=patient.unavailable,
        monitoring_unavailable=patient.monitoring_unavailable,
        links=links,
    )
    return evaluate(request, knowledge)


def _data_card(unavailable: Iterable[str], problems: Iterable[str]) -> RenderedCard | None:
    """One info card naming what could not be checked, so silence is never mistaken for safety."""
    lines = [f"- could not obtain: {name}" for name in unavailable]
    lines += [f"- could not read: {name}" for name in problems]
    if not lines:
        return None
    card = Card(
        summary="Some patient data could not be obtained or read; checks using it were not done",
        detail="Toxicity checks are incomplete. Review these data yourself:\n\n" + "\n".join(lines),
        indicator="info",
        source=_SOURCE,
    )
    return RenderedCard(card=card, drug=None, decision="data-unavailable", rule_ids=(DATA_RULE_ID,))


def _with_uuids(rendered: RenderedCard, id_factory: Callable[[], str]) -> Card:
    card = rendered.card
    suggestions = card.suggestions
    if suggestions is not None:
        suggestions = tuple(s.model_copy(update={"uuid": s.uuid or id_factory()}) for s in suggestions)
    return card.model_copy(update={"uuid": card.uuid or id_factory(), "suggestions": suggestions})


def _invalid_resource(actions: Iterable[Action]) -> tuple[str, str] | None:
    """(resourceType, element) of the first action resource R4B rejects; None when all are valid."""
    for action in actions:
        if action.resource is not None:
            problem = invalid_field(action.resource)
            if problem is not None:
                return str(action.resource.get("resourceType")), problem[0]
    return None


def _with_valid_actions(card: Card, rule_ids: tuple[str, ...]) -> Card:
    """The card without suggestions whose action resources are not valid FHIR R4B.

    A suggestion's actions apply together (e.g. delete the draft and create the reduced dose), so
    a suggestion is removed whole, never one of its actions; the card and its advice stay. The
    log names the rules, type and element, never a value.
    """
    if not card.suggestions:
        return card
    kept: list[Suggestion] = []
    for suggestion in card.suggestions:
        problem = _invalid_resource(suggestion.actions or ())
        if problem is None:
            kept.append(suggestion)
        else:
            log.error(
                "suggestion removed: rules %s built a %s that is not valid FHIR R4B (%s)",
                ",".join(rule_ids),
                *problem,
            )
    if len(kept) == len(card.suggestions):
        return card
    return card.model_copy(update={"suggestions": tuple(kept) or None})


def _valid_system_actions(actions: Iterable[Action]) -> list[Action]:
    """System actions whose resources are valid FHIR R4B; the others are logged and left out."""
    valid: list[Action] = []
    for action in actions:
        problem = _invalid_resource((action,))
        if problem is None:
            valid.append(action)
        else:
            log.error("system action removed: a %s that is not valid FHIR R4B (%s)", *problem)
    return valid


def _answer(
    call: HookCall,
    result: EvaluationResult,
    rendered: list[RenderedCard],
    *,
    now: datetime,
    id_factory: Callable[[], str],
) -> HookAnswer:
    """uuids assigned, cards serialised as the spec wants them, and the record of each card."""
    cards: list[dict[str, Any]] = []
    issued: list[IssuedCard] = []
    for item in rendered:
        card = _with_valid_actions(_with_uuids(item, id_factory), item.rule_ids)
        if card.suggestions and card.selectionBehavior is None:
            log.warning(
                "card without selectionBehavior from rules %s: at-most-one used", ",".join(item.rule_ids)
            )
        cards.append(card.model_dump(exclude_none=True, mode="json"))  # spec card rules: cards.model
        issued.append(
            IssuedCard(
                card_uuid=card.uuid or "",
                service_id=call.service.id,
                hook=call.service.hook,
                drug=item.drug,
                decision=item.decision,
                rule_ids=item.rule_ids,
                issued_at=now,
                dedupe_key=item.dedupe_key,
            )
        )
    response: dict[str, Any] = {"cards": cards}
    system_actions = _valid_system_actions(result.system_actions)
    if system_actions:
        response["systemActions"] = [a.model_dump(exclude_none=True, mode="json") for a in system_actions]
    return HookAnswer(response=response, issued=tuple(issued), rendered=tuple(rendered))
