"""Build PatientFacts from a patient's FHIR resources (STUB: returns no facts yet)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from terminology.model import DrugIdentity, PatientFacts

__all__ = ["build_facts"]


def build_facts(
    resources: Iterable[Mapping[str, Any]],
    *,
    ctcae_version: str = "5.0",
    drugs: Sequence[DrugIdentity] = (),
    medications: Mapping[str, Mapping[str, Any]] | None = None,
    therapy_start: datetime | None = None,
) -> PatientFacts:
    """Grade Observations, read AdverseEvents/Conditions and orders on record into PatientFacts.

    `resources` is every FHIR resource of the patient that the service gathered (prefetch and
    fetched, de-duplicated, drafts excluded); unknown types are ignored. `medications` maps
    "Medication/<id>" to Medication resources for MedicationRequest.medicationReference.
    `therapy_start` overrides the start used to pick baselines.
    """
    return PatientFacts(ctcae_version=ctcae_version)
