"""Completing prefetch from the EHR's FHIR server: one shared client, a time budget, bounded work."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from service.observability.metrics import record_fhir_fetch
from service.pipeline import Gathered, collect, draft_medications, missing_medication_references
from service.prefetch import KeyState, PrefetchItem, bundle_resources, is_resource, next_link
from service.protocol import HookCall
from service.settings import Settings

__all__ = ["FhirFetcher", "complete_prefetch"]

log = logging.getLogger(__name__)

# Reads of referenced Medications per call (drafts first): a long history must not exhaust the
# time budget; references left unread are reported as unavailable like any other missing data.
_MAX_MEDICATION_READS = 40


class _FetchFailed(Exception):
    """Private signal: one query could not be answered; `outcome` is the metrics category."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class FhirFetcher:
    """Reads and searches on one FHIR server for one hook call, all within one deadline."""

    def __init__(
        self, client: httpx.AsyncClient, *, base: str, access_token: str | None, settings: Settings
    ) -> None:
        self._client = client
        self._base = base.rstrip("/")
        self._headers = {"Accept": "application/fhir+json"}
        if access_token:
            self._headers["Authorization"] = f"Bearer {access_token}"
        self._max_pages = settings.fhir_max_pages
        self._semaphore = asyncio.Semaphore(settings.fhir_max_concurrency)
        self.deadline = asyncio.get_running_loop().time() + settings.fhir_time_budget_s

    async def _get(self, url: str) -> Mapping[str, Any]:
        """One GET within the deadline, parsed into a resource; _FetchFailed otherwise."""
        if not url.startswith(self._base + "/"):
            raise _FetchFailed("invalid")  # never send the token anywhere but fhirServer
        started = time.perf_counter()
        outcome = "ok"
        try:
            async with asyncio.timeout_at(self.deadline), self._semaphore:
                response = await self._client.get(url, headers=self._headers)
            if response.status_code != 200:
                outcome = "error"
                raise _FetchFailed(outcome)
            try:
                value = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                outcome = "invalid"
                raise _FetchFailed(outcome) from None
            if not is_resource(value) or value["resourceType"] == "OperationOutcome":
                outcome = "invalid" if not is_resource(value) else "error"
                raise _FetchFailed(outcome)
            return dict(value)
        except TimeoutError:
            outcome = "timeout"
            raise _FetchFailed(outcome) from None
        except httpx.InvalidURL:
            outcome = "invalid"  # e.g. control characters in a reference from the request
            raise _FetchFailed(outcome) from None
        except httpx.HTTPError:
            outcome = "error"
            raise _FetchFailed(outcome) from None
        finally:
            record_fhir_fetch(outcome, time.perf_counter() - started)

    async def read(self, reference: str) -> Mapping[str, Any]:
        """Read one resource by relative reference, e.g. "Medication/12"."""
        return await self._get(f"{self._base}/{reference}")

    async def search(self, item: PrefetchItem, url: str) -> None:
        """Fill `item` from a search (or its next page), following next links up to the page bound."""
        pages = 0
        next_url: str | None = url
        while next_url is not None and pages < self._max_pages:
            bundle = await self._get(next_url)
            pages += 1
            if bundle["resourceType"] != "Bundle":
                item.resources.append(bundle)  # a read template (e.g. Patient/{{id}})
                next_url = None
                break
            resources, malformed = bundle_resources(bundle, f"{item.key} (fetched)")
            item.resources.extend(resources)
            item.malformed.extend(malformed)
            next_url = next_link(bundle)
        item.next_url = next_url  # still set when the page bound was reached
        item.state = KeyState.PRESENT if item.resources else KeyState.NO_DATA


async def _fill(fetcher: FhirFetcher, item: PrefetchItem, base: str) -> None:
    """Fetch one key; on failure the key keeps needing a fetch (and is reported unavailable)."""
    if item.needs_fetch and item.query is not None:
        url = f"{base}/{item.query}"
        item.resources, item.malformed = [], [m for m in item.malformed if not m.startswith("prefetch.")]
    elif item.next_url is not None:
        url = item.next_url
    else:
        return
    try:
        await fetcher.search(item, url)
    except _FetchFailed as failure:
        log.warning("FHIR fetch for prefetch key %s failed: %s", item.key, failure.outcome)


async def _read_medication(fetcher: FhirFetcher, reference: str) -> Mapping[str, Any] | None:
    try:
        resource = await fetcher.read(reference)
    except _FetchFailed as failure:
        log.warning("FHIR read of a Medication failed: %s", failure.outcome)
        return None
    return resource if resource.get("resourceType") == "Medication" else None


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
        for ref in missing_medication_references(call, known, history=history)
        if ref.startswith("Medication/")
    ][:_MAX_MEDICATION_READS]
    found = await asyncio.gather(*(_read_medication(fetcher, ref) for ref in wanted))
    medications = {ref: res for ref, res in zip(wanted, found, strict=True) if res is not None}
    return collect(items, fetched_medications=medications)
