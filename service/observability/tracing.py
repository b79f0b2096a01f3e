"""Optional OpenTelemetry tracing: on only when the SDK is installed and an endpoint is configured."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from service.settings import Settings

__all__ = ["configure_tracing", "current_trace_ids", "request_span", "shutdown_tracing", "tracing_enabled"]

logger = logging.getLogger(__name__)

# Set once by configure_tracing; the hot path checks `_tracer` and costs nothing when it is None.
# The SDK is imported by name: it is the optional `otel` extra, absent from a default install.
_tracer: Any = None
_provider: Any = None
_trace_api: Any = None
_propagate: Any = None


def _import(name: str) -> Any:
    """The module, or None when the optional `otel` extra is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def configure_tracing(settings: Settings, *, exporter: Any = None) -> bool:
    """Export spans over OTLP/HTTP to `settings.otel_endpoint`; returns whether tracing is on.

    `exporter` replaces the OTLP exporter (a SpanExporter, e.g. in-memory in tests).
    """
    global _tracer, _provider, _trace_api, _propagate
    if not settings.otel_endpoint:
        return False
    if _tracer is not None:  # once per process: the app may be built more than once
        return True
    trace_api = _import("opentelemetry.trace")
    sdk_trace = _import("opentelemetry.sdk.trace")
    sdk_export = _import("opentelemetry.sdk.trace.export")
    sdk_resources = _import("opentelemetry.sdk.resources")
    otlp: Any = _import("opentelemetry.exporter.otlp.proto.http.trace_exporter") if exporter is None else None
    if None in (trace_api, sdk_trace, sdk_export, sdk_resources) or (exporter is None and otlp is None):
        logger.warning(
            "tracing endpoint set but OpenTelemetry is not installed; install toxhooks[otel]",
            extra={"event": "tracing_unavailable"},
        )
        return False
    resource = sdk_resources.Resource.create({"service.name": "toxhooks"})
    provider = sdk_trace.TracerProvider(resource=resource)
    span_exporter = (
        exporter if exporter is not None else otlp.OTLPSpanExporter(endpoint=settings.otel_endpoint)
    )
    provider.add_span_processor(sdk_export.BatchSpanProcessor(span_exporter))
    if exporter is None:
        # Global, so that OpenTelemetry instrumentations an operator adds report to the same place.
        trace_api.set_tracer_provider(provider)
    _provider, _trace_api = provider, trace_api
    _propagate = _import("opentelemetry.propagate")
    _tracer = provider.get_tracer("toxhooks")
    logger.info("tracing enabled", extra={"event": "tracing_enabled"})
    return True


def shutdown_tracing() -> None:
    """Flush pending spans and switch tracing off (process exit does this too)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


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
    if _tracer is None:
        return {}
    span_context = _trace_api.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"trace_id": f"{span_context.trace_id:032x}", "span_id": f"{span_context.span_id:016x}"}
