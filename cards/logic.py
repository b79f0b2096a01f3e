"""Three-valued combinators of rule conditions (all, any, not) and the shared comparison table."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cards.context import Context, Outcome

__all__ = ["COMPARATORS", "Condition", "ConditionError", "all_of", "any_of", "merge", "not_of"]

Condition = Callable[[Context], Outcome]

COMPARATORS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "gt": (">", lambda a, b: a > b),
    "ge": (">=", lambda a, b: a >= b),
    "lt": ("<", lambda a, b: a < b),
    "le": ("<=", lambda a, b: a <= b),
}


class ConditionError(ValueError):
    """A condition in a knowledge file is malformed (the message names the key)."""


def merge(value: bool | None, parts: Sequence[Outcome], keep: Sequence[Outcome]) -> Outcome:
    """Combine children: evidence from `keep`, missing data and checks from all undecided parts."""
    undecided = [p for p in parts if p.value is None]
    anchors = [p.anchor for p in keep if p.anchor]
    stale = [p.stale for p in keep if p.stale]
    return Outcome(
        value=value,
        rows=tuple(r for p in keep for r in p.rows),
        missing=tuple(dict.fromkeys(m for p in undecided for m in p.missing)),
        checks=tuple(dict.fromkeys(c for p in undecided for c in p.checks)),
        grades=tuple(g for p in keep for g in p.grades),
        terms=tuple(dict.fromkeys(t for p in keep for t in p.terms)),
        anchor=max(anchors) if anchors else None,
        trigger=any(p.trigger for p in keep),
        stale=min(stale) if stale else None,
        assumed=tuple(dict.fromkeys(a for p in keep for a in p.assumed)),
    )


def all_of(children: Sequence[Condition]) -> Condition:
    """False if any part is false, undecided if any is undecided, else true."""

    def run(ctx: Context) -> Outcome:
        parts = [child(ctx) for child in children]
        if any(p.value is False for p in parts):
            return Outcome(False)
        value = None if any(p.value is None for p in parts) else True
        return merge(value, parts, [p for p in parts if p.value])

    return run


def any_of(children: Sequence[Condition]) -> Condition:
    """True if any part is true, undecided if any is undecided, else false."""

    def run(ctx: Context) -> Outcome:
        parts = [child(ctx) for child in children]
        true = [p for p in parts if p.value]
        if true:
            return merge(True, [], true)
        if any(p.value is None for p in parts):
            # Keep the evidence of partly met branches so the card can show what was found.
            return merge(None, parts, [p for p in parts if p.value is None])
        return Outcome(False)

    return run


def not_of(child: Condition) -> Condition:
    """Negation; undecided stays undecided."""

    def run(ctx: Context) -> Outcome:
        inner = child(ctx)
        if inner.value is None:
            return inner
        return Outcome(not inner.value, rows=inner.rows, grades=inner.grades, terms=inner.terms)

    return run
