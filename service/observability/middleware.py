"""ASGI middleware: request id, per-request log context, timing metrics, access log, trace span."""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.observability.context import new_request_id, reset_request, start_request
from service.observability.metrics import METRICS_PATH, known_service_hook, observe_request
from service.observability.tracing import request_span

__all__ = ["REQUEST_ID_HEADER", "ObservabilityMiddleware"]

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_BYTES = REQUEST_ID_HEADER.encode()
_UNMATCHED = "<unmatched>"
# Probe and scrape routes are counted but logged at DEBUG: they fire every few seconds per pod.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", METRICS_PATH})

access_logger = logging.getLogger("toxhooks.access")


def _route_template(scope: Scope) -> str:
    """The matched route's path template (never the raw path, which may carry identifiers)."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    return template if isinstance(template, str) and template else _UNMATCHED


class ObservabilityMiddleware:
    """Pure ASGI (no body buffering, no extra task): cheap enough for every hook call."""

    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call; only HTTP requests are observed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied: str | None = None
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name == _REQUEST_ID_BYTES:
                supplied = value.decode("latin-1")
            elif name in (b"traceparent", b"tracestate"):
                headers[name.decode()] = value.decode("latin-1")
        request_id = new_request_id(supplied)
        labels, tokens = start_request(request_id)
        status = 500  # what the client gets if the app fails before starting a response
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_REQUEST_ID_BYTES, request_id.encode())]
            await send(message)

        method = scope.get("method", "GET")
        try:
            with request_span(method, headers) as span:
                await self.app(scope, receive, send_with_id)
                if span is not None:
                    span.update_name(f"{method} {_route_template(scope)}")
                    span.set_attribute("http.response.status_code", status)
        finally:
            seconds = time.perf_counter() - started
            route = _route_template(scope)
            service, hook = labels.service, labels.hook
            if not service:
                path_params: MutableMapping[str, Any] = scope.get("path_params") or {}
                service, hook = known_service_hook(path_params)
            observe_request(method, route, status, seconds, service, hook)
            level = logging.DEBUG if route in _QUIET_ROUTES else logging.INFO
            if self.access_log and access_logger.isEnabledFor(level):
                access_logger.log(
                    level,
                    "%s %s %d",
                    method,
                    route,
                    status,
                    extra={
                        "event": "http_request",
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "service": service or None,
                        "hook": hook or None,
                        "hookInstance": labels.hook_instance,
                    },
                )
            reset_request(tokens)
