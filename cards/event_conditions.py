"""Conditions over clinician-recorded and lab-derived CTCAE events: grades, qualifiers, history."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from cards.context import Context, Outcome, Row, align, fmt_date
from cards.logic import Condition, ConditionError
from cards.qualifier_labels import qualifier_label
from terminology.families import expand_terms, unknown_families
from terminology.model import GradedEvent, TermTimeline
from terminology.recorded import QUALIFIERS

__all__ = [
    "event_condition",
    "event_ever_met",
    "event_row",
    "history_condition",
    "history_ever_met",
    "qualifier_condition",
]


def event_row(event: GradedEvent) -> Row:
    """One evidence-table row for a graded event."""
    ev = event.evidence
    multiple = ""
    if ev.multiple is not None and ev.reference_kind:
        multiple = f"{ev.multiple:.1f} x {ev.reference_kind}"
    return Row(
        observation=ev.resource,
        value=ev.received or f"grade {event.grade}",
        multiple=multiple,
        term=event.term,
        grade=event.grade,
        version=event.ctcae_version,
        date=fmt_date(event.effective),
    )


@lru_cache(maxsize=64)
def _soc_terms(version: str, soc: str) -> frozenset[str]:
    from terminology.ctcae import get_table  # local: the table loads lazily and is cached there

    return frozenset(t.term for t in get_table(version).terms_in_soc(soc))


def _check_families(terms: tuple[str, ...]) -> None:
    unknown = unknown_families(terms)
    if unknown:
        raise ConditionError(
            f"event: unknown term family {', '.join(unknown)} (terminology/data/term_families.toml)"
        )


def _occurrences(timeline: TermTimeline, low: int, recovered_le: int | None) -> int:
    """Separate runs at grade >= low; with `recovered_le`, a run ends only at a grade <= it."""
    if recovered_le is None:
        return timeline.episodes(low)
    count, inside = 0, False
    for event in timeline.events:
        if event.grade >= low and not inside:
            count += 1
        if event.grade >= low:
            inside = True
        elif event.grade <= recovered_le:
            inside = False
    return count


@dataclass(frozen=True, slots=True)
class _Terms:
    """The timelines an event node reads: its terms, families and SOCs (all for any_term), less exclusions."""

    events: tuple[str, ...]
    socs: tuple[str, ...]
    any_term: bool
    exclude_socs: tuple[str, ...]
    exclude: frozenset[str]

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> _Terms:
        return cls(
            tuple(spec.get("event", ())),
            tuple(spec.get("soc", ())),
            bool(spec.get("any_term")),
            tuple(spec.get("exclude_soc", ())),
            frozenset(spec.get("exclude", ())),
        )

    def timelines(self, timelines: Mapping[str, TermTimeline], version: str) -> list[TermTimeline]:
        """The node's timelines among `timelines`, by term name."""
        if self.any_term:
            names = (_named(self, version) | set(timelines)) - _removed(self, version)
            return [timelines[n] for n in sorted(names) if n in timelines]
        return [timelines[n] for n in _fixed(self, version) if n in timelines]


@lru_cache(maxsize=256)
def _named(terms: _Terms, version: str) -> frozenset[str]:
    names = frozenset(expand_terms(terms.events, version))
    return names.union(*(_soc_terms(version, s) for s in terms.socs))


@lru_cache(maxsize=256)
def _removed(terms: _Terms, version: str) -> frozenset[str]:
    return terms.exclude.union(*(_soc_terms(version, s) for s in terms.exclude_socs))


@lru_cache(maxsize=256)
def _fixed(terms: _Terms, version: str) -> tuple[str, ...]:
    """The names without any_term, sorted once: the node reads the same ones in every request."""
    return tuple(sorted(_named(terms, version) - _removed(terms, version)))


def event_ever_met(ctx: Context, spec: Mapping[str, Any]) -> bool:
    """False only when the event node is False for the patient as seen at every moment.

    Seen at an earlier moment, each timeline is a prefix (or subsequence) of its events, and only
    terms with an event by then have one, so the node reads a subset of the timelines it reads now,
    each with a subset of their events. It is undecided or true only for an event it picked: for
    `current` and `worst` one in its grade range (stale or of unsure relation: undecided), so it
    is False throughout when no candidate timeline has an event in that range. For `resolved` it
    needs a candidate timeline at all.
    """
    low, high = spec.get("grade", [1, 5])
    found = _Terms.of(spec).timelines(ctx.request.facts.timelines, ctx.request.facts.ctcae_version)
    if spec.get("which", "current") == "resolved":
        return bool(found)
    return any(low <= event.grade <= high for timeline in found for event in timeline.events)


def event_condition(spec: Mapping[str, Any]) -> Condition:
    """Events of CTCAE terms (or a SOC) in a grade range: current, worst or resolved; counts and duration."""
    terms = tuple(spec.get("event", ()))
    socs = tuple(spec.get("soc", ()))
    low, high = spec.get("grade", [1, 5])
    which = spec.get("which", "current")
    resolved_to = spec.get("resolved_to")
    episodes = int(spec.get("episodes_ge", 1))
    recovered_le = spec.get("until_le")  # with episodes_ge: an occurrence ends only at grade <= this
    duration = spec.get("duration_days_gt")
    suspect = bool(spec.get("suspect", False))
    if which not in ("current", "worst", "resolved"):
        raise ConditionError(f"which: expected current, worst or resolved, got {which!r}")
    if which == "resolved" and resolved_to is None:
        raise ConditionError("resolved_to: required when which = 'resolved'")
    if not terms and not socs and not spec.get("any_term"):
        raise ConditionError("event: give 'event' (CTCAE terms), 'soc' or any_term = true")
    _check_families(terms)
    reads = _Terms.of(spec)

    def candidates(ctx: Context) -> list[TermTimeline]:
        return reads.timelines(ctx.request.facts.timelines, ctx.request.facts.ctcae_version)

    def related(ctx: Context, event: GradedEvent) -> bool | None:
        if not suspect:
            return True
        drug = ctx.subject.drug
        if drug in event.suspect_drugs:
            return True
        if event.suspect_drugs:
            return False
        on_record = any(m.drug and m.drug.drug == drug for m in ctx.request.facts.medications)
        return True if on_record else None

    def stale(ctx: Context, event: GradedEvent) -> bool:
        # A grade recorded long ago with nothing newer is not known to be current: re-assess it.
        if which != "current" or event.effective is None:
            return False
        now = ctx.request.now
        return now - align(event.effective, now) > timedelta(days=ctx.event_max_age_days)

    def run(ctx: Context) -> Outcome:
        hits: list[tuple[GradedEvent, datetime | None]] = []
        old: list[GradedEvent] = []
        unsure: list[str] = []
        recurred: list[tuple[GradedEvent, GradedEvent]] = []  # resolved, then back above resolved_to
        for timeline in candidates(ctx):
            latest = timeline.latest
            if latest is None:
                continue
            if which == "current":
                event: GradedEvent | None = latest if low <= latest.grade <= high else None
            elif which == "worst":
                worst = max(timeline.events, key=lambda e: e.grade)
                event = worst if low <= worst.grade <= high else None
            else:
                if timeline.resolved_to(int(resolved_to or 0), low) is None:
                    event = None
                elif latest.grade > int(resolved_to or 0):
                    # It resolved and came back (below `low`): not resolved now.
                    worst = max(timeline.events, key=lambda e: e.grade)
                    if related(ctx, worst) is not False:
                        recurred.append((worst, latest))
                    event = None
                else:
                    event = max(timeline.events, key=lambda e: e.grade)
            if event is None or _occurrences(timeline, low, recovered_le) < episodes:
                continue
            if duration is not None:
                onset = timeline.onset(low)
                now = ctx.request.now
                if onset is None or (now - align(onset, now)) <= timedelta(days=float(duration)):
                    continue
            link = related(ctx, event)
            if link is False:
                continue
            if link is None:
                unsure.append(f"whether the {event.term.lower()} was related to {ctx.subject.drug}")
                continue
            if stale(ctx, event):
                old.append(event)
                continue
            hits.append((event, timeline.onset(low)))
        if hits:
            rows = [event_row(e) for e, _ in hits]
            if which == "resolved":
                rows += [
                    event_row(t.latest)
                    for t in candidates(ctx)
                    if t.latest and t.term in {e.term for e, _ in hits}
                ]
            onsets = [o for _, o in hits if o]
            return Outcome(
                True,
                rows=tuple(rows),
                grades=tuple(e.grade for e, _ in hits),
                terms=tuple(e.term for e, _ in hits),
                anchor=max(onsets) if onsets else None,
                trigger=True,
                assumed=tuple(
                    f"{e.evidence.resource}: graded against toxhooks' default {e.evidence.reference_kind} "
                    "(the result carried no reference range)"
                    for e, _ in hits
                    if e.evidence.reference_is_default
                ),
            )
        if old:
            days = ctx.event_max_age_days
            checks = tuple(
                f"{e.term} grade {e.grade} was last recorded on {fmt_date(e.effective)} "
                f"(over {days} days ago, nothing newer): re-assess the current grade"
                for e in old
            )
            return Outcome(
                None,
                rows=tuple(event_row(e) for e in old),
                checks=checks + tuple(unsure),
                grades=tuple(e.grade for e in old),
                terms=tuple(e.term for e in old),
                trigger=True,
                stale=min(e.effective for e in old if e.effective is not None),
            )
        if recurred:
            checks = tuple(
                f"{now.term} grade {before.grade} resolved, then recurred (grade {now.grade} on "
                f"{fmt_date(now.effective)}): not resolved now; wait until it resolves again"
                for before, now in recurred
            )
            return Outcome(
                None,
                rows=tuple(row for pair in recurred for row in (event_row(pair[0]), event_row(pair[1]))),
                checks=checks + tuple(unsure),
                grades=tuple(before.grade for before, _ in recurred),
                terms=tuple(now.term for _, now in recurred),
                trigger=True,
            )
        if unsure:
            return Outcome(None, checks=tuple(unsure))
        return Outcome(False)

    return run


def _latest_recorded(ctx: Context, timeline: TermTimeline, name: str) -> tuple[GradedEvent, bool] | None:
    """The latest event of the timeline recording qualifier `name`, with its value (memoised per timeline)."""
    # Keyed by identity, in the memo kept across earlier moments when there is one (the whole
    # record's timelines are asked about at every moment). The entry keeps its timeline alive, so
    # a reused id can never answer for another one.
    memo: dict[Hashable, Any] = ctx.memo.get(("shared",), ctx.memo)
    key = ("qualifier", id(timeline), name)
    cached: tuple[TermTimeline, tuple[GradedEvent, bool] | None] | None = memo.get(key)
    if cached is None or cached[0] is not timeline:
        found: tuple[GradedEvent, bool] | None = None
        for event in reversed(timeline.events):
            recorded = event.qualifier(name)
            if recorded is not None:
                found = (event, recorded)
                break
        cached = memo[key] = (timeline, found)
    return cached[1]


def qualifier_condition(spec: Mapping[str, Any]) -> Condition:
    """A clinician-recorded qualifier (e.g. symptomatic) on events of the terms; unrecorded is undecided."""
    name = str(spec["qualifier"])
    if name not in QUALIFIERS:  # a qualifier terminology cannot read would be asked for ever
        raise ConditionError(
            f"qualifier: {name!r} is not one terminology reads ({', '.join(sorted(QUALIFIERS))})"
        )
    terms = tuple(spec.get("event", ()))
    wanted = bool(spec.get("is", True))
    _check_families(terms)
    ask = str(spec.get("ask", f"whether the event is {name.replace('-', ' ')}"))

    def run(ctx: Context) -> Outcome:
        # Use only inside `all` with the event it qualifies: unrecorded -> undecided, never guessed.
        named = sorted(expand_terms(terms, ctx.request.facts.ctcae_version))
        # What was recorded by the time seen first; then (for an earlier episode) what was recorded
        # about it afterwards, latest first.
        sources = [ctx.request.facts.timelines, *([ctx.later_events] if ctx.later_events else [])]
        present = [source[t] for source in sources for t in named if t in source]
        for timeline in present:
            found = _latest_recorded(ctx, timeline, name)
            if found is not None:
                event, value = found
                row = Row(
                    event.evidence.resource,
                    f"recorded: {qualifier_label(name, value)}",
                    term=timeline.term,
                    grade=event.grade,
                    version=event.ctcae_version,
                    date=fmt_date(event.effective),
                )
                return Outcome(value == wanted, rows=(row,))
        for condition in ctx.request.facts.conditions:  # a coded diagnosis of the same concept
            recorded = dict(condition.qualifiers).get(name)
            if recorded is not None and set(condition.terms) & set(named):
                said = f"recorded: {qualifier_label(name, recorded)}"
                row = Row(condition.resource, said, term=condition.display)
                return Outcome(recorded == wanted, rows=(row,))
        assumed = ctx.assume.get(name)  # a branch being evaluated under uncertainty
        if assumed is not None:
            return Outcome(assumed == wanted)
        return Outcome(None, checks=(ask,), open=(name,))

    return run


def history_ever_met(ctx: Context, spec: Mapping[str, Any]) -> bool:
    """False only when the history node is False for the patient as seen at every moment.

    It is true only with a coded condition of its kinds (the same at every moment) or an event of
    its terms at grade 1 or more (seen at an earlier moment: one of the events recorded now).
    """
    kinds = frozenset(spec["history"])
    if any(c.kind in kinds for c in ctx.request.facts.conditions):
        return True
    timelines = ctx.request.facts.timelines
    named = expand_terms(tuple(spec.get("event", ())), ctx.request.facts.ctcae_version)
    return any(e.grade >= 1 for t in named if t in timelines for e in timelines[t].events)


def history_condition(spec: Mapping[str, Any]) -> Condition:
    """A coded history condition of the kinds, or any event of the terms, is on record.

    `active = true` keeps only active diagnoses; `suspect = true` keeps only those attributed to the
    drug (named as suspect, or with no suspect named while the drug is on record): a reaction to
    another drug, or one from before any exposure, says nothing about this one.
    """
    kinds = frozenset(spec["history"])
    terms = tuple(spec.get("event", ()))
    active_only = bool(spec.get("active", False))
    _check_families(terms)
    suspect = bool(spec.get("suspect", False))

    def related(ctx: Context, suspects: tuple[str, ...], onset: datetime | None = None) -> bool:
        drug = ctx.subject.drug
        if not suspect:
            return True
        if suspects:
            return drug in suspects
        now = ctx.request.now
        starts = [
            align(when, now)
            for m in ctx.request.facts.medications
            if m.drug and m.drug.drug == drug and (when := m.start or m.authored_on) is not None
        ]
        if onset is not None and starts and align(onset, now) < min(starts):
            return False  # began before any exposure to the drug
        return any(m.drug and m.drug.drug == drug for m in ctx.request.facts.medications)

    def run(ctx: Context) -> Outcome:
        rows = [
            Row(c.resource, c.display, term=f"history: {c.kind}", date=fmt_date(c.onset))
            for c in ctx.request.facts.conditions
            if c.kind in kinds and (c.active or not active_only) and related(ctx, c.suspect_drugs, c.onset)
        ]
        for term in sorted(expand_terms(terms, ctx.request.facts.ctcae_version)):
            timeline = ctx.request.facts.timelines.get(term)
            worst = max(timeline.events, key=lambda e: e.grade) if timeline and timeline.events else None
            if worst and worst.grade >= 1 and related(ctx, worst.suspect_drugs, worst.effective):
                rows.append(event_row(worst))
        return Outcome(bool(rows), rows=tuple(rows), terms=tuple(r.term for r in rows), trigger=bool(rows))

    return run
