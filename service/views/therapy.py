"""The therapy timeline: orders, dose levels, holds, reductions and dose steps on one time axis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from terminology.model import MedicationOrder

__all__ = ["DoseStep", "TherapySegment", "therapy_segments"]

# MedicationRequest.status values that mean "not being given now".
_HOLD_STATUSES = frozenset({"on-hold"})
_STOPPED_STATUSES = frozenset({"stopped", "cancelled", "entered-in-error", "ended"})

Change = Literal["start", "same", "reduction", "increase", "restart", "unknown"]


@dataclass(frozen=True, slots=True)
class DoseStep:
    """One dosageInstruction of a stepped order (e.g. a desensitization schedule), as written."""

    sequence: int | None
    text: str | None
    start: str | None  # boundsPeriod.start as received
    end: str | None


@dataclass(frozen=True, slots=True)
class TherapySegment:
    """One order on the therapy lane of its drug."""

    reference: str
    drug: str | None  # knowledge id, None when the drug was not recognised
    label: str
    start: datetime | None
    end: datetime | None
    status: str | None
    state: Literal["active", "hold", "stopped", "draft", "other"]
    daily_dose: float | None
    unit: str | None
    dose_text: str | None
    change: Change  # versus the previous order of the same drug
    steps: tuple[DoseStep, ...]


def _state(order: MedicationOrder) -> Literal["active", "hold", "stopped", "draft", "other"]:
    """Where the order stands, from its status."""
    status = (order.status or "").lower()
    if order.is_draft or status == "draft":
        return "draft"
    if status in _HOLD_STATUSES:
        return "hold"
    if status in _STOPPED_STATUSES:
        return "stopped"
    if status in {"active", "completed"}:
        return "active"
    return "other"


def _steps(resource: Mapping[str, Any]) -> tuple[DoseStep, ...]:
    """The dosageInstructions of an order that has more than one (a stepped schedule)."""
    instructions = resource.get("dosageInstruction")
    if not isinstance(instructions, list) or len(instructions) < 2:
        return ()
    steps: list[DoseStep] = []
    for item in instructions:
        if not isinstance(item, dict):
            continue
        repeat = item.get("timing", {}).get("repeat", {}) if isinstance(item.get("timing"), dict) else {}
        bounds = repeat.get("boundsPeriod", {}) if isinstance(repeat, dict) else {}
        bounds = bounds if isinstance(bounds, dict) else {}
        sequence = item.get("sequence")
        text = item.get("text")
        steps.append(
            DoseStep(
                sequence=sequence if isinstance(sequence, int) else None,
                text=text if isinstance(text, str) else None,
                start=bounds.get("start") if isinstance(bounds.get("start"), str) else None,
                end=bounds.get("end") if isinstance(bounds.get("end"), str) else None,
            )
        )
    return tuple(steps)


def _change(previous: TherapySegment | None, order: MedicationOrder, state: str) -> Change:
    """How this order's daily dose compares with the previous order of the same drug."""
    if previous is None:
        return "start"
    daily = order.dose.daily if order.dose.understood else None
    if daily is None or previous.daily_dose is None or previous.unit != order.dose.unit:
        return "unknown"
    if daily < previous.daily_dose:
        return "reduction"
    if daily > previous.daily_dose:
        return "increase"
    return "restart" if previous.state in {"hold", "stopped"} and state == "active" else "same"


def therapy_segments(orders: Sequence[MedicationOrder]) -> tuple[TherapySegment, ...]:
    """Orders as lane segments, oldest first, each compared with the drug's previous order.

    Orders entered in error are left out; a stopped order was given until its end.
    """

    def when(order: MedicationOrder) -> datetime:
        return order.start or order.authored_on or datetime.max

    previous_by_drug: dict[str, TherapySegment] = {}
    segments: list[TherapySegment] = []
    given = [o for o in orders if (o.status or "").lower() != "entered-in-error"]  # never happened
    for order in sorted(given, key=lambda o: (when(o).isoformat(), o.reference)):
        drug = order.drug.drug if order.drug is not None else None
        key = drug or order.medication_text or order.reference
        dose = order.dose
        state = _state(order)
        segment = TherapySegment(
            reference=order.reference,
            drug=drug,
            label=order.medication_text or drug or order.reference,
            start=order.start or order.authored_on,
            end=order.end,
            status=order.status,
            state=state,
            daily_dose=dose.daily if dose.understood else None,
            unit=dose.unit if dose.understood else None,
            dose_text=dose.text,
            change=_change(previous_by_drug.get(key), order, state),
            steps=_steps(order.resource),
        )
        previous_by_drug[key] = segment
        segments.append(segment)
    return tuple(segments)
