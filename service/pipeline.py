"""The hook pipeline shared by HTTP and offline: gathered data -> terminology -> cards -> response."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from cards.engine import evaluate
from cards.loader import KnowledgeBase
from cards.model import AppLinks, Card, EvaluationRequest, EvaluationResult, RenderedCard, Source
from service.catalog import ServiceDefinition
from service.conformance import conform_card
from service.errors import PreconditionFailed
from service.prefetch import MONITORING_KEYS, PrefetchItem, unique
from service.protocol import HookCall
from terminology.facts import build_facts
from terminology.loinc import loinc_codes
from terminology.model import DrugIdentity, MedicationOrder, PatientFacts
from terminology.orders import read_order

__all__ = [
    "DATA_RULE_ID",
    "Gathered",
    "IssuedCard",
    "Outcome",
    "check_required",
    "collect",
    "draft_medications",
    "lab_codes",
    "medications_of",
    "missing_medication_references",
    "no_covered_draft",
    "other_patient",
    "prefetch_queries",
    "run_pipeline",
]

log = logging.getLogger(__name__)

DATA_RULE_ID = "service.data-completeness"
LOINC = "http://loinc.org"
_SOURCE = Source(label="toxhooks")


@dataclass(frozen=True)
class Gathered:
    """Every patient resource obtained for a call, and what could not be obtained or read."""

    resources: tuple[Mapping[str, Any], ...]
    unavailable: tuple[str, ...] = ()  # prefetch keys / queries we could not obtain
    malformed: tuple[str, ...] = ()  # places of resources that were not valid enough to read
    medications: Mapping[str, Mapping[str, Any]] | None = None  # fetched Medication resources


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """A card as issued, so feedback on its uuid can be attributed to service, drug and rules."""

    card_uuid: str
    service_id: str
    hook: str
    drug: str | None
    decision: str
    rule_ids: tuple[str, ...]
    issued_at: datetime
    dedupe_key: str | None


@dataclass(frozen=True)
class Outcome:
    """The response JSON and the record of the cards in it."""

    response: dict[str, Any]
    issued: tuple[IssuedCard, ...]
    rendered: tuple[RenderedCard, ...]


def lab_codes(knowledge: KnowledgeBase) -> list[str]:
    """System-qualified LOINC codes of every analyte a rule reads, for the labs prefetch query."""
    return list(_lab_codes(knowledge.analytes()))


@cache
def _lab_codes(analytes: frozenset[str]) -> tuple[str, ...]:
    # Every hook call renders the prefetch templates: the code list depends only on the knowledge.
    return tuple(f"{LOINC}|{code}" for code in loinc_codes(sorted(analytes)))


def prefetch_queries(
    service: ServiceDefinition, knowledge: KnowledgeBase, *, window_days: int, now: datetime
) -> dict[str, str]:
    """The service's prefetch templates as discovery shows them now."""
    return service.prefetch_queries(lab_codes=lab_codes(knowledge), since=now - timedelta(days=window_days))


def collect(
    items: Iterable[PrefetchItem], *, fetched_medications: Mapping[str, Mapping[str, Any]] | None = None
) -> Gathered:
    """Gather resources of all keys; keys still needing a fetch, or still paged, are unavailable."""
    resources: list[Mapping[str, Any]] = []
    unavailable: list[str] = []
    malformed: list[str] = []
    for item in items:
        resources.extend(item.resources)
        malformed.extend(item.malformed)
        if item.needs_fetch:
            unavailable.append(item.key)
        elif item.next_url is not None:
            unavailable.append(f"{item.key} (further pages)")
    return Gathered(
        resources=tuple(unique(resources)),
        unavailable=tuple(unavailable),
        malformed=tuple(malformed),
        medications=fetched_medications,
    )


def check_required(call: HookCall, gathered: Gathered) -> None:
    """412 naming the keys when data the service requires could be neither found nor fetched."""
    missing = tuple(key for key in call.service.required if key in gathered.unavailable)
    if missing:
        raise PreconditionFailed(
            f"required prefetch data could not be obtained: {', '.join(missing)}", missing=missing
        )


def draft_medications(call: HookCall) -> dict[str, Mapping[str, Any]]:
    """Medication resources in draftOrders, by "Medication/<id>" and by their entry's fullUrl."""
    found: dict[str, Mapping[str, Any]] = {}
    for resource in call.draft_resources:
        if resource.get("resourceType") == "Medication" and isinstance(resource.get("id"), str):
            found[f"Medication/{resource['id']}"] = resource
    for full_url, resource in call.draft_full_urls.items():
        if resource.get("resourceType") == "Medication":
            found[full_url] = resource
    return found


def medications_of(resources: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Medication resources by relative reference ("Medication/<id>"), for medicationReference."""
    return {
        f"Medication/{r['id']}": r
        for r in resources
        if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str)
    }


def missing_medication_references(
    call: HookCall, known: Collection[str], *, history: Iterable[Mapping[str, Any]] = ()
) -> list[str]:
    """medicationReference targets found neither in the bundle nor contained.

    Drafts first, then the patient's other MedicationRequests (`history`): a client that does not
    honour the medications template's `_include` sends them without their Medication resources.
    """
    wanted: list[str] = []
    orders = [*call.draft_resources, *(r for r in history if r.get("resourceType") == "MedicationRequest")]
    for resource in orders:
        ref = resource.get("medicationReference")
        target = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(target, str) or target.startswith("#") or target in known:
            continue  # contained (read with the order itself) or in the bundle by fullUrl
        relative = "/".join(target.rstrip("/").split("/")[-2:])
        if relative.startswith("Medication/"):
            name = relative
        elif target.startswith("urn:"):
            name = target  # a bundle-local id that is not in the bundle: cannot be fetched either
        else:
            continue
        if name not in known and name not in wanted:
            wanted.append(name)
    return wanted


def other_patient(resource: Mapping[str, Any], patient_id: str) -> str | None:
    """The patient a resource belongs to when that is not `patient_id` (None: ours, or cannot tell).

    Data about another patient must never inform this patient's decisions: an EHR that fills
    prefetch or draftOrders for the wrong patient gets that data set aside and named on a card.
    """
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return f"Patient/{rid}" if isinstance(rid, str) and rid != patient_id else None
    for name in ("subject", "patient"):
        ref = resource.get(name)
        target = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(target, str) and "Patient/" in target:
            owner = target.rstrip("/").split("Patient/")[-1].split("/")[0]
            return None if owner == patient_id else f"Patient/{owner}"
    return None


def no_covered_draft(call: HookCall, knowledge: KnowledgeBase) -> bool:
    """True when an order hook's drafts name no drug of the knowledge: answer no cards, ask for no data.

    A draft whose medicationReference points outside the request cannot be told apart without a
    fetch, so it counts as possibly covered (the normal path runs and fetches it).
    """
    if call.service.hook not in ("order-select", "order-sign"):
        return False
    drugs = knowledge.drug_identities()
    therapies = {d.drug for d in drugs if d.role == "therapy"}
    medications = draft_medications(call)
    for resource in call.draft_resources:
        if resource.get("resourceType") != "MedicationRequest":
            continue
        raw_contained = resource.get("contained")
        items = raw_contained if isinstance(raw_contained, list) else ()
        contained = medications_of(r for r in items if isinstance(r, dict))
        local = {**medications, **{"#" + k.split("/", 1)[1]: v for k, v in contained.items()}}
        if missing_medication_references(_only(call, resource), local):
            return False
        try:
            order = read_order(resource, drugs=drugs, medications=local, is_draft=True)
        except Exception:  # unreadable here: let the normal path report it
            return False
        if order.drug is not None and order.drug.drug in therapies:
            return False
    return True


def _only(call: HookCall, resource: Mapping[str, Any]) -> HookCall:
    """The call with one draft, to ask which of its references are unresolved."""
    return replace(call, draft_resources=(resource,))


def _draft_problem(resource: Mapping[str, Any]) -> str | None:
    """The first missing essential of a draft MedicationRequest (full validation is not needed here)."""
    if not isinstance(resource.get("id"), str):
        return "has no id"
    for name in ("status", "intent"):
        if not isinstance(resource.get(name), str):
            return f"has no {name}"
    concept, reference = resource.get("medicationCodeableConcept"), resource.get("medicationReference")
    if not isinstance(concept, dict) and not (
        isinstance(reference, dict) and isinstance(reference.get("reference"), str)
    ):
        return "names no medication (medicationCodeableConcept or medicationReference)"
    return None


def _read_drafts(
    call: HookCall,
    drugs: Sequence[DrugIdentity],
    medications: Mapping[str, Mapping[str, Any]],
    now: datetime | None = None,
) -> tuple[tuple[MedicationOrder, ...], list[str]]:
    orders: list[MedicationOrder] = []
    problems: list[str] = []
    for index, resource in enumerate(call.draft_resources):
        if resource.get("resourceType") != "MedicationRequest":
            continue  # ServiceRequest, DeviceRequest...: no rule reads them
        problem = _draft_problem(resource)
        owner = other_patient(resource, call.patient_id)
        if owner is not None:
            problem = f"is for {owner}, not the patient in context"
        if problem:
            name = (
                f"MedicationRequest/{resource['id']}"
                if isinstance(resource.get("id"), str)
                else f"entry {index}"
            )
            problems.append(f"draft order {name} {problem}; it was not checked")
            continue
        raw_contained = resource.get("contained")
        items = raw_contained if isinstance(raw_contained, list) else ()
        contained = medications_of(r for r in items if isinstance(r, dict))
        local = {**medications, **{"#" + k.split("/", 1)[1]: v for k, v in contained.items()}}
        try:
            orders.append(read_order(resource, drugs=drugs, medications=local, is_draft=True, now=now))
        except Exception as exc:  # a draft terminology cannot read is reported, never a 500
            log.warning("draft order not readable: %s", type(exc).__name__)
            problems.append(
                f"draft order MedicationRequest/{resource['id']} could not be read; it was not checked"
            )
    return tuple(orders), problems


def _safe_facts(resources: list[Mapping[str, Any]], **options: Any) -> tuple[PatientFacts, list[str]]:
    """build_facts on everything; if a malformed resource breaks it, find and leave out the culprits."""
    try:
        return build_facts(resources, **options), []
    except Exception as exc:
        log.warning(
            "patient data not readable as a whole (%s); reading resource by resource", type(exc).__name__
        )
    readable: list[Mapping[str, Any]] = []
    bad: list[str] = []
    for resource in resources:
        try:
            build_facts([resource], **options)
        except Exception:
            bad.append(f"{resource.get('resourceType')}/{resource.get('id', '?')} (not readable)")
        else:
            readable.append(resource)
    return build_facts(readable, **options), bad


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


def run_pipeline(
    call: HookCall,
    gathered: Gathered,
    *,
    knowledge: KnowledgeBase,
    ctcae_version: str,
    now: datetime,
    id_factory: Callable[[], str],
    links: AppLinks | None = None,
    already_shown: Callable[[Iterable[str]], Collection[str]] | None = None,
) -> Outcome:
    """Terminology reads the data, the engine decides, the service assigns uuids and builds the response.

    `already_shown` returns the dedupe keys already shown for this patient (order-sign does not
    repeat an order-select card for the same unchanged draft).
    """
    medications = {
        **medications_of(gathered.resources),
        **draft_medications(call),
        **(gathered.medications or {}),
    }
    drugs = knowledge.drug_identities()
    drafts, problems = _read_drafts(call, drugs, medications, now)
    unresolved = missing_medication_references(call, medications, history=gathered.resources)
    unavailable = (*gathered.unavailable, *unresolved)
    monitoring_only = tuple(u for u in unavailable if u.split(" ")[0] in MONITORING_KEYS)
    unavailable = tuple(u for u in unavailable if u not in monitoring_only)
    ours: list[Mapping[str, Any]] = []
    for resource in gathered.resources:
        owner = other_patient(resource, call.patient_id)
        if owner is None:
            ours.append(resource)
        else:
            problems.append(
                f"{resource.get('resourceType')}/{resource.get('id', '?')} (belongs to {owner}, "
                "not the patient in context; set aside)"
            )
    facts, unreadable = _safe_facts(
        [r for r in ours if r.get("resourceType") != "Medication"],
        ctcae_version=ctcae_version,
        drugs=drugs,
        medications=medications,
        now=now,
    )
    problems.extend(unreadable)
    request = EvaluationRequest(
        hook=call.service.hook,  # type: ignore[arg-type]  # validated against the catalog's hooks
        patient_id=call.patient_id,
        facts=facts,
        now=now,
        draft_orders=drafts,
        selections=call.selections,
        unavailable=unavailable,
        monitoring_unavailable=monitoring_only,
        links=links or AppLinks(),
    )
    result: EvaluationResult = evaluate(request, knowledge)
    rendered = list(result.cards)
    if already_shown is not None:
        shown = set(already_shown([c.dedupe_key for c in rendered if c.dedupe_key]))
        rendered = [c for c in rendered if c.dedupe_key is None or c.dedupe_key not in shown]
    data_card = _data_card(unavailable, [*gathered.malformed, *problems])
    if data_card is not None:
        rendered.append(data_card)
    cards: list[dict[str, Any]] = []
    issued: list[IssuedCard] = []
    for item in rendered:
        card = _with_uuids(item, id_factory)
        cards.append(conform_card(card.model_dump(exclude_none=True, mode="json"), rule_ids=item.rule_ids))
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
    if result.system_actions:
        response["systemActions"] = [
            a.model_dump(exclude_none=True, mode="json") for a in result.system_actions
        ]
    return Outcome(response=response, issued=tuple(issued), rendered=tuple(rendered))
