"""Defensive readers for FHIR JSON dicts: never raise on odd shapes, return None instead."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

_EMPTY: Mapping[str, Any] = {}

__all__ = [
    "as_float",
    "as_list",
    "as_map",
    "as_str",
    "codings",
    "parse_datetime",
    "parse_text",
    "reference_of",
]


def as_map(value: Any) -> Mapping[str, Any]:
    """The value if it is a JSON object, else an empty mapping."""
    # dict and None first: the ABC isinstance check is slow, and nearly every value is one of them.
    if type(value) is dict:
        return value
    return _EMPTY if value is None or not isinstance(value, Mapping) else value


def as_list(value: Any) -> list[Any]:
    """The value if it is a JSON array, else an empty list."""
    return value if type(value) is list else []


def as_str(value: Any) -> str | None:
    """The value if it is a non-empty string, else None."""
    if type(value) is not str:
        return None
    return value.strip() or None


def as_float(value: Any) -> float | None:
    """A finite JSON number as float (booleans and strings are not numbers), else None."""
    kind = type(value)
    if kind is not float and kind is not int:  # bool is an int subclass, but type() excludes it
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def codings(concept: Any) -> list[tuple[str | None, str | None, str | None]]:
    """(system, code, display) of each coding of a CodeableConcept (or a bare Coding), read as `as_str`."""
    concept = as_map(concept)
    if "coding" in concept:
        items = concept.get("coding")
        if type(items) is not list:
            return []
    else:
        items = [concept]
    # Read for every code of every resource: the as_str test written out, no generator.
    found = []
    for item in items:
        coding = item if type(item) is dict else as_map(item)
        system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
        found.append(
            (
                (system.strip() or None) if type(system) is str else None,
                (code.strip() or None) if type(code) is str else None,
                (display.strip() or None) if type(display) is str else None,
            )
        )
    return found


def parse_datetime(value: Any) -> datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime (no zone = UTC; partial dates = first day)."""
    if type(value) is not str:
        return None
    return parse_text(value)


@lru_cache(maxsize=8192)
def parse_text(value: str) -> datetime | None:
    """parse_datetime of a string, cached by text.

    A hook call repeats the same instants (a panel of labs drawn together), and datetimes are
    immutable, so sharing one object is safe.
    """
    text = value.strip()
    if not text:
        return None
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        moment = datetime.fromisoformat(text)  # Python 3.11+ reads "Z" and fractional seconds
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def reference_of(resource: Mapping[str, Any]) -> str:
    """Relative reference "Type/id" of a resource ("Type/?" when it has no id)."""
    kind = as_str(resource.get("resourceType")) or "Resource"
    return f"{kind}/{as_str(resource.get('id')) or '?'}"
