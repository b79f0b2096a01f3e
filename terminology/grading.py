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
_LABELS: dict[int, tuple[Band, str]] = {}  # id(band) -> (band, label); the band is kept so ids stay unique


def _label(band: Band) -> str:
    """Band.label, worked out once per band (the text is the same for every value graded)."""
    found = _LABELS.get(id(band))
    if found is None:
        found = _LABELS[id(band)] = (band, band.label)
    return found[1]


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
# A plain tuple: grading runs for every lab value of a hook call and must stay cheap.
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


# Grade-0 short cut. When every band compares with the same reference (ULN, LLN or baseline) in the
# same direction, and no band's threshold is nearer normal than the lowest band's, a value clearly on
# the normal side of the lowest threshold fails every band. "Clearly" is a margin of 1e-6 relative
# plus 1e-9, far wider than the boundary tolerance of _holds (1e-9 relative plus 1e-12), so the full
# check would give the same result; values nearer the threshold are graded band by band.
_Plan = tuple[str, bool, float]  # (reference kind, increasing, x of the lowest band)
_PLANS: dict[int, tuple[tuple[Band, ...], _Plan | None]] = {}  # id(bands) -> (bands kept alive, plan)


def _make_plan(bands: tuple[Band, ...]) -> _Plan | None:
    """The short-cut plan of a band tuple (highest grade first), or None when it does not apply."""
    if not bands:
        return None
    lowest = bands[-1]
    up = lowest.increasing
    for band in bands:
        if band.ref == "abs" or band.ref != lowest.ref or band.increasing != up or band.x <= 0:
            return None
        if (band.x < lowest.x) if up else (band.x > lowest.x):
            return None
    return lowest.ref, up, lowest.x


def _clearly_normal(lab: LabResult, bands: tuple[Band, ...]) -> _Check | None:
    """The lowest band's (failing) check when the value is clearly within normal, else None."""
    found = _PLANS.get(id(bands))
    if found is None:
        found = _PLANS[id(bands)] = (bands, _make_plan(bands))
    plan = found[1]
    if plan is None:
        return None
    kind, up, x = plan
    ref = lab.uln if kind == "ULN" else lab.lln if kind == "LLN" else lab.baseline
    if not ref or ref <= 0:
        return None
    threshold, value = x * ref, lab.value
    if (value <= threshold * 0.999999 - 1e-9) if up else (value >= threshold * 1.000001 + 1e-9):
        return bands[-1], False, ref, value / ref
    return None


def _best(lab: LabResult, bands: tuple[Band, ...]) -> tuple[_Check | None, _Check | None, _Check | None]:
    """The highest band that holds, the highest band above it that could not be evaluated, and the
    check of the lowest band when none holds (what the evidence shows for grade 0).

    `_holds` is inlined for ULN/LLN/baseline bands (same arithmetic, same results): this runs for
    every band of every lab value of a hook call.
    """
    unknown: _Check | None = None
    value, uln, lln, baseline = lab.value, lab.uln, lab.lln, lab.baseline
    magnitude = abs(value)
    holds: bool | None = None
    ref: float | None = None
    multiple: float | None = None
    band: Band | None = None
    for band in bands:
        kind = band.ref
        if kind == "abs":
            _, holds, ref, multiple = _absolute(lab, band)
        else:
            ref = uln if kind == "ULN" else lln if kind == "LLN" else baseline
            if not ref or ref <= 0:
                holds = ref = multiple = None
            else:
                threshold = band.x * ref
                tolerance = 1e-9 * max(magnitude, abs(threshold)) + 1e-12
                diff, op = value - threshold, band.op
                if op == ">":
                    holds = diff > tolerance
                elif op == ">=":
                    holds = diff >= -tolerance
                elif op == "<":
                    holds = diff < -tolerance
                else:
                    holds = diff <= tolerance
                multiple = value / ref
        if holds:
            return (band, holds, ref, multiple), unknown, None
        if holds is None and unknown is None:
            unknown = (band, None, None, None)
    if band is None:
        return None, None, None
    return None, unknown, (band, holds, ref, multiple)


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
    normal = _clearly_normal(lab, bands)
    best, unknown, lowest_check = (None, None, normal) if normal is not None else _best(lab, bands)
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
            rule_row=_label(best[0]) if best else _GRADE_0_ROW,
            note=note,
        ),
        analyte=lab.analyte,
    )
