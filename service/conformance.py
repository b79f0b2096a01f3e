"""The last check before a response leaves: CDS Hooks card rules the card model does not enforce."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["conform_card"]

log = logging.getLogger(__name__)

_EMPTY: tuple[Any, ...] = (None, "", [], {})


def _prune(shape: dict[str, Any], keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Spec: optional attributes without a value are omitted, never null, "", [] or {}."""
    return {key: value for key, value in shape.items() if key in keep or value not in _EMPTY}


def conform_card(card: dict[str, Any], *, rule_ids: tuple[str, ...] = ()) -> dict[str, Any]:
    """The card JSON with empty optional attributes removed and the conditional rules applied.

    - `selectionBehavior` exists exactly when there are suggestions (a client MUST reject a card
      whose suggestions lack it); when missing, `at-most-one` is used: the user may still take
      none, and never two alternatives at once.
    - `appContext` only on `smart` links (the spec says it is not valid on `absolute` ones).
    """
    out = _prune(card, keep=frozenset({"summary"}))
    if isinstance(out.get("source"), dict):
        out["source"] = _prune(out["source"], keep=frozenset({"label"}))
    if "overrideReasons" in out:
        out["overrideReasons"] = [_prune(reason) for reason in out["overrideReasons"]]
    suggestions = []
    for suggestion in out.get("suggestions", []):
        fixed = _prune(suggestion)
        # An action's FHIR resource is passed through as built; only CDS Hooks attributes are pruned.
        actions = [_prune(action) for action in fixed.get("actions", [])]
        fixed = _prune({**fixed, "actions": actions})
        suggestions.append(fixed)
    out = _prune({**out, "suggestions": suggestions})
    if "suggestions" in out and "selectionBehavior" not in out:
        log.warning("card without selectionBehavior from rules %s: at-most-one used", ",".join(rule_ids))
        out["selectionBehavior"] = "at-most-one"
    elif "suggestions" not in out:
        out.pop("selectionBehavior", None)
    links = []
    for link in out.get("links", []):
        fixed = _prune(link)
        if fixed.get("type") != "smart":
            fixed.pop("appContext", None)
        links.append(fixed)
    return _prune({**out, "links": links})
