"""Reading a call's gathered data into patient facts and draft orders, with the data safeguards.

Data about another patient is set aside, a draft missing its essentials is not checked, and a
resource that terminology cannot read is left out: each is named in `problems` for the data card.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cards.loader import KnowledgeBase
from cards.model import ORDER_HOOKS
from service.gathering import MONITORING_KEYS, Gathered, draft_medications
from service.protocol import HookCall
from terminology.facts import build_facts
from terminology.model import DrugIdentity, MedicationOrder, PatientFacts
from terminology.orders import read_order
from terminology.resources import (
    local_medications,
    medication_problem,
    medications_of,
    missing_medication_references,
    other_patient,
)

__all__ = ["PatientData", "no_covered_draft", "read_patient"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PatientData:
    """What terminology read from a call: facts, drafts, and what could not be obtained or read."""

    facts: PatientFacts
    drafts: tuple[MedicationOrder, ...]
    unavailable: tuple[str, ...]  # data no check could use
    monitoring_unavailable: tuple[str, ...]  # data only the monitoring check reads
    problems: tuple[str, ...]  # malformed, other-patient and unreadable data, named for the card


def no_covered_draft(call: HookCall, knowledge: KnowledgeBase) -> bool:
    """True when an order hook's drafts name no drug of the knowledge: answer no cards, ask for no data.

    A draft whose medicationReference points outside the request cannot be told apart without a
    fetch, so it counts as possibly covered (the normal path runs and fetches it).
    """
    if call.service.hook not in ORDER_HOOKS:
        return False
    drugs = knowledge.drug_identities()
    therapies = {d.drug for d in drugs if d.role == "therapy"}
    medications = draft_medications(call)
    for resource in call.draft_resources:
        if resource.get("resourceType") != "MedicationRequest":
            continue
        local = local_medications(resource, medications)
        if missing_medication_references((resource,), local):
            return False
        try:
            order = read_order(resource, drugs=drugs, medications=local, is_draft=True)
        except Exception:  # unreadable here: let the normal path report it
            return False
        if order.drug is not None and order.drug.drug in therapies:
            return False
    return True


def _read_drafts(
    drafts: Sequence[Mapping[str, Any]],
    patient_id: str,
    drugs: Sequence[DrugIdentity],
    medications: Mapping[str, Mapping[str, Any]],
    now: datetime | None = None,
) -> tuple[tuple[MedicationOrder, ...], list[str]]:
    orders: list[MedicationOrder] = []
    problems: list[str] = []
    for index, resource in enumerate(drafts):
        if resource.get("resourceType") != "MedicationRequest":
            continue  # ServiceRequest, DeviceRequest...: no rule reads them
        problem = medication_problem(resource)
        owner = other_patient(resource, patient_id)
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
        local = local_medications(resource, medications)
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


def read_patient(
    gathered: Gathered,
    *,
    patient_id: str,
    knowledge: KnowledgeBase,
    ctcae_version: str,
    drafts: Sequence[Mapping[str, Any]] = (),
    draft_medications: Mapping[str, Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> PatientData:
    """Facts and draft orders of the patient in context, every safeguard applied.

    `drafts` are the draftOrders resources and `draft_medications` the Medications they carry
    (by reference and by fullUrl); the SMART timeline passes none. `now` is the hook's time: a
    phased order (lead-in, then full dose) is read at the phase in force then.
    """
    medications = {
        **medications_of(gathered.resources),
        **(draft_medications or {}),
        **(gathered.medications or {}),
    }
    drugs = knowledge.drug_identities()
    orders, problems = _read_drafts(drafts, patient_id, drugs, medications, now)
    unresolved = missing_medication_references(drafts, medications, history=gathered.resources)
    unavailable = (*gathered.unavailable, *unresolved)
    monitoring_only = tuple(u for u in unavailable if u.split(" ")[0] in MONITORING_KEYS)
    unavailable = tuple(u for u in unavailable if u not in monitoring_only)
    ours: list[Mapping[str, Any]] = []
    for resource in gathered.resources:
        owner = other_patient(resource, patient_id)
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
    return PatientData(
        facts=facts,
        drafts=orders,
        unavailable=unavailable,
        monitoring_unavailable=monitoring_only,
        problems=(*gathered.malformed, *problems),
    )
