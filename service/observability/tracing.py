"""Optional OpenTelemetry tracing: on only when the SDK is installed and an endpoint is configured."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from service.settings import Settings

__all__ = ["configure_tracing", "current_trace_ids", "request_span", "tracing_enabled"]

logger = logging.getLogger(__name__)

# Set once by configure_tracing; the hot path checks this one flag and costs nothing otherwise.
_tracer: Any = None
_trace_api: Any = None
_propagate: Any = None


def _import(name: str) -> Any:
    """The module, or None when the optional `otel` extra is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def configure_tracing(settings: Settings) -> bool:
    """Export spans over OTLP/HTTP to `settings.otel_endpoint`; returns whether tracing is on."""
    global _tracer, _trace_api, _propagate
    if not settings.otel_endpoint:
        return False
    if _tracer is not None:  # a provider can be installed once per process
        return True
    trace_api = _import("opentelemetry.trace")
    sdk_trace = _import("opentelemetry.sdk.trace")
    sdk_export = _import("opentelemetry.sdk.trace.export")
    sdk_resources = _import("opentelemetry.sdk.resources")
    exporter_module = _import("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    if None in (trace_api, sdk_trace, sdk_export, sdk_resources, exporter_module):
        logger.warning(
            "tracing endpoint set but OpenTelemetry is not installed; install toxhooks[otel]",
            extra={"event": "tracing_unavailable"},
        )
        return False
    resource = sdk_resources.Resource.create({"service.name": "toxhooks"})
    provider = sdk_trace.TracerProvider(resource=resource)
    exporter = exporter_module.OTLPSpanExporter(endpoint=settings.otel_endpoint)
    provider.add_span_processor(sdk_export.BatchSpanProcessor(exporter))
    trace_api.set_tracer_provider(provider)
    _trace_api = trace_api
    _propagate = _import("opentelemetry.propagate")
    _tracer = trace_api.get_tracer("toxhooks")
    logger.info("tracing enabled", extra={"event": "tracing_enabled"})
    return True


def tracing_enabled() -> bool:
    """Whether spans are being recorded in this process."""
    return _tracer is not None


@contextmanager
def request_span(method: str, headers: Mapping[str, str]) -> Iterator[Any]:
    """A server span around one request (continuing the caller's W3C trace), or None when off."""
    if _tracer is None:
        yield None
        return
    parent = _propagate.extract(dict(headers)) if _propagate is not None else None
    kind = _trace_api.SpanKind.SERVER
    with _tracer.start_as_current_span(method, context=parent, kind=kind) as span:
        yield span


def current_trace_ids() -> dict[str, str]:
    """trace_id and span_id of the current span for log correlation; empty when tracing is off."""
    if _trace_api is None:
        return {}
    span_context = _trace_api.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"trace_id": f"{span_context.trace_id:032x}", "span_id": f"{span_context.span_id:016x}"}
