"""Rule conditions: compiled once from knowledge data, evaluated with three-valued logic."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from cards.context import Context, Outcome, Row, fmt_date
from terminology.model import GradedEvent, LabResult, TermTimeline

__all__ = ["Condition", "ConditionError", "analytes_of", "compile_condition"]

Condition = Callable[[Context], Outcome]

_COMPARATORS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "gt": (">", lambda a, b: a > b),
    "ge": (">=", lambda a, b: a >= b),
    "lt": ("<", lambda a, b: a < b),
    "le": ("<=", lambda a, b: a <= b),
}


class ConditionError(ValueError):
    """A condition in a knowledge file is malformed (the message names the key)."""


def _merge(value: bool | None, parts: Sequence[Outcome], keep: Sequence[Outcome]) -> Outcome:
    """Combine children: evidence from `keep`, missing data and checks from all undecided parts."""
    undecided = [p for p in parts if p.value is None]
    anchors = [p.anchor for p in keep if p.anchor]
    return Outcome(
        value=value,
        rows=tuple(r for p in keep for r in p.rows),
        missing=tuple(dict.fromkeys(m for p in undecided for m in p.missing)),
        checks=tuple(dict.fromkeys(c for p in undecided for c in p.checks)),
        grades=tuple(g for p in keep for g in p.grades),
        terms=tuple(dict.fromkeys(t for p in keep for t in p.terms)),
        anchor=max(anchors) if anchors else None,
    )


def _all(children: Sequence[Condition]) -> Condition:
    def run(ctx: Context) -> Outcome:
        parts = [child(ctx) for child in children]
        if any(p.value is False for p in parts):
            return Outcome(False)
        value = None if any(p.value is None for p in parts) else True
        return _merge(value, parts, [p for p in parts if p.value])

    return run


def _any(children: Sequence[Condition]) -> Condition:
    def run(ctx: Context) -> Outcome:
        parts = [child(ctx) for child in children]
        true = [p for p in parts if p.value]
        if true:
            return _merge(True, [], true)
        if any(p.value is None for p in parts):
            # Keep the evidence of partly met branches so the card can show what was found.
            return _merge(None, parts, [p for p in parts if p.value is None])
        return Outcome(False)

    return run


def _not(child: Condition) -> Condition:
    def run(ctx: Context) -> Outcome:
        inner = child(ctx)
        if inner.value is None:
            return inner
        return Outcome(not inner.value, rows=inner.rows, grades=inner.grades, terms=inner.terms)

    return run


def _event_row(event: GradedEvent) -> Row:
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


def _event(spec: Mapping[str, Any]) -> Condition:
    terms = tuple(spec.get("event", ()))
    socs = tuple(spec.get("soc", ()))
    exclude = frozenset(spec.get("exclude", ()))
    exclude_socs = tuple(spec.get("exclude_soc", ()))
    low, high = spec.get("grade", [1, 5])
    which = spec.get("which", "current")
    resolved_to = spec.get("resolved_to")
    episodes = int(spec.get("episodes_ge", 1))
    duration = spec.get("duration_days_gt")
    suspect = bool(spec.get("suspect", False))
    if which not in ("current", "worst", "resolved"):
        raise ConditionError(f"which: expected current, worst or resolved, got {which!r}")
    if which == "resolved" and resolved_to is None:
        raise ConditionError("resolved_to: required when which = 'resolved'")
    if not terms and not socs and not spec.get("any_term"):
        raise ConditionError("event: give 'event' (CTCAE terms), 'soc' or any_term = true")
    soc_cache: dict[str, frozenset[str]] = {}

    def candidates(ctx: Context) -> list[TermTimeline]:
        timelines = ctx.request.facts.timelines
        version = ctx.request.facts.ctcae_version
        names: set[str] = set(terms)
        key = version
        if socs:
            if key not in soc_cache:
                soc_cache[key] = frozenset().union(*(_soc_terms(version, s) for s in socs))
            names |= soc_cache[key]
        if spec.get("any_term"):
            names |= set(timelines)
        if exclude_socs:
            names -= frozenset().union(*(_soc_terms(version, s) for s in exclude_socs))
        return [timelines[n] for n in sorted(names - exclude) if n in timelines]

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

    def run(ctx: Context) -> Outcome:
        hits: list[tuple[GradedEvent, datetime | None]] = []
        unsure: list[str] = []
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
                else:
                    event = max(timeline.events, key=lambda e: e.grade)
            if event is None or timeline.episodes(low) < episodes:
                continue
            if duration is not None:
                onset = timeline.onset(low)
                if onset is None or (ctx.request.now - onset) <= timedelta(days=float(duration)):
                    continue
            link = related(ctx, event)
            if link is False:
                continue
            if link is None:
                unsure.append(f"whether the {event.term.lower()} was related to {ctx.subject.drug}")
                continue
            hits.append((event, timeline.onset(low)))
        if hits:
            rows = [_event_row(e) for e, _ in hits]
            if which == "resolved":
                rows += [
                    _event_row(t.latest)
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
            )
        if unsure:
            return Outcome(None, checks=tuple(unsure))
        return Outcome(False)

    return run


def _lab_row(ctx: Context, lab: LabResult, of: str) -> Row:
    parts = []
    if lab.x_uln is not None:
        parts.append(f"{lab.x_uln:.1f} x ULN")
    if lab.x_baseline is not None and (of == "baseline" or lab.analyte == "creatinine"):
        parts.append(f"{lab.x_baseline:.1f} x baseline")
    graded = ctx.lab_events.get(lab.resource)
    return Row(
        observation=lab.resource,
        value=lab.received,
        multiple="; ".join(parts),
        term=graded.term if graded else lab.analyte,
        grade=graded.grade if graded else None,
        version=graded.ctcae_version if graded else "",
        date=fmt_date(lab.effective),
    )


def _lab(spec: Mapping[str, Any]) -> Condition:
    analyte = str(spec["lab"])
    of = spec.get("of", "uln")
    if of not in ("uln", "baseline", "value"):
        raise ConditionError(f"of: expected 'uln', 'baseline' or 'value', got {of!r}")
    tests = [(op, float(spec[op])) for op in _COMPARATORS if op in spec]
    if len(tests) != 1:
        raise ConditionError(f"lab {analyte}: give exactly one of gt, ge, lt, le")
    op, threshold = tests[0]
    symbol, compare = _COMPARATORS[op]
    which = spec.get("which", "latest")
    episodes = int(spec.get("episodes_ge", 1))
    label = {"uln": "ULN", "baseline": "baseline", "value": ""}[of]
    name = analyte.upper() if len(analyte) <= 3 else analyte
    unit = str(spec.get("unit", ""))
    wording = (
        f"{name} {symbol} {threshold:g} {unit}"
        if of == "value"
        else f"{name} {symbol} {threshold:g} x {label}"
    )

    def multiple(lab: LabResult) -> float | None:
        if of == "value":
            return lab.value
        return lab.x_uln if of == "uln" else lab.x_baseline

    def run(ctx: Context) -> Outcome:
        series = ctx.request.facts.labs.get(analyte, ())
        if not series:
            return Outcome(None, missing=(f"{analyte} (no result on record; needed for {wording})",))
        latest = series[-1]
        oldest_ok = ctx.request.now - timedelta(days=ctx.lab_max_age_days)
        if latest.effective is not None and latest.effective < oldest_ok:
            return Outcome(
                None,
                missing=(
                    f"{analyte} (latest result {fmt_date(latest.effective)} is older than "
                    f"{ctx.lab_max_age_days} days; needed for {wording})",
                ),
            )
        chosen = latest
        if which == "worst":
            usable = [lab for lab in series if multiple(lab) is not None]
            chosen = max(usable, key=lambda lab: multiple(lab) or 0.0) if usable else latest
        value = multiple(chosen)
        if value is None:
            return Outcome(None, missing=(f"{analyte} {label} (not known; needed for {wording})",))
        if not compare(value, threshold):
            return Outcome(False, rows=(_lab_row(ctx, chosen, of),))
        runs, inside, onset = 0, False, None
        for lab in series:
            above = (m := multiple(lab)) is not None and compare(m, threshold)
            if above and not inside:
                runs, onset = runs + 1, lab.effective
            inside = above
        if runs < episodes:
            return Outcome(False, rows=(_lab_row(ctx, chosen, of),))
        rows = tuple(
            _lab_row(ctx, lab, of)
            for lab in series
            if (m := multiple(lab)) is not None and compare(m, threshold)
        )
        graded = ctx.lab_events.get(chosen.resource)
        return Outcome(
            True,
            rows=rows if episodes > 1 else (_lab_row(ctx, chosen, of),),
            grades=(graded.grade,) if graded else (),
            terms=(graded.term,) if graded else (analyte,),
            anchor=onset,
        )

    return run


def _qualifier(spec: Mapping[str, Any]) -> Condition:
    name = str(spec["qualifier"])
    terms = tuple(spec.get("event", ()))
    wanted = bool(spec.get("is", True))
    ask = str(spec.get("ask", f"whether the event is {name.replace('-', ' ')}"))

    def run(ctx: Context) -> Outcome:
        # Use only inside `all` with the event it qualifies: unrecorded -> undecided, never guessed.
        present = [ctx.request.facts.timelines[t] for t in terms if t in ctx.request.facts.timelines]
        for timeline in present:
            term = timeline.term
            for event in reversed(timeline.events):
                recorded = event.qualifier(name)
                if recorded is not None:
                    row = Row(
                        event.evidence.resource,
                        f"{name}: {'yes' if recorded else 'no'}",
                        term=term,
                        grade=event.grade,
                        version=event.ctcae_version,
                        date=fmt_date(event.effective),
                    )
                    return Outcome(recorded == wanted, rows=(row,))
        return Outcome(None, checks=(ask,))

    return run


def _medication(spec: Mapping[str, Any]) -> Condition:
    wanted = frozenset(spec["medication"])
    where = spec.get("where", "any")

    def run(ctx: Context) -> Outcome:
        orders = []
        if where in ("any", "record"):
            orders += list(ctx.request.facts.medications)
        if where in ("any", "drafts"):
            orders += list(ctx.request.draft_orders)
        rows = []
        for order in orders:
            if order.drug and ctx.classes.get(order.drug.drug, frozenset({order.drug.drug})) & wanted:
                when = order.start or order.authored_on
                rows.append(
                    Row(
                        order.reference,
                        order.medication_text or order.drug.drug,
                        term=f"co-medication ({order.status or 'status unknown'})",
                        date=fmt_date(when),
                    )
                )
        return Outcome(bool(rows), rows=tuple(rows))

    return run


def _history(spec: Mapping[str, Any]) -> Condition:
    kinds = frozenset(spec["history"])
    terms = tuple(spec.get("event", ()))

    def run(ctx: Context) -> Outcome:
        rows = [
            Row(c.resource, c.display, term=f"history: {c.kind}", date=fmt_date(c.onset))
            for c in ctx.request.facts.conditions
            if c.kind in kinds
        ]
        for term in terms:
            timeline = ctx.request.facts.timelines.get(term)
            worst = max(timeline.events, key=lambda e: e.grade) if timeline and timeline.events else None
            if worst and worst.grade >= 1:
                rows.append(_event_row(worst))
        return Outcome(bool(rows), rows=tuple(rows), terms=tuple(r.term for r in rows))

    return run


def _hook(spec: Mapping[str, Any]) -> Condition:
    hooks = frozenset(spec["hook"])
    return lambda ctx: Outcome(ctx.request.hook in hooks)


def _therapy(spec: Mapping[str, Any]) -> Condition:
    state = spec["therapy"]
    if state not in ("new", "continuing"):
        raise ConditionError(f"therapy: expected 'new' or 'continuing', got {state!r}")
    return lambda ctx: Outcome(ctx.subject.new_start == (state == "new"))


def _dose(spec: Mapping[str, Any]) -> Condition:
    basis = spec["dose"]
    if basis not in ("daily", "per-administration"):
        raise ConditionError(f"dose: expected 'daily' or 'per-administration', got {basis!r}")
    tests = [(op, float(spec[op])) for op in _COMPARATORS if op in spec]
    if len(tests) != 1:
        raise ConditionError("dose: give exactly one of gt, ge, lt, le")
    op, threshold = tests[0]
    symbol, compare = _COMPARATORS[op]

    def run(ctx: Context) -> Outcome:
        order = ctx.subject.order
        if order is None:
            return Outcome(False)
        amount = order.dose.daily if basis == "daily" else order.dose.per_administration
        if not order.dose.understood or amount is None:
            why = order.dose.problem or "no structured dose"
            return Outcome(None, missing=(f"the dose of {order.reference} ({why})",))
        row = Row(
            order.reference,
            order.dose.text or f"{amount:g} {order.dose.unit or 'mg'}",
            multiple=f"{amount:g} mg/{'day' if basis == 'daily' else 'dose'} {symbol} {threshold:g}",
            term="ordered dose",
            date=fmt_date(order.start or order.authored_on),
        )
        return Outcome(compare(amount, threshold), rows=(row,))

    return run


def _group_system(group: object) -> object:
    return group.get("system") if isinstance(group, Mapping) else None


def _desensitization(spec: Mapping[str, Any]) -> Condition:
    gap_days = float(spec.get("gap_days_gt", 1))
    system = str(spec["desensitization"])

    def run(ctx: Context) -> Outcome:
        drug = ctx.subject.drug
        orders = [m for m in ctx.request.facts.medications if m.drug and m.drug.drug == drug]
        steps = [m for m in orders if _group_system(m.resource.get("groupIdentifier")) == system]
        if not steps:
            return Outcome(False)
        floor = datetime.min.replace(tzinfo=ctx.request.now.tzinfo)
        last = max(orders, key=lambda m: m.end or m.start or m.authored_on or floor)
        ended = last.end if last.end else None
        stopped = last.status in ("stopped", "on-hold", "completed", "cancelled")
        if ended is None and not stopped:
            return Outcome(False)
        gap_start = ended or last.start or last.authored_on
        if gap_start is None:
            return Outcome(None, missing=(f"when {last.reference} ended",))
        if ctx.request.now - gap_start <= timedelta(days=gap_days):
            return Outcome(False)
        row = Row(
            last.reference,
            f"{last.medication_text or drug}, {last.status or ''}".strip(", "),
            term="last dose of the desensitized course",
            date=fmt_date(gap_start),
        )
        first = min(steps, key=lambda m: m.start or m.authored_on or ctx.request.now)
        first_row = Row(
            first.reference,
            "desensitization step",
            term="desensitization started",
            date=fmt_date(first.start or first.authored_on),
        )
        return Outcome(True, rows=(first_row, row), anchor=gap_start)

    return run


_EVENT_KEYS = {"event", "soc", "any_term", "exclude", "exclude_soc", "grade", "which", "resolved_to"}
_KEYS: dict[Callable[[Mapping[str, Any]], Condition], frozenset[str]] = {
    _event: frozenset(_EVENT_KEYS | {"episodes_ge", "duration_days_gt", "suspect"}),
    _lab: frozenset({"lab", "of", "which", "episodes_ge", "unit", *_COMPARATORS}),
    _qualifier: frozenset({"qualifier", "event", "is", "ask"}),
    _medication: frozenset({"medication", "where"}),
    _history: frozenset({"history", "event"}),
    _hook: frozenset({"hook"}),
    _therapy: frozenset({"therapy"}),
    _dose: frozenset({"dose", *_COMPARATORS}),
    _desensitization: frozenset({"desensitization", "gap_days_gt"}),
}

# Checked in this order: keys that identify a node type before the shared "event" key.
_NODES: dict[str, Callable[[Mapping[str, Any]], Condition]] = {
    "qualifier": _qualifier,
    "history": _history,
    "lab": _lab,
    "medication": _medication,
    "hook": _hook,
    "therapy": _therapy,
    "dose": _dose,
    "desensitization": _desensitization,
    "event": _event,
    "soc": _event,
    "any_term": _event,
}


def compile_condition(spec: Mapping[str, Any], where: str = "when") -> Condition:
    """Turn a `when` table into a callable; raises ConditionError naming the offending key."""
    if not isinstance(spec, Mapping):
        raise ConditionError(f"{where}: expected a table, got {type(spec).__name__}")
    for combinator, build in (("all", _all), ("any", _any)):
        if combinator in spec:
            children = spec[combinator]
            if not isinstance(children, list) or not children:
                raise ConditionError(f"{where}.{combinator}: expected a non-empty list")
            return build([compile_condition(c, f"{where}.{combinator}.{i}") for i, c in enumerate(children)])
    if "not" in spec:
        return _not(compile_condition(spec["not"], f"{where}.not"))
    for key, node in _NODES.items():
        if key in spec:
            unknown = sorted(set(spec) - _KEYS[node])
            if unknown:
                raise ConditionError(f"{where}: unknown key(s) {', '.join(unknown)} in a {key} condition")
            try:
                return node(spec)
            except ConditionError as exc:
                raise ConditionError(f"{where}: {exc}") from None
            except (KeyError, TypeError, ValueError) as exc:
                raise ConditionError(f"{where}: invalid {key} condition ({exc})") from None
    raise ConditionError(f"{where}: no known condition key (all, any, not, {', '.join(_NODES)})")


def analytes_of(spec: Mapping[str, Any]) -> frozenset[str]:
    """Lab analytes a condition reads (for prefetch)."""
    found: set[str] = set()
    if "lab" in spec:
        found.add(str(spec["lab"]))
    for key in ("all", "any"):
        for child in spec.get(key, ()):
            found |= analytes_of(child)
    if "not" in spec:
        found |= analytes_of(spec["not"])
    return frozenset(found)
