"""CDS Hooks card shapes (spec 2.0 "CDS Service Response") and the rule engine's input and output."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from terminology.model import MedicationOrder, PatientFacts

__all__ = [
    "ALL_HOOKS",
    "ORDER_HOOKS",
    "Action",
    "AppLinks",
    "Card",
    "Coding",
    "EvaluationRequest",
    "EvaluationResult",
    "Hook",
    "Link",
    "RenderedCard",
    "Source",
    "Suggestion",
]

# The hooks this service answers, written once: knowledge files, the engine and discovery use these.
Hook = Literal["order-select", "order-sign", "patient-view"]
ALL_HOOKS: tuple[Hook, ...] = get_args(Hook)
ORDER_HOOKS: tuple[Hook, ...] = ("order-select", "order-sign")  # the hooks that carry draft orders


_EMPTY: tuple[Any, ...] = (None, "", [], {}, ())


class _Shape(BaseModel):
    """Base of the response shapes: no unknown fields, and optional attributes without a value omitted.

    Spec: an optional attribute is omitted, never null, "", [] or {}; `_kept` names the required
    ones that are written even when empty. An action's FHIR resource is passed through as built.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    _kept: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if key in self._kept or value not in _EMPTY}


class Coding(_Shape):
    """FHIR Coding as used in cards (topic, override reasons)."""

    system: str | None = None
    code: str
    display: str | None = None


class Source(_Shape):
    """Card.source: who says so."""

    _kept: ClassVar[frozenset[str]] = frozenset({"label"})

    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Shape):
    """Suggestion action: create/update carry a whole FHIR resource, delete a relative reference."""

    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Shape):
    """One alternative the clinician may accept; its actions apply together."""

    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: tuple[Action, ...] | None = None


class Link(_Shape):
    """Card.links entry: an absolute URL or a SMART app launch."""

    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Spec: `appContext` is only valid on `smart` links."""
        data = super()._omit_empty(handler)
        if data.get("type") != "smart":
            data.pop("appContext", None)
        return data


class Card(_Shape):
    """One CDS card."""

    _kept: ClassVar[frozenset[str]] = frozenset({"summary"})

    uuid: str | None = None
    summary: str = Field(max_length=139)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: tuple[Suggestion, ...] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: tuple[Coding, ...] | None = None
    links: tuple[Link, ...] | None = None

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`selectionBehavior` exactly when there are suggestions (a client MUST reject a card whose
        suggestions lack it); `at-most-one` when the rules gave none: the user may take none, and
        never two alternatives at once."""
        data = super()._omit_empty(handler)
        if "suggestions" not in data:
            data.pop("selectionBehavior", None)
        elif "selectionBehavior" not in data:
            data["selectionBehavior"] = "at-most-one"
        return data


@dataclass(frozen=True, slots=True)
class AppLinks:
    """Where the service's own web pages live, so cards can link to them."""

    smart_launch_url: str | None = None  # e.g. https://host/smart/launch


@dataclass(frozen=True)
class EvaluationRequest:
    """Everything the engine needs for one hook call; built by the service, pure data."""

    hook: Hook
    patient_id: str
    facts: PatientFacts
    now: datetime
    draft_orders: tuple[MedicationOrder, ...] = ()  # order-select / order-sign draftOrders
    selections: tuple[str, ...] = ()  # order-select: references of the selected drafts
    unavailable: tuple[str, ...] = ()  # data that could not be obtained (prefetch keys, queries)
    # Data only the monitoring check reads (exams, questionnaires) that could not be obtained:
    # told on the monitoring card only, not on every card.
    monitoring_unavailable: tuple[str, ...] = ()
    links: AppLinks = field(default_factory=AppLinks)


@dataclass(frozen=True, slots=True)
class RenderedCard:
    """A card plus what the service needs but the EHR does not see."""

    card: Card
    drug: str | None  # knowledge id the card is about
    decision: str  # most severe decision on the card, e.g. "withhold"
    rule_ids: tuple[str, ...]  # stable ids of the rules that fired, for feedback analytics
    # Same key at order-select and order-sign for the same recommendation on the same,
    # unchanged draft: the service uses it not to nag twice.
    dedupe_key: str | None = None


@dataclass(frozen=True)
class EvaluationResult:
    """Cards and system actions for one hook call."""

    cards: tuple[RenderedCard, ...] = ()
    system_actions: tuple[Action, ...] = ()
