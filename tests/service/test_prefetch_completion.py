"""Prefetch completion against a respx-mocked FHIR server: each case the spec lets a client send."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
import respx

from tests.service.conftest import MakeClient
from tests.service.examples import (
    FHIR,
    PATIENT,
    bundle,
    ck_observation,
    draft_order,
    full_prefetch,
    hook_request,
)
from tests.service.fakes import FakeEngine
from tests.service.spec import assert_valid_response

TOKEN = "secret-access-token-123"
PV = "/cds-services/toxhooks-patient-view"


@pytest.fixture
def fhir() -> Iterator[respx.MockRouter]:
    """The EHR's FHIR server; an unexpected call fails the test."""
    with respx.mock(base_url=FHIR, assert_all_called=False) as router:
        yield router


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[Mapping[str, Any]]:
    """The resources the pipeline hands to terminology."""
    import service.reading

    captured: list[Mapping[str, Any]] = []
    original = service.reading.build_facts

    def recording(resources: Any, **kwargs: Any) -> Any:
        items = list(resources)
        captured.extend(items)
        return original(items, **kwargs)

    monkeypatch.setattr("service.reading.build_facts", recording)
    return captured


def ids(resources: list[Mapping[str, Any]], kind: str) -> list[str]:
    return sorted(str(r["id"]) for r in resources if r["resourceType"] == kind)


async def test_complete_prefetch_needs_no_fetch(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine, seen: list[Mapping[str, Any]]
) -> None:
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view", fhir_server=True))
    assert response.status_code == 200
    assert not fhir.calls
    assert fake_engine.requests[0].unavailable == ()
    assert ids(seen, "Observation") == ["ck-1", "ck-2"]
    assert ids(seen, "Patient") == [PATIENT]


async def test_missing_key_is_fetched_with_the_bearer_token(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine, seen: list[Mapping[str, Any]]
) -> None:
    prefetch = full_prefetch()
    del prefetch["labs"]
    route = fhir.get("/Observation").mock(
        return_value=httpx.Response(200, json=bundle(ck_observation("ck-9", 900)))
    )
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True))
    assert response.status_code == 200
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.url.params["patient"] == PATIENT
    assert request.url.params["code"] == "http://loinc.org|2157-6"
    assert request.url.params["date"] == "ge2025-03-14"
    assert ids(seen, "Observation") == ["ck-9"]
    assert fake_engine.requests[0].unavailable == ()


@pytest.mark.parametrize("empty", [None, bundle()], ids=["null", "empty-bundle"])
async def test_null_and_empty_bundle_mean_no_data(
    empty: Any, make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine
) -> None:
    prefetch = {**full_prefetch(), "labs": empty, "conditions": empty}
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True))
    assert response.status_code == 200
    assert not fhir.calls  # "no data" is an answer, not a gap to fill
    assert fake_engine.requests[0].unavailable == ()
    assert fake_engine.requests[0].facts.labs == {}


async def test_operation_outcome_is_fetched_again(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine, seen: list[Mapping[str, Any]]
) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    prefetch = {**full_prefetch(), "labs": outcome}
    route = fhir.get("/Observation").mock(
        return_value=httpx.Response(200, json=bundle(ck_observation("ck-5", 50)))
    )
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True))
    assert response.status_code == 200
    assert route.called
    assert ids(seen, "Observation") == ["ck-5"]


async def test_operation_outcome_without_fhir_server_is_412_naming_the_key(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    client = await make_client()
    response = await client.post(
        PV, json=hook_request("patient-view", prefetch={**full_prefetch(), "labs": outcome})
    )
    assert response.status_code == 412
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["expression"] == ["labs"]


async def test_paged_prefetch_bundle_is_followed(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine, seen: list[Mapping[str, Any]]
) -> None:
    page2 = f"{FHIR}/Observation?_page=2"
    page3 = f"{FHIR}/Observation?_page=3"
    prefetch = {**full_prefetch(), "labs": bundle(ck_observation("ck-1", 100), next_url=page2)}
    fhir.get("/Observation", params={"_page": "2"}).mock(
        return_value=httpx.Response(200, json=bundle(ck_observation("ck-2", 200), next_url=page3))
    )
    fhir.get("/Observation", params={"_page": "3"}).mock(
        return_value=httpx.Response(200, json=bundle(ck_observation("ck-3", 300)))
    )
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True))
    assert response.status_code == 200
    assert ids(seen, "Observation") == ["ck-1", "ck-2", "ck-3"]
    assert fake_engine.requests[0].unavailable == ()


async def test_paged_prefetch_without_server_reports_the_gap(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    prefetch = {
        **full_prefetch(),
        "labs": bundle(ck_observation("ck-1", 100), next_url=f"{FHIR}/Observation?p=2"),
    }
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch))
    assert response.status_code == 200
    assert fake_engine.requests[0].unavailable == ("labs (further pages)",)
    assert "labs (further pages)" in response.json()["cards"][-1]["detail"]


async def test_medication_reference_is_resolved_from_the_server(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.reading

    medications_seen: list[Mapping[str, Any]] = []
    original = service.reading.read_order

    def recording(resource: Any, **kwargs: Any) -> Any:
        medications_seen.append(dict(kwargs["medications"]))
        return original(resource, **kwargs)

    monkeypatch.setattr("service.reading.read_order", recording)
    medication = {"resourceType": "Medication", "id": "med-9", "code": {"text": "alectinib"}}
    route = fhir.get("/Medication/med-9").mock(return_value=httpx.Response(200, json=medication))
    order = draft_order("mr-1", medication={"medicationReference": {"reference": "Medication/med-9"}})
    client = await make_client()
    body = hook_request("order-sign", drafts=[order], fhir_server=True)
    response = await client.post("/cds-services/toxhooks-order-sign", json=body)
    assert response.status_code == 200
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    assert medications_seen[0]["Medication/med-9"] == medication
    assert fake_engine.requests[0].unavailable == ()
    assert_valid_response(response.json())


async def test_unresolvable_medication_reference_is_named(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    order = draft_order("mr-1", medication={"medicationReference": {"reference": "Medication/med-404"}})
    client = await make_client()
    response = await client.post(
        "/cds-services/toxhooks-order-sign", json=hook_request("order-sign", drafts=[order])
    )
    assert response.status_code == 200
    assert fake_engine.requests[0].unavailable == ("Medication/med-404",)
    assert "Medication/med-404" in response.json()["cards"][-1]["detail"]


async def test_missing_keys_without_fhir_server(make_client: MakeClient, fake_engine: FakeEngine) -> None:
    client = await make_client()
    partial = {"labs": full_prefetch()["labs"]}
    response = await client.post(PV, json=hook_request("patient-view", prefetch=partial))
    assert response.status_code == 200
    assert set(fake_engine.requests[0].unavailable) == {
        "patient",
        "gradedEvents",
        "medications",
        "conditions",
        "adverseEvents",
    }

    response = await client.post(PV, json=hook_request("patient-view", prefetch={}))
    assert response.status_code == 412
    assert response.json()["issue"][0]["expression"] == ["labs"]


async def test_pre_1_0_wrapped_prefetch_is_unwrapped(
    make_client: MakeClient, fake_engine: FakeEngine, seen: list[Mapping[str, Any]]
) -> None:
    prefetch = full_prefetch()
    prefetch["labs"] = {"response": {"status": "200 OK"}, "resource": prefetch["labs"]}
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch))
    assert response.status_code == 200
    assert ids(seen, "Observation") == ["ck-1", "ck-2"]


def test_evaluate_command_fetches_what_prefetch_lacks(
    fhir: respx.MockRouter, fake_engine: FakeEngine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from service.cli import app as cli

    monkeypatch.setenv("TOXHOOKS_LOG_JSON", "false")
    route = fhir.get("/Observation").mock(
        return_value=httpx.Response(200, json=bundle(ck_observation("ck-7", 70)))
    )
    prefetch = full_prefetch()
    del prefetch["labs"]
    request = hook_request("patient-view", prefetch=prefetch)
    request["fhirAuthorization"] = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "toxhooks",
    }
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    result = CliRunner().invoke(cli, ["evaluate", str(path), "--fhir-server", FHIR])
    assert result.exit_code == 0, result.output
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    assert fake_engine.requests[0].unavailable == ()


async def test_medication_by_bundle_full_url(make_client: MakeClient, fake_engine: FakeEngine) -> None:
    order = draft_order("mr-1", medication={"medicationReference": {"reference": "urn:uuid:7f1c"}})
    other = draft_order("mr-2", medication={"medicationReference": {"reference": "urn:uuid:0000"}})
    body = hook_request("order-sign", drafts=[order, other])
    body["context"]["draftOrders"]["entry"].append(
        {
            "fullUrl": "urn:uuid:7f1c",
            "resource": {"resourceType": "Medication", "id": "m1", "code": {"text": "alectinib"}},
        }
    )
    client = await make_client()
    response = await client.post("/cds-services/toxhooks-order-sign", json=body)
    assert response.status_code == 200
    assert fake_engine.requests[0].unavailable == ("urn:uuid:0000",)


def _history_order(ident: str, medication: str) -> dict[str, Any]:
    order = draft_order(
        ident, status="stopped", medication={"medicationReference": {"reference": medication}}
    )
    return order


async def test_history_medication_reference_is_read_when_include_was_not_honoured(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client may ignore `_include` (outside the spec's prefetch subset): the Medication is read."""
    import service.reading

    medications_seen: list[Mapping[str, Any]] = []
    original = service.reading.build_facts

    def recording(resources: Any, **kwargs: Any) -> Any:
        medications_seen.append(dict(kwargs["medications"]))
        return original(resources, **kwargs)

    monkeypatch.setattr("service.reading.build_facts", recording)
    medication = {"resourceType": "Medication", "id": "med-old", "code": {"text": "pembrolizumab"}}
    route = fhir.get("/Medication/med-old").mock(return_value=httpx.Response(200, json=medication))
    prefetch = {**full_prefetch(), "medications": bundle(_history_order("mr-0", "Medication/med-old"))}
    client = await make_client()
    body = hook_request("order-sign", prefetch=prefetch, fhir_server=True)
    response = await client.post("/cds-services/toxhooks-order-sign", json=body)
    assert response.status_code == 200
    assert route.call_count == 1
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    assert medications_seen[0]["Medication/med-old"] == medication
    assert fake_engine.requests[0].unavailable == ()


async def test_history_medication_in_the_bundle_is_not_fetched_and_missing_one_is_named(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    included = {"resourceType": "Medication", "id": "med-inc", "code": {"text": "alectinib"}}
    medications = bundle(
        _history_order("mr-0", "Medication/med-inc"), included, _history_order("mr-00", "Medication/med-gone")
    )
    client = await make_client()
    body = hook_request("patient-view", prefetch={**full_prefetch(), "medications": medications})
    response = await client.post(PV, json=body)  # no fhirServer: nothing can be fetched
    assert response.status_code == 200
    assert fake_engine.requests[0].unavailable == ("Medication/med-gone",)
    assert "Medication/med-gone" in response.json()["cards"][-1]["detail"]


async def test_exam_records_are_fetched_and_a_failure_concerns_monitoring_only(
    make_client: MakeClient, fhir: respx.MockRouter, fake_engine: FakeEngine, seen: list[Mapping[str, Any]]
) -> None:
    prefetch = full_prefetch()
    del prefetch["procedures"], prefetch["diagnosticReports"]
    exam = {
        "resourceType": "Procedure",
        "id": "eye-1",
        "status": "completed",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": {"text": "Ophthalmic examination"},
        "performedDateTime": "2026-03-01",
    }
    procedures = fhir.get("/Procedure").mock(return_value=httpx.Response(200, json=bundle(exam)))
    fhir.get("/DiagnosticReport").mock(return_value=httpx.Response(500))
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch, fhir_server=True))
    assert response.status_code == 200
    query = procedures.calls.last.request.url
    assert query.params["patient"] == PATIENT and query.params["date"].startswith("ge")
    assert ids(seen, "Procedure") == ["eye-1"]
    request = fake_engine.requests[0]
    assert request.unavailable == ()  # no data card for the other checks
    assert request.monitoring_unavailable == ("diagnosticReports",)
    assert all("diagnosticReports" not in c.get("detail", "") for c in response.json()["cards"])
