"""Small builders of FHIR JSON for terminology tests."""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

# One LOINC code per analyte, for building Observations.
LOINC_OF = {
    "ck": "2157-6",
    "alt": "1742-6",
    "ast": "1920-8",
    "bilirubin": "1975-2",
    "alp": "6768-6",
    "ggt": "2324-2",
    "ldh": "2532-0",
    "lipase": "3040-3",
    "amylase": "1798-8",
    "creatinine": "2160-0",
    "egfr": "98979-8",
    "hemoglobin": "718-7",
    "neutrophils": "751-8",
    "platelets": "777-3",
    "wbc": "6690-2",
    "lymphocytes": "731-0",
    "cd4": "24467-3",
    "potassium": "2823-3",
    "sodium": "2951-2",
    "calcium": "17861-6",
    "calcium-ionized": "1994-3",
    "magnesium": "19123-9",
    "glucose": "2345-7",
    "albumin": "1751-7",
    "bicarbonate": "1963-8",
    "cholesterol": "2093-3",
    "triglycerides": "2571-8",
    "inr": "6301-6",
    "aptt": "3173-2",
    "fibrinogen": "3255-7",
    "haptoglobin": "4542-7",
    "urine-protein-24h": "2889-4",
    "qtc": "8636-3",
    "systolic-bp": "8480-6",
    "diastolic-bp": "8462-4",
}


def observation(
    analyte: str,
    value: Any,
    unit: str | None,
    *,
    id: str = "o1",
    when: str | None = "2024-05-01T08:00:00Z",
    low: float | None = None,
    high: float | None = None,
    range_unit: str | None = None,
    status: str = "final",
    comparator: str | None = None,
) -> dict[str, Any]:
    """A lab Observation with a valueQuantity and an optional referenceRange."""
    quantity: dict[str, Any] = {"value": value}
    if unit is not None:
        quantity |= {"unit": unit, "system": UCUM, "code": unit}
    if comparator:
        quantity["comparator"] = comparator
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": id,
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": LOINC_OF[analyte]}]},
        "valueQuantity": quantity,
    }
    if when:
        resource["effectiveDateTime"] = when
    if low is not None or high is not None:
        rng: dict[str, Any] = {}
        if low is not None:
            rng["low"] = {"value": low, "unit": range_unit or unit}
        if high is not None:
            rng["high"] = {"value": high, "unit": range_unit or unit}
        resource["referenceRange"] = [rng]
    return resource
