"""Example FHIR data and hook requests for the service tests (synthetic patients only)."""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "FHIR",
    "PATIENT",
    "bundle",
    "ck_observation",
    "draft_order",
    "full_prefetch",
    "hook_request",
]

FHIR = "https://fhir.example.org/r4"
PATIENT = "p-1001"
HOOK_INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"


def bundle(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    """A searchset Bundle of the resources, with a `next` link when given."""
    result: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"fullUrl": f"{FHIR}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }
    if next_url:
        result["link"] = [{"relation": "next", "url": next_url}]
    return result


def ck_observation(ident: str, value: float, when: str = "2026-03-10T08:00:00+01:00") -> dict[str, Any]:
    """A creatine kinase result in U/L with its reference range."""
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2157-6", "display": "CK"}]},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": "U/L",
            "system": "http://unitsofmeasure.org",
            "code": "U/L",
        },
        "referenceRange": [{"high": {"value": 200, "unit": "U/L"}}],
    }


def draft_order(
    ident: str, *, status: str = "draft", medication: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A MedicationRequest for alectinib 600 mg twice daily, by concept unless `medication` is given."""
    order: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": status,
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "authoredOn": "2026-03-14",
        "dosageInstruction": [
            {
                "text": "600 mg twice daily",
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 600,
                            "unit": "mg",
                            "system": "http://unitsofmeasure.org",
                            "code": "mg",
                        }
                    }
                ],
            }
        ],
    }
    if medication is None:
        order["medicationCodeableConcept"] = {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "1727455",
                    "display": "alectinib",
                }
            ],
            "text": "alectinib 150 mg capsule",
        }
    else:
        order.update(medication)
    return order


def full_prefetch() -> dict[str, Any]:
    """Every prefetch key of the services, filled: labs, nothing else on record."""
    return {
        "patient": {"resourceType": "Patient", "id": PATIENT, "birthDate": "1961-05-02", "gender": "female"},
        "labs": bundle(
            ck_observation("ck-1", 180, "2026-02-01T08:00:00+01:00"), ck_observation("ck-2", 1250)
        ),
        "gradedEvents": bundle(),
        "medications": bundle(),
        "conditions": None,
        "adverseEvents": bundle(),
        "procedures": bundle(),
        "diagnosticReports": bundle(),
        "assessments": bundle(),
    }


def hook_request(
    hook: str,
    *,
    drafts: list[dict[str, Any]] | None = None,
    selections: list[str] | None = None,
    prefetch: dict[str, Any] | None = None,
    fhir_server: bool = False,
) -> dict[str, Any]:
    """A CDS Hooks 2.0 request; `prefetch` defaults to full_prefetch()."""
    context: dict[str, Any] = {"userId": "Practitioner/pr-7", "patientId": PATIENT, "encounterId": "enc-3"}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in (drafts if drafts is not None else [draft_order("mr-1")])],
        }
    if hook == "order-select":
        context["selections"] = selections if selections is not None else ["MedicationRequest/mr-1"]
    request: dict[str, Any] = {
        "hook": hook,
        "hookInstance": HOOK_INSTANCE,
        "context": context,
        "prefetch": copy.deepcopy(prefetch) if prefetch is not None else full_prefetch(),
    }
    if fhir_server:
        request["fhirServer"] = FHIR
        request["fhirAuthorization"] = {
            "access_token": "secret-access-token-123",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "toxhooks",
        }
    return request
