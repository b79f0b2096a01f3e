"""Acute kidney injury from serum creatinine per KDIGO 2012 (0.3 mg/dL in 48 h, 1.5 x in 7 days)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from terminology.kidney import aki_from_creatinine
from terminology.model import LabResult

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)


def _series(*points: tuple[float, float]) -> list[LabResult]:
    """(hours after T0, mg/dL) pairs."""
    return [
        LabResult("creatinine", f"Observation/cr{i}", T0 + timedelta(hours=h), v, "mg/dL", f"{v} mg/dL")
        for i, (h, v) in enumerate(points)
    ]


def test_absolute_rise_within_48_hours() -> None:
    aki = aki_from_creatinine(_series((0, 1.0), (40, 1.3)))
    assert aki is not None and aki.kind == "aki" and aki.active
    assert aki.resource == "Observation/cr1"
    assert "KDIGO 2012" in aki.display and "within 48 h" in aki.display


def test_same_rise_over_72_hours_is_not_aki_unless_1_5_x() -> None:
    assert aki_from_creatinine(_series((0, 1.0), (72, 1.3))) is None
    relative = aki_from_creatinine(_series((0, 1.0), (120, 1.5)))
    assert relative is not None and "x baseline within 7 days" in relative.display


def test_baseline_older_than_7_days_does_not_count() -> None:
    assert aki_from_creatinine(_series((0, 1.0), (8 * 24, 2.0))) is None


def test_baseline_is_the_lowest_value_of_the_prior_week() -> None:
    aki = aki_from_creatinine(_series((0, 0.8), (72, 1.1), (144, 1.25)))
    assert aki is not None and "0.8 -> 1.25" in aki.display


def test_recovered_aki_is_not_active() -> None:
    aki = aki_from_creatinine(_series((0, 1.0), (24, 1.6), (120, 1.0)))
    assert aki is not None and not aki.active


def test_bounded_values_and_single_values_are_not_read() -> None:
    assert aki_from_creatinine(_series((0, 1.0))) is None
    series = _series((0, 1.0), (24, 2.0))
    assert aki_from_creatinine([series[0], replace(series[1], comparator=">")]) is None


def _umol(*points: tuple[float, float]) -> list[LabResult]:
    """(hours after T0, umol/L) pairs, converted as the lab reader does (113.12 g/mol)."""
    return [
        LabResult(
            "creatinine",
            f"Observation/cr{i}",
            T0 + timedelta(hours=h),
            v * 113.12 / 10000,
            "mg/dL",
            f"{v} umol/L",
            received_value=v,
            received_unit="umol/L",
        )
        for i, (h, v) in enumerate(points)
    ]


def test_kdigo_rise_of_26_5_umol_per_litre_is_aki() -> None:
    aki = aki_from_creatinine(_umol((0, 70.0), (24, 96.5)))
    assert aki is not None and aki.active
    assert "70 -> 96.5 umol/L (+26.5 umol/L within 48 h)" in aki.display


def test_rise_just_under_26_5_umol_per_litre_is_not_aki() -> None:
    assert aki_from_creatinine(_umol((0, 70.0), (24, 96.0))) is None


def test_values_received_in_different_units_are_each_shown_with_theirs() -> None:
    first = _series((0, 0.8))[0]
    later = _umol((0, 0.0), (24, 110.0))[1]
    aki = aki_from_creatinine([first, later])
    assert aki is not None and "0.8 mg/dL -> 110 umol/L" in aki.display
