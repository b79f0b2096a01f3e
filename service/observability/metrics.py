"""Prometheus metrics (STUB: nothing recorded yet)."""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["install_metrics"]


def install_metrics(app: FastAPI) -> None:
    """Add the /metrics route and the request-timing middleware."""
