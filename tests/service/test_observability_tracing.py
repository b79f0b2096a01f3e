"""Optional tracing: off without an endpoint, off with a warning when the SDK is missing."""

from __future__ import annotations

import importlib.util
import logging

import pytest

from service.observability import tracing
from service.settings import Settings


def test_no_endpoint_means_no_tracing() -> None:
    assert tracing.configure_tracing(Settings()) is False
    assert tracing.tracing_enabled() is False
    assert tracing.current_trace_ids() == {}


@pytest.mark.skipif(
    importlib.util.find_spec("opentelemetry.sdk") is not None, reason="the OpenTelemetry SDK is installed"
)
def test_endpoint_without_sdk_warns_and_stays_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="service.observability.tracing"):
        enabled = tracing.configure_tracing(Settings(otel_endpoint="http://127.0.0.1:4318/v1/traces"))
    assert enabled is False
    assert tracing.tracing_enabled() is False
    assert "toxhooks[otel]" in caplog.text


def test_request_span_is_a_no_op_when_off() -> None:
    with tracing.request_span("POST", {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}) as span:
        assert span is None
