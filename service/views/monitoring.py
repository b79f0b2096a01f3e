"""The monitoring schedule of each therapy for the timeline app: every scheduled test with its mark."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from cards.loader import KnowledgeBase
from cards.monitoring import Occurrence, review_monitoring
from cards.schema import MonitoringWindow
from terminology.model import PatientFacts

__all__ = ["MARKS", "ScheduleRow", "TherapySchedule", "monitoring_schedules"]

# How each occurrence status is shown (a word as well as a colour: never colour alone).
MARKS = {
    "done": "done",
    "late": "done late",
    "missed": "missed",
    "overdue": "overdue",
    "due": "due now",
    "soon": "due soon",
    "planned": "planned",
    "unknown": "not checked (data not obtained)",
}


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """One scheduled assessment as the page shows it."""

    item: str
    display: str
    label: str  # "before cycle 2", "cycle 1 day 15", "day 14 (week 2)"
    due: date
    opens: date
    closes: date
    status: str
    mark: str
    result: str | None
    result_date: date | None


@dataclass(frozen=True, slots=True)
class TherapySchedule:
    """The schedule of one drug: course start, interruptions and rows, oldest first."""

    drug: str
    title: str
    start: date
    paused: tuple[tuple[date, date], ...]
    window: str  # e.g. "2 days before to 2 days after (local policy)"
    rows: tuple[ScheduleRow, ...]


def _row(o: Occurrence, soon: int, today: date) -> ScheduleRow:
    status = o.status
    if status == "planned" and (o.opens - today).days <= soon:
        status = "soon"
    return ScheduleRow(
        item=o.item.id,
        display=o.item.short or o.item.display,
        label=o.scheduled.label,
        due=o.due,
        opens=o.opens,
        closes=o.closes,
        status=status,
        mark=MARKS[status],
        result=o.result,
        result_date=o.result_date,
    )


def _window_text(window: MonitoringWindow) -> str:
    """The file-wide window with its wider allowances before a cycle and for a baseline."""
    text = f"{window.before_days} days before to {window.after_days} days after"
    wider = []
    if window.pre_cycle_before_days is not None and window.pre_cycle_before_days != window.before_days:
        wider.append(f"before a cycle from {window.pre_cycle_before_days} days")
    if window.baseline_before_days != window.before_days:
        wider.append(f"a baseline from {window.baseline_before_days} days before the first dose")
    if window.local_policy:
        wider.append("local policy")
    return text + (f" ({'; '.join(wider)})" if wider else "")


def monitoring_schedules(
    facts: PatientFacts,
    knowledge: KnowledgeBase,
    *,
    now: datetime,
    drug: str | None = None,
    unavailable: Sequence[str] = (),
    look_ahead_days: int = 28,
) -> tuple[TherapySchedule, ...]:
    """The schedule of every drug with orders on record (or only `drug`), up to `look_ahead_days` ahead."""
    out: list[TherapySchedule] = []
    for drug_id in sorted(knowledge.drugs):
        if drug is not None and drug_id != drug:
            continue
        spec = knowledge.drugs[drug_id].spec
        orders = [m for m in facts.medications if m.drug and m.drug.drug == drug_id]
        review = review_monitoring(
            spec, facts, now=now, orders=orders, unavailable=unavailable, look_ahead_days=look_ahead_days
        )
        if review is None:
            continue
        text = _window_text(review.policy.window)
        today = review.today
        rows = tuple(_row(o, review.policy.due_soon_days, today) for o in review.occurrences)
        out.append(
            TherapySchedule(
                drug=drug_id,
                title=spec.title,
                start=review.course.start,
                paused=review.course.paused,
                window=text,
                rows=rows,
            )
        )
    return tuple(out)
