"""Conditions over orders and the call: co-medications, hook, new start, dose, desensitization."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from cards.context import Context, Outcome, Row, align, fmt_date
from cards.logic import COMPARATORS, Condition, ConditionError
from terminology.model import MedicationOrder

__all__ = [
    "days_off",
    "desensitization_condition",
    "dose_condition",
    "hook_condition",
    "medication_condition",
    "therapy_condition",
]


def medication_condition(spec: Mapping[str, Any]) -> Condition:
    """A drug of the ids or classes is ordered (drafts) or on record."""
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
                name = order.medication_text or order.drug.drug
                rows.append(
                    Row(
                        order.reference,
                        f"{name}: {_order_state(order, ctx.request.now)}",
                        term=f"co-medication ({order.status or 'status unknown'})",
                        date=fmt_date(when),
                    )
                )
        return Outcome(bool(rows), rows=tuple(rows), trigger=bool(rows))

    return run


def _order_state(order: MedicationOrder, now: datetime) -> str:
    """What the record says of an order, in words: current or past, with its dates."""
    start = order.start or order.authored_on
    since = f" since {fmt_date(start)}" if start else ""
    if order.is_draft:
        return "ordered now (draft)"
    ended = order.end is not None and align(order.end, now) <= now
    status = order.status or "status unknown"
    if status in ("active", "on-hold") and not ended:
        return ("current order" if status == "active" else "current order, on hold") + since
    if order.end is not None:
        return f"past order ({status}), {fmt_date(start)} to {fmt_date(order.end)}"
    return f"past order ({status}), started {fmt_date(start)}, end date not recorded"


def hook_condition(spec: Mapping[str, Any]) -> Condition:
    """The call is one of the hooks."""
    hooks = frozenset(spec["hook"])
    return lambda ctx: Outcome(ctx.request.hook in hooks)


_NEVER_GIVEN = ("draft", "entered-in-error", "cancelled")


def days_off(orders: Sequence[MedicationOrder], drug: str, start: datetime) -> float | None:
    """Days between the end of the last order of `drug` in force and `start` (0 when one still is);
    None when the drug has no order on record. A stopped order without an end date is read as
    ending at its start (the gap it leaves is the longest the record allows)."""
    ends: list[datetime] = []
    for order in orders:
        if not order.drug or order.drug.drug != drug or order.is_draft or order.status in _NEVER_GIVEN:
            continue
        began = order.start or order.authored_on
        if order.end is not None:
            ends.append(align(order.end, start))
        elif order.status in ("active", "on-hold", None):
            return 0.0  # still in force
        elif began is not None:
            ends.append(align(began, start))
    if not ends:
        return None
    return max(0.0, (start - max(ends)).total_seconds() / 86400)


def therapy_condition(spec: Mapping[str, Any]) -> Condition:
    """The drug is a new start (no order on record, or a new course after a long stop), continuing,
    or restarted after at least `gap_days_ge` days without an order in force."""
    state = spec["therapy"]
    if state not in ("new", "continuing", "restart"):
        raise ConditionError(f"therapy: expected 'new', 'continuing' or 'restart', got {state!r}")
    if (state == "restart") != ("gap_days_ge" in spec):
        raise ConditionError("gap_days_ge: required with therapy = 'restart' (and only there)")
    if state != "restart":
        return lambda ctx: Outcome(ctx.subject.new_start == (state == "new"))
    gap = float(spec["gap_days_ge"])

    def run(ctx: Context) -> Outcome:
        order = ctx.subject.order
        if order is None or not order.is_draft:
            return Outcome(False)
        begins = align(order.start or ctx.request.now, ctx.request.now)
        off = days_off(ctx.request.facts.medications, ctx.subject.drug, begins)
        if off is None or off < gap:
            return Outcome(False)
        row = Row(
            order.reference,
            f"restart after {off:.0f} days without an order in force",
            multiple=f">= {gap:g} days",
            term="interruption",
            date=fmt_date(begins),
        )
        return Outcome(True, rows=(row,), trigger=True)

    return run


def dose_condition(spec: Mapping[str, Any]) -> Condition:
    """The ordered daily or per-administration dose against a threshold (mg)."""
    basis = spec["dose"]
    if basis not in ("daily", "per-administration"):
        raise ConditionError(f"dose: expected 'daily' or 'per-administration', got {basis!r}")
    tests = [(op, float(spec[op])) for op in COMPARATORS if op in spec]
    if len(tests) != 1:
        raise ConditionError("dose: give exactly one of gt, ge, lt, le")
    op, threshold = tests[0]
    symbol, compare = COMPARATORS[op]

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
        met = compare(amount, threshold)
        return Outcome(met, rows=(row,), trigger=met and op in ("gt", "ge"))

    return run


def _group_system(group: object) -> object:
    return group.get("system") if isinstance(group, Mapping) else None


def _started(order: MedicationOrder, now: datetime) -> datetime:
    return align(order.start or order.authored_on or now, now)


def desensitization_condition(spec: Mapping[str, Any]) -> Condition:
    """Desensitization step orders are on record, optionally followed by an interruption."""
    gap_days = float(spec.get("gap_days_gt", 1))
    system = str(spec["desensitization"])
    state = spec.get("state", "interrupted")
    if state not in ("interrupted", "on-record"):
        raise ConditionError(f"state: expected 'interrupted' or 'on-record', got {state!r}")

    def run(ctx: Context) -> Outcome:
        drug = ctx.subject.drug
        orders = [m for m in ctx.request.facts.medications if m.drug and m.drug.drug == drug]
        steps = [m for m in orders if _group_system(m.resource.get("groupIdentifier")) == system]
        if not steps:
            return Outcome(False)
        if state == "on-record":
            first = min(
                steps, key=lambda m: align(m.start or m.authored_on or ctx.request.now, ctx.request.now)
            )
            when = first.start or first.authored_on
            return Outcome(
                True,
                rows=(
                    Row(
                        first.reference,
                        "desensitization step",
                        term="desensitization started",
                        date=fmt_date(when),
                    ),
                ),
                anchor=when,
                trigger=True,
            )
        floor = datetime.min.replace(tzinfo=ctx.request.now.tzinfo)
        last = max(orders, key=lambda m: align(m.end or m.start or m.authored_on or floor, floor))
        ended = last.end if last.end else None
        stopped = last.status in ("stopped", "on-hold", "completed", "cancelled")
        if ended is None and not stopped:
            return Outcome(False)
        gap_start = ended or last.start or last.authored_on
        if gap_start is None:
            return Outcome(None, missing=(f"when {last.reference} ended",))
        if ctx.request.now - align(gap_start, ctx.request.now) <= timedelta(days=gap_days):
            return Outcome(False)
        row = Row(
            last.reference,
            f"{last.medication_text or drug}, {last.status or ''}".strip(", "),
            term="last dose of the desensitized course",
            date=fmt_date(gap_start),
        )
        first = min(steps, key=lambda m: _started(m, ctx.request.now))
        first_row = Row(
            first.reference,
            "desensitization step",
            term="desensitization started",
            date=fmt_date(first.start or first.authored_on),
        )
        return Outcome(True, rows=(first_row, row), anchor=gap_start, trigger=True)

    return run
