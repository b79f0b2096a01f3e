"""Acute kidney injury read from serum creatinine (KDIGO 2012), as a rule input like a coded AKI.

KDIGO 2012 (clinical-knowledge.md, Added facts): a serum creatinine rise >= 0.3 mg/dL within
48 hours, or >= 1.5 x baseline within the prior 7 days (the urine output criterion is not read).
The baseline is the lowest value of the 7 days before (the 48 hours before for the absolute rise).
The AKI is active while the latest creatinine still meets the criterion against that baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from terminology.model import HistoryCondition, LabResult

__all__ = ["ABSOLUTE_RISE_MG_DL", "RELATIVE_RISE", "aki_from_creatinine"]

ABSOLUTE_RISE_MG_DL = 0.3  # within 48 h
RELATIVE_RISE = 1.5  # x baseline within the prior 7 days
_ABSOLUTE_WINDOW = timedelta(hours=48)
_RELATIVE_WINDOW = timedelta(days=7)


# KDIGO writes the absolute rise as 0.3 mg/dL or 26.5 umol/L; 26.5 umol/L is 0.29977 mg/dL with
# creatinine's molar mass, so the comparison allows that rounding (0.0005 mg/dL, under 0.05 umol/L).
_ROUNDING_MG_DL = 5e-4


def _rise(value: float, baseline: float) -> bool:
    return value - baseline >= ABSOLUTE_RISE_MG_DL - _ROUNDING_MG_DL


def _meets(value: float, baseline: float, absolute: bool) -> bool:
    if absolute and _rise(value, baseline):
        return True
    return baseline > 0 and value >= RELATIVE_RISE * baseline - 1e-9


def _shown(lab: LabResult) -> tuple[str, str]:
    """The value and unit as received ("96.5", "umol/L"), else in the canonical unit."""
    if lab.received_value is not None and lab.received_unit:
        return f"{lab.received_value:g}", lab.received_unit
    return f"{lab.value:.3g}", lab.unit


def _change(base: LabResult, lab: LabResult) -> str:
    """'0.8 -> 1.25 mg/dL', or each with its unit when they were received in different units."""
    (before, unit_before), (after, unit) = _shown(base), _shown(lab)
    if unit_before == unit:
        return f"{before} -> {after} {unit}"
    return f"{before} {unit_before} -> {after} {unit}"


def _dated(series: Sequence[LabResult]) -> list[tuple[datetime, LabResult]]:
    return sorted(
        ((lab.effective, lab) for lab in series if lab.effective is not None and lab.comparator is None),
        key=lambda pair: pair[0],
    )


def _latest_rise(dated: Sequence[tuple[datetime, LabResult]]) -> tuple[LabResult, LabResult, bool] | None:
    """The latest value meeting a criterion: (value, baseline, absolute criterion), else None."""
    found: tuple[LabResult, LabResult, bool] | None = None
    # The values before `when` within 7 days are dated[start:end]: the list is sorted by time and
    # `when` only grows, so both ends only move forward (linear, not a scan of all earlier values
    # per value). Values at the same moment as `when` are not before it.
    start = end = 0
    for when, lab in dated:
        while end < len(dated) and dated[end][0] < when:
            end += 1
        while start < end and when - dated[start][0] > _RELATIVE_WINDOW:
            start += 1
        if start == end:
            continue
        prior = dated[start:end]
        base = min(prior, key=lambda pair: pair[1].value)[1]
        recent = [p for t, p in prior if when - t <= _ABSOLUTE_WINDOW]
        near = min(recent, key=lambda p: p.value) if recent else None
        if near is not None and _meets(lab.value, near.value, absolute=True):
            found = (lab, near, _rise(lab.value, near.value))
        if _meets(lab.value, base.value, absolute=False):
            found = (lab, base, False)
    return found


def aki_from_creatinine(series: Sequence[LabResult]) -> HistoryCondition | None:
    """The latest creatinine rise meeting KDIGO 2012 as an "aki" history condition, else None."""
    dated = _dated(series)
    found = _latest_rise(dated)
    if found is None:
        return None
    lab, base, absolute = found
    latest = dated[-1][1]
    active = _meets(latest.value, base.value, absolute=True)
    rise = f"+{lab.value - base.value:.2f} mg/dL"
    if lab.received_unit and lab.received_unit == base.received_unit and lab.received_value is not None:
        rise = f"+{lab.received_value - (base.received_value or 0.0):g} {lab.received_unit}"
    how = f"{rise} within 48 h" if absolute else f"{lab.value / base.value:.2g} x baseline within 7 days"
    display = f"Acute kidney injury by creatinine (KDIGO 2012): {_change(base, lab)} ({how})"
    return HistoryCondition(
        resource=lab.resource, kind="aki", display=display, onset=lab.effective, active=active
    )
