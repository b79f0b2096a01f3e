"""Switch suggestions: stop this drug and draft the alternative's first order from its own knowledge file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cards.actions import dosage, medication_request
from cards.model import Action, EvaluationRequest, Suggestion
from cards.schema import CoMedication, KnowledgeFile, StartingRegimen

__all__ = ["regimen_dosages", "switch_suggestions"]

_UCUM_DAY = {"value": 0, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"}
_TO_COMPLETE = (
    "Draft for the prescriber to complete and review before signing (start date, tablets, "
    "quantity, interactions, renal and hepatic function)."
)


def regimen_dosages(regimen: StartingRegimen) -> list[dict[str, Any]]:
    """Sequenced FHIR Dosages: each lead-in phase bounded by its duration, then the continuing dose."""
    out: list[dict[str, Any]] = []
    first_day = 1
    for number, step in enumerate(regimen.steps, start=1):
        item = dosage(step.dose, step.per_day, unit=regimen.unit, route_text=regimen.route)
        item["sequence"] = number
        if step.days is not None:
            item["timing"]["repeat"]["boundsDuration"] = {**_UCUM_DAY, "value": step.days}
            item["text"] += f" for {step.days} days" + (f" from day {first_day}" if number > 1 else "")
            first_day += step.days
        elif number > 1:
            item["text"] += f" from day {first_day}"
        out.append(item)
    return out


def _describe(dosages: list[dict[str, Any]]) -> str:
    return ", then ".join(d["text"] for d in dosages)


def _create(co: CoMedication, peer: KnowledgeFile | None, request: EvaluationRequest) -> Action:
    """The draft MedicationRequest for the alternative: the label regimen when confirmed, else text only."""
    ident = peer.identity if peer is not None else co
    code = ident.rxnorm[0] if ident.rxnorm and ident.verified else None
    name = ident.names[0]
    regimen = peer.starting_regimen if peer is not None else None
    if regimen is not None and regimen.verified:
        dosages = regimen_dosages(regimen)
        cite = peer.references[regimen.source].label if peer is not None else ""
        return medication_request(
            patient_id=request.patient_id,
            description=f"Draft {name} order at the label starting regimen: {_describe(dosages)}.",
            rxnorm=code,
            display=name,
            dosages=dosages,
            note=f"{_TO_COMPLETE} Starting regimen from {cite}.",
        )
    return medication_request(
        patient_id=request.patient_id,
        description=f"Draft {name} order (dose per its prescribing information).",
        rxnorm=code,
        display=name,
        instructions="Dose per the prescribing information.",
        note=f"{_TO_COMPLETE} No confirmed starting regimen is held here: set the dose.",
    )


def switch_suggestions(
    co_medications: tuple[CoMedication, ...],
    alternatives: Mapping[str, KnowledgeFile],
    wanted: list[str],
    stop: tuple[Action, ...],
    request: EvaluationRequest,
) -> list[Suggestion]:
    """One suggestion per alternative: the stop actions for this drug plus a draft of the alternative."""
    out: list[Suggestion] = []
    for co in co_medications:
        if co.drug not in wanted:
            continue
        create = _create(co, alternatives.get(co.drug), request)
        out.append(Suggestion(label=f"Switch to {co.names[0]}", isRecommended=False, actions=(*stop, create)))
    return out
