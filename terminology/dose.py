"""Read a MedicationRequest dosageInstruction into a per-administration and a daily dose."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from terminology.fhir import as_float, as_list, as_map, as_str, codings
from terminology.model import Dose

__all__ = ["TIMING_CODES", "read_dose"]

# HL7 v3 GTSAbbreviation timing codes -> administrations per day (QOD every other day).
TIMING_CODES = {
    "QD": 1.0,
    "BID": 2.0,
    "TID": 3.0,
    "QID": 4.0,
    "AM": 1.0,
    "PM": 1.0,
    "QOD": 0.5,
    "Q4H": 6.0,
    "Q6H": 4.0,
    "Q8H": 3.0,
    "Q12H": 2.0,
    "WK": 1.0 / 7.0,
}
_PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0}
_MASS_TO_MG = {"mg": 1.0, "g": 1000.0, "ug": 0.001, "mcg": 0.001}
_SIG = re.compile(
    r"^(?:take\s+)?(?P<dose>\d+(?:\.\d+)?)\s*(?P<unit>mg|g|mcg|ug)\b"
    r"(?:\s+(?:by mouth|orally|po|p\.o\.))?\s+"
    r"(?P<freq>once daily|once a day|daily|qd|q\.d\.|twice daily|twice a day|bid|b\.i\.d\.|"
    r"three times daily|three times a day|tid|t\.i\.d\.|four times daily|qid|"
    r"every (?P<hours>\d+) hours|q(?P<qh>\d+)h)\.?$",
    re.IGNORECASE,
)
_SIG_FREQ = {
    "once daily": 1,
    "once a day": 1,
    "daily": 1,
    "qd": 1,
    "q.d.": 1,
    "twice daily": 2,
    "twice a day": 2,
}
_SIG_FREQ |= {"bid": 2, "b.i.d.": 2, "three times daily": 3, "three times a day": 3, "tid": 3, "t.i.d.": 3}
_SIG_FREQ |= {"four times daily": 4, "qid": 4}


def _per_day(timing: Mapping[str, Any]) -> float | None:
    repeat = as_map(timing.get("repeat"))
    frequency, period = as_float(repeat.get("frequency")), as_float(repeat.get("period"))
    unit = as_str(repeat.get("periodUnit"))
    if frequency is not None and period and period > 0 and unit in _PERIOD_DAYS:
        return frequency / (period * _PERIOD_DAYS[unit])
    for _, code, _ in codings(timing.get("code")):
        if code and code.upper() in TIMING_CODES:
            return TIMING_CODES[code.upper()]
    return None


def _timing_text(timing: Mapping[str, Any]) -> str | None:
    return next((c for _, c, _ in codings(timing.get("code")) if c), None)


def _mg(value: float, unit: str | None) -> tuple[float, str | None]:
    if unit in _MASS_TO_MG:
        return value * _MASS_TO_MG[unit], "mg"
    return value, unit


def _from_sig(text: str) -> Dose:
    match = _SIG.match(text.strip())
    if not match:
        return Dose(understood=False, text=text, problem="free-text sig not understood")
    per, unit = _mg(float(match.group("dose")), match.group("unit").lower())
    hours = match.group("hours") or match.group("qh")
    per_day = 24.0 / float(hours) if hours else float(_SIG_FREQ[match.group("freq").lower()])
    if per_day <= 0 or per_day > 24:
        return Dose(understood=False, text=text, problem="free-text sig not understood")
    return Dose(True, per, unit, per_day, per * per_day, text=text)


def read_dose(resource: Mapping[str, Any]) -> Dose:
    """The dose of the first dosageInstruction: structured fields first, simple sigs second."""
    instructions = as_list(resource.get("dosageInstruction"))
    if not instructions:
        return Dose(understood=False, problem="no dosageInstruction")
    dosage = as_map(instructions[0])
    text = as_str(dosage.get("text"))
    timing = as_map(dosage.get("timing"))
    quantity = None
    for rate in as_list(dosage.get("doseAndRate")):
        quantity = as_map(as_map(rate).get("doseQuantity")) or None
        if quantity:
            break
    value = as_float(quantity.get("value")) if quantity else None
    per_day = _per_day(timing)
    if value is None or per_day is None:
        if text:
            return _from_sig(text)
        missing = "doseQuantity" if value is None else "timing frequency"
        return Dose(understood=False, text=_timing_text(timing), problem=f"no structured {missing}")
    assert quantity is not None
    unit = as_str(quantity.get("code")) or as_str(quantity.get("unit"))
    per, unit = _mg(value, unit)
    return Dose(True, per, unit, per_day, per * per_day, text=text or _timing_text(timing))
