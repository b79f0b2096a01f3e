"""Prometheus metrics (STUB: the recording functions exist and record nothing yet)."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI

__all__ = [
    "install_metrics",
    "record_auth_failure",
    "record_cards",
    "record_feedback",
    "record_fhir_fetch",
]


def install_metrics(app: FastAPI) -> None:
    """Add the /metrics route and the request-timing middleware."""


def record_cards(service_id: str, hook: str, cards: Iterable[tuple[str, str]]) -> None:
    """Count issued cards by (decision, indicator)."""


def record_fhir_fetch(outcome: str, seconds: float) -> None:
    """Record one FHIR fetch: outcome is "ok", "timeout", "error" or "invalid"."""


def record_auth_failure(reason: str) -> None:
    """Count a rejected call by reason category (never the token)."""


def record_feedback(service_id: str, outcome: str) -> None:
    """Count a stored feedback entry by outcome (accepted / overridden)."""
