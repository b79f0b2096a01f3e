"""POST /cds-services/{id}/feedback (spec: Feedback): validate, store durably, then 200."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from service.deps import Caller, State, read_body
from service.feedback_entries import parse_feedback
from service.observability.metrics import label_request, record_feedback

__all__ = ["router"]

router = APIRouter()


@router.post("/cds-services/{service_id}/feedback")
async def feedback(service_id: str, request: Request, state: State, caller: Caller) -> dict[str, Any]:
    """Store every entry (repeats are idempotent) before answering 200."""
    service = state.catalog.get(service_id)
    label_request(service.id, service.hook)
    entries = parse_feedback(await read_body(request, state))
    await state.recorder.flush()  # cards issued a moment ago are attributable too
    stored = await state.store.store(service.id, entries, state.clock())
    for entry in entries:
        record_feedback(service.id, entry.outcome)
    return {"received": len(entries), "stored": stored}
