"""The whole timeline view of one patient and drug: labs, bands, events, therapy, recommendation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from cards.engine import evaluate
from cards.loader import KnowledgeBase
from cards.model import AppLinks, EvaluationRequest
from service.gathering import Gathered
from service.reading import read_patient
from service.views.calendar import Protocol, calendars
from service.views.card_display import display_card
from service.views.monitoring import monitoring_schedules
from service.views.series import GradeTexts, event_markers, lab_series
from service.views.therapy import therapy_segments

__all__ = ["build_timeline", "jsonable"]


def jsonable(value: Any) -> Any:
    """Dataclasses, datetimes, enums and tuples as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def build_timeline(
    resources: Iterable[Mapping[str, Any]],
    *,
    patient_id: str,
    drug: str | None,
    rule: str | None,
    now: datetime,
    knowledge: KnowledgeBase,
    ctcae_version: str,
    grade_texts: GradeTexts,
    protocols: Sequence[Protocol] = (),
    evaluator: Callable[[EvaluationRequest, KnowledgeBase], Any] = evaluate,
    unavailable: Sequence[str] = (),
) -> dict[str, Any]:
    """Shape a patient's FHIR resources into the JSON the timeline page draws.

    The current recommendation is what the rule engine says at `now` for a patient-view of the
    same data; cards about other drugs are left out when `drug` is given. `unavailable` names the
    searches the app could not read ("procedures", "diagnosticReports"...): the monitoring
    schedule marks the assessments they would show as not checked, never as overdue. Data are
    read as for a hook call: another patient's resources and unreadable ones are left out and
    named in `notRead`.
    """
    items = tuple(r for r in resources if isinstance(r, Mapping))
    patient = read_patient(
        Gathered(resources=items),
        patient_id=patient_id,
        knowledge=knowledge,
        ctcae_version=ctcae_version,
        now=now,
    )
    facts = patient.facts
    request = EvaluationRequest(
        hook="patient-view",
        patient_id=patient_id,
        facts=facts,
        now=now,
        links=AppLinks(),
        monitoring_unavailable=tuple(unavailable),
    )
    result = evaluator(request, knowledge)
    recommendation = []
    for rendered in result.cards:
        if drug is not None and rendered.drug not in (drug, None):
            continue
        shaped = display_card(rendered.card.model_dump(exclude_none=True))
        shaped["decision"] = rendered.decision
        shaped["ruleIds"] = list(rendered.rule_ids)
        shaped["fromLink"] = rule is not None and rule in rendered.rule_ids
        recommendation.append(shaped)
    recommendation.sort(key=lambda c: not c["fromLink"])
    return {
        "patient": patient_id,
        "drug": drug,
        "rule": rule,
        "ctcaeVersion": facts.ctcae_version,
        "generatedAt": now.isoformat(),
        "labs": jsonable(lab_series(facts, grade_texts)),
        "events": jsonable(event_markers(facts)),
        "therapy": jsonable(therapy_segments(facts.medications)),
        "recommendation": recommendation,
        "calendars": jsonable(calendars(protocols)),
        "monitoring": jsonable(
            monitoring_schedules(facts, knowledge, now=now, drug=drug, unavailable=unavailable)
        ),
        "exclusions": jsonable(facts.exclusions),
        "notRead": list(patient.problems),
    }
