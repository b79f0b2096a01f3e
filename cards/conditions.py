"""Rule conditions: compiled once from knowledge data into callables with three-valued logic."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cards.event_conditions import event_condition, history_condition, qualifier_condition
from cards.lab_conditions import lab_condition
from cards.logic import COMPARATORS, Condition, ConditionError, all_of, any_of, not_of
from cards.order_conditions import (
    desensitization_condition,
    dose_condition,
    hook_condition,
    medication_condition,
    therapy_condition,
)

__all__ = ["Condition", "ConditionError", "analytes_of", "compile_condition"]


_EVENT_KEYS = {"event", "soc", "any_term", "exclude", "exclude_soc", "grade", "which", "resolved_to"}
_KEYS: dict[Callable[[Mapping[str, Any]], Condition], frozenset[str]] = {
    event_condition: frozenset(_EVENT_KEYS | {"episodes_ge", "until_le", "duration_days_gt", "suspect"}),
    lab_condition: frozenset({"lab", "of", "which", "episodes_ge", "until_le", "unit", *COMPARATORS}),
    qualifier_condition: frozenset({"qualifier", "event", "is", "ask"}),
    medication_condition: frozenset({"medication", "where"}),
    history_condition: frozenset({"history", "event", "active", "suspect"}),
    hook_condition: frozenset({"hook"}),
    therapy_condition: frozenset({"therapy", "gap_days_ge"}),
    dose_condition: frozenset({"dose", *COMPARATORS}),
    desensitization_condition: frozenset({"desensitization", "gap_days_gt", "state"}),
}

# Checked in this order: keys that identify a node type before the shared "event" key.
_NODES: dict[str, Callable[[Mapping[str, Any]], Condition]] = {
    "qualifier": qualifier_condition,
    "history": history_condition,
    "lab": lab_condition,
    "medication": medication_condition,
    "hook": hook_condition,
    "therapy": therapy_condition,
    "dose": dose_condition,
    "desensitization": desensitization_condition,
    "event": event_condition,
    "soc": event_condition,
    "any_term": event_condition,
}


def compile_condition(spec: Mapping[str, Any], where: str = "when") -> Condition:
    """Turn a `when` table into a callable; raises ConditionError naming the offending key."""
    if not isinstance(spec, Mapping):
        raise ConditionError(f"{where}: expected a table, got {type(spec).__name__}")
    for combinator, build in (("all", all_of), ("any", any_of)):
        if combinator in spec:
            children = spec[combinator]
            if not isinstance(children, list) or not children:
                raise ConditionError(f"{where}.{combinator}: expected a non-empty list")
            return build([compile_condition(c, f"{where}.{combinator}.{i}") for i, c in enumerate(children)])
    if "not" in spec:
        return not_of(compile_condition(spec["not"], f"{where}.not"))
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
