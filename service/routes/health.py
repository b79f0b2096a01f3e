"""GET /healthz (process up) and GET /readyz (knowledge loaded, database reachable); both open."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import State

__all__ = ["router"]

router = APIRouter()
log = logging.getLogger(__name__)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    """Ready when knowledge is loaded and the database answers; 503 otherwise."""
    checks = {"knowledge": state.knowledge.version, "database": "ok"}
    ready = True
    try:
        await state.store.ping()
    except Exception as exc:  # any driver error means "not ready", never a 500
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        checks["database"] = "unreachable"
        ready = False
    return JSONResponse(
        {"status": "ready" if ready else "not-ready", **checks}, status_code=200 if ready else 503
    )
