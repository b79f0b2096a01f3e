"""FHIR R4 resources and CDS Hooks actions that cards suggest (delete, update, create)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from cards.model import Action
from cards.schema import MonitoringItem
from terminology.model import MedicationOrder

__all__ = [
    "DESENSITIZATION_SYSTEM",
    "RXNORM",
    "change_status",
    "delete_draft",
    "dosage",
    "medication_request",
    "monitoring_order",
    "reduce_draft",
    "service_request",
]

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
# Marks the step orders of a desensitization so a later interruption can be recognised.
DESENSITIZATION_SYSTEM = "https://toxhooks.org/fhir/desensitization"

_FREQUENCY_WORDS = {1: "once daily", 2: "twice daily", 3: "three times daily"}


def _g(value: float) -> float | int:
    """Whole numbers as int so the JSON reads 450, not 450.0."""
    return int(value) if float(value).is_integer() else value


def dosage(
    amount: float,
    per_day: float,
    *,
    unit: str = "mg",
    start: date | None = None,
    end: date | None = None,
    when: str | None = None,
    route_text: str | None = None,
) -> dict[str, Any]:
    """A structured Dosage: doseQuantity in UCUM and timing.repeat (frequency per 1 day)."""
    repeat: dict[str, Any] = {"frequency": _g(per_day), "period": 1, "periodUnit": "d"}
    if when:
        repeat = {"frequency": 1, "period": 1, "periodUnit": "d", "when": [when]}
    if start or end:
        bounds: dict[str, str] = {}
        if start:
            bounds["start"] = start.isoformat()
        if end:
            bounds["end"] = end.isoformat()
        repeat["boundsPeriod"] = bounds
    freq = "in the morning" if when == "MORN" else "in the evening" if when == "EVE" else None
    text = f"{_g(amount)} {unit} {freq or _FREQUENCY_WORDS.get(int(per_day), f'{_g(per_day)} times daily')}"
    result: dict[str, Any] = {
        "text": text,
        "timing": {"repeat": repeat},
        "doseAndRate": [{"doseQuantity": {"value": _g(amount), "unit": unit, "system": UCUM, "code": unit}}],
    }
    if route_text:
        result["route"] = {"text": route_text}
    return result


def delete_draft(order: MedicationOrder, description: str) -> Action:
    """Remove a draft order (order-select / order-sign)."""
    return Action(type="delete", description=description, resourceId=order.reference)


def change_status(order: MedicationOrder, status: str, description: str) -> Action:
    """Put an active order on hold or stop it (patient-view): an update with the whole resource."""
    resource = copy.deepcopy(dict(order.resource))
    resource["status"] = status
    return Action(type="update", description=description, resource=resource)


def reduce_draft(
    order: MedicationOrder,
    amount: float,
    per_day: float,
    unit: str,
    description: str,
    *,
    units: float | None = None,
) -> Action:
    """Update a draft with a new structured dose, keeping its other dosage fields (route, bounds).

    `units`: the new dose as a count of the order's own unit (3 capsules), written in that unit
    (its doseQuantity system/code/unit kept) with the mg amount in the text.
    """
    resource = copy.deepcopy(dict(order.resource))
    old = resource.get("dosageInstruction") or [{}]
    first = dict(old[0]) if isinstance(old[0], Mapping) else {}
    new = dosage(amount, per_day, unit=unit)
    if units is not None:
        previous = _first_quantity(first)
        form = order.dose.count_form or "unit"
        new["doseAndRate"] = [{"doseQuantity": {**previous, "value": _g(units)}}]
        new["text"] = (
            f"{_g(units)} {form}{'s' if units != 1 else ''} ({_g(amount)} {unit}) "
            + new["text"].split(" ", 2)[2]
        )
    bounds = ((first.get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
    if bounds:
        new["timing"]["repeat"]["boundsPeriod"] = bounds
    for key in ("route", "method", "sequence", "patientInstruction"):
        if key in first:
            new[key] = first[key]
    resource["dosageInstruction"] = [new]
    return Action(type="update", description=description, resource=resource)


def _first_quantity(dosage_json: Mapping[str, Any]) -> dict[str, Any]:
    """The first doseQuantity of a dosage as received."""
    for rate in dosage_json.get("doseAndRate") or ():
        if isinstance(rate, Mapping) and isinstance(rate.get("doseQuantity"), Mapping):
            return dict(rate["doseQuantity"])
    return {}


def medication_request(
    *,
    patient_id: str,
    description: str,
    rxnorm: str | None,
    display: str,
    dosages: Sequence[dict[str, Any]] = (),
    instructions: str | None = None,
    validity: tuple[date, date | None] | None = None,
    group: tuple[str, str] | None = None,
    note: str | None = None,
) -> Action:
    """Create a draft MedicationRequest; coded in RxNorm only when the code is confirmed."""
    concept: dict[str, Any] = {"text": display}
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": display}]
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": concept,
    }
    if dosages:
        resource["dosageInstruction"] = list(dosages)
    elif instructions:
        resource["dosageInstruction"] = [{"text": instructions}]
    if validity:
        period = {"start": validity[0].isoformat()}
        if validity[1]:
            period["end"] = validity[1].isoformat()
        resource["dispenseRequest"] = {"validityPeriod": period}
    if group:
        resource["groupIdentifier"] = {"system": group[0], "value": group[1]}
    if note:
        resource["note"] = [{"text": note}]
    return Action(type="create", description=description, resource=resource)


def service_request(
    *,
    patient_id: str,
    description: str,
    display: str,
    loinc: str | None,
    snomed: str | None,
    dates: Sequence[date] = (),
    note: str | None = None,
    period: tuple[date, date] | None = None,
) -> Action:
    """Create a ServiceRequest (LOINC or SNOMED coded when confirmed) with its occurrence dates or period."""
    code: dict[str, Any] = {"text": display}
    codings = []
    if loinc:
        codings.append({"system": LOINC, "code": loinc, "display": display})
    if snomed:
        codings.append({"system": SNOMED, "code": snomed, "display": display})
    if codings:
        code["coding"] = codings
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
        "code": code,
    }
    if period is not None:
        resource["occurrencePeriod"] = {"start": period[0].isoformat(), "end": period[1].isoformat()}
    elif len(dates) == 1:
        resource["occurrenceDateTime"] = dates[0].isoformat()
    elif dates:
        resource["occurrenceTiming"] = {"event": [d.isoformat() for d in dates]}
    if note:
        resource["note"] = [{"text": note}]
    return Action(type="create", description=description, resource=resource)


def monitoring_order(item: MonitoringItem, patient_id: str, dates: Sequence[date]) -> Action:
    """A draft ServiceRequest for a scheduled test or exam on its dates (coded only when confirmed)."""
    return service_request(
        patient_id=patient_id,
        description=f"{item.display}: {', '.join(d.isoformat() for d in dates)}.",
        display=item.display,
        loinc=item.loinc if item.code_verified else None,
        snomed=item.snomed if item.code_verified else None,
        dates=tuple(dates),
        note=item.note,
    )
