"""Resolution read from AdverseEvent outcome / IG extensions, Condition abatement, later grade 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from service.cli import grade as grade_cli
from terminology.facts import build_facts
from terminology.resolution import AE_OUTCOME_SYSTEM, RESOLVE_DATE_EXTENSION

AE_GRADE = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
MDRAE = "http://terminology.hl7.org/CodeSystem/MDRAE"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
RASH = {"coding": [{"system": MDRAE, "code": "10037868", "display": "Rash maculo-papular"}]}


def _ae(outcome: str | None = None, resolve: str | None = None, grade_code: str = "C41340") -> dict[str, Any]:
    extensions: list[dict[str, Any]] = [
        {"url": AE_GRADE, "valueCodeableConcept": {"coding": [{"system": NCIT, "code": grade_code}]}}
    ]
    if resolve:
        extensions.append({"url": RESOLVE_DATE_EXTENSION, "valueDateTime": resolve})
    ae: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": "ae1",
        "actuality": "actual",
        "date": "2026-02-20",
        "event": RASH,
        "extension": extensions,
    }
    if outcome:
        ae["outcome"] = {"coding": [{"system": AE_OUTCOME_SYSTEM, "code": outcome}]}
    return ae


def test_ae_grade_extension_is_read() -> None:
    timeline = build_facts([_ae(grade_code="C41339")]).timeline("Rash maculo-papular")
    assert timeline is not None and timeline.current_grade == 2
    assert timeline.events[0].evidence.received == "grade 2 (ae-grade extension)"


def test_resolved_outcome_with_resolve_date_is_a_grade_0_point() -> None:
    timeline = build_facts([_ae("resolved", "2026-03-06")]).timeline("Rash maculo-papular")
    assert timeline is not None
    assert [e.grade for e in timeline.events] == [3, 0]
    point = timeline.events[1]
    assert point.effective is not None and point.effective.date().isoformat() == "2026-03-06"
    assert point.evidence.resource == "AdverseEvent/ae1"
    assert point.evidence.received == "resolved: outcome resolved, resolve-date 2026-03-06"
    assert timeline.resolved_to(0, 3) is not None


def test_resolve_date_alone_means_resolved() -> None:
    timeline = build_facts([_ae(None, "2026-03-01")]).timeline("Rash maculo-papular")
    assert timeline is not None and timeline.current_grade == 0


@pytest.mark.parametrize("outcome", ["ongoing", "recovering", "unknown", "fatal"])
def test_not_over_outcomes_add_no_point(outcome: str) -> None:
    timeline = build_facts([_ae(outcome, "2026-03-06")]).timeline("Rash maculo-papular")
    assert timeline is not None and [e.grade for e in timeline.events] == [3]


def test_resolved_without_date_is_dated_at_the_event_and_says_so() -> None:
    timeline = build_facts([_ae("resolvedWithSequelae")]).timeline("Rash maculo-papular")
    assert timeline is not None and [e.grade for e in timeline.events] == [3, 0]
    point = timeline.events[1]
    assert point.effective == timeline.events[0].effective
    assert point.evidence.received is not None and "resolve-date not recorded" in point.evidence.received
    assert point.evidence.note is not None and "conservative" in point.evidence.note


def test_condition_abatement_date() -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "code": RASH,
        "extension": [{"url": AE_GRADE, "valueCodeableConcept": {"text": "Grade 3"}}],
        "onsetDateTime": "2026-01-10",
        "abatementDateTime": "2026-02-01",
    }
    timeline = build_facts([condition]).timeline("Rash maculo-papular")
    assert timeline is not None and [e.grade for e in timeline.events] == [3, 0]
    assert timeline.events[1].evidence.received == "resolved, abatement 2026-02-01"


def test_active_condition_is_not_resolved() -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "code": RASH,
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "extension": [{"url": AE_GRADE, "valueCodeableConcept": {"text": "Grade 3"}}],
        "onsetDateTime": "2026-01-10",
    }
    timeline = build_facts([condition]).timeline("Rash maculo-papular")
    assert timeline is not None and timeline.current_grade == 3


def test_later_grade_0_observation_resolves() -> None:
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": RASH,
        "effectiveDateTime": "2026-03-01",
        "valueInteger": 0,
    }
    timeline = build_facts([_ae(), observation]).timeline("Rash maculo-papular")
    assert timeline is not None and [e.grade for e in timeline.events] == [3, 0]


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setattr(grade_cli, "_drugs", lambda: ())
    monkeypatch.delenv("TOXHOOKS_CTCAE_VERSION", raising=False)
    application = typer.Typer()
    grade_cli.register(application)
    return application


def test_grade_command_shows_the_resolution(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps([_ae("resolved", "2026-03-06")]))
    out = CliRunner().invoke(app, ["grade", str(path)]).output
    assert "Rash maculo-papular: current grade 0, worst grade 3, resolved 2026-03-06" in out
    assert "grade 0  AdverseEvent/ae1  resolved: outcome resolved, resolve-date 2026-03-06" in out
    as_json = json.loads(CliRunner().invoke(app, ["grade", str(path), "--json"]).output)
    assert as_json["timelines"]["Rash maculo-papular"]["resolved"] == "2026-03-06"


def test_abated_diagnosis_is_not_active_history() -> None:
    ild = {
        "resourceType": "Condition",
        "id": "ild",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "233703007"}]},
        "onsetDateTime": "2025-06-01",
        "abatementDateTime": "2025-09-01",
    }
    assert [c.active for c in build_facts([ild]).conditions] == [False]
    ild["clinicalStatus"] = {"coding": [{"code": "recurrence"}]}
    assert [c.active for c in build_facts([ild]).conditions] == [True]


@pytest.mark.parametrize(
    ("outcome", "resolved"),
    [
        ({"text": "Recovered/Resolved"}, True),
        (
            {
                "coding": [
                    {"system": "urn:example:e2b", "code": "4", "display": "Recovered/resolved with sequelae"}
                ]
            },
            True,
        ),
        ({"text": "Recovering/Resolving"}, False),
        ({"text": "Not recovered/not resolved/ongoing"}, False),
        ({"coding": [{"system": "urn:example:local", "code": "resolved"}]}, True),
    ],
)
def test_outcome_words(outcome: dict[str, Any], resolved: bool) -> None:
    ae = _ae(None, None)
    ae["outcome"] = outcome
    timeline = build_facts([ae]).timeline("Rash maculo-papular")
    assert timeline is not None and (timeline.current_grade == 0) is resolved


def _graded_condition(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "c1",
        "code": RASH,
        "extension": [{"url": AE_GRADE, "valueCodeableConcept": {"text": "Grade 3"}}],
        "onsetDateTime": "2026-01-10",
        **fields,
    }


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"abatementBoolean": True}, "abatementBoolean true"),
        ({"abatementString": "resolved after steroids"}, "abatementString"),
        ({"abatementAge": {"value": 66, "unit": "a"}}, "abatementAge"),
    ],
)
def test_undated_abatement_resolves_and_says_which_field(fields: dict[str, Any], said: str) -> None:
    timeline = build_facts([_graded_condition(**fields)]).timeline("Rash maculo-papular")
    assert timeline is not None and [e.grade for e in timeline.events] == [3, 0]
    received = timeline.events[1].evidence.received or ""
    assert said in received and "date not recorded" in received


def test_abatement_boolean_false_is_not_resolved() -> None:
    condition = _graded_condition(abatementBoolean=False)
    timeline = build_facts([condition]).timeline("Rash maculo-papular")
    assert timeline is not None and timeline.current_grade == 3


def test_abatement_boolean_false_keeps_the_diagnosis_active() -> None:
    ild = {
        "resourceType": "Condition",
        "id": "ild",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "233703007"}]},
        "onsetDateTime": "2026-03-13",
        "abatementBoolean": False,
    }
    (history,) = build_facts([ild]).conditions
    assert history.kind == "ild" and history.active


def test_graded_condition_without_onset_is_dated_when_recorded() -> None:
    condition = _graded_condition(recordedDate="2026-01-12")
    del condition["onsetDateTime"]
    timeline = build_facts([condition]).timeline("Rash maculo-papular")
    assert timeline is not None and timeline.events[0].effective is not None
    assert timeline.events[0].effective.date().isoformat() == "2026-01-12"
