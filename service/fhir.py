"""Reads and searches on the EHR's FHIR server for one hook call: one shared client, a time budget."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from service.observability.metrics import record_fhir_fetch
from service.settings import Settings
from terminology.resources import bundle_resources, is_resource, next_link

__all__ = ["FhirFetcher", "SearchPages"]

log = logging.getLogger(__name__)


class _FetchFailed(Exception):
    """Private signal: one query could not be answered; `outcome` is the metrics category."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


@dataclass
class SearchPages:
    """What a search (and the next pages it followed) returned; `failure` set when it stopped early."""

    resources: list[Mapping[str, Any]] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    next_url: str | None = None  # still set when the page bound was reached
    failure: str | None = None  # the metrics category of the query that failed


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

    async def read(self, reference: str) -> Mapping[str, Any] | None:
        """Read one resource by relative reference, e.g. "Medication/12"; None when that fails."""
        try:
            return await self._get(f"{self._base}/{reference}")
        except _FetchFailed as failure:
            log.warning("FHIR read of a %s failed: %s", reference.split("/")[0], failure.outcome)
            return None

    async def search(self, url: str, where: str) -> SearchPages:
        """A search (or its next page), following next links up to the page bound.

        `where` names the query in the places of malformed entries. A read template (e.g.
        Patient/{{id}}) answers with the resource itself.
        """
        found = SearchPages()
        pages = 0
        next_url: str | None = url
        try:
            while next_url is not None and pages < self._max_pages:
                bundle = await self._get(next_url)
                pages += 1
                if bundle["resourceType"] != "Bundle":
                    found.resources.append(bundle)
                    next_url = None
                    break
                resources, malformed = bundle_resources(bundle, where)
                found.resources.extend(resources)
                found.malformed.extend(malformed)
                next_url = next_link(bundle)
        except _FetchFailed as failure:
            found.failure = failure.outcome
        found.next_url = next_url
        return found
