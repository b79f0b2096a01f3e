"""Grade one lab value against one CTCAE rule: thresholds from data, boundaries exactly as written."""

from __future__ import annotations

import math
from dataclasses import dataclass

from terminology.analytes import Analyte, get_analyte
from terminology.model import EventSource, Evidence, Exclusion, GradedEvent, LabResult
from terminology.thresholds import Band, Rule
from terminology.units import convert_factor

__all__ = ["grade_lab"]

_KIND = {"ULN": "ULN", "LLN": "LLN", "baseline": "baseline", "abs": "absolute"}


def _close(a: float, b: float) -> bool:
    # Unit conversion leaves binary noise; values equal to 1e-9 (relative) sit ON the boundary.
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _holds(value: float, op: str, threshold: float) -> bool:
    if op == ">":
        return value > threshold and not _close(value, threshold)
    if op == ">=":
        return value > threshold or _close(value, threshold)
    if op == "<":
        return value < threshold and not _close(value, threshold)
    return value < threshold or _close(value, threshold)


@dataclass(frozen=True, slots=True)
class _Check:
    """The outcome of one band: holds (True/False) or cannot be evaluated (None), with the reference."""

    band: Band
    holds: bool | None
    reference: float | None  # canonical unit
    multiple: float | None


def _absolute(lab: LabResult, band: Band) -> _Check:
    units = dict(band.values)
    if lab.received_unit in units and lab.received_value is not None:
        threshold = units[lab.received_unit]
        factor = convert_factor(_analyte(lab), lab.received_unit).factor
        ref = threshold * factor if factor is not None else None
        return _Check(band, _holds(lab.received_value, band.op, threshold), ref, None)
    analyte = _analyte(lab)
    for unit, threshold in band.values:
        factor = convert_factor(analyte, unit).factor
        if factor is not None:
            ref = threshold * factor
            return _Check(band, _holds(lab.value, band.op, ref), ref, None)
    return _Check(band, None, None, None)


def _analyte(lab: LabResult) -> Analyte:
    analyte = get_analyte(lab.analyte)
    if analyte is None:  # LabResults are only built for known analytes
        raise KeyError(lab.analyte)
    return analyte


def _check(lab: LabResult, band: Band) -> _Check:
    if band.ref == "abs":
        return _absolute(lab, band)
    ref = {"ULN": lab.uln, "LLN": lab.lln, "baseline": lab.baseline}[band.ref]
    if not ref or ref <= 0:
        return _Check(band, None, None, None)
    return _Check(band, _holds(lab.value, band.op, band.x * ref), ref, lab.value / ref)


def _best(lab: LabResult, bands: tuple[Band, ...]) -> tuple[_Check | None, _Check | None]:
    """The highest band that holds, and the highest band above it that could not be evaluated."""
    unknown: _Check | None = None
    for band in bands:
        check = _check(lab, band)
        if check.holds:
            return check, unknown
        if check.holds is None and unknown is None:
            unknown = check
    return None, unknown


def _uses_baseline(rule: Rule, lab: LabResult) -> bool:
    if not rule.baseline_bands or lab.baseline is None:
        return False
    if rule.baseline_when == "above-uln":
        return lab.uln is not None and lab.baseline > lab.uln and not _close(lab.baseline, lab.uln)
    if rule.baseline_when == "below-lln":
        return lab.lln is not None and lab.baseline < lab.lln and not _close(lab.baseline, lab.lln)
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
    baseline_mode = _uses_baseline(rule, lab)
    replace_uln = baseline_mode and rule.baseline_combine == "replace"
    bands = rule.bands_desc if not baseline_mode else rule.baseline_desc if replace_uln else rule.combined_desc
    best, unknown = _best(lab, bands)
    grade = best.band.grade if best else 0
    if unknown is not None and unknown.band.grade > grade:
        missing = "baseline" if unknown.band.ref == "baseline" else unknown.band.ref
        return Exclusion(lab.resource, f"no {missing} to grade {rule.term!r}", lab.analyte)
    if baseline_mode and rule.baseline_combine == "replace" and best is None:
        lowest = min(rule.baseline_bands, key=lambda b: b.grade)
        return Exclusion(
            lab.resource,
            f"{lab.received} is below the lowest baseline band of {rule.term!r} "
            f"(Grade {lowest.grade}: {lowest.row}; baseline {lab.baseline:g} {lab.unit}): not graded",
            lab.analyte,
        )
    problem = _comparator_problem(rule, lab, grade)
    if problem:
        return Exclusion(lab.resource, problem, lab.analyte)
    shown = best or (_check(lab, bands[-1]) if bands else None)
    notes = [n for n in (rule.note,) if n]
    if lab.comparator:
        notes.append(f"comparator '{lab.comparator}' read conservatively: the grade is a bound")
    ref_kind = shown.band.ref if shown else None
    return GradedEvent(
        term=rule.term,
        meddra_code=rule.meddra_code,
        grade=grade,
        ctcae_version=version,
        effective=lab.effective,
        source=EventSource.LAB,
        analyte=lab.analyte,
        evidence=Evidence(
            resource=lab.resource,
            received=lab.received,
            value=lab.value,
            unit=lab.unit,
            reference_kind=_KIND[ref_kind] if ref_kind else None,  # type: ignore[arg-type]
            reference_value=shown.reference if shown else None,
            reference_is_default=ref_kind in lab.default_bounds,
            multiple=shown.multiple if shown else None,
            rule_row=f"Grade {grade}: {best.band.row}" if best else "Grade 0: within the Grade 1 threshold",
            note="; ".join(notes) or None,
        ),
    )
