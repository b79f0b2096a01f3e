"""Read a lab (or vital-sign) Observation into LabResults in canonical units, or Exclusions with a reason."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from terminology.analytes import Analyte, get_analytes
from terminology.fhir import as_float, as_map, as_str, codings, parse_datetime, parse_text, reference_of
from terminology.model import Exclusion, LabResult
from terminology.units import Conversion, convert_factor, normalise_unit

__all__ = ["EXCLUDED_STATUSES", "effective_of", "lab_analyte", "read_lab"]

LOINC = "http://loinc.org"
EXCLUDED_STATUSES = frozenset({"entered-in-error", "cancelled", "registered"})
_COMPARATORS = {"<", "<=", ">=", ">"}


@cache
def _analytes_by_loinc() -> dict[str, Analyte]:
    """Every LOINC code toxhooks reads, to its Analyte (analyte_for_loinc and get_analytes in one)."""
    return {entry.code: a for a in get_analytes().values() for entry in a.loinc}  # as analyte_for_loinc


def _coded_analyte(concept: Any) -> Analyte | None:
    """The analyte of an Observation.code (first LOINC coding toxhooks knows), else None."""
    if type(concept) is not dict:
        return None
    items = concept.get("coding")
    if type(items) is not list:
        return None
    by_loinc = _analytes_by_loinc()
    for coding in items:  # hot path (every Observation): plain type checks, no helpers
        if type(coding) is dict and coding.get("system") == LOINC:
            code = coding.get("code")
            analyte = by_loinc.get(code) if type(code) is str else None
            if analyte is not None:
                return analyte
    return None


def lab_analyte(concept: Any) -> str | None:
    """The analyte id of an Observation.code (first LOINC coding toxhooks knows), else None."""
    analyte = _coded_analyte(concept)
    return analyte.id if analyte is not None else None


def effective_of(resource: Mapping[str, Any]) -> datetime | None:
    """When an Observation applies: effectiveDateTime/Instant, effectivePeriod.start, else issued."""
    moment = resource.get("effectiveDateTime")
    if type(moment) is str:  # the common case, read with parse_datetime's cache directly
        moment = parse_text(moment)
        if moment:
            return moment
    moment = parse_datetime(resource.get("effectiveInstant"))
    if moment:
        return moment
    start = parse_datetime(as_map(resource.get("effectivePeriod")).get("start"))
    return start or parse_datetime(resource.get("issued"))


# Units arrive as free text, but one hook call repeats the same few for an analyte (every CK in U/L):
# the reading of a unit text is worked out once. Bounded, as the texts are unbounded; keyed by the
# analyte's id, which is cheaper to hash than the Analyte.
@lru_cache(maxsize=1024)
def _unit_reading(analyte_id: str, raw_unit: str | None) -> tuple[str, Conversion]:
    """The normalised UCUM code of a received unit text and its factor to the canonical unit."""
    analyte = get_analytes()[analyte_id]
    unit = normalise_unit(raw_unit, analyte)
    return unit, convert_factor(analyte, unit)


def _bound(quantity: Any, analyte: Analyte, raw_unit: str | None, factor: float) -> float | None:
    """One referenceRange bound in canonical units (the value's unit when the bound names none)."""
    if type(quantity) is not dict:
        return None
    number = as_float(quantity.get("value"))
    if number is None:
        return None
    unit = quantity.get("code") or quantity.get("unit")
    if unit is None or unit == raw_unit:  # the common case: the value's own unit
        return number * factor
    converted = _unit_reading(analyte.id, as_str(unit))[1].factor
    return number * converted if converted is not None else None


def _is_normal_range(concept: Any) -> bool:
    return any(code == "normal" for _, code, _ in codings(concept))


def _range(
    part: Mapping[str, Any], analyte: Analyte, raw_unit: str | None, factor: float
) -> tuple[float | None, float | None]:
    """LLN and ULN in canonical units from the first usable referenceRange (None when absent)."""
    ranges = part.get("referenceRange")
    if type(ranges) is not list:
        return None, None
    for item in ranges:
        if type(item) is not dict:
            continue
        if "type" in item and not _is_normal_range(item["type"]):
            continue  # a therapeutic/treatment range is not the limit of normal
        low = _bound(item["low"], analyte, raw_unit, factor) if "low" in item else None
        high = _bound(item["high"], analyte, raw_unit, factor) if "high" in item else None
        if low is not None or high is not None:
            return low, high
    return None, None


def _one(
    resource: Mapping[str, Any], part: Mapping[str, Any], analyte: Analyte, ref: str
) -> LabResult | Exclusion:
    """One value (the Observation's or a component's) as a LabResult."""
    if part.get("dataAbsentReason") is not None:
        reason = next((c or d for _, c, d in codings(part.get("dataAbsentReason"))), None)
        return Exclusion(ref, f"no value (dataAbsentReason {reason or 'given'})", analyte.id)
    quantity = part.get("valueQuantity")
    if type(quantity) is not dict:
        quantity = as_map(quantity)
    number = as_float(quantity.get("value"))
    if number is None:
        what = "no numeric valueQuantity" if not quantity else "valueQuantity.value is not a number"
        return Exclusion(ref, what, analyte.id)
    raw_unit = as_str(quantity.get("code")) or as_str(quantity.get("unit"))
    unit, conversion = _unit_reading(analyte.id, raw_unit)
    raw_comparator = quantity.get("comparator")
    comparator = None if raw_comparator is None else as_str(raw_comparator)
    received = f"{comparator or ''}{number:g} {raw_unit or ''}".rstrip()
    factor = conversion.factor
    if factor is None:
        return Exclusion(ref, f"{received}: {conversion.problem}; not graded", analyte.id)
    if raw_comparator is not None and comparator not in _COMPARATORS:
        return Exclusion(ref, f"unknown comparator {raw_comparator!r}", analyte.id)
    lln, uln = _range(part, analyte, raw_unit, factor)
    defaults: tuple[str, ...] = ()
    if lln is None and analyte.default_low is not None:
        lln = analyte.default_low
        defaults = ("LLN",)
    if uln is None and analyte.default_high is not None:
        uln = analyte.default_high
        defaults += ("ULN",)
    # Positional (the field order of LabResult): one is built per lab value, and keyword passing
    # costs a quarter more.
    return LabResult(
        analyte.id,
        ref,
        effective_of(resource),
        number * factor,  # value
        analyte.unit,
        received,
        uln,
        lln,
        bool(defaults) and len(defaults) == (lln is not None) + (uln is not None),  # range_is_default
        None,  # baseline: attached by the caller, which knows the series
        number,  # received_value
        unit,  # received_unit
        comparator,
        defaults,  # default_bounds
    )


def read_lab(resource: Mapping[str, Any], ref: str | None = None) -> list[LabResult | Exclusion]:
    """LabResults (one per known analyte in the Observation or its components); [] when none is known.

    `ref` is the Observation's relative reference when the caller already has it.
    """
    ref = ref or reference_of(resource)
    analyte = _coded_analyte(resource.get("code"))
    components = resource.get("component")
    found: list[tuple[Mapping[str, Any], Analyte]]
    if type(components) is not list:  # the common case: one value, no components
        if analyte is None:
            return []
        if as_str(resource.get("status")) not in EXCLUDED_STATUSES:
            return [_one(resource, resource, analyte, ref)]
        found = [(resource, analyte)]
    else:
        found = [(resource, analyte)] if analyte is not None else []
        for component in components:
            component_analyte = _coded_analyte(as_map(component).get("code"))
            if component_analyte is not None:
                found.append((as_map(component), component_analyte))
        if not found:
            return []
    status = as_str(resource.get("status"))
    if status in EXCLUDED_STATUSES:
        return [Exclusion(ref, f"status {status}", a.id) for _, a in found]
    return [_one(resource, part, a, ref) for part, a in found]
