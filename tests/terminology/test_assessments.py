"""Performed exams and assessments read from Procedure, DiagnosticReport and survey Observations."""

from __future__ import annotations

from terminology.assessments import read_assessment
from terminology.facts import build_facts


def procedure(status: str = "completed", **extra: object) -> dict[str, object]:
    return {
        "resourceType": "Procedure",
        "id": "eye-1",
        "status": status,
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "36228007"}], "text": "Eye exam"},
        "performedDateTime": "2026-03-01T10:00:00+01:00",
        **extra,
    }


def test_completed_procedure_is_an_assessment_with_codes_text_and_date() -> None:
    found = read_assessment(procedure())
    assert found is not None and found.resource == "Procedure/eye-1" and found.kind == "procedure"
    assert found.codes == (("http://snomed.info/sct", "36228007"),) and found.texts == ("Eye exam",)
    assert found.effective is not None and found.effective.date().isoformat() == "2026-03-01"


def test_procedure_not_done_or_without_date_is_not_an_assessment() -> None:
    assert read_assessment(procedure("not-done")) is None
    assert read_assessment(procedure("in-progress")) is None
    undated = procedure()
    del undated["performedDateTime"]
    assert read_assessment(undated) is None
    assert read_assessment(procedure(performedPeriod={"start": "2026-03-02"})) is not None


def test_diagnostic_report_uses_its_effective_time() -> None:
    report = {
        "resourceType": "DiagnosticReport",
        "id": "oct",
        "status": "final",
        "code": {"text": "Optical coherence tomography"},
        "effectivePeriod": {"start": "2026-02-20"},
    }
    found = read_assessment(report)
    assert found is not None and found.kind == "diagnostic-report" and found.effective is not None
    assert read_assessment({**report, "status": "registered"}) is None


def test_only_survey_or_exam_observations_are_assessments() -> None:
    survey = {
        "resourceType": "Observation",
        "id": "dlqi",
        "status": "final",
        "category": [{"coding": [{"code": "survey"}]}],
        "code": {"text": "DLQI total score"},
        "effectiveDateTime": "2026-03-01",
    }
    assert read_assessment(survey) is not None
    lab = {**survey, "category": [{"coding": [{"code": "laboratory"}]}]}
    assert read_assessment(lab) is None


def test_build_facts_collects_assessments_oldest_first() -> None:
    later = procedure(id="eye-2", performedDateTime="2026-03-05")
    facts = build_facts([later, procedure(), {"resourceType": "Procedure", "id": "x", "status": "completed"}])
    assert [a.resource for a in facts.assessments] == ["Procedure/eye-1", "Procedure/eye-2"]
