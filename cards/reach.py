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

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from cards.context import Context
from cards.event_conditions import event_ever_met, history_ever_met
from cards.lab_conditions import lab_ever_met

__all__ = ["Reach", "may_open_earlier", "reach"]


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
    for combinator in ("all", "any"):
        if combinator in spec:
            parts = [reach(ctx, child) for child in spec[combinator]]
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
        inner = reach(ctx, spec["not"])
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
        return Reach(lab_ever_met(ctx, spec), False, False)
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
