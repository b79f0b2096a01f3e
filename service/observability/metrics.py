"""Prometheus metrics: request, card, FHIR fetch, auth and feedback families, and their exposition.

Full detail (auth failures by reason) is for the private metrics listener only; /metrics on the
service port, when enabled, shows auth failures as one total so a forger learns nothing from it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric

from service.observability.context import current_labels

__all__ = [
    "CONTENT_TYPE_LATEST",
    "METRICS_PATH",
    "install_metrics",
    "known_service_hook",
    "label_request",
    "observe_request",
    "prepare_multiprocess_dir",
    "record_auth_failure",
    "record_cards",
    "record_feedback",
    "record_fhir_fetch",
    "register_services",
    "render_metrics",
]

METRICS_PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Label values come from code (decisions, reasons) or from resolved services, never from raw
# request text; anything else is folded into "other" so that a caller cannot grow the series.
# No dots and a short length: a JWT or a FHIR reference can never pass as a label value.
_LABEL = re.compile(r"^(?!eyJ)[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
_MAX_SERVICES = 256

# Request latency: CDS Hooks clients give up after a few seconds, so resolution is below 1 s.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
_FHIR_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

HTTP_REQUESTS = Counter(
    "toxhooks_http_requests_total",
    "HTTP requests by route template, CDS service, hook and status code.",
    ["method", "route", "service", "hook", "status"],
)
HTTP_LATENCY = Histogram(
    "toxhooks_http_request_duration_seconds",
    "HTTP request latency by route template, CDS service and hook.",
    ["route", "service", "hook"],
    buckets=_REQUEST_BUCKETS,
)
CARDS = Counter(
    "toxhooks_cards_total",
    "CDS cards returned, by service, hook, decision and indicator.",
    ["service", "hook", "decision", "indicator"],
)
FHIR_FETCH_LATENCY = Histogram(
    "toxhooks_fhir_fetch_duration_seconds",
    "Latency of FHIR fetches to the EHR, by outcome.",
    ["outcome"],
    buckets=_FHIR_BUCKETS,
)
FHIR_FETCH_FAILURES = Counter(
    "toxhooks_fhir_fetch_failures_total",
    "FHIR fetches that did not succeed, by outcome (timeout, error, invalid).",
    ["outcome"],
)
AUTH_FAILURES = Counter(
    "toxhooks_auth_failures_total",
    "Calls rejected by JWT authentication, by reason category.",
    ["reason"],
)
_AUTH_FAILURES_FAMILY = "toxhooks_auth_failures"  # the family name (without _total)
FEEDBACK = Counter(
    "toxhooks_feedback_total",
    "Card feedback entries stored, by service and outcome.",
    ["service", "outcome"],
)

# service id -> hook, learned from discovery or from handled calls; bounds the service label.
_service_hooks: dict[str, str] = {}


def _label(value: str | None, fallback: str = "other") -> str:
    """A safe, bounded label value."""
    if value and _LABEL.match(value):
        return value
    return fallback


def register_services(services: Mapping[str, str]) -> None:
    """Declare the CDS services (id -> hook) so that failed calls are labelled by service too."""
    for service_id, hook in services.items():
        if len(_service_hooks) >= _MAX_SERVICES:
            break
        if _LABEL.match(service_id):
            _service_hooks[service_id] = _label(hook)


def label_request(service_id: str, hook: str | None = None) -> None:
    """Label the current request's metrics with its resolved CDS service (and hook)."""
    known_hook = hook or _service_hooks.get(service_id)
    if known_hook is not None and service_id not in _service_hooks:
        register_services({service_id: known_hook})
    labels = current_labels()
    if labels is not None:
        labels.service = _label(service_id)
        labels.hook = _label(known_hook, fallback="")


# Label children bound once per label combination: `.labels()` validates and locks on every
# call, a dict lookup does not. Label values are bounded (route templates, known services, status
# codes), and so is the cache: past its size new combinations are looked up without caching.
_MAX_BOUND = 4096
_request_children: dict[tuple[str, str, str, str, int], tuple[Any, Any]] = {}
_card_children: dict[tuple[str, str, str, str], Any] = {}


def observe_request(
    method: str, route: str, status: int, seconds: float, service: str = "", hook: str = ""
) -> None:
    """Count one HTTP request and its latency (called by the request middleware)."""
    key = (method, route, service, hook, status)
    children = _request_children.get(key)
    if children is None:
        service_label = service or "none"
        hook_label = hook or "none"
        children = (
            HTTP_REQUESTS.labels(method, route, service_label, hook_label, str(status)),
            HTTP_LATENCY.labels(route, service_label, hook_label),
        )
        if len(_request_children) < _MAX_BOUND:
            _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def known_service_hook(path_params: Mapping[str, object]) -> tuple[str, str]:
    """(service, hook) of a request whose path names a known service; ("", "") otherwise."""
    for value in path_params.values():
        if isinstance(value, str) and value in _service_hooks:
            return value, _service_hooks[value]
    return "", ""


def record_cards(service_id: str, hook: str, cards: Iterable[tuple[str, str]]) -> None:
    """Count issued cards by (decision, indicator)."""
    label_request(service_id, hook)
    for decision, indicator in cards:
        key = (service_id, hook, decision, indicator)
        child = _card_children.get(key)
        if child is None:
            child = CARDS.labels(_label(service_id), _label(hook), _label(decision), _label(indicator))
            if len(_card_children) < _MAX_BOUND:
                _card_children[key] = child
        child.inc()


def record_fhir_fetch(outcome: str, seconds: float) -> None:
    """Record one FHIR fetch: outcome is "ok", "timeout", "error" or "invalid"."""
    outcome_label = _label(outcome)
    FHIR_FETCH_LATENCY.labels(outcome_label).observe(max(seconds, 0.0))
    if outcome_label != "ok":
        FHIR_FETCH_FAILURES.labels(outcome_label).inc()


def record_auth_failure(reason: str) -> None:
    """Count a rejected call by reason category (never the token)."""
    AUTH_FAILURES.labels(_label(reason)).inc()


def record_feedback(service_id: str, outcome: str) -> None:
    """Count a stored feedback entry by outcome (accepted / overridden)."""
    FEEDBACK.labels(_label(service_id), _label(outcome)).inc()


def prepare_multiprocess_dir() -> Path | None:
    """Empty PROMETHEUS_MULTIPROC_DIR before workers start; None in single-process mode.

    Call it in the parent process only: files left by an earlier run would be summed in.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return None
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path


class _Exposition:
    """What a scrape sees: this process's registry, or every worker's in multiprocess mode."""

    def __init__(self, *, public: bool) -> None:
        self._public = public

    def collect(self) -> Iterator[Metric]:
        """The metric families, with auth failures summed over reasons for a public scrape."""
        if os.environ.get(MULTIPROC_ENV):
            source = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(source)  # type: ignore[no-untyped-call]
        else:
            source = REGISTRY
        for family in source.collect():
            if self._public and family.name == _AUTH_FAILURES_FAMILY:
                yield _without_reasons(family)
            else:
                yield family


def _without_reasons(family: Metric) -> Metric:
    """The auth-failure family as one total: why a token failed stays in the logs."""
    total = sum(s.value for s in family.samples if s.name.endswith("_total"))
    return CounterMetricFamily(
        family.name, "Calls rejected by JWT authentication (reasons on the private listener).", value=total
    )


def render_metrics(*, public: bool = False) -> bytes:
    """The exposition text; `public` (the service port) hides the auth-failure reasons."""
    return generate_latest(_Exposition(public=public))


async def _public_metrics_endpoint() -> Response:
    """Prometheus scrape endpoint on the service port (only with metrics_on_service_port)."""
    return Response(content=render_metrics(public=True), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, *, endpoint: bool, access_log: bool = True) -> None:
    """Add the request middleware (timing; access line unless `access_log` is off); /metrics if `endpoint`."""
    # Imported here: the middleware imports this module for observe_request.
    from service.observability.middleware import ObservabilityMiddleware

    if endpoint:
        app.add_api_route(METRICS_PATH, _public_metrics_endpoint, methods=["GET"], include_in_schema=False)
    app.add_middleware(ObservabilityMiddleware, access_log=access_log)
