"""Dose ladders: find the ordered level and the next lower one, or say there is none."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from cards.context import align
from cards.schema import DoseLadder, DoseLevel
from terminology.dose import read_dose
from terminology.model import Dose, MedicationOrder
from terminology.strength import Strength

__all__ = ["Reduction", "describe", "dose_at", "in_order_units", "reduce_from", "reference_order"]

_TOLERANCE = 1e-6
_WORDS = {1: "once daily", 2: "twice daily", 3: "three times daily"}


def describe(amount: float, per_day: float, unit: str = "mg") -> str:
    """'450 mg twice daily'."""
    return f"{amount:g} {unit} {_WORDS.get(int(per_day), f'{per_day:g} times daily')}"


@dataclass(frozen=True, slots=True)
class Reduction:
    """Result of stepping down the ladder from a reference dose."""

    reference: str  # the dose reduced from, in words
    target: DoseLevel | None  # None: already at (or below) the lowest level -> discontinue
    unit: str


def reduce_from(ladder: DoseLadder, dose: Dose) -> Reduction | None:
    """Next level below `dose` (by daily dose); None when the dose could not be read."""
    if not dose.understood or dose.daily is None:
        return None
    reference = describe(
        dose.per_administration or dose.daily, dose.administrations_per_day or 1, ladder.unit
    )
    for level in ladder.levels:
        if level.dose * level.per_day < dose.daily - _TOLERANCE:
            return Reduction(reference=reference, target=level, unit=ladder.unit)
    return Reduction(reference=reference, target=None, unit=ladder.unit)


def reference_order(
    orders: tuple[MedicationOrder, ...], drug: str, before: datetime | None
) -> MedicationOrder | None:
    """The order of `drug` on record that was current before an episode began (latest one before it)."""
    dated = [
        (when, o)
        for o in orders
        if o.drug and o.drug.drug == drug and o.dose.understood
        if (when := o.start or o.authored_on) is not None
    ]
    if before is not None:
        dated = [(when, o) for when, o in dated if align(when, before) <= before] or dated
    if not dated:
        return None
    like = dated[0][0]
    order = max(dated, key=lambda pair: align(pair[0], like))[1]
    return dose_at(order, before)


def dose_at(order: MedicationOrder, moment: datetime | None) -> MedicationOrder:
    """The order with the dose of its phase in force at `moment` (a 90 mg lead-in, then 180 mg).

    An order of one dosage line is returned as is; one with phases is re-read at the episode's
    onset, so a reduction starts from the dose the patient was taking when the episode began.
    """
    lines = order.resource.get("dosageInstruction")
    if moment is None or not isinstance(lines, list) or len(lines) < 2:
        return order
    dose = order.dose
    strength = (
        Strength(dose.strength_mg, dose.count_form, dose.strength_source or "the order")
        if dose.strength_mg
        else None
    )
    at_onset = read_dose(order.resource, strength, moment)
    return replace(order, dose=at_onset) if at_onset.understood else order


def in_order_units(dose: Dose, mg: float) -> float | None:
    """`mg` as a whole count of the order's unit (600 mg of 150 mg capsules -> 4), else None."""
    if dose.count is None or not dose.strength_mg:
        return None
    units = mg / dose.strength_mg
    return float(round(units)) if abs(units - round(units)) < _TOLERANCE and round(units) > 0 else None
