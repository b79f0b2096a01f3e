"""Read a lab (or vital-sign) Observation into LabResults in canonical units, or Exclusions with a reason."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from terminology.analytes import Analyte, analyte_for_loinc, get_analyte
from terminology.fhir import as_float, as_list, as_map, as_str, codings, parse_datetime, reference_of
from terminology.model import Exclusion, LabResult
from terminology.units import convert_factor, normalise_unit

__all__ = ["EXCLUDED_STATUSES", "effective_of", "lab_analyte", "read_lab"]

LOINC = "http://loinc.org"
EXCLUDED_STATUSES = frozenset({"entered-in-error", "cancelled", "registered"})
_COMPARATORS = {"<", "<=", ">=", ">"}


def lab_analyte(concept: Any) -> str | None:
    """The analyte of an Observation.code (first LOINC coding toxhooks knows), else None."""
    for system, code, _ in codings(concept):
        if system == LOINC and code:
            analyte = analyte_for_loinc(code)
            if analyte:
                return analyte
    return None


def effective_of(resource: Mapping[str, Any]) -> datetime | None:
    """When an Observation applies: effectiveDateTime/Instant, effectivePeriod.start, else issued."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        moment = parse_datetime(resource.get(key))
        if moment:
            return moment
    start = parse_datetime(as_map(resource.get("effectivePeriod")).get("start"))
    return start or parse_datetime(resource.get("issued"))


def _range(resource: Mapping[str, Any], analyte: Analyte, unit: str) -> tuple[float | None, float | None]:
    """LLN and ULN in canonical units from the first usable referenceRange (None when absent)."""
    for item in as_list(resource.get("referenceRange")):
        bounds: list[float | None] = []
        for key in ("low", "high"):
            quantity = as_map(as_map(item).get(key))
            number = as_float(quantity.get("value"))
            if number is None:
                bounds.append(None)
                continue
            raw_unit = as_str(quantity.get("code")) or as_str(quantity.get("unit"))
            factor = convert_factor(analyte, normalise_unit(raw_unit, analyte) if raw_unit else unit).factor
            bounds.append(number * factor if factor is not None else None)
        if bounds[0] is not None or bounds[1] is not None:
            return bounds[0], bounds[1]
    return None, None


def _one(
    resource: Mapping[str, Any], part: Mapping[str, Any], analyte: Analyte, ref: str
) -> LabResult | Exclusion:
    """One value (the Observation's or a component's) as a LabResult."""
    if part.get("dataAbsentReason") is not None:
        reason = next((c or d for _, c, d in codings(part.get("dataAbsentReason"))), None)
        return Exclusion(ref, f"no value (dataAbsentReason {reason or 'given'})", analyte.id)
    quantity = as_map(part.get("valueQuantity"))
    number = as_float(quantity.get("value"))
    if number is None:
        what = "no numeric valueQuantity" if not quantity else "valueQuantity.value is not a number"
        return Exclusion(ref, what, analyte.id)
    raw_unit = as_str(quantity.get("code")) or as_str(quantity.get("unit"))
    unit = normalise_unit(raw_unit, analyte)
    conversion = convert_factor(analyte, unit)
    received = f"{as_str(quantity.get('comparator')) or ''}{number:g} {raw_unit or ''}".strip()
    if conversion.factor is None:
        return Exclusion(ref, f"{received}: {conversion.problem}; not graded", analyte.id)
    comparator = as_str(quantity.get("comparator"))
    if comparator is not None and comparator not in _COMPARATORS:
        return Exclusion(ref, f"unknown comparator {comparator!r}", analyte.id)
    if comparator is None and quantity.get("comparator") is not None:
        return Exclusion(ref, "unreadable comparator", analyte.id)
    lln, uln = _range(part, analyte, unit)
    defaults: list[str] = []
    if lln is None and analyte.default_low is not None:
        lln = analyte.default_low
        defaults.append("LLN")
    if uln is None and analyte.default_high is not None:
        uln = analyte.default_high
        defaults.append("ULN")
    return LabResult(
        analyte=analyte.id,
        resource=ref,
        effective=effective_of(resource),
        value=number * conversion.factor,
        unit=analyte.unit,
        received=received,
        uln=uln,
        lln=lln,
        range_is_default=bool(defaults) and len(defaults) == (lln is not None) + (uln is not None),
        received_value=number,
        received_unit=unit,
        comparator=comparator,
        default_bounds=tuple(defaults),
    )


def read_lab(resource: Mapping[str, Any]) -> list[LabResult | Exclusion]:
    """LabResults (one per known analyte in the Observation or its components); [] when none is known."""
    ref = reference_of(resource)
    found: list[tuple[Mapping[str, Any], str]] = []
    analyte_id = lab_analyte(resource.get("code"))
    if analyte_id:
        found.append((resource, analyte_id))
    for component in as_list(resource.get("component")):
        component_id = lab_analyte(as_map(component).get("code"))
        if component_id:
            found.append((as_map(component), component_id))
    if not found:
        return []
    status = as_str(resource.get("status"))
    if status in EXCLUDED_STATUSES:
        return [Exclusion(ref, f"status {status}", a) for _, a in found]
    results: list[LabResult | Exclusion] = []
    for part, a in found:
        analyte = get_analyte(a)
        if analyte is not None:
            results.append(_one(resource, part, analyte, ref))
    return results
