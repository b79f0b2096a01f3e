"""/metrics after a few calls: every family, labelled by service and hook, on the private listener
(never the service port unless asked, and then without auth-failure reasons); the JSON logs of
those calls carry request ids and never the tokens or patient identifiers."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest
import respx

from service.observability.listener import start_metrics_listener
from service.observability.logging import JsonFormatter, RedactingFilter
from service.settings import Settings, TrustedIssuer
from tests.service.conftest import MakeClient
from tests.service.examples import FHIR, PATIENT, bundle, ck_observation, full_prefetch, hook_request
from tests.service.fakes import FakeEngine

ACCESS_TOKEN = "secret-access-token-123"  # the fhirAuthorization token in examples.hook_request
SIGN = "/cds-services/toxhooks-order-sign"
VIEW = "/cds-services/toxhooks-patient-view"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Everything logged during the test, through the production JSON handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(saved)


def value(exposition: str, sample: str) -> float:
    """The value of one exact sample line (name{labels}) in the exposition text."""
    for line in exposition.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not exposed")


async def test_metrics_families_after_a_few_calls(
    make_client: MakeClient, fake_engine: FakeEngine, svc_settings: Settings, log_stream: io.StringIO
) -> None:
    client = await make_client()
    prefetch = full_prefetch()
    del prefetch["labs"]  # fetched from the EHR: one FHIR fetch
    with respx.mock(base_url=FHIR, assert_all_called=False) as fhir:
        fhir.get("/Observation").mock(return_value=httpx.Response(200, json=bundle(ck_observation("c", 900))))
        viewed = await client.post(
            VIEW, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True)
        )
    assert viewed.status_code == 200, viewed.text
    signed = await client.post(SIGN, json=hook_request("order-sign"), headers={"X-Request-ID": "ehr-req-1"})
    assert signed.status_code == 200, signed.text
    assert signed.headers["x-request-id"] == "ehr-req-1"
    card_uuid = signed.json()["cards"][0]["uuid"]
    feedback = {
        "feedback": [{"card": card_uuid, "outcome": "accepted", "outcomeTimestamp": "2026-03-14T09:31:00Z"}]
    }
    assert (await client.post(SIGN + "/feedback", json=feedback)).status_code == 200

    # An app that checks JWTs refuses a call without one.
    secured = Settings(
        database_url=svc_settings.database_url,
        log_json=False,
        trusted_issuers=[TrustedIssuer(iss="https://ehr.test", jwks_url="https://ehr.test/jwks")],
    )
    guarded = await make_client(secured)
    assert (await guarded.post(SIGN, json=hook_request("order-sign"))).status_code == 401

    # Off the service port by default; the private listener has every family with every label.
    assert (await client.get("/metrics")).status_code == 404
    listener = start_metrics_listener("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as scraper:
            scrape = await scraper.get(f"http://127.0.0.1:{listener.port}/metrics")
    finally:
        listener.close()
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    exposition = scrape.text
    route = 'route="/cds-services/{service_id}"'
    assert (
        value(
            exposition,
            'toxhooks_http_requests_total{hook="order-sign",method="POST",'
            f'{route},service="toxhooks-order-sign",status="200"}}',
        )
        >= 1
    )
    assert (
        value(
            exposition,
            f'toxhooks_http_request_duration_seconds_count{{hook="patient-view",{route},'
            'service="toxhooks-patient-view"}',
        )
        >= 1
    )
    assert (
        value(
            exposition,
            'toxhooks_cards_total{decision="withhold",hook="order-sign",indicator="warning",'
            'service="toxhooks-order-sign"}',
        )
        >= 1
    )
    assert value(exposition, 'toxhooks_fhir_fetch_duration_seconds_count{outcome="ok"}') >= 1
    assert "# TYPE toxhooks_fhir_fetch_failures_total counter" in exposition
    assert value(exposition, 'toxhooks_auth_failures_total{reason="missing"}') >= 1
    assert value(exposition, 'toxhooks_feedback_total{outcome="accepted",service="toxhooks-order-sign"}') >= 1
    assert PATIENT not in exposition

    logged = log_stream.getvalue()
    assert '"request_id":"ehr-req-1"' in logged
    assert '"hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"' in logged
    assert ACCESS_TOKEN not in logged
    assert PATIENT not in logged


async def test_metrics_on_the_service_port_only_when_asked_and_without_auth_reasons(
    make_client: MakeClient, svc_settings: Settings
) -> None:
    secured = Settings(
        database_url=svc_settings.database_url,
        log_json=False,
        trusted_issuers=[TrustedIssuer(iss="https://ehr.test", jwks_url="https://ehr.test/jwks")],
        metrics_on_service_port=True,
    )
    client = await make_client(secured)
    forged = {"Authorization": "Bearer x.y.z"}
    refused = await client.post(SIGN, json=hook_request("order-sign"), headers=forged)
    assert refused.status_code == 401
    public = await client.get("/metrics")  # open, like the health probes, so it must say little
    assert public.status_code == 200
    lines = [line for line in public.text.splitlines() if line.startswith("toxhooks_auth_failures")]
    assert lines and all("reason" not in line for line in lines), lines
    assert float(lines[0].rsplit(" ", 1)[1]) >= 1
    for reason in ("malformed", "missing", "signature", "expired"):
        assert f'reason="{reason}"' not in public.text


async def test_metrics_listener_serves_only_metrics() -> None:
    listener = start_metrics_listener("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.port}") as scraper:
            assert (await scraper.get("/cds-services")).status_code == 404
            assert (await scraper.post("/metrics")).status_code == 405
    finally:
        listener.close()
