"""Grade one lab value against one CTCAE rule: thresholds from data, boundaries exactly as written."""

from __future__ import annotations

from typing import Literal

from terminology.analytes import Analyte, get_analyte
from terminology.model import EventSource, Evidence, Exclusion, GradedEvent, LabResult
from terminology.thresholds import Band, Rule
from terminology.units import convert_factor

__all__ = ["grade_lab"]

_Kind = Literal["ULN", "LLN", "baseline", "absolute"]
_KIND: dict[str, _Kind] = {"ULN": "ULN", "LLN": "LLN", "baseline": "baseline", "abs": "absolute"}
_GRADE_0_ROW = "Grade 0: within the Grade 1 threshold"


def _holds(value: float, op: str, threshold: float) -> bool:
    # Unit conversion leaves binary noise: values within 1e-9 (relative) sit ON the boundary.
    tolerance = 1e-9 * max(abs(value), abs(threshold)) + 1e-12
    diff = value - threshold
    if op == ">":
        return diff > tolerance
    if op == ">=":
        return diff >= -tolerance
    if op == "<":
        return diff < -tolerance
    return diff <= tolerance


# The outcome of one band: (band, holds: True/False/None = cannot be evaluated, reference, multiple).
_Check = tuple[Band, bool | None, float | None, float | None]


def _absolute(lab: LabResult, band: Band) -> _Check:
    received_unit, received_value, canonical = lab.received_unit, lab.received_value, band.canonical
    if received_value is not None:
        for unit, threshold in band.values:
            if unit == received_unit:  # compare in the unit CTCAE wrote, as written
                if canonical is None:
                    factor = convert_factor(_analyte(lab), unit).factor
                    canonical = threshold * factor if factor is not None else None
                return band, _holds(received_value, band.op, threshold), canonical, None
    if canonical is not None:
        return band, _holds(lab.value, band.op, canonical), canonical, None
    analyte = _analyte(lab)
    for unit, threshold in band.values:
        factor = convert_factor(analyte, unit).factor
        if factor is not None:
            ref = threshold * factor
            return band, _holds(lab.value, band.op, ref), ref, None
    return band, None, None, None


def _analyte(lab: LabResult) -> Analyte:
    analyte = get_analyte(lab.analyte)
    if analyte is None:  # LabResults are only built for known analytes
        raise KeyError(lab.analyte)
    return analyte


def _relative(lab: LabResult, band: Band) -> _Check:
    """A ULN/LLN/baseline band: the value against x times the reference (None when there is none)."""
    ref = lab.uln if band.ref == "ULN" else lab.lln if band.ref == "LLN" else lab.baseline
    if not ref or ref <= 0:
        return band, None, None, None
    return band, _holds(lab.value, band.op, band.x * ref), ref, lab.value / ref


def _best(lab: LabResult, bands: tuple[Band, ...]) -> tuple[_Check | None, _Check | None, _Check | None]:
    """The highest band that holds, the highest band above it that could not be evaluated, and the
    check of the lowest band when none holds (what the evidence shows for grade 0)."""
    unknown: _Check | None = None
    check: _Check | None = None
    for band in bands:
        check = _absolute(lab, band) if band.ref == "abs" else _relative(lab, band)
        if check[1]:
            return check, unknown, None
        if check[1] is None and unknown is None:
            unknown = (band, None, None, None)
    return None, unknown, check


def _uses_baseline(rule: Rule, lab: LabResult) -> bool:
    if not rule.baseline_bands or lab.baseline is None:
        return False
    if rule.baseline_when == "above-uln":
        return lab.uln is not None and _holds(lab.baseline, ">", lab.uln)
    if rule.baseline_when == "below-lln":
        return lab.lln is not None and _holds(lab.baseline, "<", lab.lln)
    return True


def _comparator_problem(rule: Rule, lab: LabResult, grade: int) -> str | None:
    """A '>'/'<' value is graded only when the true value cannot have a different grade direction."""
    if lab.comparator is None:
        return None
    toward_worse = lab.comparator in (">", ">=") if rule.increasing else lab.comparator in ("<", "<=")
    if toward_worse or grade == 0:
        return None
    return f"value '{lab.received}' is a bound on the wrong side for grading {rule.term!r}"


def grade_lab(lab: LabResult, rule: Rule, version: str) -> GradedEvent | Exclusion:
    """Grade one LabResult for one rule; an Exclusion says why it could not be graded."""
    baseline_mode = lab.baseline is not None and _uses_baseline(rule, lab)
    replace_uln = baseline_mode and rule.baseline_combine == "replace"
    bands = (
        rule.bands_desc if not baseline_mode else rule.baseline_desc if replace_uln else rule.combined_desc
    )
    best, unknown, lowest_check = _best(lab, bands)
    grade = best[0].grade if best else 0
    if unknown is not None and unknown[0].grade > grade:
        missing = unknown[0].ref
        return Exclusion(lab.resource, f"no {missing} to grade {rule.term!r}", lab.analyte)
    if baseline_mode and rule.baseline_combine == "replace" and best is None:
        lowest = min(rule.baseline_bands, key=lambda b: b.grade)
        return Exclusion(
            lab.resource,
            f"{lab.received} is below the lowest baseline band of {rule.term!r} "
            f"(Grade {lowest.grade}: {lowest.row}; baseline {lab.baseline:g} {lab.unit}): not graded",
            lab.analyte,
        )
    note = rule.note
    if lab.comparator is not None:
        problem = _comparator_problem(rule, lab, grade)
        if problem:
            return Exclusion(lab.resource, problem, lab.analyte)
        bound = f"comparator '{lab.comparator}' read conservatively: the grade is a bound"
        note = f"{note}; {bound}" if note else bound
    shown = best or lowest_check
    ref_kind = shown[0].ref if shown else None
    return GradedEvent(
        term=rule.term,
        meddra_code=rule.meddra_code,
        grade=grade,
        ctcae_version=version,
        effective=lab.effective,
        source=EventSource.LAB,
        evidence=Evidence(
            resource=lab.resource,
            received=lab.received,
            value=lab.value,
            unit=lab.unit,
            reference_kind=_KIND[ref_kind] if ref_kind else None,
            reference_value=shown[2] if shown else None,
            reference_is_default=ref_kind in lab.default_bounds,
            multiple=shown[3] if shown else None,
            rule_row=best[0].label if best else _GRADE_0_ROW,
            note=note,
        ),
        analyte=lab.analyte,
    )
