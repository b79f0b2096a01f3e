"""The hot-path shortcuts give exactly what the general code gives: constructors and the grade-0 shortcut."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminology.construct import positional_constructor
from terminology.grading import _best, _clearly_normal
from terminology.model import EventSource, Evidence, GradedEvent, LabResult, MedicationOrder, TermTimeline
from terminology.thresholds import Band, get_rules

WHEN = datetime(2024, 5, 1, 8, tzinfo=UTC)


def _lab(
    value: float, *, uln: float | None = 40.0, lln: float | None = 10.0, baseline: float | None = None
) -> LabResult:
    return LabResult(
        "alt", "Observation/1", WHEN, value, "U/L", f"{value:g} U/L", uln, lln, baseline=baseline
    )


def test_positional_constructor_builds_the_same_frozen_object() -> None:
    make = positional_constructor(LabResult)
    values = [getattr(_lab(52.0), f.name) for f in dataclasses.fields(LabResult)]
    built = make(*values)
    assert type(built) is LabResult
    assert built == LabResult(*values)
    assert hash(built) == hash(LabResult(*values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.value = 1.0  # type: ignore[misc]
    assert dataclasses.replace(built, baseline=3.0).baseline == 3.0


def test_positional_constructor_nests_and_keeps_field_order() -> None:
    evidence = positional_constructor(Evidence)(
        "Observation/1", "52 U/L", 52.0, "U/L", "ULN", 40.0, False, 1.3, "r", None
    )
    assert evidence == Evidence("Observation/1", "52 U/L", 52.0, "U/L", "ULN", 40.0, False, 1.3, "r")
    event = positional_constructor(GradedEvent)(
        "T", "1", 1, "5.0", WHEN, EventSource.LAB, evidence, "alt", (), ()
    )
    assert event.evidence.multiple == 1.3 and event.analyte == "alt" and event.qualifiers == ()


def test_positional_constructor_refuses_classes_it_cannot_build() -> None:
    with pytest.raises(TypeError):
        positional_constructor(TermTimeline)  # not slotted
    with pytest.raises(TypeError):
        positional_constructor(int)  # not a dataclass
    assert positional_constructor(MedicationOrder) is not None


def _band_sets() -> list[tuple[Band, ...]]:
    sets = []
    for version in ("5.0", "6.0"):
        for rule in get_rules(version):
            sets += [b for b in (rule.bands_desc, rule.baseline_desc, rule.combined_desc) if b]
    return sets


BAND_SETS = _band_sets()


def test_the_shortcut_applies_to_the_common_uln_rules() -> None:
    alt = next(r for r in get_rules("5.0") if r.term == "Alanine aminotransferase increased")
    assert _clearly_normal(_lab(20.0), alt.bands_desc) == (alt.bands_desc[-1], False, 40.0, 0.5)
    assert _clearly_normal(_lab(40.0), alt.bands_desc) is None  # on the threshold: graded in full
    assert _clearly_normal(_lab(20.0, uln=None), alt.bands_desc) is None  # no ULN: graded in full


@given(
    index=st.integers(min_value=0, max_value=len(BAND_SETS) - 1),
    ref=st.sampled_from([1e-12, 1e-6, 0.3, 1.0, 40.0, 123.456, 1e6]),
    ratio=st.floats(min_value=-2.0, max_value=25.0) | st.sampled_from([1.0, 0.999999, 1.000001, 0.0, -0.0]),
    nudge=st.sampled_from([0.0, 1e-12, -1e-12, 1e-9, -1e-9, 1e-7, -1e-7]),
)
@settings(max_examples=600, deadline=None)
def test_the_shortcut_agrees_with_grading_band_by_band(
    index: int, ref: float, ratio: float, nudge: float
) -> None:
    bands = BAND_SETS[index]
    lowest = bands[-1]
    value = lowest.x * ref * ratio + nudge
    lab = _lab(value, uln=ref, lln=ref, baseline=ref)
    shortcut = _clearly_normal(lab, bands)
    if shortcut is not None:
        assert _best(lab, bands) == (None, None, shortcut)
