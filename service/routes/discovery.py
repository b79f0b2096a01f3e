"""GET /cds-services (spec: Discovery)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.deps import Caller, State
from service.gathering import lab_codes

__all__ = ["router"]

router = APIRouter()


@router.get("/cds-services")
async def discovery(state: State, caller: Caller) -> dict[str, Any]:
    """Every service with its prefetch templates (date window from now) and knowledge version.

    The knowledge version is the `org.toxhooks.knowledge-version` extension of each service: the
    CDS Hooks `version` field is not ours to reuse for clinical content.

    Authenticated like every other call but the health probes (the sandbox and EHRs send a JWT).
    """
    return state.catalog.discovery(
        lab_codes=lab_codes(state.knowledge),
        now=state.clock(),
        window_days=state.settings.observation_window_days,
        knowledge_version=state.knowledge.version,
    )
