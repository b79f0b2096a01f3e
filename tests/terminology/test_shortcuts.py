"""The reading shortcuts give the plain readings' answers: lowest band, AKI window, own patient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminology.grading import _best
from terminology.kidney import _ABSOLUTE_WINDOW, _RELATIVE_WINDOW, _dated, _latest_rise, _meets, _rise
from terminology.model import LabResult
from terminology.resources import other_patient
from terminology.thresholds import Band, get_rules, lowest_decides

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)

BAND_SETS = [
    (f"{version} {rule.term} {name}", bands, flag)
    for version in ("5.0", "6.0")
    for rule in get_rules(version)
    for name, bands, flag in (
        ("bands", rule.bands_desc, rule.bands_lowest_decides),
        ("baseline", rule.baseline_desc, rule.baseline_lowest_decides),
        ("combined", rule.combined_desc, rule.combined_lowest_decides),
    )
    if bands
]


def _lab(value: float, ref: float | None) -> LabResult:
    return LabResult("x", "Observation/1", T0, value, "U/L", f"{value:g} U/L", uln=ref, lln=ref, baseline=ref)


def _values_near_thresholds(bands: tuple[Band, ...], ref: float) -> list[float]:
    """Every threshold x * ref, and values just inside and outside it (within and beyond 1e-9)."""
    values = [0.0, -1.0, ref, 1e9]
    for band in bands:
        for unit_and_threshold in band.values or ((None, band.x * ref),):
            threshold = unit_and_threshold[1]
            for relative in (0.0, 5e-10, 2e-9, 1e-6, 1e-3):
                values += [threshold * (1 + relative), threshold * (1 - relative)]
    return values


@pytest.mark.parametrize(("name", "bands", "flag"), BAND_SETS, ids=[b[0] for b in BAND_SETS])
def test_lowest_band_shortcut_gives_the_answer_of_every_band_tried(
    name: str, bands: tuple[Band, ...], flag: bool
) -> None:
    assert flag == lowest_decides(bands)
    for ref in (None, 0.0, 0.3, 1.0, 40.0, 190.0, 88.42, 1e-7, 1e7):
        for value in _values_near_thresholds(bands, ref or 1.0):
            lab = _lab(value, ref)
            assert _best(lab, bands, flag) == _best(lab, bands, False), (name, ref, value)


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(st.sampled_from([">", ">="]), min_size=1, max_size=4),
    xs=st.lists(st.floats(0.01, 30), min_size=4, max_size=4),
    ref=st.floats(1e-3, 1e4),
    value=st.floats(-10, 1e6),
)
def test_lowest_band_shortcut_on_generated_band_sets(
    ops: list[str], xs: list[float], ref: float, value: float
) -> None:
    """Whatever the multiples and operators, the flag is only set where the shortcut is exact."""
    bands = tuple(
        Band(len(ops) - i, op, "ULN", "row", x)  # type: ignore[arg-type]
        for i, (op, x) in enumerate(zip(ops, sorted(xs, reverse=True), strict=False))
    )
    flag = lowest_decides(bands)
    for probe in (value, *(b.x * ref for b in bands), *(b.x * ref * (1 + 1e-9) for b in bands)):
        lab = _lab(probe, ref)
        assert _best(lab, bands, flag) == _best(lab, bands, False)


def _rise_every_pair(dated: list[tuple[datetime, LabResult]]) -> tuple[LabResult, LabResult, bool] | None:
    """kidney._latest_rise as first written: every earlier value considered for every value."""
    found = None
    for index, (when, lab) in enumerate(dated):
        prior = [(t, p) for t, p in dated[:index] if when - t <= _RELATIVE_WINDOW and t < when]
        if not prior:
            continue
        base = min(prior, key=lambda pair: pair[1].value)[1]
        recent = [p for t, p in prior if when - t <= _ABSOLUTE_WINDOW]
        near = min(recent, key=lambda p: p.value) if recent else None
        if near is not None and _meets(lab.value, near.value, absolute=True):
            found = (lab, near, _rise(lab.value, near.value))
        if _meets(lab.value, base.value, absolute=False):
            found = (lab, base, False)
    return found


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40).map(lambda h: h * 6), st.sampled_from([0.6, 0.8, 0.9, 1.0, 1.3, 2.0])),
        max_size=30,
    )
)
def test_aki_window_finds_what_every_pair_finds(points: list[tuple[int, float]]) -> None:
    """Hours on a 6 h grid over 10 days: values at the same moment, and at 48 h and 7 days exactly."""
    series = [
        LabResult("creatinine", f"Observation/cr{i}", T0 + timedelta(hours=h), v, "mg/dL", f"{v} mg/dL")
        for i, (h, v) in enumerate(points)
    ]
    dated = _dated(series)
    assert _latest_rise(dated) == _rise_every_pair(dated)


def _owner_by_splitting(resource: dict[str, Any], patient_id: str) -> str | None:
    """resources.other_patient as first written, for the subject/patient references."""
    for name in ("subject", "patient"):
        ref = resource.get(name)
        target = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(target, str) and "Patient/" in target:
            owner = target.rstrip("/").split("Patient/")[-1].split("/")[0]
            return None if owner == patient_id else f"Patient/{owner}"
    return None


@pytest.mark.parametrize("patient_id", ["p1", "Patient", "a/b", "p1/", "x Patient/y", ""])
@pytest.mark.parametrize(
    "reference",
    [
        "Patient/p1",
        "Patient/Patient",
        "Patient/a/b",
        "Patient/p1/",
        "https://ehr/fhir/Patient/p1",
        "Patient/",
        "p1",
    ],
)
def test_own_patient_shortcut_reads_references_as_splitting_does(patient_id: str, reference: str) -> None:
    for resource in ({"subject": {"reference": reference}}, {"patient": {"reference": reference}}):
        assert other_patient(resource, patient_id) == _owner_by_splitting(resource, patient_id)
