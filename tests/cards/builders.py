"""Small constructors of PatientFacts and orders for engine tests."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from cards.model import AppLinks, EvaluationRequest, Hook
from terminology.model import (
    Dose,
    DrugMatch,
    EventSource,
    Evidence,
    GradedEvent,
    HistoryCondition,
    LabResult,
    MedicationOrder,
    PatientFacts,
    TermTimeline,
)
from tests.cards.helpers import knowledge

# A frozen, non-UTC clock (UTC+02:00).
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=timezone(timedelta(hours=2)))

# Co-medications the knowledge files name but do not cover; covered drugs come from their files.
_MEDS = {
    "avutometinib-defactinib": (None, "avutometinib and defactinib"),
    "pembrolizumab": (None, "pembrolizumab"),
    "irinotecan": (None, "irinotecan"),
    "everolimus": (None, "everolimus"),
}


def _covered(drug: str) -> tuple[str | None, str]:
    """(first RxNorm code, name) of a drug from its knowledge file's identity."""
    identity = knowledge().drugs[drug].spec.identity
    return (identity.rxnorm[0] if identity.rxnorm else None), identity.names[0]


def days_ago(days: float) -> datetime:
    """A moment `days` before NOW."""
    return NOW - timedelta(days=days)


def event(term: str, grade: int, when: datetime, *, ident: str = "1", **kw: Any) -> GradedEvent:
    """A clinician-graded event."""
    return GradedEvent(
        term=term,
        meddra_code=None,
        grade=grade,
        ctcae_version="5.0",
        effective=when,
        source=EventSource.OBSERVATION,
        evidence=Evidence(
            resource=f"Observation/{term.split()[0].lower()}-{ident}", received=f"grade {grade}"
        ),
        **kw,
    )


def lab(
    analyte: str, value: float, uln: float, when: datetime, *, ident: str, baseline: float | None = None
) -> LabResult:
    """A lab value with its ULN."""
    return LabResult(
        analyte=analyte,
        resource=f"Observation/{ident}",
        effective=when,
        value=value,
        unit="U/L",
        received=f"{value:g} U/L",
        uln=uln,
        baseline=baseline,
    )


def dose(amount: float | None, per_day: float | None = 2) -> Dose:
    """A structured dose (None: not understood)."""
    if amount is None or per_day is None:
        return Dose(understood=False, text="take as directed", problem="no structured dose")
    return Dose(
        understood=True,
        per_administration=amount,
        unit="mg",
        administrations_per_day=per_day,
        daily=amount * per_day,
    )


def order(
    drug: str,
    amount: float | None = 600,
    per_day: float | None = 2,
    *,
    ident: str = "draft-1",
    draft: bool = True,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    group: str | None = None,
) -> MedicationOrder:
    """A MedicationRequest for a known drug, with its raw resource."""
    code, name = _MEDS[drug] if drug in _MEDS else _covered(drug)
    concept: dict[str, Any] = {"text": name}
    if code:
        concept["coding"] = [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code}]
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": status or ("draft" if draft else "active"),
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": concept,
    }
    if amount is not None and per_day is not None:
        resource["dosageInstruction"] = [
            {
                "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": amount, "unit": "mg"}}],
            }
        ]
    if group:
        resource["groupIdentifier"] = {"system": group, "value": "x"}
    return MedicationOrder(
        reference=f"MedicationRequest/{ident}",
        resource=resource,
        status=resource["status"],
        intent="order",
        drug=DrugMatch(drug=drug, match="name", display=name),
        medication_text=name,
        dose=dose(amount, per_day),
        authored_on=start,
        start=start,
        end=end,
        is_draft=draft,
    )


def facts(
    *,
    events: tuple[GradedEvent, ...] = (),
    labs: tuple[LabResult, ...] = (),
    conditions: tuple[HistoryCondition, ...] = (),
    medications: tuple[MedicationOrder, ...] = (),
) -> PatientFacts:
    """PatientFacts with timelines built from `events` (sorted by time)."""
    by_term: dict[str, list[GradedEvent]] = defaultdict(list)
    for item in sorted(events, key=lambda e: e.effective or NOW):
        by_term[item.term].append(item)
    by_lab: dict[str, list[LabResult]] = defaultdict(list)
    for value in sorted(labs, key=lambda v: v.effective or NOW):
        by_lab[value.analyte].append(value)
    return PatientFacts(
        ctcae_version="5.0",
        timelines={t: TermTimeline(t, tuple(e)) for t, e in by_term.items()},
        labs={a: tuple(v) for a, v in by_lab.items()},
        conditions=conditions,
        medications=medications,
    )


def request(
    hook: Hook,
    patient: PatientFacts,
    *drafts: MedicationOrder,
    unavailable: tuple[str, ...] = (),
    smart: str | None = None,
) -> EvaluationRequest:
    """An EvaluationRequest at NOW."""
    return EvaluationRequest(
        hook=hook,
        patient_id="p1",
        facts=patient,
        now=NOW,
        draft_orders=drafts,
        unavailable=unavailable,
        links=AppLinks(smart_launch_url=smart),
    )


def graded(term: str, grade: int, value: LabResult) -> GradedEvent:
    """The CTCAE event terminology derives from a lab value."""
    multiple = value.x_uln
    return GradedEvent(
        term=term,
        meddra_code=None,
        grade=grade,
        ctcae_version="5.0",
        effective=value.effective,
        source=EventSource.LAB,
        evidence=Evidence(
            resource=value.resource,
            received=value.received,
            value=value.value,
            unit=value.unit,
            reference_kind="ULN",
            reference_value=value.uln,
            multiple=multiple,
        ),
        analyte=value.analyte,
    )
