"""Web pages served by toxhooks: card preview and the SMART timeline app (STUB: none yet)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter()
