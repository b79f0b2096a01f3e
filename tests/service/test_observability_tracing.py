"""Optional tracing: off without an endpoint or SDK; with both, one server span per request."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.observability import tracing
from service.observability.logging import JsonFormatter
from service.observability.metrics import install_metrics
from service.settings import Settings

ENDPOINT = "http://127.0.0.1:4318/v1/traces"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture(autouse=True)
def tracing_off() -> Iterator[None]:
    """Every test starts and ends with tracing switched off."""
    tracing.shutdown_tracing()
    yield
    tracing.shutdown_tracing()


def test_no_endpoint_means_no_tracing() -> None:
    assert tracing.configure_tracing(Settings()) is False
    assert tracing.tracing_enabled() is False
    assert tracing.current_trace_ids() == {}


def test_endpoint_without_sdk_warns_and_stays_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_import = tracing._import

    def without_sdk(name: str) -> Any:
        return None if name.startswith("opentelemetry.sdk") else real_import(name)

    monkeypatch.setattr(tracing, "_import", without_sdk)
    with caplog.at_level(logging.WARNING, logger="service.observability.tracing"):
        enabled = tracing.configure_tracing(Settings(otel_endpoint=ENDPOINT))
    assert enabled is False
    assert tracing.tracing_enabled() is False
    assert "toxhooks[otel]" in caplog.text


def test_request_span_is_a_no_op_when_off() -> None:
    with tracing.request_span("POST", {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}) as span:
        assert span is None


async def test_each_request_is_a_server_span_continuing_the_callers_trace() -> None:
    in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    sdk_trace = pytest.importorskip("opentelemetry.trace")
    exporter = in_memory.InMemorySpanExporter()
    assert tracing.configure_tracing(Settings(otel_endpoint=ENDPOINT), exporter=exporter)

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("toxhooks.test.tracing")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    app = FastAPI()

    @app.post("/cds-services/{service_id}")
    async def hook(service_id: str) -> dict[str, object]:
        logger.info("evaluated")
        return {"cards": []}

    install_metrics(app, endpoint=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post(
                "/cds-services/x", json={}, headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
            )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    assert response.status_code == 200
    tracing.shutdown_tracing()  # flushes the batch processor

    [span] = exporter.get_finished_spans()
    assert span.name == "POST /cds-services/{service_id}"
    assert span.kind == sdk_trace.SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT_SPAN_ID
    assert span.attributes["http.response.status_code"] == 200
    assert f'"trace_id":"{TRACE_ID}"' in stream.getvalue()
