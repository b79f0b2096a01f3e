"""Prefetch as received vs the service's templates (spec: "Prefetch"): what we have, what to fetch."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

__all__ = [
    "MONITORING_KEYS",
    "KeyState",
    "PrefetchItem",
    "assess_prefetch",
    "bundle_resources",
    "is_resource",
    "next_link",
    "render_query",
    "unique",
]

# Prefetch keys only the monitoring check reads (service/services/*.toml): exams in Procedure and
# DiagnosticReport, questionnaires in survey Observations. When one cannot be obtained the
# monitoring card says so for the assessments concerned; other cards are not affected.
MONITORING_KEYS = frozenset({"procedures", "diagnosticReports", "assessments"})

_TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


class KeyState(StrEnum):
    """What the client sent for one prefetch key."""

    PRESENT = "present"  # a resource or a Bundle with entries
    NO_DATA = "no-data"  # null or an empty Bundle: the client looked and found nothing
    FAILED = "failed"  # an OperationOutcome: the client's query failed
    MISSING = "missing"  # key absent: the client did not or could not fill it
    INVALID = "invalid"  # neither a resource nor null


@dataclass
class PrefetchItem:
    """One prefetch key: its query, what the client sent and what we make of it."""

    key: str
    query: str | None  # the template with tokens resolved; None when a token has no value
    state: KeyState
    resources: list[Mapping[str, Any]] = field(default_factory=list)
    next_url: str | None = None  # a paged searchset's next link, still to follow
    malformed: list[str] = field(default_factory=list)  # where bad resources were, for the report

    @property
    def needs_fetch(self) -> bool:
        """The key has no usable answer from the client."""
        return self.state in (KeyState.MISSING, KeyState.FAILED, KeyState.INVALID)


def render_query(template: str, context: Mapping[str, Any], user_id: str | None) -> str | None:
    """Resolve {{context.x}} and {{userXxxId}} tokens; None when one cannot be resolved."""
    missing = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        value: Any = None
        if name.startswith("context."):
            value = context.get(name.removeprefix("context."))
        elif name in _USER_TOKENS and user_id:
            kind, _, ident = user_id.partition("/")
            value = ident if kind == _USER_TOKENS[name] and ident else None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            missing = True
            return ""
        # Percent-encoded: a value cannot add query parameters or path segments to the query.
        return quote(str(value), safe="")

    rendered = _TOKEN.sub(substitute, template)
    return None if missing else rendered


def is_resource(value: Any) -> bool:
    """A JSON object with a string resourceType (the least a FHIR resource must have)."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("resourceType"), str)
        and isinstance(value.get("id", ""), str)
    )


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The searchset Bundle's `next` link, if any."""
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def bundle_resources(bundle: Mapping[str, Any], where: str) -> tuple[list[Mapping[str, Any]], list[str]]:
    """Resources of a Bundle's entries and the places of malformed ones; search outcomes are skipped."""
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        return [], [f"{where}.entry"]
    resources: list[Mapping[str, Any]] = []
    malformed: list[str] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not is_resource(resource):
            malformed.append(f"{where}.entry[{index}]")
            continue
        assert isinstance(resource, dict)
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue  # server's notes about the search, not patient data
        resources.append(resource)
    return resources, malformed


def _assess_one(key: str, query: str | None, value: Any, *, sent: bool) -> PrefetchItem:
    """Classify what the client sent for one key."""
    item = PrefetchItem(key=key, query=query, state=KeyState.MISSING)
    if not sent:
        return item
    if isinstance(value, dict) and "resourceType" not in value and "resource" in value:
        value = value["resource"]  # pre-1.0 clients wrap each result: {"response": ..., "resource": ...}
    if value is None:
        item.state = KeyState.NO_DATA
    elif not is_resource(value):
        item.state = KeyState.INVALID
        item.malformed.append(f"prefetch.{key}")
    elif value["resourceType"] == "OperationOutcome":
        item.state = KeyState.FAILED
    elif value["resourceType"] == "Bundle":
        item.resources, item.malformed = bundle_resources(value, f"prefetch.{key}")
        item.next_url = next_link(value)
        has_data = bool(item.resources) or item.next_url is not None
        item.state = KeyState.PRESENT if has_data else KeyState.NO_DATA
        if not has_data and item.malformed:
            item.state = KeyState.INVALID  # every entry was broken: that is not "no data"
    else:
        item.state = KeyState.PRESENT
        item.resources = [value]
    return item


def assess_prefetch(
    templates: Mapping[str, str],
    prefetch: Mapping[str, Any],
    context: Mapping[str, Any],
    user_id: str | None,
) -> list[PrefetchItem]:
    """Compare the prefetch received with every template; keys the client added are ignored."""
    return [
        _assess_one(key, render_query(t, context, user_id), prefetch.get(key), sent=key in prefetch)
        for key, t in templates.items()
    ]


def unique(resources: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """De-duplicate by type and id (resources without id are all kept)."""
    seen: set[tuple[str, str]] = set()
    out: list[Mapping[str, Any]] = []
    for resource in resources:
        rid = resource.get("id")
        if isinstance(rid, str):
            ident = (str(resource["resourceType"]), rid)
            if ident in seen:
                continue
            seen.add(ident)
        out.append(resource)
    return out
