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


def _meets(value: float, baseline: float, absolute: bool) -> bool:
    if absolute and value - baseline >= ABSOLUTE_RISE_MG_DL - 1e-9:
        return True
    return baseline > 0 and value >= RELATIVE_RISE * baseline - 1e-9


def _dated(series: Sequence[LabResult]) -> list[tuple[datetime, LabResult]]:
    return sorted(
        ((lab.effective, lab) for lab in series if lab.effective is not None and lab.comparator is None),
        key=lambda pair: pair[0],
    )


def aki_from_creatinine(series: Sequence[LabResult]) -> HistoryCondition | None:
    """The latest creatinine rise meeting KDIGO 2012 as an "aki" history condition, else None."""
    dated = _dated(series)
    found: tuple[LabResult, LabResult, bool] | None = None  # (value, baseline, absolute criterion)
    for index, (when, lab) in enumerate(dated):
        prior = [(t, p) for t, p in dated[:index] if when - t <= _RELATIVE_WINDOW and t < when]
        if not prior:
            continue
        base = min(prior, key=lambda pair: pair[1].value)[1]
        recent = [p for t, p in prior if when - t <= _ABSOLUTE_WINDOW]
        near = min(recent, key=lambda p: p.value) if recent else None
        if near is not None and _meets(lab.value, near.value, absolute=True):
            found = (lab, near, lab.value - near.value >= ABSOLUTE_RISE_MG_DL - 1e-9)
        if _meets(lab.value, base.value, absolute=False):
            found = (lab, base, False)
    if found is None:
        return None
    lab, base, absolute = found
    latest = dated[-1][1]
    active = _meets(latest.value, base.value, absolute=True)
    how = (
        f"+{lab.value - base.value:.2g} mg/dL within 48 h"
        if absolute
        else f"{lab.value / base.value:.2g} x baseline within 7 days"
    )
    display = (
        f"Acute kidney injury by creatinine (KDIGO 2012): {base.value:g} -> {lab.value:g} {lab.unit} ({how})"
    )
    return HistoryCondition(
        resource=lab.resource, kind="aki", display=display, onset=lab.effective, active=active
    )
