"""Evaluate one hook request outside HTTP: the same pipeline, without (or with an explicit) network."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from cards.loader import KnowledgeBase, load_knowledge
from cards.model import AppLinks
from service.catalog import Catalog, ServiceDefinition, load_catalog
from service.errors import MalformedRequest
from service.fhir import complete_prefetch
from service.pipeline import (
    Gathered,
    check_required,
    collect,
    no_covered_draft,
    prefetch_queries,
    run_pipeline,
)
from service.prefetch import PrefetchItem, assess_prefetch
from service.protocol import HookCall, parse_call
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


def _prepare(
    request_json: Any, settings: Settings, knowledge: KnowledgeBase, now: datetime, service_id: str | None
) -> tuple[HookCall, list[PrefetchItem]]:
    service = service_for(request_json, load_catalog(), service_id)
    call = parse_call(request_json, service)
    templates = prefetch_queries(service, knowledge, window_days=settings.observation_window_days, now=now)
    return call, assess_prefetch(templates, call.prefetch, call.context, call.user_id)


def _links(settings: Settings) -> AppLinks:
    """The SMART app link, when the public address of the deployment is configured."""
    if settings.public_base_url is None:
        return AppLinks()
    return AppLinks(smart_launch_url=settings.public_base_url.rstrip("/") + "/smart/launch")


def _finish(
    call: HookCall, gathered: Gathered, settings: Settings, knowledge: KnowledgeBase, now: datetime
) -> dict[str, Any]:
    check_required(call, gathered)
    outcome = run_pipeline(
        call,
        gathered,
        knowledge=knowledge,
        ctcae_version=settings.ctcae_version,
        now=now,
        id_factory=lambda: str(uuid.uuid4()),
        links=_links(settings),
    )
    return outcome.response


def evaluate_offline(
    request_json: dict[str, Any],
    *,
    settings: Settings | None = None,
    knowledge: KnowledgeBase | None = None,
    now: datetime | None = None,
    service_id: str | None = None,
) -> dict[str, Any]:
    """The response JSON for a hook request; prefetch keys missing from it are reported as unavailable.

    Raises the service.errors hierarchy (MalformedRequest, PreconditionFailed...) like the HTTP route.
    """
    settings = settings or Settings()
    knowledge = knowledge or load_knowledge(settings.knowledge_dir)
    now = now or datetime.now(UTC)
    call, items = _prepare(request_json, settings, knowledge, now, service_id)
    if no_covered_draft(call, knowledge):
        return {"cards": []}
    return _finish(call, collect(items), settings, knowledge, now)


async def evaluate_with_fhir(
    request_json: dict[str, Any],
    *,
    client: httpx.AsyncClient,
    settings: Settings | None = None,
    knowledge: KnowledgeBase | None = None,
    now: datetime | None = None,
    service_id: str | None = None,
) -> dict[str, Any]:
    """Like evaluate_offline, but what prefetch lacks is fetched from the request's fhirServer."""
    settings = settings or Settings()
    knowledge = knowledge or load_knowledge(settings.knowledge_dir)
    now = now or datetime.now(UTC)
    call, items = _prepare(request_json, settings, knowledge, now, service_id)
    if no_covered_draft(call, knowledge):
        return {"cards": []}
    gathered = await complete_prefetch(call, items, client, settings)
    return _finish(call, gathered, settings, knowledge, now)
