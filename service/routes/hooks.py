"""POST /cds-services/{id} (spec: Calling a CDS Service): HTTP in and out of service.hook.answer_hook."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from cards.model import AppLinks
from service.deps import Caller, State, read_body
from service.hook import HookDependencies, answer_hook
from service.observability.context import bind_hook_instance
from service.observability.metrics import label_request
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
    deps = HookDependencies(
        knowledge=state.knowledge,
        settings=state.settings,
        clock=state.clock,
        id_factory=state.id_factory,
        client=state.client,
        shown=state.shown,
        recorder=state.recorder,
        links=_links(request, state),
        metrics=True,
    )
    answer = await answer_hook(call, deps)
    return Response(orjson.dumps(answer.response), media_type="application/json")
