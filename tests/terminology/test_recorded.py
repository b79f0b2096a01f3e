"""Clinician-recorded grades: every accepted Observation, AdverseEvent and Condition shape."""

from __future__ import annotations

from typing import Any

import pytest

from terminology.facts import build_facts
from terminology.model import DrugIdentity, EventSource
from terminology.recorded import (
    CTCAE_GRADE_EXTENSION,
    CTCAE_GRADE_SYSTEM,
    MDRAE_SYSTEM,
    QUALIFIER_EXTENSION,
    QUALIFIER_SYSTEM,
)

RASH = {"coding": [{"system": MDRAE_SYSTEM, "code": "10037847", "display": "Rash acneiform"}]}
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"


def _obs(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "r",
        "status": "final",
        "effectiveDateTime": "2024-04-10",
    } | fields


@pytest.mark.parametrize(
    ("fields", "grade"),
    [
        ({"code": RASH, "valueInteger": 2}, 2),
        ({"code": {"text": "RASH, acneiform"}, "valueInteger": 3}, 3),
        ({"code": {"coding": [{"system": MDRAE_SYSTEM, "code": "10037847"}]}, "valueInteger": 0}, 0),
        ({"code": RASH, "valueCodeableConcept": {"coding": [{"system": NCIT, "code": "C41340"}]}}, 3),
        ({"code": RASH, "valueCodeableConcept": {"coding": [{"system": NCIT, "code": "C41337"}]}}, 4),
        (
            {"code": RASH, "valueCodeableConcept": {"coding": [{"system": CTCAE_GRADE_SYSTEM, "code": "1"}]}},
            1,
        ),
        ({"code": RASH, "valueCodeableConcept": {"text": "Grade 2"}}, 2),
        ({"code": RASH, "extension": [{"url": CTCAE_GRADE_EXTENSION, "valueInteger": 3}]}, 3),
        (
            {
                "code": RASH,
                "extension": [
                    {"url": CTCAE_GRADE_EXTENSION, "valueCoding": {"system": CTCAE_GRADE_SYSTEM, "code": "4"}}
                ],
            },
            4,
        ),
    ],
)
def test_observation_shapes(fields: dict[str, Any], grade: int) -> None:
    facts = build_facts([_obs(**fields)])
    timeline = facts.timeline("Rash acneiform")
    assert timeline is not None and timeline.current_grade == grade
    event = timeline.events[0]
    assert event.source is EventSource.OBSERVATION and event.meddra_code == "10037847"
    assert event.ctcae_version == "5.0"


@pytest.mark.parametrize(
    "fields",
    [
        {"code": RASH},
        {"code": RASH, "valueInteger": 7},
        {"code": RASH, "valueInteger": True},
        {"code": RASH, "valueString": "bad"},
        {"code": RASH, "valueCodeableConcept": {"text": "moderate-ish"}},
        {"code": RASH, "valueInteger": 2, "status": "entered-in-error"},
    ],
)
def test_unreadable_recorded_grades_are_excluded(fields: dict[str, Any]) -> None:
    facts = build_facts([_obs(**fields)])
    assert facts.timeline("Rash acneiform") is None
    assert facts.exclusions and facts.exclusions[0].subject == "Rash acneiform"


def test_observation_qualifiers_from_components_and_extension() -> None:
    obs = _obs(
        code=RASH,
        valueInteger=3,
        component=[
            {"code": {"coding": [{"system": QUALIFIER_SYSTEM, "code": "symptomatic"}]}, "valueBoolean": True},
            {"code": {"coding": [{"system": "http://other", "code": "symptomatic"}]}, "valueBoolean": False},
            {"code": {"coding": [{"system": QUALIFIER_SYSTEM, "code": "unknown"}]}, "valueBoolean": True},
        ],
        extension=[
            {
                "url": QUALIFIER_EXTENSION,
                "extension": [
                    {"url": "name", "valueCode": "suspected-scar"},
                    {"url": "value", "valueBoolean": False},
                ],
            }
        ],
    )
    timeline = build_facts([obs]).timeline("Rash acneiform")
    assert timeline is not None
    event = timeline.events[0]
    assert event.qualifier("symptomatic") is True
    assert event.qualifier("suspected-scar") is False
    assert event.qualifier("life-threatening") is None


def test_v6_reports_v5_terms_through_the_nci_mapping() -> None:
    facts = build_facts([_obs(code=RASH, valueInteger=2)], ctcae_version="6.0")
    timeline = facts.timeline("Rash maculo-papular")
    assert timeline is not None and timeline.current_grade == 2
    assert "NCI mapping" in (timeline.events[0].evidence.note or "")


SJS = {
    "coding": [
        {"system": "http://snomed.info/sct", "code": "73442001", "display": "Stevens-Johnson syndrome"}
    ]
}


def test_adverse_event_with_severity_snomed_event_and_suspect() -> None:
    drugs = (DrugIdentity("alectinib", ("alectinib", "Alecensa"), rxnorm=("1727455",)),)
    resources = [
        {
            "resourceType": "AdverseEvent",
            "id": "ae",
            "actuality": "actual",
            "event": SJS,
            "date": "2024-05-01",
            "severity": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/adverse-event-severity",
                        "code": "severe",
                    }
                ]
            },
            "suspectEntity": [
                {"instance": {"reference": "Medication/m1"}},
                {"instance": {"display": "Alecensa"}},
            ],
        },
        {
            "resourceType": "Medication",
            "id": "m1",
            "code": {
                "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1727455"}]
            },
        },
    ]
    timeline = build_facts(resources, drugs=drugs).timeline("Stevens-Johnson syndrome")
    assert timeline is not None
    event = timeline.events[0]
    assert (event.grade, event.source, event.suspect_drugs) == (3, EventSource.ADVERSE_EVENT, ("alectinib",))


def test_potential_adverse_event_is_excluded() -> None:
    ae = {
        "resourceType": "AdverseEvent",
        "id": "p",
        "actuality": "potential",
        "event": RASH,
        "severity": {"text": "Grade 2"},
    }
    facts = build_facts([ae])
    assert not facts.timelines and "potential" in facts.exclusions[0].reason


@pytest.mark.parametrize(
    ("system", "code", "kind"),
    [
        ("http://hl7.org/fhir/sid/icd-10-cm", "L51.2", "ten"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "D72.12", "dress"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "L27.0", "drug-eruption"),
        ("http://hl7.org/fhir/sid/icd-10", "L51.1", "sjs"),
        ("http://snomed.info/sct", "73442001", "sjs"),
    ],
)
def test_conditions_become_history(system: str, code: str, kind: str) -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c",
        "code": {"coding": [{"system": system, "code": code}]},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "onsetDateTime": "2020-01-01",
    }
    facts = build_facts([condition])
    assert [(c.kind, c.active, c.resource) for c in facts.conditions] == [(kind, True, "Condition/c")]


def test_condition_with_grade_is_also_an_event_and_refuted_is_excluded() -> None:
    graded = {
        "resourceType": "Condition",
        "id": "g",
        "code": SJS,
        "extension": [{"url": CTCAE_GRADE_EXTENSION, "valueInteger": 4}],
        "clinicalStatus": {"coding": [{"code": "resolved"}]},
    }
    refuted = {
        "resourceType": "Condition",
        "id": "x",
        "code": SJS,
        "verificationStatus": {"coding": [{"code": "refuted"}]},
    }
    facts = build_facts([graded, refuted])
    assert [(c.kind, c.active) for c in facts.conditions] == [("sjs", False)]
    timeline = facts.timeline("Stevens-Johnson syndrome")
    # Recorded as resolved (no abatement date): a grade 0 point follows the grade 4 event.
    assert timeline is not None and timeline.worst_grade == 4 and timeline.current_grade == 0
    assert timeline.events[0].source is EventSource.CONDITION
    assert timeline.events[1].evidence.received == (
        "resolved: clinicalStatus resolved, abatement date not recorded (dated at onset)"
    )
    assert [x.resource for x in facts.exclusions] == ["Condition/x"]


def test_unrelated_conditions_are_ignored() -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]},
    }
    facts = build_facts([condition])
    assert not facts.conditions and not facts.exclusions
