"""Desensitization step calendars: a protocol's steps unrolled into the dose of each day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cards.schema import KnowledgeFile

__all__ = [
    "CalendarDay",
    "Protocol",
    "ProtocolStep",
    "StepCalendar",
    "calendars",
    "protocols_from_knowledge",
    "step_calendar",
]


@dataclass(frozen=True, slots=True)
class ProtocolStep:
    """`days` consecutive days on which each administration in `doses_mg` is given once."""

    days: int
    doses_mg: tuple[float, ...]  # e.g. (150.0, 150.0) for 150 mg twice daily, (450.0, 600.0) AM/PM


@dataclass(frozen=True, slots=True)
class Protocol:
    """A published desensitization protocol as the knowledge describes it."""

    id: str
    label: str
    steps: tuple[ProtocolStep, ...]
    maintenance_mg: tuple[float, ...] | None = None  # the continuing dose after the last step
    source: str | None = None
    source_url: str | None = None
    verified: bool = True
    notes: tuple[str, ...] = ()  # setting, adjuncts, outcome as the knowledge words them


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """One day of a step calendar (day 1 is the first day of the protocol)."""

    day: int
    step: int  # 1-based index of the protocol step
    doses_mg: tuple[float, ...]
    total_mg: float


@dataclass(frozen=True, slots=True)
class StepCalendar:
    """A protocol unrolled day by day."""

    protocol: Protocol
    days: tuple[CalendarDay, ...]

    @property
    def length(self) -> int:
        """Number of days the protocol lasts."""
        return len(self.days)


def step_calendar(protocol: Protocol) -> StepCalendar:
    """The dose of every day of `protocol`; steps with no days are skipped."""
    days: list[CalendarDay] = []
    for index, step in enumerate(protocol.steps, start=1):
        for _ in range(max(step.days, 0)):
            days.append(
                CalendarDay(
                    day=len(days) + 1,
                    step=index,
                    doses_mg=step.doses_mg,
                    total_mg=float(sum(step.doses_mg)),
                )
            )
    return StepCalendar(protocol=protocol, days=tuple(days))


def calendars(protocols: Sequence[Protocol]) -> tuple[StepCalendar, ...]:
    """Step calendars of several protocols, in the order given."""
    return tuple(step_calendar(p) for p in protocols)


def protocols_from_knowledge(file: KnowledgeFile) -> tuple[Protocol, ...]:
    """The desensitization protocols of one knowledge file, with their sources resolved."""
    protocols: list[Protocol] = []
    for item in file.desensitization:
        reference = file.references.get(item.source)
        steps = tuple(ProtocolStep(days=s.days, doses_mg=s.doses) for s in item.steps if s.days is not None)
        final = [s.doses for s in item.steps if s.days is None]
        notes = tuple(n for n in (item.summary, item.setting, item.adjuncts, item.outcome) if n)
        protocols.append(
            Protocol(
                id=item.id,
                label=item.label,
                steps=steps,
                maintenance_mg=final[-1] if final else None,
                source=reference.label if reference else item.source,
                source_url=reference.url if reference else None,
                verified=item.verified and (reference.verified if reference else False),
                notes=notes,
            )
        )
    return tuple(protocols)
