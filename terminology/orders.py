"""Read a MedicationRequest into a MedicationOrder: recognised drug (codes, then names) and dose."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from terminology.dose import dosage_in_force, read_dose
from terminology.drugs import match_drug
from terminology.fhir import as_list, as_map, as_str, codings, parse_datetime, reference_of
from terminology.model import DrugIdentity, MedicationOrder
from terminology.strength import strength_of

__all__ = ["medication_concepts", "read_order"]


def _resolve(
    resource: Mapping[str, Any], medications: Mapping[str, Mapping[str, Any]] | None
) -> Mapping[str, Any] | None:
    """The Medication a medicationReference points to (contained "#id" or "Medication/<id>")."""
    target = as_str(as_map(resource.get("medicationReference")).get("reference"))
    if target is None:
        return None
    if target.startswith("#"):
        for contained in as_list(resource.get("contained")):
            contained = as_map(contained)
            if contained.get("resourceType") == "Medication" and contained.get("id") == target[1:]:
                return contained
        return None
    found = (medications or {}).get(target)
    if found is None and "/Medication/" in target:  # absolute URL of the same resource
        found = (medications or {}).get("Medication/" + target.rsplit("/Medication/", 1)[1])
    return found


def medication_concepts(
    resource: Mapping[str, Any], medications: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[list[Any], list[str]]:
    """The CodeableConcepts naming the drug of an order and the texts that name it."""
    concepts: list[Any] = []
    texts: list[str] = []
    if "medicationCodeableConcept" in resource:
        concepts.append(resource.get("medicationCodeableConcept"))
    medication = _resolve(resource, medications)
    if medication is not None:
        concepts.append(medication.get("code"))
        for ingredient in as_list(medication.get("ingredient")):
            concepts.append(as_map(ingredient).get("itemCodeableConcept"))
    display = as_str(as_map(resource.get("medicationReference")).get("display"))
    for concept in concepts:
        text = as_str(as_map(concept).get("text"))
        if text:
            texts.append(text)
    if display:
        texts.append(display)
    return concepts, texts


def read_order(
    resource: Mapping[str, Any],
    *,
    drugs: Sequence[DrugIdentity] = (),
    medications: Mapping[str, Mapping[str, Any]] | None = None,
    is_draft: bool = False,
    now: datetime | None = None,
) -> MedicationOrder:
    """Recognise the drug (codes, then names) and read the structured dose of one MedicationRequest.

    The dose is the dosage line in force at `now` (a lead-in, then the continuing dose); without
    `now`, the first line.
    """
    resource = as_map(resource)
    concepts, texts = medication_concepts(resource, medications)
    dosage_text = as_str(as_map(dosage_in_force(resource, now)).get("text"))
    strength = strength_of(
        concepts, [*texts, *([dosage_text] if dosage_text else [])], _resolve(resource, medications)
    )
    codes = [c for concept in concepts for c in codings(concept)]
    match = match_drug(codes, texts, drugs)
    shown = texts[0] if texts else next((d for _, _, d in codes if d), None)
    dosage = as_map(next(iter(as_list(resource.get("dosageInstruction"))), None))
    bounds = as_map(as_map(as_map(dosage.get("timing")).get("repeat")).get("boundsPeriod"))
    validity = as_map(as_map(resource.get("dispenseRequest")).get("validityPeriod"))
    return MedicationOrder(
        reference=reference_of({"resourceType": "MedicationRequest", "id": resource.get("id")}),
        resource=resource,
        status=as_str(resource.get("status")),
        intent=as_str(resource.get("intent")),
        drug=match,
        medication_text=shown,
        dose=read_dose(resource, strength, now),
        authored_on=parse_datetime(resource.get("authoredOn")),
        start=parse_datetime(bounds.get("start")) or parse_datetime(validity.get("start")),
        end=parse_datetime(bounds.get("end")) or parse_datetime(validity.get("end")),
        is_draft=is_draft,
    )
