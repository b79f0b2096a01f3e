"""Read a MedicationRequest dosageInstruction into a per-administration and a daily dose."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from terminology.fhir import as_float, as_list, as_map, as_str, codings, parse_datetime
from terminology.model import Dose
from terminology.strength import MASS_TO_MG, Strength, UnitForm, unit_form

__all__ = ["TIMING_CODES", "dosage_in_force", "read_dose"]

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
_SIG = re.compile(
    r"^(?:take\s+)?(?P<dose>\d+(?:\.\d+)?)\s*(?P<unit>mg|g|mcg|ug|capsules?|caps?|tablets?|tabs?|pills?)\b"
    r"(?:\s*\((?:\d+(?:\.\d+)?\s*(?:mg|g|mcg|ug)(?:\s+each)?|each\s+\d+(?:\.\d+)?\s*(?:mg|g|mcg|ug))\))?"
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
    return _per_day_words(as_str(as_map(timing.get("code")).get("text")))


_EVERY_HOURS = re.compile(r"^(?:every\s+(?P<h>\d+)\s*(?:hours?|h)|q\s*(?P<q>\d+)\s*h)$", re.IGNORECASE)


def _per_day_words(text: str | None) -> float | None:
    """A timing written only as text ("BID", "twice daily", "every 12 hours")."""
    if not text:
        return None
    word = " ".join(text.strip().rstrip(".").split())
    if word.upper() in TIMING_CODES:
        return TIMING_CODES[word.upper()]
    if word.lower() in _SIG_FREQ:
        return float(_SIG_FREQ[word.lower()])
    match = _EVERY_HOURS.match(word)
    hours = float(match.group("h") or match.group("q")) if match else 0.0
    return 24.0 / hours if 0 < hours <= 24 else None


def _timing_text(timing: Mapping[str, Any]) -> str | None:
    return next((c for _, c, _ in codings(timing.get("code")) if c), None)


def _unreadable(value: float, unit: str | None, why: str | None, text: str | None) -> Dose:
    shown = f"{value:g} {unit}" if unit else f"{value:g} (no unit)"
    problem = f"dose could not be read: {shown}" + (f" ({why})" if why else "")
    return Dose(understood=False, text=text, problem=problem)


def _amount(
    value: float,
    unit: str | None,
    form: UnitForm | None,
    strength: Strength | None,
    per_day: float,
    text: str | None,
) -> Dose:
    """A dose in mg: a mass as is, a count of units times the product strength, else not read."""
    if unit is not None and unit.lower() in MASS_TO_MG:
        per = value * MASS_TO_MG[unit.lower()]
        return Dose(True, per, "mg", per_day, per * per_day, text=text)
    if form is None:
        return _unreadable(value, unit, None, text)
    if strength is None:
        return _unreadable(value, unit, "the strength of one unit is not known", text)
    if strength.form and form.form != "pill" and strength.form != form.form:
        return _unreadable(value, unit, f"ordered in {form.form}s, the product is a {strength.form}", text)
    per = value * strength.mg_per_unit
    return Dose(
        True,
        per,
        "mg",
        per_day,
        per * per_day,
        text=text,
        count=value,
        count_unit=unit,
        count_form=form.form if form.form != "pill" else (strength.form or "pill"),
        strength_mg=strength.mg_per_unit,
        strength_source=strength.source,
    )


def _from_sig(text: str, strength: Strength | None) -> Dose:
    match = _SIG.match(text.strip())
    if not match:
        return Dose(understood=False, text=text, problem="free-text sig not understood")
    hours = match.group("hours") or match.group("qh")
    per_day = 24.0 / float(hours) if hours else float(_SIG_FREQ[match.group("freq").lower()])
    if per_day <= 0 or per_day > 24:
        return Dose(understood=False, text=text, problem="free-text sig not understood")
    unit = match.group("unit").lower()
    form = unit_form({"unit": unit})
    return _amount(float(match.group("dose")), unit, form, strength, per_day, text)


_DURATION_DAYS = {**_PERIOD_DAYS, "wk": 7.0}
_DURATION_WORDS = {"day": "d", "days": "d", "hour": "h", "hours": "h", "week": "wk", "weeks": "wk"}


def _duration(dosage: Mapping[str, Any]) -> timedelta | None:
    """A line's boundsDuration ("for 7 days") as a timedelta; None when absent or unreadable."""
    bounds = as_map(as_map(as_map(dosage.get("timing")).get("repeat")).get("boundsDuration"))
    value = as_float(bounds.get("value"))
    unit = as_str(bounds.get("code")) or as_str(bounds.get("unit"))
    unit = _DURATION_WORDS.get(unit or "", unit)
    if value is None or value <= 0 or unit not in _DURATION_DAYS:
        return None
    return timedelta(days=value * _DURATION_DAYS[unit])


def _bounds(dosage: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    period = as_map(as_map(as_map(dosage.get("timing")).get("repeat")).get("boundsPeriod"))
    return parse_datetime(period.get("start")), parse_datetime(period.get("end"))


def order_start(resource: Mapping[str, Any]) -> datetime | None:
    """When the first dosage line starts: its boundsPeriod, else the validity period, else authoredOn."""
    first = as_map(next(iter(as_list(resource.get("dosageInstruction"))), None))
    validity = as_map(as_map(resource.get("dispenseRequest")).get("validityPeriod"))
    authored = parse_datetime(resource.get("authoredOn"))
    return _bounds(first)[0] or parse_datetime(validity.get("start")) or authored


def _phases(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """One line per phase, in `sequence` order (lines without one in the order listed)."""
    lines = [as_map(d) for d in as_list(resource.get("dosageInstruction"))]

    def order_key(pair: tuple[int, Mapping[str, Any]]) -> tuple[bool, float, int]:
        number = as_float(pair[1].get("sequence"))
        return (number is None, number or 0.0, pair[0])

    phases: list[Mapping[str, Any]] = []
    seen: set[float] = set()
    for _, line in sorted(enumerate(lines), key=order_key):
        number = as_float(line.get("sequence"))
        if number is not None and number in seen:
            continue  # concurrent with the phase already taken
        if number is not None:
            seen.add(number)
        phases.append(line)
    return phases


def _in_force(resource: Mapping[str, Any], phases: list[Mapping[str, Any]], at: datetime | None) -> int:
    """Index of the phase in force at `at` (0 without `at` or before the first phase ends)."""
    if at is None or len(phases) < 2:
        return 0
    cursor = order_start(resource)
    for index, line in enumerate(phases):
        start, end = _bounds(line)
        start = start or cursor
        length = _duration(line)
        end = end or (start + length if start is not None and length is not None else None)
        if end is None or at < end:
            return index
        cursor = end
    return len(phases) - 1


def dosage_in_force(resource: Mapping[str, Any], at: datetime | None) -> Mapping[str, Any] | None:
    """The dosageInstruction line in force at `at` (a lead-in then a continuing dose: the phase of `at`).

    Lines are taken in `sequence` order (lines without one in the order listed); each phase starts
    at its own boundsPeriod.start, else where the previous phase ended (the order's start for the
    first), and ends at its boundsPeriod.end or after its boundsDuration. Lines sharing a sequence
    are concurrent: the first of them is read. Without `at`, or before the first phase, the first
    line is read; after the last bounded phase, the last line.
    """
    phases = _phases(resource)
    return phases[_in_force(resource, phases, at)] if phases else None


def read_dose(
    resource: Mapping[str, Any], strength: Strength | None = None, at: datetime | None = None
) -> Dose:
    """The dose in force at `at` in mg (see dosage_in_force): structured fields first, simple sigs second.

    A count of units ("4 {pill}", "4 CAP") is multiplied by `strength`, the mg in one unit of the
    ordered product; any dose that cannot be read in mg is not understood, and says so.
    """
    phases = _phases(resource)
    if not phases:
        return Dose(understood=False, problem="no dosageInstruction")
    now = _in_force(resource, phases, at)
    dose = _read_line(phases[now], strength)
    if len(phases) - now < 2 or not dose.understood:
        return dose
    # Later phases (a lead-in's continuing dose): the highest daily dose the order will still reach.
    later = [_read_line(line, strength) for line in phases[now:]]
    dailies = [d.daily for d in later if d.understood and d.daily is not None]
    return replace(dose, highest_daily=max(dailies)) if len(dailies) == len(later) else dose


def _read_line(dosage: Mapping[str, Any], strength: Strength | None) -> Dose:
    """The dose of one dosage line in mg."""
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
            return _from_sig(text, strength)
        missing = "doseQuantity" if value is None else "timing frequency"
        return Dose(understood=False, text=_timing_text(timing), problem=f"no structured {missing}")
    assert quantity is not None
    unit = as_str(quantity.get("code")) or as_str(quantity.get("unit"))
    form = unit_form(quantity)
    return _amount(value, unit, form, strength, per_day, text or _timing_text(timing))
