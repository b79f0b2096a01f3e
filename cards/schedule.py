"""Dates: monitoring schedules from the therapy start and desensitization steps from today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from cards.schema import DesensitizationProtocol, MonitoringItem

__all__ = ["Step", "desensitization_steps", "monitoring_dates"]


def monitoring_dates(item: MonitoringItem, start: date, today: date) -> tuple[date, ...]:
    """All scheduled dates of an item (day 0 = therapy start) that are today or later."""
    found: set[date] = {start + timedelta(days=d) for d in item.days}
    if item.cycle_days:
        for cycle in item.cycles:
            found.add(start + timedelta(days=(cycle - 1) * item.cycle_days))
        for cycle in item.cycle_day15_of:
            found.add(start + timedelta(days=(cycle - 1) * item.cycle_days + 14))
    return tuple(sorted(d for d in found if d >= today))


@dataclass(frozen=True, slots=True)
class Step:
    """One dated step of a desensitization schedule (end None: continuing)."""

    doses: tuple[float, ...]
    start: date
    end: date | None


def desensitization_steps(protocol: DesensitizationProtocol, first_day: date) -> tuple[Step, ...]:
    """Consecutive dated steps starting on `first_day`."""
    steps: list[Step] = []
    day = first_day
    for step in protocol.steps:
        if step.days is None:
            steps.append(Step(step.doses, day, None))
            break
        end = day + timedelta(days=step.days - 1)
        steps.append(Step(step.doses, day, end))
        day = end + timedelta(days=1)
    return tuple(steps)
