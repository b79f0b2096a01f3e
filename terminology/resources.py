"""Reading FHIR resources as JSON: Bundles, owners, Medication references (no validation, no network)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

__all__ = [
    "bundle_resources",
    "is_resource",
    "local_medications",
    "medication_problem",
    "medications_of",
    "missing_medication_references",
    "next_link",
    "other_patient",
]


def is_resource(value: Any) -> bool:
    """A JSON object with a string resourceType (the least a FHIR resource must have)."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("resourceType"), str)
        and isinstance(value.get("id", ""), str)
    )


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The searchset Bundle's `next` link, if any."""
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def bundle_resources(bundle: Mapping[str, Any], where: str) -> tuple[list[Mapping[str, Any]], list[str]]:
    """Resources of a Bundle's entries and the places of malformed ones; search outcomes are skipped."""
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        return [], [f"{where}.entry"]
    resources: list[Mapping[str, Any]] = []
    malformed: list[str] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        # is_resource written out (asked of every entry of every key)
        if not (
            isinstance(resource, dict)
            and isinstance(resource.get("resourceType"), str)
            and isinstance(resource.get("id", ""), str)
        ):
            malformed.append(f"{where}.entry[{index}]")
            continue
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue  # server's notes about the search, not patient data
        resources.append(resource)
    return resources, malformed


def medications_of(resources: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Medication resources by relative reference ("Medication/<id>"), for medicationReference."""
    return {
        f"Medication/{r['id']}": r
        for r in resources
        if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str)
    }


def local_medications(
    order: Mapping[str, Any], medications: Mapping[str, Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    """`medications` plus the order's contained Medications, by "#<id>"."""
    raw_contained = order.get("contained")
    items = raw_contained if isinstance(raw_contained, list) else ()
    contained = medications_of(r for r in items if isinstance(r, dict))
    return {**medications, **{"#" + k.split("/", 1)[1]: v for k, v in contained.items()}}


def missing_medication_references(
    orders: Iterable[Mapping[str, Any]], known: Collection[str], *, history: Iterable[Mapping[str, Any]] = ()
) -> list[str]:
    """medicationReference targets found neither in the bundle nor contained.

    Drafts (`orders`) first, then the patient's other MedicationRequests (`history`): a client that
    does not honour the medications template's `_include` sends them without their Medications.
    """
    wanted: list[str] = []
    requests = [*orders, *(r for r in history if r.get("resourceType") == "MedicationRequest")]
    for resource in requests:
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
    # The common answer, without splitting: "Patient/<our id>" names our patient when the id has
    # no "/" (the split below would then find exactly that id).
    ours = f"Patient/{patient_id}" if patient_id and "/" not in patient_id else None
    for name in ("subject", "patient"):
        ref = resource.get(name)
        target = ref.get("reference") if isinstance(ref, dict) else None
        if target == ours and ours is not None:
            return None
        if isinstance(target, str) and "Patient/" in target:
            owner = target.rstrip("/").split("Patient/")[-1].split("/")[0]
            return None if owner == patient_id else f"Patient/{owner}"
    return None


def medication_problem(resource: Mapping[str, Any]) -> str | None:
    """The first missing essential of a MedicationRequest (full validation is not needed here)."""
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
