"""FHIR server faults while completing prefetch: answers stay within the time budget, never a 500."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from tests.service.conftest import MakeClient
from tests.service.examples import FHIR, bundle, ck_observation, full_prefetch, hook_request
from tests.service.fakes import FakeEngine
from tests.service.spec import assert_valid_response

TOKEN = "secret-access-token-123"
PV = "/cds-services/toxhooks-patient-view"
BUDGET_S = 0.5  # svc_settings.fhir_time_budget_s


async def _slow(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(5)
    return httpx.Response(200, json=bundle())


def _reset(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadError("connection reset by peer", request=request)


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


FAULTS: dict[str, Any] = {
    "timeout": _slow,
    "http-500": httpx.Response(500, text="upstream failure"),
    "malformed-json": httpx.Response(
        200,
        content=b'{"resourceType": "Bundle", "entry": [',
        headers={"content-type": "application/fhir+json"},
    ),
    "html": httpx.Response(
        200, text="<html><body>Login</body></html>", headers={"content-type": "text/html"}
    ),
    "connection-reset": _reset,
    "server-down": _refused,
    "not-a-resource": httpx.Response(200, json=["not", "a", "resource"]),
    "operation-outcome": httpx.Response(200, json={"resourceType": "OperationOutcome", "issue": []}),
}


@pytest.fixture
def fhir() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=FHIR, assert_all_called=False) as router:
        yield router


def _mock(route: respx.Route, fault: Any) -> None:
    if isinstance(fault, httpx.Response):
        route.mock(return_value=fault)
    else:
        route.mock(side_effect=fault)


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_required_key_unobtainable_is_412_within_budget(
    fault: str, make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine
) -> None:
    _mock(fhir.get("/Observation"), FAULTS[fault])
    prefetch = full_prefetch()
    del prefetch["labs"]
    client = await make_client()
    started = time.perf_counter()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True))
    assert time.perf_counter() - started < BUDGET_S + 1.0
    assert response.status_code == 412
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["expression"] == ["labs"]
    assert not fake_engine.requests  # nothing useful could be said


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_optional_key_unobtainable_degrades_with_an_info_card(
    fault: str, make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine
) -> None:
    _mock(fhir.get("/Condition"), FAULTS[fault])
    prefetch = full_prefetch()
    del prefetch["conditions"]
    client = await make_client()
    started = time.perf_counter()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True))
    assert time.perf_counter() - started < BUDGET_S + 1.0
    assert response.status_code == 200
    body = response.json()
    assert_valid_response(body)
    assert fake_engine.requests[0].unavailable == ("conditions",)
    data_card = body["cards"][-1]
    assert data_card["indicator"] == "info"
    assert "could not obtain: conditions" in data_card["detail"]


async def test_pages_forever_stops_at_the_page_bound(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine
) -> None:
    counter = itertools.count(1)

    def page(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        return httpx.Response(
            200, json=bundle(ck_observation(f"ck-{n}", 100 + n), next_url=f"{FHIR}/Observation?_page={n + 1}")
        )

    route = fhir.get("/Observation").mock(side_effect=page)
    prefetch = full_prefetch()
    del prefetch["labs"]
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True))
    assert response.status_code == 200
    assert route.call_count == 5  # Settings.fhir_max_pages
    assert fake_engine.requests[0].unavailable == ("labs (further pages)",)


async def test_next_link_to_another_host_is_not_followed(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine
) -> None:
    evil = respx.get("https://elsewhere.example.com/steal").mock(
        return_value=httpx.Response(200, json=bundle())
    )
    prefetch = {
        **full_prefetch(),
        "labs": bundle(ck_observation("ck-1", 10), next_url="https://elsewhere.example.com/steal"),
    }
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True))
    assert response.status_code == 200
    assert not evil.called  # the access token goes to fhirServer only
    assert fake_engine.requests[0].unavailable == ("labs (further pages)",)


async def test_fetches_run_concurrently_within_one_budget(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine
) -> None:
    for path in ("/Patient/p-1001", "/Observation", "/MedicationRequest", "/Condition", "/AdverseEvent"):
        fhir.get(path).mock(side_effect=_slow)
    client = await make_client()
    started = time.perf_counter()
    response = await client.post(PV, json=hook_request("patient-view", prefetch={}, fhir_server=True))
    assert time.perf_counter() - started < BUDGET_S + 1.0
    assert response.status_code == 412


@pytest.mark.parametrize("fault", ["http-500", "connection-reset", "timeout"])
async def test_access_token_is_never_logged(
    fault: str, make_client: MakeClient, fhir: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    _mock(fhir.get("/Observation"), FAULTS[fault])
    prefetch = full_prefetch()
    del prefetch["labs"]
    client = await make_client()
    with caplog.at_level(logging.DEBUG):
        await client.post(PV, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True))
    assert caplog.records  # the failure was logged...
    assert TOKEN not in caplog.text  # ...without the token


def test_fault_table_covers_the_required_cases() -> None:
    required = {
        "timeout",
        "http-500",
        "malformed-json",
        "html",
        "connection-reset",
    }
    assert required <= set(FAULTS)


async def test_reference_that_is_not_a_valid_url_is_named_not_a_500(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine
) -> None:
    from tests.service.examples import draft_order

    fhir.route().mock(return_value=httpx.Response(404))
    order = draft_order("mr-1", medication={"medicationReference": {"reference": "Medication/m\x1f1"}})
    client = await make_client()
    body = hook_request("order-sign", drafts=[order], fhir_server=True)
    response = await client.post("/cds-services/toxhooks-order-sign", json=body)
    assert response.status_code == 200, response.text
    assert fake_engine.requests[0].unavailable == ("Medication/m\x1f1",)
    assert not fhir.calls  # never sent


async def test_context_values_are_percent_encoded_in_fetched_queries(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine
) -> None:
    route = fhir.get("/Observation").mock(return_value=httpx.Response(200, json=bundle()))
    fhir.route().mock(return_value=httpx.Response(200, json=bundle()))
    prefetch = full_prefetch()
    del prefetch["labs"]
    body = hook_request("patient-view", prefetch=prefetch, fhir_server=True)
    body["context"]["patientId"] = "p1&patient=p2\x1f"
    client = await make_client()
    response = await client.post(PV, json=body)
    assert response.status_code == 200, response.text
    params = route.calls.last.request.url.params
    assert params.get_list("patient") == ["p1&patient=p2\x1f"]  # one patient, the value intact
