"""CDS cards shaped for display as an EHR shows them: safe HTML detail, links, suggestions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

__all__ = ["display_card", "display_cards", "render_markdown", "safe_url"]

# CommonMark plus GitHub-style tables and strikethrough (CDS Hooks details are GitHub Flavored
# Markdown), raw HTML disabled: card detail is text from a service, never markup to trust.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
_INDICATORS = ("info", "warning", "critical")


def render_markdown(text: str) -> str:
    """GitHub-style Markdown to HTML with raw HTML escaped and unsafe link schemes refused."""
    html: str = _MARKDOWN.render(text)
    return html


def safe_url(url: object) -> str | None:
    """`url` when it is an absolute http(s) URL, else None (no javascript:, data: or relative)."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in {"http", "https"} and parts.netloc else None


def _text(value: object) -> str | None:
    """A string field, or None."""
    return value if isinstance(value, str) else None


def _actions(suggestion: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The actions of a suggestion: type, description and the resource it acts on."""
    actions = suggestion.get("actions")
    shaped: list[dict[str, Any]] = []
    for action in actions if isinstance(actions, list) else []:
        if not isinstance(action, Mapping):
            continue
        resource = action.get("resource")
        resource_type = resource.get("resourceType") if isinstance(resource, Mapping) else None
        shaped.append(
            {
                "type": _text(action.get("type")),
                "description": _text(action.get("description")) or "",
                "resourceType": _text(resource_type),
                "resourceId": _text(action.get("resourceId")),
            }
        )
    return shaped


def display_card(card: Mapping[str, Any]) -> dict[str, Any]:
    """One card as the preview page draws it; every string is left for the page to escape."""
    indicator = card.get("indicator")
    raw_source = card.get("source")
    source: Mapping[str, Any] = raw_source if isinstance(raw_source, Mapping) else {}
    detail = _text(card.get("detail"))
    suggestions = card.get("suggestions")
    links = card.get("links")
    return {
        "uuid": _text(card.get("uuid")),
        "summary": _text(card.get("summary")) or "",
        "indicator": indicator if indicator in _INDICATORS else "info",
        "detailHtml": render_markdown(detail) if detail else None,
        "source": {
            "label": _text(source.get("label")) or "",
            "url": safe_url(source.get("url")),
        },
        "selectionBehavior": _text(card.get("selectionBehavior")),
        "suggestions": [
            {
                "label": _text(s.get("label")) or "",
                "isRecommended": s.get("isRecommended") is True,
                "actions": _actions(s),
            }
            for s in (suggestions if isinstance(suggestions, list) else [])
            if isinstance(s, Mapping)
        ],
        "links": [
            {
                "label": _text(link.get("label")) or "",
                "url": safe_url(link.get("url")),
                "type": _text(link.get("type")),
                "appContext": _text(link.get("appContext")),
            }
            for link in (links if isinstance(links, list) else [])
            if isinstance(link, Mapping)
        ],
    }


def display_cards(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every card of a CDS Hooks response, most severe indicator first (as EHRs commonly sort)."""
    cards = response.get("cards")
    shaped = [display_card(c) for c in (cards if isinstance(cards, list) else []) if isinstance(c, Mapping)]
    return sorted(shaped, key=lambda c: -_INDICATORS.index(c["indicator"]))
