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


def _best(
    lab: LabResult, bands: tuple[Band, ...], lowest_decides: bool
) -> tuple[_Check | None, _Check | None, _Check | None]:
    """The highest band that holds, the highest band above it that could not be evaluated, and the
    check of the lowest band when none holds (what the evidence shows for grade 0).

    A ULN/LLN/baseline band is the value against x times the reference; it cannot be evaluated
    when there is no (positive) reference. Absolute bands are `_absolute`'s. `lowest_decides`
    is `thresholds.lowest_decides(bands)`.
    """
    value = lab.value
    if lowest_decides:  # most values are normal: when the lowest band fails, so does every band
        lowest = bands[-1]
        kind = lowest.ref
        ref = lab.uln if kind == "ULN" else lab.lln if kind == "LLN" else lab.baseline
        if ref and ref > 0 and not _holds(value, lowest.op, lowest.x * ref):
            return None, None, (lowest, False, ref, value / ref)  # all evaluated, none holds
    unknown: _Check | None = None
    check: _Check | None = None
    for band in bands:
        kind = band.ref
        if kind == "abs":
            check = _absolute(lab, band)
        else:  # one per band and lab value: read in line rather than in a helper
            ref = lab.uln if kind == "ULN" else lab.lln if kind == "LLN" else lab.baseline
            if not ref or ref <= 0:
                check = (band, None, None, None)
            else:
                check = (band, _holds(value, band.op, band.x * ref), ref, value / ref)
        holds = check[1]
        if holds:
            return check, unknown, None
        if holds is None and unknown is None:
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
    if not baseline_mode:
        best, unknown, lowest_check = _best(lab, rule.bands_desc, rule.bands_lowest_decides)
    elif replace_uln:
        best, unknown, lowest_check = _best(lab, rule.baseline_desc, rule.baseline_lowest_decides)
    else:
        best, unknown, lowest_check = _best(lab, rule.combined_desc, rule.combined_lowest_decides)
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
    # Positional (the field order of Evidence and GradedEvent): two are built per lab value and
    # rule, and keyword passing costs a quarter more.
    evidence = Evidence(
        lab.resource,
        lab.received,
        lab.value,
        lab.unit,
        _KIND[ref_kind] if ref_kind else None,  # reference_kind
        shown[2] if shown else None,  # reference_value
        ref_kind in lab.default_bounds,  # reference_is_default
        shown[3] if shown else None,  # multiple
        best[0].label if best else _GRADE_0_ROW,  # rule_row
        note,
    )
    return GradedEvent(
        rule.term,
        rule.meddra_code,
        grade,
        version,  # ctcae_version
        lab.effective,
        EventSource.LAB,  # source
        evidence,
        lab.analyte,
    )
