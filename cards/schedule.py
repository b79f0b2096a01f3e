"""Dates: the therapy course (start, interruptions), monitoring occurrences and desensitization steps."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from cards.schema import DesensitizationProtocol, MonitoringItem
from terminology.model import MedicationOrder

__all__ = [
    "Course",
    "Scheduled",
    "Step",
    "build_course",
    "desensitization_steps",
    "item_cycle_days",
    "monitoring_dates",
    "scheduled_days",
]

# Orders that never ran (or are not orders of record) do not shape the course.
_NOT_GIVEN = frozenset({"entered-in-error", "cancelled", "draft"})
_HOLD = frozenset({"on-hold"})
_MAX_DAYS = 3660  # a course is walked day by day for at most ten years


def item_cycle_days(item: MonitoringItem, default: int | None) -> int | None:
    """The cycle length the item's cycle timing counts in."""
    return item.cycle_days or default


@dataclass(frozen=True, slots=True)
class Scheduled:
    """One scheduled assessment of an item: therapy day (0 = first dose) and how it is named."""

    day: int
    label: str  # "baseline", "before cycle 3", "cycle 1 day 15", "day 14 (week 2)"
    cycle: int | None = None  # the cycle whose first day this is ("before cycle N")


def scheduled_days(item: MonitoringItem, cycle_days: int | None, last_day: int) -> tuple[Scheduled, ...]:
    """Every scheduled therapy day of an item up to `last_day`, open-ended schedules included."""
    found: dict[int, Scheduled] = {}

    def add(day: int, label: str, cycle: int | None = None) -> None:
        if 0 <= day <= last_day and day not in found:
            found[day] = Scheduled(day, "baseline" if day == 0 else label, cycle)

    for day in item.days:
        add(day, f"day {day}" + (f" (week {day // 7})" if day % 7 == 0 else ""))
    for rep in item.repeat:
        end = last_day if rep.until_day is None else min(rep.until_day, last_day)
        for day in range(rep.from_day, end + 1, rep.every_days):
            add(day, f"day {day}" + (f" (week {day // 7})" if day % 7 == 0 else ""))
    length = item_cycle_days(item, cycle_days)
    if length:
        timings: list[tuple[int, tuple[int, ...], int | None, int, int | None]] = [
            (1, tuple(item.cycles), None, 1, None),
            (15, tuple(item.cycle_day15_of), None, 1, None),
        ]
        timings += [(t.cycle_day, t.cycles, t.every, t.from_cycle, t.until_cycle) for t in item.cycle_timing]
        last_cycle = last_day // length + 1
        for cycle_day, cycles, every, first, until in timings:
            chosen = set(cycles)
            if every is not None:
                stop = last_cycle if until is None else min(until, last_cycle)
                chosen.update(range(first, stop + 1, every))
            for cycle in sorted(chosen):
                day = (cycle - 1) * length + cycle_day - 1
                if cycle_day == 1:
                    add(day, f"before cycle {cycle}", cycle)
                else:
                    add(day, f"cycle {cycle} day {cycle_day}")
    return tuple(found[d] for d in sorted(found))


def monitoring_dates(
    item: MonitoringItem, start: date, today: date, *, horizon_days: int = 182
) -> tuple[date, ...]:
    """Scheduled dates of an item (day 0 = therapy start, no interruption) from today to the horizon."""
    last = (today - start).days + horizon_days
    days = scheduled_days(item, item.cycle_days, max(last, 0))
    return tuple(start + timedelta(days=s.day) for s in days if start + timedelta(days=s.day) >= today)


@dataclass(frozen=True)
class Course:
    """A therapy course: therapy day <-> calendar date, with the days on which it was paused."""

    start: date
    days: tuple[date, ...]  # calendar date of therapy day i, up to the walked horizon
    paused: tuple[tuple[date, date], ...]  # inclusive ranges on which the schedule stood still
    unknown_ends: tuple[str, ...] = ()  # stopped / held orders without an end date (not shifted)

    def date_of(self, day: int) -> date:
        """Calendar date of therapy day `day` (after the walked horizon: no further interruption)."""
        if day < len(self.days):
            return self.days[day]
        return self._last_walked + timedelta(days=day - len(self.days) + 1)

    @property
    def _last_walked(self) -> date:
        """The last calendar day walked: a given day, or the end of a pause still running today."""
        last = self.days[-1] if self.days else self.start - timedelta(days=1)
        if self.paused and self.paused[-1][1] > last:
            return self.paused[-1][1]
        return last

    def day_of(self, when: date) -> int:
        """Therapy day reached on a calendar date (a paused date counts as the day it waits for)."""
        if when < self.start:
            return (when - self.start).days
        if when > self._last_walked:
            return len(self.days) - 1 + (when - self._last_walked).days
        if not self.days or when > self.days[-1]:
            return len(self.days)  # inside a pause still running: waiting for the next day
        index = bisect_right(self.days, when) - 1
        return index if index >= 0 and self.days[index] == when else index + 1

    @property
    def paused_days(self) -> int:
        """How many calendar days the schedule was shifted by."""
        return sum((b - a).days + 1 for a, b in self.paused)


def _day(order: MedicationOrder) -> date | None:
    moment = order.start or order.authored_on
    return moment.date() if moment is not None else None


def _covered(
    given: Sequence[tuple[date, date | None]], holds: Sequence[tuple[date, date]], day: date
) -> bool:
    if any(a <= day <= b for a, b in holds):
        return False
    return any(a <= day and (b is None or day <= b) for a, b in given)


def build_course(
    orders: Iterable[MedicationOrder],
    *,
    today: date,
    cycle_days: int | None = None,
    days_on: int | None = None,
) -> Course | None:
    """The course of one drug from its orders (drafts included): start, and pauses for interruptions.

    An interruption is an on-hold order's period, or days no order covers. The schedule stands
    still on such days, except on the planned break of a cycle (`days_on` of `cycle_days`), which
    runs on as planned. A stopped or held order without an end date is read as covering until the
    next order (no shift): the schedule is then not moved later, and the card says so.
    """
    given: list[tuple[date, date | None]] = []
    holds: list[tuple[date, date]] = []
    unknown: list[str] = []
    rows = sorted(
        ((d, o) for o in orders if (o.status or "") not in _NOT_GIVEN or o.is_draft if (d := _day(o))),
        key=lambda pair: (pair[0], pair[1].reference),
    )
    if not rows:
        return None
    starts = [d for d, _ in rows]
    for index, (first, order) in enumerate(rows):
        end = order.end.date() if order.end is not None else None
        later = [d for d in starts[index + 1 :] if d > first]
        if (order.status or "") in _HOLD and not order.is_draft:
            if end is None and later:
                end = later[0] - timedelta(days=1)
            elif end is None:
                end = today + timedelta(days=_MAX_DAYS)  # still on hold
                unknown.append(order.reference)
            holds.append((first, end))
            continue
        if end is None and later and (order.status or "") in ("stopped", "completed"):
            unknown.append(order.reference)
        given.append((first, end))
    start = min((a for a, _ in given), default=rows[0][0])
    horizon = max([today, *starts])
    horizon = min(horizon, start + timedelta(days=_MAX_DAYS))
    days: list[date] = []
    paused: list[tuple[date, date]] = []
    day = start
    while day <= horizon:
        therapy_day = len(days)
        on_break = bool(cycle_days and days_on and therapy_day % cycle_days >= days_on)
        if on_break or _covered(given, holds, day):
            days.append(day)
        elif paused and paused[-1][1] == day - timedelta(days=1):
            paused[-1] = (paused[-1][0], day)
        else:
            paused.append((day, day))
        day += timedelta(days=1)
    return Course(start=start, days=tuple(days), paused=tuple(paused), unknown_ends=tuple(unknown))


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
