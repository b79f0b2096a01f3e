"""The rule engine: EvaluationRequest -> EvaluationResult, pure and deterministic (clock injected).

Semantics (docs/knowledge.md, "How rules combine into decisions"):
- decisions are totally ordered by protectiveness (cards.decisions); a card leads with the most
  protective one, and an unconfirmed rule never takes away the order change that a confirmed rule
  gives this patient, or a less severe state of this patient (the "floor");
- a rule that fired on an earlier value holds while its recovery criterion is not met (episodes);
- a rule waiting on a qualifier nobody recorded is evaluated in every branch: the card carries the
  action every branch shares, and each branch's further action as an alternative.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, TypeVar, cast

from cards.conditions import analytes_of, compile_condition
from cards.context import Context, Outcome, Row, Subject, align, fmt_date
from cards.decisions import category, info, rank
from cards.dosing import describe, reduce_from, reference_order
from cards.event_conditions import _soc_terms, event_row
from cards.findings import Alternative, Finding, Plan, protectiveness
from cards.lab_conditions import latest_rows
from cards.loader import CompiledRule, DrugKnowledge, KnowledgeBase
from cards.logic import Condition
from cards.model import EvaluationRequest, EvaluationResult, RenderedCard
from cards.monitoring_card import follow_up
from cards.order_conditions import days_off
from cards.qualifier_labels import branch_words
from cards.reach import may_open_at, may_open_earlier
from cards.render import render, render_missing
from terminology.families import expand_terms
from terminology.model import EventSource, GradedEvent, LabResult, MedicationOrder, TermTimeline

__all__ = ["evaluate"]

_CATEGORY_ORDER = ("management", "dose-range", "flag-dlt", "prophylaxis", "monitor")
_ORDER_HOOKS = ("order-select", "order-sign")
_MAX_OPEN = 4  # qualifiers branched on at once (2**4 branches); more are asked, not branched
_FLOOR_DEPTH = 4  # grades lowered step by step when looking for a confirmed action
# The decision a recovered episode leads to on a restart; the card words the rule's own `resume`.
_RESUMPTION = {
    "same": "resume-same",
    "same-or-reduced": "resume-same",
    "reduced": "resume-reduced",
    "reduced-or-discontinue": "resume-reduced",
    "per-protocol": "decide-per-protocol",
}


_NEVER_GIVEN = ("entered-in-error", "cancelled")
_V = TypeVar("_V")
_UNCONFIRMED_REDUCTION = "which level: per the prescribing information, this row is not confirmed"


def _when(order: MedicationOrder, like: datetime | None = None) -> datetime | None:
    moment = order.start or order.authored_on
    return align(moment, like) if moment is not None and like is not None else moment


def _course_start(orders: list[MedicationOrder], now: datetime, gap: int | None) -> datetime | None:
    """Start of the current course: the first order after the last stop of at least `gap` days."""
    given = sorted(
        (
            (start, order)
            for order in orders
            if order.status not in _NEVER_GIVEN and (start := _when(order, now)) is not None
        ),
        key=lambda pair: (pair[0], pair[1].reference),
    )
    if not given:
        return None
    begin, reach = given[0][0], given[0][0]
    for start, order in given:
        if gap is not None and (start - reach).total_seconds() >= gap * 86400:
            begin = start  # a stop long enough to make this a new course
        end = align(order.end, now) if order.end is not None else None
        if end is None:
            end = now if order.status in ("active", "on-hold", None) else start
        reach = max(reach, end, start)
    return begin


def _subjects(request: EvaluationRequest, drug: str, gap: int | None = None) -> list[Subject]:
    """Orders of `drug` the hook is about: the drafts (order hooks) or the active order (patient-view).

    A draft after a stop of at least `gap` days (the file's `new_course`) starts a new course: it is a
    new start, and its course (schedule, first-order checks) begins with it.
    """
    on_record = [m for m in request.facts.medications if m.drug and m.drug.drug == drug]
    first = _course_start(on_record, request.now, gap)
    if request.hook in _ORDER_HOOKS:
        drafts = [d for d in request.draft_orders if d.drug and d.drug.drug == drug]
        if request.hook == "order-select" and request.selections:
            chosen = [d for d in drafts if d.reference in request.selections]
            drafts = chosen or drafts
        subjects = []
        for d in drafts:
            begins = _when(d, request.now) or request.now
            off = days_off(request.facts.medications, drug, begins)
            new = off is None or (gap is not None and off >= gap)
            start = begins if new and off is not None else first or begins
            subjects.append(Subject(drug=drug, order=d, therapy_start=start, new_start=new))
        return subjects
    # patient-view: the active order; else an order held (on-hold) for a toxicity, which a
    # discontinuation must still stop and a resumption must keep held until its criterion is met.
    active = [m for m in on_record if m.status == "active"] or [m for m in on_record if m.status == "on-hold"]
    if not active:
        return []
    latest = max(active, key=lambda m: (_when(m) is not None, _when(m, request.now) or request.now))
    return [Subject(drug=drug, order=latest, therapy_start=first, new_start=False)]


def _adjust(knowledge: DrugKnowledge, finding: Finding, ctx: Context) -> Finding | None:
    """Compute the next dose level for 'reduced' decisions; lowest level -> discontinue (also for
    'reduced or discontinue', where only discontinuation is left)."""
    spec = finding.rule.spec
    ladder = knowledge.spec.dose_ladder
    wants_reduction = finding.decision == "resume-reduced" or (
        finding.decision == "withhold" and spec.resume in ("reduced", "reduced-or-discontinue")
    )
    if not wants_reduction or ladder is None or not ladder.verified or ctx.subject.order is None:
        return finding
    before = reference_order(ctx.request.facts.medications, ctx.subject.drug, finding.outcome.anchor)
    basis = before.dose if before is not None else ctx.subject.order.dose
    step = reduce_from(ladder, basis)
    if step is None:
        return replace(finding, note=basis.problem or "ordered dose not readable")
    if step.target is None:
        lowest = describe(ladder.levels[-1].dose, ladder.levels[-1].per_day, ladder.unit)
        return replace(finding, decision="discontinue", note=f"already at the lowest dose level, {lowest}")
    if finding.decision == "withhold" and spec.resume == "reduced-or-discontinue":
        return finding  # a choice for the prescriber above the lowest level: no level is named
    target = step.target
    ordered = ctx.subject.order.dose
    # A phased draft (a lead-in, then the full dose) is judged by the highest dose it reaches: a
    # 90 mg lead-in that escalates to 180 mg on day 8 is not "already reduced" to 120 mg.
    highest = ordered.highest_daily or ordered.daily
    if (
        finding.decision == "resume-reduced"
        and ctx.subject.order.is_draft
        and highest is not None
        and highest <= target.dose * target.per_day + 1e-6
    ):
        return None  # the draft is already reduced: nothing to say
    if not spec.verified:  # an unconfirmed row never shows a dose that reads as an instruction
        return replace(finding, note=_UNCONFIRMED_REDUCTION)
    note = f"{describe(target.dose, target.per_day, ladder.unit)}, next level below {step.reference}"
    if not ordered.understood and ordered.problem:  # the draft's own dose is named, never used as mg
        note += f"; the draft's {ordered.problem}"
    return replace(finding, note=note, target=target)


# ---------------------------------------------------------------- the patient as of an earlier time


def _moments(ctx: Context) -> tuple[datetime, ...]:
    """Distinct times of recorded values (events and labs) up to now, oldest first (memoised)."""
    key = ("moments",)
    found: tuple[datetime, ...] | None = ctx.memo.get(key)
    if found is None:
        now = ctx.request.now
        facts = ctx.request.facts
        times = {align(e.effective, now) for t in facts.timelines.values() for e in t.events if e.effective}
        times |= {align(v.effective, now) for s in facts.labs.values() for v in s if v.effective}
        found = ctx.memo[key] = tuple(sorted(t for t in times if t <= now))
    return found


def _seen_count(ctx: Context, key: Hashable, items: tuple[Any, ...], moment: datetime) -> int | None:
    """How many of the time-sorted `items` were recorded by `moment` (a prefix), or None if unsorted."""
    memo_key = ("times", key)
    times: tuple[int, list[datetime]] | bool | None = ctx.memo.get(memo_key)
    if times is None:
        aligned = [i.effective for i in items]
        known = [t for t in aligned if t is not None]
        first_known = next((n for n, t in enumerate(aligned) if t is not None), len(aligned))
        ok = known == sorted(known) and all(t is not None and t.tzinfo for t in aligned[first_known:])
        times = ctx.memo[memo_key] = (first_known, known) if ok else False
    if not isinstance(times, tuple) or moment.tzinfo is None:  # naive times: align() decides, value by value
        return None
    first_known, known = times
    return int(first_known + bisect.bisect_right(known, moment))


_MISSING: Any = object()


class _SeenBy(Mapping[str, _V]):
    """A record's series (labs or timelines) as seen at an earlier moment, each cut when first read.

    A condition reads a few series (its analytes and terms); cutting every series of the record at
    every moment cost more than the conditions. Each read gives what a dict of all the cut series
    gave: the series cut to the values recorded by then (`cut`, which gives None for none), and no
    key for a series with no value by then; iteration keeps the record's order.
    """

    __slots__ = ("_cut", "_done", "_keys", "_whole")

    def __init__(self, whole: Mapping[str, Any], cut: Callable[[str, Any], _V | None]) -> None:
        self._whole = whole
        self._cut = cut
        self._done: dict[str, _V | None] = {}
        self._keys: list[str] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        found = self._done.get(key, _MISSING)
        if found is _MISSING:
            whole = self._whole.get(key, _MISSING)
            if whole is _MISSING:
                return default
            found = self._done[key] = self._cut(key, whole)
        return default if found is None else found

    def __getitem__(self, key: str) -> _V:
        found = self.get(key, _MISSING)
        if found is _MISSING:
            raise KeyError(key)
        return cast(_V, found)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def _present(self) -> list[str]:
        if self._keys is None:
            self._keys = [key for key in self._whole if key in self]
        return self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._present())

    def __len__(self) -> int:
        return len(self._present())


def _as_of(ctx: Context, moment: datetime) -> Context:
    """The same subject seen at `moment`: only values recorded by then, `now` = moment."""
    # The view of this very context is kept (the entry holds the context, so its id stays its own).
    view_key = ("as-of-view", moment, id(ctx))
    view: tuple[Context, Context] | None = ctx.memo.get(view_key)
    if view is not None and view[0] is ctx:
        return view[1]
    key = ("as-of", moment)
    cached: tuple[EvaluationRequest, dict[Hashable, Any]] | None = ctx.memo.get(key)
    if cached is None:
        request = ctx.request
        facts = request.facts

        def seen(when: datetime | None) -> bool:
            return when is None or align(when, moment) <= moment

        def prefix(kind: str, name: str, items: tuple[Any, ...]) -> tuple[Any, ...]:
            # Time-sorted series (the usual case): the values seen by `moment` are a prefix.
            n = _seen_count(ctx, (kind, name), items, moment)
            return tuple(i for i in items if seen(i.effective)) if n is None else items[:n]

        def timeline(term: str, whole: TermTimeline) -> TermTimeline | None:
            events = prefix("t", term, whole.events)
            return TermTimeline(term, events) if events else None

        def series(analyte: str, whole: tuple[LabResult, ...]) -> tuple[LabResult, ...] | None:
            return prefix("l", analyte, whole) or None

        timelines = _SeenBy(facts.timelines, timeline)
        labs = _SeenBy(facts.labs, series)
        past = replace(request, now=moment, facts=replace(facts, timelines=timelines, labs=labs))
        shared = ctx.memo.setdefault(("shared",), {})  # per-value results, kept across moments
        own: dict[Hashable, Any] = {("shared",): shared}
        cached = ctx.memo[key] = (past, own)
    later = ctx.later_events or ctx.request.facts.timelines
    found = replace(ctx, request=cached[0], memo=cached[1], later_events=later)
    ctx.memo[view_key] = (ctx, found)
    return found


# Which moments a rule must be looked at. A condition reads the values of its own lab series and
# term timelines, plus things that do not change with the moment (orders, diagnoses, the hook,
# qualifier assumptions); it reads the moment itself only through age tests: a lab or a current
# grade older than the drug's maximum age (stale), and `duration_days_gt` (an episode lasting
# longer than N days). Each age test compares the moment with one value's time plus a fixed
# delay, so its answer changes only at the first moment after that value's time plus the delay.
# Between two consecutive "cuts" (a moment one of the rule's own values was recorded, or the
# first moment after one of its values' time plus one of its delays) the condition sees the same
# values and answers every age test the same way, so its outcome is the same at every moment of
# that segment. Evaluating it once per segment therefore gives exactly the outcome it would give
# at each of the segment's moments. Conditions this reasoning does not cover (desensitization,
# which measures gaps between orders against the moment; a node type not listed below) and time
# stamps whose arithmetic is not plain (naive mixed with aware, or zones with daylight saving,
# where "moment - delay" is wall-clock arithmetic) fall back to every moment.

_LAB_NODE, _EVENT_NODES = "lab", ("event", "soc", "any_term")
_TIMELESS = ("medication", "hook", "therapy", "dose")


def _inputs(spec: Mapping[str, Any], ctx: Context) -> tuple[set[str], set[str], set[timedelta]] | None:
    """(analytes, terms, delays) a condition reads; None when the segment argument does not cover it."""
    analytes: set[str] = set()
    terms: set[str] = set()
    delays: set[timedelta] = set()
    facts = ctx.request.facts
    version = facts.ctcae_version

    def walk(node: Mapping[str, Any]) -> bool:
        for combinator in ("all", "any"):
            if combinator in node:
                return all(walk(child) for child in node[combinator])
        if "not" in node:
            return walk(node["not"])
        if "qualifier" in node or "history" in node:  # recorded qualifiers and history: no age test
            terms.update(expand_terms(tuple(node.get("event", ())), version))
            return True
        if _LAB_NODE in node:
            analytes.add(str(node[_LAB_NODE]))
            delays.add(timedelta(days=ctx.lab_max_age_days))
            return True
        if any(k in node for k in _TIMELESS):
            return True
        if any(k in node for k in _EVENT_NODES):
            if node.get("any_term"):
                terms.update(facts.timelines)
            terms.update(expand_terms(tuple(node.get("event", ())), version))
            for soc in node.get("soc", ()):
                terms.update(_soc_terms(version, soc))
            delays.add(timedelta(days=ctx.event_max_age_days))
            if node.get("duration_days_gt") is not None:
                delays.add(timedelta(days=float(node["duration_days_gt"])))
            return True
        return False  # desensitization, or a node this argument does not know

    return (analytes, terms, delays) if walk(spec) else None


def _plain(moment: datetime, aware: bool) -> bool:
    """Comparisons and arithmetic on this time are absolute: same awareness as now, fixed offset."""
    if moment.tzinfo is None:
        return not aware
    return aware and type(moment.tzinfo) is timezone


def _segments(ctx: Context, spec: Mapping[str, Any], moments: tuple[datetime, ...]) -> tuple[int, ...]:
    """Start indices (into `moments`) of the stretches over which the condition's outcome is constant."""
    key = ("segments", id(spec), ctx.lab_max_age_days, ctx.event_max_age_days, len(moments))
    found: tuple[int, ...] | None = ctx.memo.get(key)
    if found is not None:
        return found
    every = tuple(range(len(moments)))
    inputs = _inputs(spec, ctx)
    aware = ctx.request.now.tzinfo is not None
    plain = ctx.memo.get(("plain", len(moments)))
    if plain is None:
        plain = ctx.memo[("plain", len(moments))] = all(_plain(m, aware) for m in (ctx.request.now, *moments))
    if inputs is None or not plain:
        found = ctx.memo[key] = every
        return found
    analytes, terms, delays = inputs
    facts = ctx.request.facts
    times = [v.effective for a in analytes for v in facts.labs.get(a, ())]
    times += [e.effective for t in terms if (timeline := facts.timelines.get(t)) for e in timeline.events]
    cuts = {0}
    for when in times:
        if when is None:
            continue  # seen at every moment
        if not _plain(when, aware):
            found = ctx.memo[key] = every
            return found
        cuts.add(bisect.bisect_left(moments, when))
        for delay in delays:
            try:
                cuts.add(bisect.bisect_right(moments, when + delay))
            except OverflowError:  # beyond any date: that age test never changes its answer
                continue
    found = ctx.memo[key] = tuple(sorted(c for c in cuts if c < len(moments)))
    return found


def permanent(rule: CompiledRule) -> bool:
    """A stop decision without a recovery criterion holds for good once it has fired."""
    return rule.recovery is None and info(rule.spec.decision).permanent


def _opens(outcome: Outcome) -> bool:
    """The rule fired (or fired but for a qualifier nobody recorded) at that moment."""
    return outcome.value is True or (
        outcome.value is None and bool(outcome.open) and outcome.trigger and not outcome.missing
    )


def _episode(rule: CompiledRule, ctx: Context) -> Finding | None:
    """The rule fired on an earlier value and its recovery criterion has not been met since.

    Pending (a check) when the earlier value met the rule except for a qualifier nobody recorded.
    Memoised per rule, subject and assumed qualifiers (branches re-run the same rules).
    """
    if rule.recovery is None and not permanent(rule):
        return None
    key = ("episode", id(rule), id(ctx.subject), tuple(sorted(ctx.assume.items())))
    found: tuple[Subject, Finding | None] | None = ctx.memo.get(key)
    if found is None or found[0] is not ctx.subject:
        found = ctx.memo[key] = (ctx.subject, _replay(rule, ctx))
    return found[1]


def _replay(rule: CompiledRule, ctx: Context) -> Finding | None:
    """`_episode` worked out: the rule at each earlier moment, one evaluation per constant stretch."""
    if not may_open_earlier(ctx, rule.spec.when):
        return None  # no earlier moment can open an episode (cards.reach): the replay would find none
    everything = _moments(ctx)
    moments = everything[: bisect.bisect_left(everything, ctx.request.now)]
    starts = _segments(ctx, rule.spec.when, moments)
    ends = (*starts[1:], len(moments))
    outcomes: dict[int, Outcome] = {}
    guards = _guards(ctx, rule.spec.when)

    def at(segment: int) -> Outcome:  # the rule's outcome over one stretch (at its last moment)
        if segment not in outcomes:
            past = _as_of(ctx, moments[ends[segment] - 1])
            if any(guard(past).value is False for guard in guards):
                outcomes[segment] = Outcome(False)  # only its value is read: it neither opens nor holds
            else:
                outcomes[segment] = rule.condition(past)
        return outcomes[segment]

    labs = ctx.request.facts.labs
    # Without a lab test the bound at a moment is the whole-record one, already passed above.
    analytes = sorted(analytes_of(rule.spec.when))

    def may_open(segment: int) -> bool:  # a bound on the stretch's outcome (cards.reach)
        moment = moments[ends[segment] - 1]
        seen = {a: _seen_count(ctx, ("l", a), labs.get(a, ()), moment) for a in analytes}
        return not analytes or may_open_at(ctx, rule.spec.when, seen)

    # The last stretch at which the rule opens. A stretch the bound rules out cannot be it: it is
    # skipped unevaluated (its outcome, when needed below, is worked out then; `at` is the same).
    for segment in range(len(starts) - 1, -1, -1):
        if not may_open(segment):
            continue
        opened = at(segment)
        if _opens(opened):
            break
    else:
        return None
    index = ends[segment] - 1  # the last earlier moment at which the rule fired
    # Only a later value that answers the rule's own question (it no longer fires) makes an
    # episode; when nothing later decides it (out of date, missing), the rule itself says so.
    if not any(at(s).value is False for s in range(segment + 1, len(starts))):
        return None
    timelines = ctx.request.facts.timelines
    now_rows = latest_rows(ctx, sorted(analytes_of(rule.spec.when))) + tuple(
        event_row(latest) for t in opened.terms if t in timelines and (latest := timelines[t].latest)
    )
    current = Outcome(False)
    recovered: datetime | None = None
    relapsed = False
    if rule.recovery is not None and rule.spec.recovery is not None:
        recovered = _first_true(rule.recovery, ctx, rule.spec.recovery, moments, index + 1)
        current = rule.recovery(ctx)
        if recovered is None and current.value is True:
            recovered = ctx.request.now
        # A hold whose way back is another rule that needs the recovered state now (rash: only after
        # complete resolution, by desensitization): a recovery lost again (the rash back at a lower
        # grade) before any restart has not ended it. A rule with its own `resume` resumes on the
        # recovery it saw (CPK back to <= 2.5 x ULN, then a new rise below the threshold).
        relapsed = (
            rule.spec.resume is None
            and current.value is False
            and recovered is not None
            and not _restarted(ctx, recovered)
        )
        if recovered is not None and not relapsed:
            return _resumed(rule, ctx, opened, now_rows, moments[index], recovered)
    outcome = Outcome(
        opened.value,
        rows=tuple(dict.fromkeys(opened.rows + now_rows + current.rows)),
        missing=current.missing,
        checks=opened.checks + current.checks,
        grades=opened.grades,
        terms=opened.terms,
        anchor=opened.anchor or moments[index],
        trigger=True,
        assumed=opened.assumed,
        open=opened.open,
    )
    state: Literal["fired", "pending"] = "fired" if opened.value else "pending"
    note = None
    if relapsed and recovered is not None:
        note = f"met on {fmt_date(recovered)}, lost again before any restart: wait until it is met again"
    return Finding(rule, outcome, state, rule.spec.decision, basis="episode", since=moments[index], note=note)


def _restarted(ctx: Context, recovered: datetime) -> bool:
    """An order of the subject drug started at or after the recovery."""
    now = ctx.request.now
    return any(
        (when := _when(m, now)) is not None and when >= recovered
        for m in ctx.request.facts.medications
        if m.drug and m.drug.drug == ctx.subject.drug
    )


def _guards(ctx: Context, spec: Mapping[str, Any]) -> tuple[Condition, ...]:
    """Lab tests directly under a rule's top-level `all`: when one is false at a moment, so is the rule.

    `all` is false as soon as one part is false, and a lab test is cheap next to the rest of a
    rule (qualifier and event scans), so the replay asks it first. Compiled once per request.
    """
    parts = spec.get("all")
    if not isinstance(parts, list):
        return ()
    key = ("guards", id(spec))
    found: tuple[Condition, ...] | None = ctx.memo.get(key)
    if found is None:
        found = ctx.memo[key] = tuple(
            compile_condition(part)
            for part in parts
            if isinstance(part, Mapping) and "lab" in part and not {"all", "any", "not"} & set(part)
        )
    return found


def _first_true(
    condition: Condition,
    ctx: Context,
    spec: Mapping[str, Any],
    moments: tuple[datetime, ...],
    after: int,
) -> datetime | None:
    """The first of `moments[after:]` at which `condition` is true (one evaluation per constant stretch)."""
    starts = _segments(ctx, spec, moments)
    ends = (*starts[1:], len(moments))
    for start, end in zip(starts, ends, strict=True):
        if end <= after:
            continue
        if condition(_as_of(ctx, moments[end - 1])).value is True:
            return moments[max(start, after)]
    return None


def _resumed(
    rule: CompiledRule,
    ctx: Context,
    opened: Outcome,
    rows: tuple[Row, ...],
    since: datetime,
    recovered: datetime,
) -> Finding | None:
    """After recovery, the first restart or re-order gets the rule's own resumption."""
    resume = rule.spec.resume
    if opened.value is not True or resume is None or ctx.request.hook not in _ORDER_HOOKS:
        return None
    if _restarted(ctx, recovered):
        return None  # already resumed after the recovery: the order on record carries the decision
    outcome = Outcome(
        True,
        rows=tuple(dict.fromkeys(opened.rows + rows)),
        grades=opened.grades,
        terms=opened.terms,
        anchor=opened.anchor or since,
        trigger=True,
        assumed=opened.assumed,
    )
    return Finding(rule, outcome, "fired", _RESUMPTION[resume], basis="resumed", since=since)


# ---------------------------------------------------------------- one pass over a drug's rules


@dataclass
class _Pass:
    """The findings of one evaluation of a drug's rules."""

    fired: list[Finding] = field(default_factory=list)
    pending: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    open: list[str] = field(default_factory=list)  # unrecorded qualifiers a pending rule waits on


def _run(knowledge: DrugKnowledge, ctx: Context, depth: int = 0) -> _Pass:
    found = _Pass()
    resumed: list[Finding] = []
    for rule in knowledge.rules:
        if ctx.request.hook not in rule.spec.hooks:
            continue
        outcome = rule.condition(ctx)
        finding: Finding | None = None
        if outcome.value is True:
            finding = Finding(rule, outcome, "fired", rule.spec.decision)
        else:
            if outcome.value is None:
                # Missing or stale data matters when a decision depends on it now: on an order hook
                # (checked before signing), or when the rule already saw something abnormal. Otherwise
                # (patient-view, nothing near firing) the monitoring card owns "a test is due".
                if outcome.trigger or ctx.request.hook in _ORDER_HOOKS:
                    found.missing += outcome.missing
                if outcome.trigger:  # an abnormal part of the condition is met: say what is left to check
                    found.pending.append(Finding(rule, outcome, "pending", rule.spec.decision))
                    found.open += outcome.open
            finding = _episode(rule, ctx)
            if finding is not None and finding.state == "pending":
                found.pending.append(finding)
                found.open += finding.outcome.open
                finding = None
        if finding is not None and finding.basis == "resumed":
            resumed.append(finding)
        elif finding is not None and (adjusted := _adjust(knowledge, finding, ctx)) is not None:
            found.fired.append(adjusted)
    # A file's own resume rule, when one fires, says how to resume; otherwise the episode's rule does.
    # A confirmed hold or stop that applies now makes an earlier resumption moot; an unconfirmed one
    # adds caution but never takes away the confirmed resumption (it stays the card's order change).
    if not any(
        f.actionable and (info(f.rule.spec.decision).resumes or rank(f.decision) >= rank("withhold"))
        for f in found.fired
    ):
        found.fired += [a for f in resumed if (a := _adjust(knowledge, f, ctx)) is not None]
    found.fired += _floor(knowledge, ctx, found.fired, depth)
    return found


# ---------------------------------------------------------------- never weaker than a less severe state


def _less_severe(ctx: Context) -> Iterator[tuple[str, int, Context]]:
    """The patient with one clinician-recorded grade of one term one step lower (term, grade, context)."""
    facts = ctx.request.facts
    for term, timeline in sorted(facts.timelines.items()):
        grades = sorted({e.grade for e in timeline.events if e.source != EventSource.LAB and e.grade >= 2})
        for grade in grades:

            def lower(event: GradedEvent, grade: int = grade) -> GradedEvent:
                keep = event.source == EventSource.LAB or event.grade != grade
                return event if keep else replace(event, grade=grade - 1)

            lowered = TermTimeline(term, tuple(lower(e) for e in timeline.events))
            past = replace(ctx.request, facts=replace(facts, timelines={**facts.timelines, term: lowered}))
            yield term, grade, replace(ctx, request=past, memo={})


def _floor(knowledge: DrugKnowledge, ctx: Context, fired: list[Finding], depth: int) -> list[Finding]:
    """When an unconfirmed rule leads, the confirmed order change a less severe state would get."""
    managed = [f for f in fired if category(f.decision) == "management"]
    if not managed or depth >= _FLOOR_DEPTH:
        return []
    lead = max(managed, key=protectiveness)
    if lead.rule.spec.verified or any(f.actionable and info(f.decision).action != "none" for f in managed):
        return []
    best: tuple[Finding, str, int] | None = None
    for term, grade, lowered in _less_severe(ctx):
        for finding in _run(knowledge, lowered, depth + 1).fired:
            if category(finding.decision) != "management" or not finding.actionable:
                continue
            if info(finding.decision).action == "none":
                continue
            if best is None or protectiveness(finding) > protectiveness(best[0]):
                best = (finding, term, grade)
    if best is None:
        return []
    finding, term, grade = best
    note = f"as for {term.lower()} grade {grade - 1}, which this patient exceeds"
    outcome = Outcome(True, grades=lead.outcome.grades, terms=lead.outcome.terms, anchor=lead.outcome.anchor)
    return [replace(finding, outcome=outcome, basis="floor", note=note)]


# ---------------------------------------------------------------- decisions under uncertainty


def _interim(
    known: list[Finding],
    branches: list[tuple[dict[str, bool], _Pass]],
    relevant: dict[str, tuple[str, ...]],
) -> tuple[list[Finding], tuple[Alternative, ...]]:
    """The action every branch shares (the interim) and what each branch decides beyond it.

    `relevant`: rule id -> the unrecorded qualifiers it waits on (a branch is worded by those).
    """
    tops: list[tuple[dict[str, bool], Finding | None]] = []
    for assume, result in branches:
        managed = [f for f in result.fired if category(f.decision) == "management"]
        tops.append((assume, max(managed, key=protectiveness) if managed else None))
    shared = min(rank(top.decision) if top else 0 for _, top in tops)
    interim = list(known)
    known_rank = rank(known[0].decision) if known else 0
    if shared > known_rank:  # every branch decides at least this, by different rules
        least = min((top for _, top in tops if top is not None), key=protectiveness)
        interim.insert(0, replace(least, note="whichever way the check is answered"))
    floor = rank(interim[0].decision) if interim else 0
    grouped: dict[tuple[str, str], list[tuple[str, str]]] = {}
    chosen: dict[tuple[str, str], Finding] = {}
    for assume, top in tops:
        if top is None or rank(top.decision) <= floor:
            continue
        key = (top.rule.spec.id, top.decision)
        names = relevant.get(top.rule.spec.id) or tuple(assume)
        branch = {k: v for k, v in assume.items() if k in names}
        words = (branch_words(branch), branch_words(branch, short=True))
        if words not in grouped.setdefault(key, []):
            grouped[key].append(words)
        chosen.setdefault(key, top)
    alternatives = tuple(
        Alternative(
            when=" or ".join(w for w, _ in grouped[key]),
            finding=chosen[key],
            brief=" or ".join(b for _, b in grouped[key]),
        )
        for key in sorted(grouped, key=lambda k: protectiveness(chosen[k]), reverse=True)
    )
    return interim, alternatives


def _branches(knowledge: DrugKnowledge, ctx: Context, base: _Pass) -> list[tuple[dict[str, bool], _Pass]]:
    names = sorted(dict.fromkeys(base.open))[:_MAX_OPEN]  # named in one order, whatever the file's
    if not names:
        return []
    out = []
    for values in itertools.product((False, True), repeat=len(names)):
        assume = dict(zip(names, values, strict=True))
        out.append((assume, _run(knowledge, replace(ctx, assume={**ctx.assume, **assume}))))
    return out


# ---------------------------------------------------------------- cards


def _evaluate_subject(knowledge: DrugKnowledge, ctx: Context) -> list[RenderedCard]:
    base = _run(knowledge, ctx)
    branches = _branches(knowledge, ctx, base)
    missing = list(dict.fromkeys(base.missing))
    cards: list[RenderedCard] = []
    for kind in _CATEGORY_ORDER:
        mine = sorted(
            (f for f in base.fired if category(f.decision) == kind), key=protectiveness, reverse=True
        )
        waiting = sorted(
            (f for f in base.pending if category(f.decision) == kind), key=protectiveness, reverse=True
        )
        alternatives: tuple[Alternative, ...] = ()
        if kind == "management" and branches:
            relevant: dict[str, tuple[str, ...]] = {}
            for f in base.pending:
                relevant[f.rule.spec.id] = (*relevant.get(f.rule.spec.id, ()), *f.outcome.open)
            mine, alternatives = _interim(mine, branches, relevant)
        if kind == "management" and mine:
            # A pending finding matters only if it would be more protective than what already fired.
            top = rank(mine[0].decision)
            waiting = [f for f in waiting if rank(f.decision) > top]
        if not mine and not waiting:
            continue
        plan = Plan(
            knowledge=knowledge,
            subject=ctx.subject,
            category=kind,
            fired=tuple(mine),
            pending=tuple(waiting),
            missing=tuple(missing) if kind == "management" else (),
            alternatives=alternatives,
        )
        cards.append(render(plan, ctx.request))
    has_management = any(category(c.decision) == "management" for c in cards)
    if missing and not has_management:
        plan = Plan(
            knowledge=knowledge,
            subject=ctx.subject,
            category="data-missing",
            fired=(),
            missing=tuple(missing),
        )
        cards.insert(0, render_missing(plan, ctx.request))
    return cards


def evaluate(request: EvaluationRequest, knowledge: KnowledgeBase) -> EvaluationResult:
    """Pure and deterministic: same request (incl. `now`) and knowledge -> same result."""
    lab_events: dict[str, GradedEvent] = {
        event.evidence.resource: event
        for timeline in request.facts.timelines.values()
        for event in timeline.events
        if event.source == EventSource.LAB
    }
    classes = knowledge.class_map
    cards: list[RenderedCard] = []
    memo: dict[Hashable, Any] = {}  # derived from the request alone: valid for every subject
    for drug in sorted(knowledge.drugs):
        item = knowledge.drugs[drug]
        course = item.spec.new_course
        for subject in _subjects(request, drug, course.gap_days if course else None):
            ctx = Context(
                request=request,
                subject=subject,
                classes=classes,
                lab_max_age_days=item.spec.lab_max_age_days,
                event_max_age_days=item.spec.event_max_age_days,
                lab_events=lab_events,
                memo=memo,
            )
            found = _evaluate_subject(item, ctx)
            held = (
                subject.order is not None and not subject.order.is_draft and subject.order.status == "on-hold"
            )
            # While the drug is held, its schedule pauses: no due or overdue tests (the toxicity card
            # names the tests that decide the resumption).
            cards += [c for c in found if c.decision != "monitor"] if held else follow_up(item, ctx, found)
    return EvaluationResult(cards=tuple(cards))
