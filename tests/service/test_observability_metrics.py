"""Prometheus metrics: families, labels from route templates, bounded label values, middleware."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY

from service.observability import metrics
from service.observability.context import bind_hook_instance
from service.observability.metrics import (
    install_metrics,
    record_auth_failure,
    record_cards,
    record_feedback,
    record_fhir_fetch,
    register_services,
)


def sample(name: str, **labels: str) -> float:
    """Current value of one sample (0 when the series does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def make_app() -> FastAPI:
    """A small app shaped like the CDS service: a hook route, a feedback route, probes."""
    app = FastAPI()

    @app.post("/cds-services/{service_id}")
    async def hook(service_id: str) -> dict[str, object]:
        if service_id != "mx-order-sign":
            raise HTTPException(status_code=404)
        bind_hook_instance("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea")
        record_cards(service_id, "order-sign", [("withhold", "warning"), ("monitor", "info")])
        return {"cards": []}

    @app.post("/cds-services/{service_id}/feedback")
    def feedback(service_id: str) -> dict[str, str]:  # sync: runs in the thread pool
        record_feedback(service_id, "accepted")
        return {}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    install_metrics(app, endpoint=True)
    return app


@pytest.fixture
def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app())
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_request_is_counted_under_route_template_service_and_hook(client: httpx.AsyncClient) -> None:
    labels = {"method": "POST", "route": "/cds-services/{service_id}", "service": "mx-order-sign"}
    before = sample("toxhooks_http_requests_total", **labels, hook="order-sign", status="200")
    latency_before = sample(
        "toxhooks_http_request_duration_seconds_count",
        route="/cds-services/{service_id}",
        service="mx-order-sign",
        hook="order-sign",
    )
    async with client:
        response = await client.post("/cds-services/mx-order-sign", json={})
    assert response.status_code == 200
    assert sample("toxhooks_http_requests_total", **labels, hook="order-sign", status="200") == before + 1
    latency_after = sample(
        "toxhooks_http_request_duration_seconds_count",
        route="/cds-services/{service_id}",
        service="mx-order-sign",
        hook="order-sign",
    )
    assert latency_after == latency_before + 1


async def test_unknown_service_ids_never_become_label_values(client: httpx.AsyncClient) -> None:
    async with client:
        response = await client.post("/cds-services/Patient-12345-Smith", json={})
    assert response.status_code == 404
    exposition = metrics.render_metrics().decode()
    assert "Patient-12345-Smith" not in exposition
    assert (
        sample(
            "toxhooks_http_requests_total",
            method="POST",
            route="/cds-services/{service_id}",
            service="none",
            hook="none",
            status="404",
        )
        >= 1
    )


async def test_registered_service_labels_failed_calls(client: httpx.AsyncClient) -> None:
    register_services({"mx-order-select": "order-select"})
    labels = {
        "method": "POST",
        "route": "/cds-services/{service_id}",
        "service": "mx-order-select",
        "hook": "order-select",
        "status": "404",
    }
    before = sample("toxhooks_http_requests_total", **labels)
    async with client:
        await client.post("/cds-services/mx-order-select", json={})
    assert sample("toxhooks_http_requests_total", **labels) == before + 1


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    async with client:
        response = await client.get("/Patient/abc-123/secret")
    assert response.status_code == 404
    assert "/Patient/abc-123" not in metrics.render_metrics().decode()
    assert sample(
        "toxhooks_http_requests_total",
        method="GET",
        route="<unmatched>",
        service="none",
        hook="none",
        status="404",
    )


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    async with client:
        echoed = await client.get("/healthz", headers={"X-Request-ID": "ehr-42.abc"})
        generated = await client.get("/healthz")
        unsafe = await client.get("/healthz", headers={"X-Request-ID": "a b\nc"})
    assert echoed.headers["x-request-id"] == "ehr-42.abc"
    assert len(generated.headers["x-request-id"]) == 32
    assert unsafe.headers["x-request-id"] != "a b\nc"


async def test_metrics_endpoint_serves_every_family(client: httpx.AsyncClient) -> None:
    record_fhir_fetch("ok", 0.05)
    record_fhir_fetch("timeout", 2.0)
    record_auth_failure("expired")
    async with client:
        await client.post("/cds-services/mx-order-sign", json={})
        await client.post("/cds-services/mx-order-sign/feedback", json={})
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for family in (
        "toxhooks_http_requests_total",
        "toxhooks_http_request_duration_seconds_bucket",
        "toxhooks_cards_total",
        "toxhooks_fhir_fetch_duration_seconds_bucket",
        "toxhooks_fhir_fetch_failures_total",
        "toxhooks_auth_failures_total",
        "toxhooks_feedback_total",
    ):
        assert family in text, family
    assert 'decision="withhold",hook="order-sign",indicator="warning"' in text
    assert 'outcome="accepted",service="mx-order-sign"' in text


def test_recorders_count_and_bound_label_values() -> None:
    before = sample("toxhooks_auth_failures_total", reason="other")
    record_auth_failure("eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJ4In0.c2ln")  # not a category
    record_auth_failure("x" * 200)
    assert sample("toxhooks_auth_failures_total", reason="other") == before + 2

    ok_before = sample("toxhooks_fhir_fetch_failures_total", outcome="ok")
    error_before = sample("toxhooks_fhir_fetch_failures_total", outcome="error")
    record_fhir_fetch("ok", 0.1)
    record_fhir_fetch("error", 0.2)
    assert sample("toxhooks_fhir_fetch_failures_total", outcome="ok") == ok_before
    assert sample("toxhooks_fhir_fetch_failures_total", outcome="error") == error_before + 1


def test_multiprocess_dir_is_emptied(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "prometheus"  # type: ignore[operator]
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    assert metrics.prepare_multiprocess_dir() == directory
    assert list(directory.iterdir()) == []
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert metrics.prepare_multiprocess_dir() is None


def test_multiprocess_mode_sums_every_worker(tmp_path: Path) -> None:
    """Two worker processes record; a third renders /metrics with both counts summed."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = (
        "from service.observability.metrics import record_cards; "
        "record_cards('mx-order-sign', 'order-sign', [('withhold', 'warning')])"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], env=env, check=True, timeout=60)
    render = "from service.observability.metrics import render_metrics; print(render_metrics().decode())"
    output = subprocess.run(
        [sys.executable, "-c", render], env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout
    sample = (
        'toxhooks_cards_total{decision="withhold",hook="order-sign",'
        'indicator="warning",service="mx-order-sign"}'
    )
    assert f"{sample} 2.0" in output


def test_bound_children_count_each_observation_under_its_own_labels() -> None:
    """The cached label children count exactly like `.labels()` would, per label combination."""
    route = "/bound-children-test"
    ok = {"method": "GET", "route": route, "service": "none", "hook": "none", "status": "200"}
    failed = {**ok, "status": "503"}
    before_ok = sample("toxhooks_http_requests_total", **ok)
    before_failed = sample("toxhooks_http_requests_total", **failed)
    latency = {"route": route, "service": "none", "hook": "none"}
    before_latency = sample("toxhooks_http_request_duration_seconds_count", **latency)
    for _ in range(3):
        metrics.observe_request("GET", route, 200, 0.002)
    metrics.observe_request("GET", route, 503, 0.002)
    assert sample("toxhooks_http_requests_total", **ok) == before_ok + 3
    assert sample("toxhooks_http_requests_total", **failed) == before_failed + 1
    assert sample("toxhooks_http_request_duration_seconds_count", **latency) == before_latency + 4
    card = {"service": "bound-svc", "hook": "order-sign", "decision": "withhold", "indicator": "warning"}
    before_cards = sample("toxhooks_cards_total", **card)
    metrics.record_cards("bound-svc", "order-sign", [("withhold", "warning"), ("withhold", "warning")])
    metrics.record_cards("bound-svc", "order-sign", [("withhold", "warning")])
    assert sample("toxhooks_cards_total", **card) == before_cards + 3
