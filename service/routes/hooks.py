"""POST /cds-services/{id} (spec: Calling a CDS Service): parse, complete prefetch, evaluate."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from fastapi import APIRouter, Request, Response

from cards.model import AppLinks
from service.deps import Caller, State, read_body
from service.fhir import complete_prefetch
from service.observability.context import bind_hook_instance
from service.observability.metrics import label_request, record_cards
from service.pipeline import check_required, no_covered_draft, prefetch_queries, run_pipeline
from service.prefetch import assess_prefetch
from service.protocol import parse_call
from service.state import AppState

__all__ = ["router"]

router = APIRouter()


def _links(request: Request, state: AppState) -> AppLinks:
    """Where the SMART timeline app lives, as the EHR reaches us."""
    base = state.settings.public_base_url or str(request.base_url)
    return AppLinks(smart_launch_url=base.rstrip("/") + "/smart/launch")


@router.post("/cds-services/{service_id}")
async def call_service(service_id: str, request: Request, state: State, caller: Caller) -> Response:
    """Answer one hook call with `{"cards": [...]}` (and `systemActions` when there are any)."""
    service = state.catalog.get(service_id)
    label_request(service.id, service.hook)
    call = parse_call(await read_body(request, state), service)
    bind_hook_instance(call.hook_instance)
    if no_covered_draft(call, state.knowledge):  # nothing to check: no data asked for or fetched
        return Response(orjson.dumps({"cards": []}), media_type="application/json")
    now = state.clock()
    templates = prefetch_queries(
        service, state.knowledge, window_days=state.settings.observation_window_days, now=now
    )
    items = assess_prefetch(templates, call.prefetch, call.context, call.user_id)
    gathered = await complete_prefetch(call, items, state.client, state.settings)
    check_required(call, gathered)

    prior = await state.shown.recent(call.patient_id) if service.hook == "order-sign" else frozenset()

    def already_shown(keys: Iterable[str]) -> set[str]:
        return {key for key in keys if key in prior}

    outcome = run_pipeline(
        call,
        gathered,
        knowledge=state.knowledge,
        ctcae_version=state.settings.ctcae_version,
        now=now,
        id_factory=state.id_factory,
        links=_links(request, state),
        already_shown=already_shown if service.hook == "order-sign" else None,
    )
    if service.hook == "order-select":
        await state.shown.remember(call.patient_id, [c.dedupe_key for c in outcome.rendered if c.dedupe_key])
    state.recorder.add(outcome.issued)
    record_cards(service.id, service.hook, [(c.decision, c.card.indicator) for c in outcome.rendered])
    return Response(orjson.dumps(outcome.response), media_type="application/json")
