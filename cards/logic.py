"""Three-valued combinators of rule conditions (all, any, not) and the shared comparison table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_DOWN, Decimal
from decimal import Context as DecimalContext

from cards.context import Context, Outcome

__all__ = [
    "COMPARATORS",
    "Condition",
    "ConditionError",
    "all_of",
    "any_of",
    "exact",
    "merge",
    "multiple_number",
    "multiple_text",
    "not_of",
    "ratio",
]

Condition = Callable[[Context], Outcome]

# Numbers are compared as decimals, never as binary floats: a received value (or a unit
# conversion of it) is read to 12 significant digits, far beyond any lab's precision, which
# drops binary artefacts (1.2 / 0.8 = 1.4999999999999998 in floats) and keeps every real digit.
_READ = DecimalContext(prec=12)
_RATIO = DecimalContext(prec=28)


_EXACT: dict[float, Decimal] = {}  # thresholds and values met again and again, read once each


def exact(number: float | Decimal) -> Decimal:
    """A number as the decimal it was written as (12 significant digits)."""
    if isinstance(number, Decimal):
        return number
    found = _EXACT.get(number)
    if found is None:
        found = _READ.create_decimal(repr(float(number)))
        if number and number == number and len(_EXACT) < 4096:  # not 0.0/-0.0 (one key, two signs), not NaN
            _EXACT[number] = found
    return found


def ratio(value: float, reference: float | None) -> Decimal | None:
    """value / reference in decimal (exact whenever the quotient is a finite decimal); None without one."""
    if not reference:
        return None
    return _RATIO.divide(exact(value), exact(reference))


Number = float | Decimal

_TENTH = Decimal("0.1")


def multiple_number(value: float, reference: float | None) -> str:
    """value / reference for display, never rounded across a threshold: cut to one decimal toward
    zero, with ">" when the cut dropped digits (2001 / 200 -> "> 10.0"; 400 / 40 -> "10.0")."""
    exact_ratio = ratio(value, reference)
    if exact_ratio is None:
        return ""
    shown = exact_ratio.quantize(_TENTH, rounding=ROUND_DOWN)
    return f"> {shown}" if shown != exact_ratio and exact_ratio > 0 else str(shown)


def multiple_text(value: float, reference: float | None, of: str = "ULN") -> str:
    """A multiple for card text ("> 10.0 x ULN"); empty without a reference."""
    number = multiple_number(value, reference)
    return f"{number} x {of}" if number else ""


COMPARATORS: dict[str, tuple[str, Callable[[Number, Number], bool]]] = {
    "gt": (">", lambda a, b: exact(a) > exact(b)),
    "ge": (">=", lambda a, b: exact(a) >= exact(b)),
    "lt": ("<", lambda a, b: exact(a) < exact(b)),
    "le": ("<=", lambda a, b: exact(a) <= exact(b)),
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
        open=tuple(dict.fromkeys(q for p in undecided for q in p.open)),
    )


def all_of(children: Sequence[Condition]) -> Condition:
    """False if any part is false, undecided if any is undecided, else true."""

    def run(ctx: Context) -> Outcome:
        parts = [child(ctx) for child in children]
        if any(p.value is False for p in parts):
            return Outcome(False)
        value = None if any(p.value is None for p in parts) else True
        # An undecided part keeps its evidence and its "abnormal" flag: a rule whose met parts are
        # all normal but whose undecided part saw something (a recurrence, an old grade) still asks.
        return merge(value, parts, [p for p in parts if p.value is not False])

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
