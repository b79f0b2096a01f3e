"""Monitoring that follows the patient: which scheduled assessments were due, done, overdue or due soon."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

from cards.schedule import Course, Scheduled, build_course, item_cycle_days, scheduled_days
from cards.schema import KnowledgeFile, MonitoringItem, MonitoringPolicy, MonitoringWindow
from terminology.analytes import get_analyte
from terminology.ctcae import get_table
from terminology.model import EventSource, MedicationOrder, PatientFacts

__all__ = [
    "DEFAULT_POLICY",
    "ItemState",
    "Occurrence",
    "Review",
    "evidence_keys",
    "lab_analytes",
    "review_monitoring",
]

Status = Literal["done", "late", "missed", "overdue", "due", "soon", "planned", "unknown"]
State = Literal["overdue", "due", "soon", "unknown", "ok"]

# Used when a file has monitoring items but no [monitoring_policy]: stated as local policy.
DEFAULT_POLICY = MonitoringPolicy(
    window=MonitoringWindow(before_days=2, after_days=2, source="local-policy", local_policy=True)
)
# The prefetch keys (service/services/*.toml) that carry each kind of evidence: when one could not
# be obtained, an assessment not found there is "could not be checked", never "overdue".
_KEYS = {
    "lab": ("labs",),
    "procedure": ("procedures",),
    "diagnostic-report": ("diagnosticReports",),
    "observation": ("assessments",),
    "soc": ("gradedEvents", "adverseEvents"),
}
_RECORDED = (EventSource.OBSERVATION, EventSource.ADVERSE_EVENT)
_LAST_DAY = 3660  # a schedule with an end is read up to ten years (its whole length)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One scheduled assessment of an item with its dates, status and the result that counts."""

    item: MonitoringItem
    scheduled: Scheduled
    due: date
    opens: date  # first day a result counts
    closes: date  # last day of the window; later is late (still done, but late)
    status: Status
    result: str | None = None  # the resource that satisfies it
    result_date: date | None = None


@dataclass(frozen=True, slots=True)
class ItemState:
    """Where one item stands today: the occurrence to act on and since when it is owed."""

    item: MonitoringItem
    state: State
    occurrence: Occurrence | None  # overdue/due/unknown: the current one; soon: the next one
    since: date | None = None  # overdue: due date of the first occurrence not done in a row
    missing_data: tuple[str, ...] = ()  # prefetch keys that could not be obtained
    missed: tuple[Occurrence, ...] = ()  # earlier occurrences not done, just before this one
    last_result: date | None = None  # the latest result on record up to today


@dataclass(frozen=True)
class Review:
    """Monitoring of one therapy at one moment."""

    drug: str
    today: date
    course: Course
    therapy_day: int
    policy: MonitoringPolicy
    occurrences: tuple[Occurrence, ...]  # every occurrence up to the look-ahead, by due date
    items: tuple[ItemState, ...]
    patient_id: str = ""
    draft_content: object = None  # the draft's drug, dosage and start: part of the do-not-nag key
    new_cycle: int | None = None  # the cycle a draft order starts, if it starts one
    pre_cycle_missing: tuple[ItemState, ...] = ()  # that cycle's pre-cycle tests not on record

    @property
    def cycle(self) -> tuple[int, int] | None:
        """(cycle, day of cycle) today, for cyclic regimens."""
        length = self.policy.cycle_days
        if not length or self.therapy_day < 0:
            return None
        return self.therapy_day // length + 1, self.therapy_day % length + 1


def evidence_keys(item: MonitoringItem) -> tuple[str, ...]:
    """Prefetch keys whose data can show the item was done."""
    evidence = item.evidence
    if evidence is None:
        return _KEYS["lab"]
    keys: list[str] = []
    if evidence.lab:
        keys += _KEYS["lab"]
    for kind in evidence.kinds:
        keys += _KEYS[kind]
    if evidence.soc:
        keys += _KEYS["soc"]
    return tuple(dict.fromkeys(keys))


def lab_analytes(spec: KnowledgeFile) -> frozenset[str]:
    """Lab analytes the file's monitoring items are satisfied by (for the labs prefetch query)."""
    found = set()
    for item in spec.monitoring:
        lab = item.id if item.evidence is None else item.evidence.lab
        if lab and get_analyte(lab) is not None:
            found.add(lab)
    return frozenset(found)


def _results(item: MonitoringItem, facts: PatientFacts) -> list[tuple[date, str]]:
    """(date, resource) of everything on record that shows the item was done, oldest first."""
    evidence = item.evidence
    lab = item.id if evidence is None else evidence.lab
    found: list[tuple[date, str]] = []
    if lab:
        found += [(r.effective.date(), r.resource) for r in facts.labs.get(lab, ()) if r.effective]
    if evidence is not None and (evidence.codes or evidence.names):
        codes = set(evidence.codes)
        names = tuple(n.lower() for n in evidence.names)
        for assessment in facts.assessments:
            if assessment.kind not in evidence.kinds or assessment.effective is None:
                continue
            text = " ".join(assessment.texts).lower()
            if codes.intersection(assessment.codes) or any(n in text for n in names):
                found.append((assessment.effective.date(), assessment.resource))
    if evidence is not None and evidence.soc:
        table = get_table(facts.ctcae_version)
        wanted = {t.term for soc in evidence.soc for t in table.terms_in_soc(soc)}
        for term, timeline in facts.timelines.items():
            if term not in wanted:
                continue
            found += [
                (e.effective.date(), e.evidence.resource)
                for e in timeline.events
                if e.source in _RECORDED and e.effective is not None
            ]
    return sorted(found)


def _window(item: MonitoringItem, policy: MonitoringPolicy) -> MonitoringWindow:
    return item.window or policy.window


def _open_ended(item: MonitoringItem) -> bool:
    """True when some timing of the item runs for as long as therapy continues."""
    return any(r.until_day is None for r in item.repeat) or any(
        t.every is not None and t.until_cycle is None for t in item.cycle_timing
    )


def _expiry(item: MonitoringItem, cycle_days: int | None) -> tuple[int, int] | None:
    """(last scheduled day, day it stops being owed) of a schedule with an end, else None.

    The last test of a schedule that ends ("CPK every 2 weeks during the first month", "weeks 2,
    4 and 8") is owed until as long after it as the interval before it: after that it is history
    (missed), not an order for today. An open-ended schedule's next test takes over instead.
    """
    if _open_ended(item):
        return None
    plan = scheduled_days(item, cycle_days, _LAST_DAY)
    if len(plan) < 2:
        return None
    last, before = plan[-1].day, plan[-2].day
    return last, last + (last - before)


def _expired(expiry: tuple[int, int] | None, day: int, course: Course, after: timedelta, today: date) -> bool:
    """Whether `day` is the last test of an ended schedule and no longer owed today."""
    return expiry is not None and day == expiry[0] and course.date_of(expiry[1]) + after < today


def _occurrences(
    item: MonitoringItem,
    policy: MonitoringPolicy,
    course: Course,
    results: list[tuple[date, str]],
    today: date,
    last_day: int,
    missing: bool,
) -> list[Occurrence]:
    window = _window(item, policy)
    length = item_cycle_days(item, policy.cycle_days)
    plan = scheduled_days(item, length, last_day)
    expiry = _expiry(item, length)
    dated = []
    for scheduled in plan:
        due = course.date_of(scheduled.day)
        before = window.before_days
        if scheduled.cycle is not None and window.pre_cycle_before_days is not None:
            before = window.pre_cycle_before_days
        if scheduled.day == 0:
            before = max(before, window.baseline_before_days)
        dated.append((scheduled, due, due - timedelta(days=before), due + timedelta(days=window.after_days)))
    out: list[Occurrence] = []
    for index, (scheduled, due, opens, closes) in enumerate(dated):
        # A result counts for an occurrence from its window's start until the next window opens.
        until = dated[index + 1][2] if index + 1 < len(dated) else None
        hit = next(((d, r) for d, r in results if d >= opens and (until is None or d < until)), None)
        following_open = until is not None and until <= today
        status: Status
        if hit is not None:
            status = "done" if hit[0] <= closes else "late"
        elif opens > today:
            status = "planned"
        elif missing:
            status = "unknown"
        elif following_open:
            status = "missed"
        elif _expired(expiry, scheduled.day, course, closes - due, today):
            status = "missed"  # the last test of a schedule that has ended, long past
        elif today > closes:
            status = "overdue"
        else:
            status = "due"
        out.append(
            Occurrence(
                item,
                scheduled,
                due,
                opens,
                closes,
                status,
                hit[1] if hit else None,
                hit[0] if hit else None,
            )
        )
    return out


def _state(item: MonitoringItem, occurrences: list[Occurrence], today: date, soon: int) -> ItemState:
    """The item's standing: its current occurrence (window opened) and, if that is fine, the next one."""
    current = [o for o in occurrences if o.opens <= today]
    upcoming = [o for o in occurrences if o.opens > today]
    if current:
        last = current[-1]
        if last.status in ("overdue", "due", "unknown"):
            run = 0
            for previous in reversed(current[:-1]):
                if previous.status not in ("missed", "unknown"):
                    break
                run += 1
            first = current[-1 - run]
            missed = tuple(current[-1 - run : -1])
            if last.status == "unknown":
                return ItemState(item, "unknown", last, first.due, missed=missed)
            if last.status == "overdue" or run:
                return ItemState(item, "overdue", last, first.due, missed=missed)
            return ItemState(item, "due", last, last.due)
    if upcoming and (upcoming[0].opens - today).days <= soon:
        return ItemState(item, "soon", upcoming[0])
    return ItemState(item, "ok", None)


def _new_cycle(
    draft: MedicationOrder | None, course: Course, policy: MonitoringPolicy, now: datetime
) -> int | None:
    """The cycle a draft order starts: its start falls in the window of a cycle's first day."""
    length = policy.cycle_days
    if draft is None or not length:
        return None
    moment = draft.start or draft.authored_on or now
    day = course.day_of(moment.date())
    window = policy.window
    # An order may start a cycle as early as its pre-cycle tests may be drawn.
    before = max(window.before_days, window.pre_cycle_before_days or 0)
    for cycle in (day // length + 1, day // length + 2):
        first = course.date_of((cycle - 1) * length)
        if cycle >= 1 and first - timedelta(days=before) <= moment.date() <= first + timedelta(
            days=window.after_days
        ):
            return cycle
    return None


def review_monitoring(
    spec: KnowledgeFile,
    facts: PatientFacts,
    *,
    now: datetime,
    orders: Sequence[MedicationOrder],
    draft: MedicationOrder | None = None,
    unavailable: Sequence[str] = (),
    look_ahead_days: int = 0,
    patient_id: str = "",
) -> Review | None:
    """Due, done, overdue and soon-due assessments of one therapy; None without schedule or orders."""
    if not spec.monitoring:
        return None
    policy = spec.monitoring_policy or DEFAULT_POLICY
    today = now.date()
    course = build_course(
        [*orders, *([draft] if draft is not None else [])],
        today=today,
        cycle_days=policy.cycle_days,
        days_on=policy.days_on,
    )
    if course is None:
        return None
    therapy_day = course.day_of(today)
    reach = max(policy.due_soon_days, look_ahead_days) + max(policy.window.before_days, 0) + 1
    last_day = max(therapy_day, 0) + reach
    if draft is not None and (draft.start or draft.authored_on) is not None:
        moment = draft.start or draft.authored_on
        assert moment is not None
        last_day = max(last_day, course.day_of(moment.date()) + reach)
    all_occurrences: list[Occurrence] = []
    states: list[ItemState] = []
    for item in spec.monitoring:
        missing = tuple(
            key
            for key in evidence_keys(item)
            if any(u == key or u.startswith(key + " ") for u in unavailable)
        )
        occurrences = _occurrences(
            item, policy, course, _results(item, facts), today, last_day, bool(missing)
        )
        all_occurrences += occurrences
        results = _results(item, facts)
        state = _state(item, occurrences, today, policy.due_soon_days)
        last = max((d for d, _ in results if d <= today), default=None)
        states.append(replace(state, missing_data=missing, last_result=last))
    cycle = _new_cycle(draft, course, policy, now)
    pre_cycle: list[ItemState] = []
    if cycle is not None and cycle >= 2:
        for occurrence in all_occurrences:
            if occurrence.scheduled.cycle == cycle and occurrence.status not in ("done", "late", "unknown"):
                last = next((s.last_result for s in states if s.item.id == occurrence.item.id), None)
                pre_cycle.append(
                    ItemState(occurrence.item, "overdue", occurrence, occurrence.due, last_result=last)
                )
    all_occurrences.sort(key=lambda o: (o.due, o.item.id))
    return Review(
        drug=spec.drug,
        today=today,
        course=course,
        therapy_day=therapy_day,
        policy=policy,
        occurrences=tuple(all_occurrences),
        items=tuple(states),
        patient_id=patient_id,
        draft_content=None
        if draft is None
        else {
            "medication": draft.resource.get("medicationCodeableConcept")
            or draft.resource.get("medicationReference"),
            "dosage": draft.resource.get("dosageInstruction"),
        },
        new_cycle=cycle,
        pre_cycle_missing=tuple(pre_cycle),
    )
