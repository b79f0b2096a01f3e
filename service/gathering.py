"""Gathering a call's patient data (spec: "Prefetch"): templates, what the EHR sent, what we fetch.

Prefetch templates are rendered for the call, compared with what the client sent, completed from
fhirServer when it can be (missing keys, failed queries, later pages, referenced Medications), and
collected into one `Gathered` with what could not be obtained.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx

from cards.loader import KnowledgeBase
from service.catalog import ServiceDefinition
from service.errors import PreconditionFailed
from service.fhir import FhirFetcher
from service.protocol import HookCall
from service.settings import Settings
from terminology.loinc import loinc_codes
from terminology.resources import bundle_resources, is_resource, missing_medication_references, next_link

__all__ = [
    "MONITORING_KEYS",
    "Gathered",
    "KeyState",
    "PrefetchItem",
    "assess_prefetch",
    "check_required",
    "collect",
    "complete_prefetch",
    "draft_medications",
    "gather",
    "lab_codes",
    "prefetch_queries",
    "render_query",
    "unique",
]

log = logging.getLogger(__name__)

LOINC = "http://loinc.org"
# Reads of referenced Medications per call (drafts first): a long history must not exhaust the
# time budget; references left unread are reported as unavailable like any other missing data.
_MAX_MEDICATION_READS = 40

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
            kind = resource["resourceType"]
            ident = (kind if type(kind) is str else str(kind), rid)
            if ident in seen:
                continue
            seen.add(ident)
        out.append(resource)
    return out


@dataclass(frozen=True)
class Gathered:
    """Every patient resource obtained for a call, and what could not be obtained or read."""

    resources: tuple[Mapping[str, Any], ...]
    unavailable: tuple[str, ...] = ()  # prefetch keys / queries we could not obtain
    malformed: tuple[str, ...] = ()  # places of resources that were not valid enough to read
    medications: Mapping[str, Mapping[str, Any]] | None = None  # fetched Medication resources


def lab_codes(knowledge: KnowledgeBase) -> list[str]:
    """System-qualified LOINC codes of every analyte a rule reads, for the labs prefetch query."""
    return list(_lab_codes(knowledge.analytes()))


@cache
def _lab_codes(analytes: frozenset[str]) -> tuple[str, ...]:
    # Every hook call renders the prefetch templates: the code list depends only on the knowledge.
    return tuple(f"{LOINC}|{code}" for code in loinc_codes(sorted(analytes)))


# Rendering a service's templates (URL-encoding every lab code) costs more than validating the
# request's envelope, and what it gives depends only on the templates, the lab codes and the day
# the date window starts (ServiceDefinition.prefetch_queries fills in the date of `since`): every
# call of the day gets the same queries, so they are rendered once per service and day.
_RENDERED: dict[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...], date], dict[str, str]] = {}
_RENDERED_MAX = 64  # services x days kept; a new day renders again


def prefetch_queries(
    service: ServiceDefinition, knowledge: KnowledgeBase, *, window_days: int, now: datetime
) -> dict[str, str]:
    """The service's prefetch templates as discovery shows them now."""
    since = now - timedelta(days=window_days)
    codes = _lab_codes(knowledge.analytes())
    key = (service.id, tuple(service.prefetch.items()), codes, since.date())
    rendered = _RENDERED.get(key)
    if rendered is None:
        if len(_RENDERED) >= _RENDERED_MAX:
            _RENDERED.clear()
        rendered = _RENDERED[key] = service.prefetch_queries(lab_codes=codes, since=since)
    return dict(rendered)  # the caller's own copy


def collect(
    items: Iterable[PrefetchItem], *, fetched_medications: Mapping[str, Mapping[str, Any]] | None = None
) -> Gathered:
    """Gather resources of all keys; keys still needing a fetch, or still paged, are unavailable."""
    resources: list[Mapping[str, Any]] = []
    unavailable: list[str] = []
    malformed: list[str] = []
    for item in items:
        resources.extend(item.resources)
        malformed.extend(item.malformed)
        if item.needs_fetch:
            unavailable.append(item.key)
        elif item.next_url is not None:
            unavailable.append(f"{item.key} (further pages)")
    return Gathered(
        resources=tuple(unique(resources)),
        unavailable=tuple(unavailable),
        malformed=tuple(malformed),
        medications=fetched_medications,
    )


def check_required(call: HookCall, gathered: Gathered) -> None:
    """412 naming the keys when data the service requires could be neither found nor fetched."""
    missing = tuple(key for key in call.service.required if key in gathered.unavailable)
    if missing:
        raise PreconditionFailed(
            f"required prefetch data could not be obtained: {', '.join(missing)}", missing=missing
        )


def draft_medications(call: HookCall) -> dict[str, Mapping[str, Any]]:
    """Medication resources in draftOrders, by "Medication/<id>" and by their entry's fullUrl."""
    found: dict[str, Mapping[str, Any]] = {}
    for resource in call.draft_resources:
        if resource.get("resourceType") == "Medication" and isinstance(resource.get("id"), str):
            found[f"Medication/{resource['id']}"] = resource
    for full_url, resource in call.draft_full_urls.items():
        if resource.get("resourceType") == "Medication":
            found[full_url] = resource
    return found


async def _fill(fetcher: FhirFetcher, item: PrefetchItem, base: str) -> None:
    """Fetch one key; on failure the key keeps needing a fetch (and is reported unavailable)."""
    if item.needs_fetch and item.query is not None:
        url = f"{base}/{item.query}"
        item.resources, item.malformed = [], [m for m in item.malformed if not m.startswith("prefetch.")]
    elif item.next_url is not None:
        url = item.next_url
    else:
        return
    found = await fetcher.search(url, f"{item.key} (fetched)")
    item.resources.extend(found.resources)
    item.malformed.extend(found.malformed)
    if found.failure is not None:
        log.warning("FHIR fetch for prefetch key %s failed: %s", item.key, found.failure)
        return
    item.next_url = found.next_url
    item.state = KeyState.PRESENT if item.resources else KeyState.NO_DATA


async def _read_medication(fetcher: FhirFetcher, reference: str) -> Mapping[str, Any] | None:
    resource = await fetcher.read(reference)
    return resource if resource is not None and resource.get("resourceType") == "Medication" else None


async def complete_prefetch(
    call: HookCall, items: list[PrefetchItem], client: httpx.AsyncClient, settings: Settings
) -> Gathered:
    """Fetch what prefetch lacks (missing keys, failed queries, later pages, referenced Medications)."""
    if call.fhir_server is None:
        return collect(items)
    base = call.fhir_server
    fetcher = FhirFetcher(client, base=base, access_token=call.access_token, settings=settings)
    await asyncio.gather(*(_fill(fetcher, item, base) for item in items))
    known = {
        f"Medication/{r.get('id')}"
        for item in items
        for r in item.resources
        if r.get("resourceType") == "Medication"
    }
    known |= set(draft_medications(call))
    history = [r for item in items for r in item.resources]
    wanted = [
        ref
        for ref in missing_medication_references(call.draft_resources, known, history=history)
        if ref.startswith("Medication/")
    ][:_MAX_MEDICATION_READS]
    found = await asyncio.gather(*(_read_medication(fetcher, ref) for ref in wanted))
    medications = {ref: res for ref, res in zip(wanted, found, strict=True) if res is not None}
    return collect(items, fetched_medications=medications)


async def gather(
    call: HookCall,
    *,
    knowledge: KnowledgeBase,
    settings: Settings,
    now: datetime,
    client: httpx.AsyncClient | None,
) -> Gathered:
    """The call's patient data: prefetch as sent, completed from fhirServer when a client is given.

    Without a client (offline) the keys the request lacks are reported as unavailable; a required
    key that is unavailable either way is a 412 (PreconditionFailed).
    """
    templates = prefetch_queries(
        call.service, knowledge, window_days=settings.observation_window_days, now=now
    )
    items = assess_prefetch(templates, call.prefetch, call.context, call.user_id)
    gathered = collect(items) if client is None else await complete_prefetch(call, items, client, settings)
    check_required(call, gathered)
    return gathered
