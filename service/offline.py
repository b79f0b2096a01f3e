"""Evaluate one hook request outside HTTP: service.hook.answer_hook without (or with an explicit) network."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx

from cards.loader import KnowledgeBase, load_knowledge
from cards.model import AppLinks
from service.catalog import Catalog, ServiceDefinition, load_catalog
from service.errors import MalformedRequest
from service.hook import HookDependencies, answer_hook
from service.protocol import parse_call
from service.settings import Settings

__all__ = ["evaluate_offline", "evaluate_with_fhir", "service_for"]


def service_for(request_json: Any, catalog: Catalog, service_id: str | None = None) -> ServiceDefinition:
    """The service named by id, else the first one whose hook matches the request's `hook`."""
    if service_id is not None:
        return catalog.get(service_id)
    hook = request_json.get("hook") if isinstance(request_json, dict) else None
    if not isinstance(hook, str):
        raise MalformedRequest("hook is required", field="hook")
    for service in catalog.services:
        if hook in service.accepts_hooks:
            return service
    raise MalformedRequest(f"no CDS service for hook {hook!r}", field="hook")


def _links(settings: Settings) -> AppLinks:
    """The SMART app link, when the public address of the deployment is configured."""
    if settings.public_base_url is None:
        return AppLinks()
    return AppLinks(smart_launch_url=settings.public_base_url.rstrip("/") + "/smart/launch")


async def evaluate_with_fhir(
    request_json: dict[str, Any],
    *,
    client: httpx.AsyncClient | None,
    settings: Settings | None = None,
    knowledge: KnowledgeBase | None = None,
    now: datetime | None = None,
    service_id: str | None = None,
) -> dict[str, Any]:
    """The response JSON for a hook request; what prefetch lacks is fetched from its fhirServer.

    With `client=None` nothing is fetched: prefetch keys missing from the request are reported as
    unavailable. Raises the service.errors hierarchy (MalformedRequest, PreconditionFailed...).
    """
    settings = settings or Settings()
    knowledge = knowledge or load_knowledge(settings.knowledge_dir)
    moment = now or datetime.now(UTC)
    call = parse_call(request_json, service_for(request_json, load_catalog(), service_id))
    deps = HookDependencies(
        knowledge=knowledge,
        settings=settings,
        clock=lambda: moment,
        id_factory=lambda: str(uuid.uuid4()),
        client=client,
        links=_links(settings),
    )
    return (await answer_hook(call, deps)).response


def evaluate_offline(
    request_json: dict[str, Any],
    *,
    settings: Settings | None = None,
    knowledge: KnowledgeBase | None = None,
    now: datetime | None = None,
    service_id: str | None = None,
) -> dict[str, Any]:
    """The response JSON for a hook request, with no network (missing prefetch is unavailable).

    Callable from plain code and from inside an event loop (then on a worker thread of its own).
    """
    coroutine = evaluate_with_fhir(
        request_json, client=None, settings=settings, knowledge=knowledge, now=now, service_id=service_id
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
