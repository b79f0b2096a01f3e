"""Lab Observations: literal grade tables, units, ranges, baselines and exclusions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from terminology.facts import build_facts
from terminology.model import GradedEvent

from .builders import LOINC, observation


def _events(resources: list[dict[str, Any]], term: str, **kwargs: Any) -> list[GradedEvent]:
    timeline = build_facts(resources, **kwargs).timeline(term)
    return list(timeline.events) if timeline else []


def _grade(obs: dict[str, Any], term: str, version: str = "5.0", **kwargs: Any) -> int | None:
    events = _events([obs], term, ctcae_version=version, **kwargs)
    return events[0].grade if events else None


# (analyte, value, unit, ULN or None for the default range, term, expected grade), by hand from CTCAE v5.0.
LITERAL_V5 = [
    ("ck", 200, "U/L", 200, "CPK increased", 0),
    ("ck", 200.01, "U/L", 200, "CPK increased", 1),
    ("ck", 500, "U/L", 200, "CPK increased", 1),
    ("ck", 500.5, "U/L", 200, "CPK increased", 2),
    ("ck", 1000, "U/L", 200, "CPK increased", 2),
    ("ck", 1001, "U/L", 200, "CPK increased", 3),
    ("ck", 2000, "U/L", 200, "CPK increased", 3),
    ("ck", 2001, "U/L", 200, "CPK increased", 4),
    ("ck", 20, "ukat/L", 200, "CPK increased", 3),  # 1200 U/L = 6 x ULN
    ("alt", 120, "U/L", 40, "Alanine aminotransferase increased", 1),
    ("alt", 121, "U/L", 40, "Alanine aminotransferase increased", 2),
    ("alt", 801, "U/L", 40, "Alanine aminotransferase increased", 4),
    ("creatinine", 1.95, "mg/dL", 1.3, "Creatinine increased", 1),
    ("creatinine", 1.96, "mg/dL", 1.3, "Creatinine increased", 2),
    ("creatinine", 168, "umol/L", 1.3, "Creatinine increased", 1),  # 1.90 mg/dL = 1.46 x ULN (range in mg/dL)
    ("creatinine", 176.8, "umol/L", 1.3, "Creatinine increased", 2),  # 2.00 mg/dL = 1.54 x ULN
    ("bilirubin", 3.6, "mg/dL", 1.2, "Blood bilirubin increased", 2),
    ("bilirubin", 3.61, "mg/dL", 1.2, "Blood bilirubin increased", 3),
]


@pytest.mark.parametrize(("analyte", "value", "unit", "uln", "term", "expected"), LITERAL_V5)
def test_literal_uln_grades(
    analyte: str, value: float, unit: str, uln: float, term: str, expected: int
) -> None:
    obs = observation(analyte, value, unit, high=uln, range_unit="U/L" if unit.endswith("kat/L") else None)
    if analyte == "creatinine" and unit == "umol/L":
        obs["referenceRange"] = [{"high": {"value": uln, "unit": "mg/dL"}}]
    assert _grade(obs, term) == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (10.0, "g/dL", 1),
        (9.99, "g/dL", 2),
        (8.0, "g/dL", 2),
        (7.99, "g/dL", 3),
        (100, "g/L", 1),
        (99.9, "g/L", 2),
        (6.2, "mmol/L", 1),
        (6.19, "mmol/L", 2),
        (4.9, "mmol/L", 2),
        (4.89, "mmol/L", 3),
        (12.5, "g/dL", 0),
    ],
)
def test_anemia_thresholds_as_written_in_each_unit(value: float, unit: str, expected: int) -> None:
    assert _grade(observation("hemoglobin", value, unit), "Anemia") == expected


@pytest.mark.parametrize(
    ("value", "unit", "v5", "v6"),
    [
        (1500, "/mm3", 1, 0),
        (1499, "/mm3", 2, 1),
        (1.0, "10*9/L", 2, 1),
        (0.99, "10*9/L", 3, 2),
        (0.49, "10*9/L", 4, 3),
        (0.09, "10*3/uL", 4, 4),
    ],
)
def test_neutrophils_v5_and_v6(value: float, unit: str, v5: int, v6: int) -> None:
    obs = observation("neutrophils", value, unit)
    assert _grade(obs, "Neutrophil count decreased", "5.0") == v5
    assert _grade(obs, "Neutrophil count decreased", "6.0") == v6


@pytest.mark.parametrize(
    ("value", "expected"), [(449, 0), (450, 1), (480.5, 1), (481, 2), (500, 2), (501, 3)]
)
def test_qtc_integer_bands(value: float, expected: int) -> None:
    term = "Electrocardiogram QT corrected interval prolonged"
    assert _grade(observation("qtc", value, "ms"), term) == expected


def test_blood_pressure_panel_grades_both_components() -> None:
    panel = {
        "resourceType": "Observation",
        "id": "bp",
        "status": "final",
        "effectiveDateTime": "2024-05-01",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 135, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 101, "code": "mm[Hg]"},
            },
        ],
    }
    grades = sorted(e.grade for e in _events([panel], "Hypertension"))
    assert grades == [1, 3]


def test_default_range_is_marked_on_the_evidence() -> None:
    event = _events([observation("ck", 1200, "U/L")], "CPK increased")[0]
    assert event.grade == 3  # default ULN 200
    assert event.evidence.reference_is_default is True
    assert event.evidence.reference_value == 200
    lab_range = _events([observation("ck", 1200, "U/L", high=300)], "CPK increased")[0]
    assert lab_range.evidence.reference_is_default is False
    assert lab_range.grade == 2


def test_evidence_carries_what_was_used() -> None:
    event = _events(
        [observation("creatinine", 265.2, "umol/L", high=1.2, range_unit="mg/dL")], "Creatinine increased"
    )[0]
    ev = event.evidence
    assert ev.resource == "Observation/o1"
    assert ev.received == "265.2 umol/L"
    assert ev.unit == "mg/dL" and ev.value == pytest.approx(3.0, rel=1e-3)
    assert ev.reference_kind == "ULN" and ev.reference_value == 1.2
    assert ev.multiple == pytest.approx(2.5, rel=1e-3)
    assert ev.rule_row == "Grade 2: >1.5 - 3.0 x ULN"
    assert event.ctcae_version == "5.0"


def test_baseline_is_last_value_before_therapy_start() -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    labs = [
        observation("alt", 90, "U/L", id="a", when="2024-04-01", high=40),
        observation("alt", 80, "U/L", id="b", when="2024-04-20", high=40),
        observation("alt", 250, "U/L", id="c", when="2024-05-10", high=40),
        observation("alt", 100, "U/L", id="d", when="2024-05-20", high=40),
    ]
    facts = build_facts(labs, therapy_start=start)
    assert [lab.baseline for lab in facts.labs["alt"]] == [None, None, 80, 80]
    timeline = facts.timeline("Alanine aminotransferase increased")
    assert timeline is not None
    by_id = {e.evidence.resource: e for e in timeline.events}
    # 250 / 80 = 3.1 x baseline -> grade 2 (baseline abnormal), not grade 3 by ULN (6.25 x ULN)
    assert by_id["Observation/c"].grade == 2
    assert by_id["Observation/c"].evidence.reference_kind == "baseline"
    # 100 / 80 = 1.25 x baseline is below the lowest baseline band: not graded, with the reason
    assert "Observation/d" not in by_id
    reasons = [x.reason for x in facts.exclusions if x.resource == "Observation/d"]
    assert reasons and "below the lowest baseline band" in reasons[0]


def test_explicit_baseline_and_creatinine_baseline_multiple() -> None:
    obs = observation("creatinine", 1.2, "mg/dL", high=1.3)
    assert _grade(obs, "Creatinine increased") == 0
    assert _grade(obs, "Creatinine increased", baselines={"creatinine": 0.7}) == 2  # >1.5 x baseline


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "entered-in-error"}, "status entered-in-error"),
        ({"status": "cancelled"}, "status cancelled"),
        ({"valueQuantity": None, "dataAbsentReason": {"coding": [{"code": "error"}]}}, "dataAbsentReason"),
        ({"valueQuantity": None}, "no numeric valueQuantity"),
        ({"valueQuantity": {"value": "high", "unit": "U/L"}}, "not a number"),
        ({"valueQuantity": {"value": 900, "unit": "furlongs"}}, "unknown unit"),
        ({"valueQuantity": {"value": 900, "unit": "mg/dL"}}, "incompatible"),
        ({"valueQuantity": {"value": 900}}, "no unit"),
    ],
)
def test_invalid_observations_are_excluded_with_a_reason(change: dict[str, Any], reason: str) -> None:
    obs = observation("ck", 900, "U/L") | change
    if obs.get("valueQuantity") is None:
        obs.pop("valueQuantity")
    facts = build_facts([obs])
    assert facts.timeline("CPK increased") is None
    assert len(facts.exclusions) == 1
    assert reason in facts.exclusions[0].reason
    assert facts.exclusions[0].subject == "ck"


def test_comparator_is_read_conservatively() -> None:
    high = _events([observation("ck", 5000, "U/L", high=200, comparator=">")], "CPK increased")[0]
    assert high.grade == 4 and "comparator" in (high.evidence.note or "")
    facts = build_facts([observation("ck", 1000, "U/L", high=200, comparator="<")])
    assert facts.timeline("CPK increased") is None
    assert "wrong side" in facts.exclusions[0].reason
    low = _events([observation("ck", 150, "U/L", high=200, comparator="<")], "CPK increased")[0]
    assert low.grade == 0  # below a value that is itself within limits: certainly grade 0


def test_unknown_codes_and_resources_are_ignored() -> None:
    odd = [
        {"resourceType": "Observation", "id": "x", "code": {"coding": [{"system": LOINC, "code": "0000-0"}]}},
        {"resourceType": "Patient", "id": "p"},
        {"no": "type"},
        "not a dict",
    ]
    facts = build_facts(odd)  # type: ignore[arg-type]
    assert not facts.timelines and not facts.exclusions and not facts.labs


def test_bundles_are_opened() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": observation("ck", 900, "U/L")}, {"x": 1}, "junk"],
    }
    assert len(_events([bundle], "CPK increased")) == 1


def test_duplicate_resources_are_read_once() -> None:
    obs = observation("ck", 900, "U/L")
    assert len(_events([obs, dict(obs)], "CPK increased")) == 1


def test_unsupported_version_fails_fast() -> None:
    from terminology.errors import TerminologyError

    with pytest.raises(TerminologyError):
        build_facts([], ctcae_version="4.03")


def test_v6_grades_platelets_under_its_v6_name() -> None:
    facts = build_facts([observation("platelets", 40, "10*9/L")], ctcae_version="6.0")
    assert facts.timeline("Platelet count decreased") is None
    timeline = facts.timeline("Thrombocytopenia")
    assert timeline is not None and timeline.current_grade == 3
    v5 = build_facts([observation("platelets", 40, "10*9/L")]).timeline("Platelet count decreased")
    assert v5 is not None and v5.current_grade == 3
    assert (
        build_facts([observation("platelets", 9, "10*9/L")], ctcae_version="6.0")
        .timeline("Thrombocytopenia")
        .current_grade
        == 4
    )  # type: ignore[union-attr]


def test_only_normal_reference_ranges_give_limits() -> None:
    obs = observation("ck", 900, "U/L")
    obs["referenceRange"] = [
        {"type": {"coding": [{"code": "treatment"}]}, "high": {"value": 1000, "unit": "U/L"}},
        {"type": {"coding": [{"code": "normal"}]}, "high": {"value": 300, "unit": "U/L"}},
    ]
    event = _events([obs], "CPK increased")[0]
    assert event.evidence.reference_value == 300 and event.grade == 2


def test_labs_query_asks_for_the_blood_pressure_panel_of_its_components() -> None:
    # A FHIR `code` search does not match component codes: the panel code must be asked for too.
    from terminology.loinc import loinc_codes

    assert "85354-9" in loinc_codes(["systolic-bp"])
    assert "85354-9" not in loinc_codes(["ck", "alt"])
