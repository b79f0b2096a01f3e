"""Boundary tables for every gradable term: just below, at and just above each threshold, in every unit."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from terminology.analytes import get_analyte
from terminology.facts import build_facts
from terminology.thresholds import Band, Rule, get_rules

from .builders import observation

# Units each analyte is accepted in, with the factor from the canonical unit (written out here
# rather than computed by the product, so conversions are checked independently; mass -> molar
# factors are 10000 / molar mass for mg/dL -> umol/L and g/dL -> mmol/L).
UNITS: dict[str, list[tuple[str, float]]] = {
    "creatinine": [("mg/dL", 1.0), ("umol/L", 10000 / 113.12)],
    "bilirubin": [("mg/dL", 1.0), ("umol/L", 10000 / 584.66)],
    "hemoglobin": [("g/dL", 1.0), ("g/L", 10.0), ("mmol/L", 10000 / 16114)],
    "glucose": [("mg/dL", 1.0), ("mmol/L", 1 / 18.016)],
    "calcium": [("mg/dL", 1.0), ("mmol/L", 1 / 4.0078)],
    "magnesium": [("mg/dL", 1.0), ("mmol/L", 1 / 2.4305)],
    "cholesterol": [("mg/dL", 1.0), ("mmol/L", 1 / 38.665)],
    "triglycerides": [("mg/dL", 1.0), ("mmol/L", 1 / 88.57)],
    "albumin": [("g/dL", 1.0), ("g/L", 10.0)],
    "qtc": [("ms", 1.0), ("s", 0.001)],
    "systolic-bp": [("mm[Hg]", 1.0), ("mmHg", 1.0)],
    "diastolic-bp": [("mm[Hg]", 1.0), ("mmHg", 1.0)],
    "inr": [("1", 1.0), ("{INR}", 1.0)],
    "urine-protein-24h": [("g/(24.h)", 1.0), ("mg/(24.h)", 1000.0)],
    "fibrinogen": [("mg/dL", 1.0), ("g/L", 0.01)],
    "haptoglobin": [("mg/dL", 1.0), ("g/L", 0.01)],
    "bicarbonate": [("mmol/L", 1.0), ("meq/L", 1.0)],
    "aptt": [("s", 1.0), ("ms", 1000.0)],
}
for _enzyme in ("ck", "alt", "ast", "alp", "ggt", "ldh", "lipase", "amylase"):
    UNITS[_enzyme] = [("U/L", 1.0), ("ukat/L", 1 / 60), ("IU/L", 1.0)]
for _count in ("neutrophils", "platelets", "wbc", "lymphocytes", "cd4"):
    UNITS[_count] = [("10*9/L", 1.0), ("/mm3", 1000.0), ("10*3/uL", 1.0), ("10^9/L", 1.0)]

EPS = 1e-6


@dataclass(frozen=True)
class Case:
    """One boundary probe: a value (in `unit`) and whether `band` must hold there."""

    version: str
    rule: Rule
    band: Band
    unit: str
    value: float
    lln: float
    uln: float
    baseline: float | None
    position: str  # below / at / above
    holds: bool
    below_lowest_baseline: bool = False  # not graded at all (CTCAE has no band there)

    @property
    def id(self) -> str:
        rule, band = self.rule, self.band
        return (
            f"v{self.version}-{rule.term}-{rule.analyte}-G{band.grade}-{band.ref}-{self.unit}-{self.position}"
        )


def _ranges(rule: Rule) -> tuple[float, float, float | None]:
    analyte = get_analyte(rule.analyte)
    assert analyte is not None
    lln = analyte.default_low if analyte.default_low is not None else 100.0
    uln = analyte.default_high if analyte.default_high is not None else 2 * lln
    baseline = None
    if any(b.ref == "baseline" for b in rule.baseline_bands):
        baseline = {"above-uln": uln * 2, "below-lln": lln * 0.5, "any": uln * 0.5}[rule.baseline_when]
    return lln, uln, baseline


def _cases() -> list[Case]:
    cases: list[Case] = []
    for version in ("5.0", "6.0"):
        for rule in get_rules(version):
            lln, uln, baseline = _ranges(rule)
            for band in rule.bands + rule.baseline_bands:
                if band.ref == "baseline" and baseline is None:
                    continue
                if band.ref == "abs":
                    probes = [(unit, threshold, 1.0) for unit, threshold in band.values]
                else:
                    ref = {"ULN": uln, "LLN": lln, "baseline": baseline}[band.ref]
                    assert ref is not None
                    probes = [(unit, band.x * ref * k, k) for unit, k in UNITS.get(rule.analyte, [])]
                for unit, at, _ in probes:
                    inclusive = band.op in (">=", "<=")
                    # baseline bands are probed with a baseline; the others without one
                    used = baseline if band.ref == "baseline" else None
                    for position, value in (("below", at * (1 - EPS)), ("at", at), ("above", at * (1 + EPS))):
                        past = position == ("above" if band.increasing else "below")
                        holds = inclusive if position == "at" else past
                        lowest = (
                            band.ref == "baseline"
                            and rule.baseline_combine == "replace"
                            and band.grade == min(b.grade for b in rule.baseline_bands)
                            and not holds
                        )
                        cases.append(
                            Case(version, rule, band, unit, value, lln, uln, used, position, holds, lowest)
                        )
    return cases


CASES = _cases()


def _grade(case: Case) -> int | None:
    factor = dict(UNITS.get(case.rule.analyte, [])).get(case.unit)
    if factor is None:  # an absolute band's own unit: range sent in the canonical unit
        obs = observation(
            case.rule.analyte,
            case.value,
            case.unit,
            low=case.lln,
            high=case.uln,
            range_unit=get_analyte(case.rule.analyte).unit,
        )  # type: ignore[union-attr]
    else:
        obs = observation(
            case.rule.analyte, case.value, case.unit, low=case.lln * factor, high=case.uln * factor
        )
    baselines = {case.rule.analyte: case.baseline} if case.baseline is not None else None
    facts = build_facts([obs], ctcae_version=case.version, baselines=baselines)
    timeline = facts.timeline(case.rule.term)
    events = [e for e in (timeline.events if timeline else ()) if e.analyte == case.rule.analyte]
    return events[0].grade if events else None


def test_every_gradable_term_has_boundary_cases() -> None:
    for version in ("5.0", "6.0"):
        covered = {c.rule.term for c in CASES if c.version == version}
        assert covered == {r.term for r in get_rules(version)}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_boundary(case: Case) -> None:
    grade = _grade(case)
    if case.below_lowest_baseline:
        assert grade is None, "a value below the lowest baseline band must not be graded"
        return
    assert grade is not None, "not graded"
    if case.holds:
        assert grade >= case.band.grade
    else:
        assert grade < case.band.grade
