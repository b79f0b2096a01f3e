"""Whether a rule can have fired at any earlier moment: a cheap bound that spares the episode replay.

The engine replays a rule with a recovery criterion (or a permanent stop) at earlier moments to
find the last one at which it fired (cards.engine, `_replay`). The replay finds one only when, at
some earlier moment, the condition is true, or undecided for want of a qualifier nobody recorded
with no data missing. This module bounds, once per request, what a condition can be at any earlier
moment, from the values of the whole record; when the bound rules both out, the replay would find
nothing, and the engine does not run it.

The bound is an over-approximation: every answer "possible" may be wrong, every "impossible" must
be right. Node types that the bound does not read (qualifiers, orders, the hook, ...) are taken
to be able to give any outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from cards.context import Context
from cards.event_conditions import event_ever_met, history_ever_met
from cards.lab_conditions import lab_ever_met, lab_met_by

__all__ = ["Reach", "may_open_at", "may_open_earlier", "reach", "reach_at"]


@dataclass(frozen=True, slots=True)
class Reach:
    """Outcomes a condition may have at some earlier moment (False is always assumed possible).

    `true`: it may be true. `undecided`: it may be undecided with no data missing. `open`: it may
    be undecided with no data missing and waiting on a qualifier nobody recorded (`open` implies
    `undecided`).
    """

    true: bool
    undecided: bool
    open: bool


_ANY = Reach(True, True, True)
_EVENT_KEYS = ("event", "soc", "any_term")
# Keys that make a node something other than a lab or event test (cards.conditions checks them first).
_OTHER_KEYS = ("qualifier", "history", "medication", "hook", "therapy", "dose", "desensitization")


def reach(ctx: Context, spec: Mapping[str, Any]) -> Reach:
    """The outcomes `spec` (a compiled `when` table) may have for the patient as seen at any moment."""
    return _reach(ctx, spec, lambda node: lab_ever_met(ctx, node))


def reach_at(ctx: Context, spec: Mapping[str, Any], seen: Mapping[str, int | None]) -> Reach:
    """The outcomes `spec` may have for the patient as seen at one earlier moment.

    `ctx` is the whole record; `seen[analyte]` is how many of that analyte's values were recorded
    by the moment (a prefix of its series), or None when not known to be a prefix; it names every
    analyte `spec` reads. Lab tests are bounded by those values (cards.lab_conditions,
    `lab_met_by`); every other node as in `reach` (what it may be at any moment, so also at this one).
    """
    return _reach(ctx, spec, lambda node: lab_met_by(ctx, node, seen[str(node["lab"])]), moment=True)


def _reads_labs(spec: Mapping[str, Any]) -> bool:
    """Whether a lab test may be under this node (True when unsure: the caller then walks it)."""
    if "lab" in spec:
        return True
    children = [*spec.get("all", ()), *spec.get("any", ()), *([spec["not"]] if "not" in spec else [])]
    return any(_reads_labs(child) for child in children)


def _lab_free(ctx: Context, spec: Mapping[str, Any]) -> Reach | None:
    """`reach` of a node with no lab test under it, else None (memoised per request and node).

    Without a lab test, the walk never asks `lab`, so the bound at one moment is the bound at any
    moment: worked out once, not once per moment.
    """
    key: Hashable = ("lab-free-reach", id(spec))
    found: tuple[Mapping[str, Any], Reach | None] | None = ctx.memo.get(key)
    if found is None or found[0] is not spec:
        found = ctx.memo[key] = (spec, None if _reads_labs(spec) else reach(ctx, spec))
    return found[1]


def _reach(
    ctx: Context, spec: Mapping[str, Any], lab: Callable[[Mapping[str, Any]], bool], moment: bool = False
) -> Reach:
    """`reach` with `lab` saying whether a lab node may be true (`moment`: asked about one moment)."""
    if moment and (fixed := _lab_free(ctx, spec)) is not None:
        return fixed
    for combinator in ("all", "any"):
        if combinator in spec:
            parts = [_reach(ctx, child, lab, moment) for child in spec[combinator]]
            if combinator == "all":
                # True only when every part is; undecided (and clean) only when every part is true or
                # clean-undecided (an undecided lab test always names missing data), one is undecided.
                settled = all(p.true or p.undecided for p in parts)
                return Reach(
                    all(p.true for p in parts),
                    settled and any(p.undecided for p in parts),
                    settled and any(p.open for p in parts),
                )
            # `any`: true when one part is; its undecided result merges every undecided part, so a
            # clean one needs at least one clean-undecided part, and an open one an open part.
            return Reach(
                any(p.true for p in parts), any(p.undecided for p in parts), any(p.open for p in parts)
            )
    if "not" in spec:
        inner = _reach(ctx, spec["not"], lab, moment)
        # An undecided part stays undecided, unchanged; whether the part may be False is not tracked.
        return Reach(True, inner.undecided, inner.open)
    if "qualifier" in spec:
        return _ANY
    if "history" in spec:
        return Reach(history_ever_met(ctx, spec), False, False)  # never undecided
    if any(key in spec for key in _OTHER_KEYS):
        return _ANY
    if "lab" in spec:
        # Undecided lab tests always name the missing or out-of-date value: never clean.
        return Reach(lab(spec), False, False)
    if any(key in spec for key in _EVENT_KEYS):
        # Undecided (stale grade, unsure relation, recurrence) only for an event it picked; no qualifier.
        met = event_ever_met(ctx, spec)
        return Reach(met, met, False)
    return _ANY


def may_open_earlier(ctx: Context, spec: Mapping[str, Any]) -> bool:
    """False only when no earlier moment can open an episode of the rule (memoised per request).

    An episode opens at a moment where the rule is true, or undecided only for an unrecorded
    qualifier with nothing missing (cards.engine, `_opens`).
    """
    key: Hashable = ("may-open-earlier", id(spec))
    found: tuple[Mapping[str, Any], bool] | None = ctx.memo.get(key)
    if found is None or found[0] is not spec:
        bound = reach(ctx, spec)
        found = ctx.memo[key] = (spec, bound.true or bound.open)
    return found[1]


def may_open_at(ctx: Context, spec: Mapping[str, Any], seen: Mapping[str, int | None]) -> bool:
    """False only when the rule cannot open an episode at a moment (`seen`: as in `reach_at`).

    Memoised per request and values seen: the bound reads the moment only through `seen`, so
    moments at which the same values of the rule's analytes were recorded share it.
    """
    key: Hashable = ("may-open-at", id(spec), tuple(sorted(seen.items())))
    found: tuple[Mapping[str, Any], bool] | None = ctx.memo.get(key)
    if found is None or found[0] is not spec:
        bound = reach_at(ctx, spec, seen)
        found = ctx.memo[key] = (spec, bound.true or bound.open)
    return found[1]
