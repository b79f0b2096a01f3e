"""Checks of a CDS Hooks response against the spec's constraints; FHIR resources via fhir.resources R4B."""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

__all__ = ["assert_valid_response", "normalise_uuids"]

_CARD_FIELDS = {
    "uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
    "overrideReasons", "links",
}  # fmt: skip


def _no_nulls(value: Any, path: str) -> None:
    """Spec: optional attributes without a value are omitted, never null."""
    assert value is not None, f"{path} is null"
    if isinstance(value, dict):
        for key, child in value.items():
            _no_nulls(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _no_nulls(child, f"{path}[{index}]")


def _assert_action(action: dict[str, Any], where: str) -> None:
    assert action["type"] in ("create", "update", "delete"), where
    assert isinstance(action["description"], str) and action["description"], where
    if action["type"] == "delete":
        kind, _, ident = action["resourceId"].partition("/")
        assert kind and ident, f"{where}: resourceId must be a relative reference"
    else:
        resource = action["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def assert_valid_response(response: dict[str, Any]) -> None:
    """Every card field within the spec's constraints; every action resource a valid R4B resource."""
    _no_nulls(response, "response")
    assert set(response) <= {"cards", "systemActions"}
    assert isinstance(response["cards"], list)
    for i, card in enumerate(response["cards"]):
        where = f"cards[{i}]"
        assert set(card) <= _CARD_FIELDS, f"{where}: unknown fields {set(card) - _CARD_FIELDS}"
        uuid.UUID(card["uuid"])
        assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140, where
        assert card["indicator"] in ("info", "warning", "critical"), where
        assert isinstance(card["source"]["label"], str) and card["source"]["label"], where
        suggestions = card.get("suggestions", [])
        if suggestions:
            assert card["selectionBehavior"] in ("at-most-one", "any"), f"{where}: selectionBehavior required"
        for j, suggestion in enumerate(suggestions):
            assert isinstance(suggestion["label"], str) and suggestion["label"], where
            uuid.UUID(suggestion["uuid"])
            for k, action in enumerate(suggestion.get("actions", [])):
                _assert_action(action, f"{where}.suggestions[{j}].actions[{k}]")
        for reason in card.get("overrideReasons", []):
            assert reason["code"] and reason["display"], f"{where}: override reasons need code and display"
        for link in card.get("links", []):
            assert link["label"] and link["url"] and link["type"] in ("absolute", "smart"), where
            assert "appContext" not in link or link["type"] == "smart", f"{where}: appContext only for smart"
    for k, action in enumerate(response.get("systemActions", [])):
        _assert_action(action, f"systemActions[{k}]")


def normalise_uuids(value: Any) -> Any:
    """Replace every uuid string by <uuid-N>, numbered in order of first appearance."""
    seen: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            try:
                uuid.UUID(node)
            except ValueError:
                return node
            return seen.setdefault(node, f"<uuid-{len(seen) + 1}>")
        return node

    return walk(value)
