"""Property tests: grading never raises on odd input, and grades rise with the value of 'increased' terms."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminology.analytes import get_analyte
from terminology.facts import build_facts
from terminology.thresholds import get_rules

from .builders import LOINC_OF, observation

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
UNITS = st.sampled_from(
    ["U/L", "ukat/L", "mg/dL", "umol/L", "10*9/L", "/mm3", "%", "", "g/L", "xyz", "{INR}", "mm[Hg]"]
)
NUMBERS = st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-(10**30), max_value=10**30)


@given(
    analyte=st.sampled_from(sorted(LOINC_OF)),
    value=NUMBERS | JSON,
    unit=UNITS | st.text(max_size=6),
    low=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    high=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    version=st.sampled_from(["5.0", "6.0"]),
)
@settings(max_examples=300, deadline=None)
def test_grading_never_raises_on_quantities(
    analyte: str, value: Any, unit: str, low: float | None, high: float | None, version: str
) -> None:
    facts = build_facts([observation(analyte, value, unit, low=low, high=high)], ctcae_version=version)
    for timeline in facts.timelines.values():
        assert all(0 <= e.grade <= 5 for e in timeline.events)


@given(
    resource=st.dictionaries(
        st.sampled_from(
            [
                "resourceType",
                "id",
                "code",
                "valueQuantity",
                "status",
                "component",
                "event",
                "extension",
                "effectiveDateTime",
                "referenceRange",
                "valueInteger",
                "medicationCodeableConcept",
                "dosageInstruction",
                "suspectEntity",
            ]
        ),
        JSON,
        max_size=8,
    ),
    kind=st.sampled_from(["Observation", "AdverseEvent", "Condition", "MedicationRequest", "Medication"]),
)
@settings(max_examples=300, deadline=None)
@pytest.mark.slow  # fuzzing: about 6 s
def test_never_raises_on_arbitrary_shapes(resource: dict[str, Any], kind: str) -> None:
    build_facts([resource | {"resourceType": kind}])


INCREASING = [(r.analyte, r.term) for r in get_rules("5.0") if r.increasing]


@given(
    pair=st.sampled_from(INCREASING),
    values=st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=2, max_size=2),
)
@settings(max_examples=300, deadline=None)
def test_grades_are_monotonic_for_increased_terms(pair: tuple[str, str], values: list[float]) -> None:
    analyte, term = pair
    analyte_info = get_analyte(analyte)
    assert analyte_info is not None
    graded = []
    for value in sorted(values):
        obs = observation(analyte, value, analyte_info.unit, low=1.0, high=2.0)
        timeline = build_facts([obs]).timeline(term)
        assert timeline is not None
        graded.append(timeline.events[0].grade)
    assert graded[0] <= graded[1]


DECREASING = [(v, r.analyte, r.term) for v in ("5.0", "6.0") for r in get_rules(v) if not r.increasing]


@given(
    case=st.sampled_from(DECREASING),
    values=st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=2, max_size=2),
)
@settings(max_examples=200, deadline=None)
def test_grades_never_rise_with_the_value_for_decreased_terms(
    case: tuple[str, str, str], values: list[float]
) -> None:
    version, analyte, term = case
    analyte_info = get_analyte(analyte)
    assert analyte_info is not None
    graded = []
    for value in sorted(values):
        obs = observation(analyte, value, analyte_info.unit, low=1.0, high=2.0)
        timeline = build_facts([obs], ctcae_version=version).timeline(term)
        assert timeline is not None
        graded.append(timeline.events[0].grade)
    assert graded[0] >= graded[1]
