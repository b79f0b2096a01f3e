"""Request limits and the error mapping: every failure is an OperationOutcome with the right status."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from service.error_handlers import install_error_handlers
from service.settings import Settings
from tests.service.conftest import MakeClient
from tests.service.examples import bundle, ck_observation, draft_order, full_prefetch, hook_request
from tests.service.fakes import FakeEngine
from tests.service.spec import assert_valid_response

SELECT = "/cds-services/toxhooks-order-select"
SIGN = "/cds-services/toxhooks-order-sign"
PV = "/cds-services/toxhooks-patient-view"
AUTH = {
    "access_token": "t",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "user/*.read",
    "subject": "x",
}


def outcome_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def expression(response: httpx.Response, status: int = 400) -> list[str]:
    return list(outcome_of(response, status).get("expression", []))


async def test_wrong_content_type_is_415(make_client: MakeClient) -> None:
    client = await make_client()
    body = json.dumps(hook_request("patient-view"))
    response = await client.post(PV, content=body, headers={"content-type": "text/plain"})
    assert expression(response, 415) == ["Content-Type"]
    response = await client.post(
        PV, content=body, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200


async def test_body_over_the_limit_is_413(make_client: MakeClient, svc_settings: Settings) -> None:
    client = await make_client(svc_settings.model_copy(update={"max_body_bytes": 500}))
    response = await client.post(PV, json=hook_request("patient-view"))
    outcome_of(response, 413)


async def test_body_too_deep_is_400(make_client: MakeClient, svc_settings: Settings) -> None:
    client = await make_client(svc_settings.model_copy(update={"max_json_depth": 10}))
    response = await client.post(
        PV, content=b"[" * 50 + b"]" * 50, headers={"content-type": "application/json"}
    )
    assert "deeper" in outcome_of(response, 400)["diagnostics"]


async def test_too_many_resources_is_refused(make_client: MakeClient, svc_settings: Settings) -> None:
    client = await make_client(svc_settings.model_copy(update={"max_resources": 5}))
    labs = bundle(*(ck_observation(f"ck-{i}", 100 + i) for i in range(10)))
    response = await client.post(
        PV, json=hook_request("patient-view", prefetch={**full_prefetch(), "labs": labs})
    )
    outcome_of(response, 413)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.pop("hook"), "hook"),
        (lambda r: r.update(hook="patient-view"), "hook"),
        (lambda r: r.update(hookInstance="not-a-uuid"), "hookInstance"),
        (lambda r: r.pop("context"), "context"),
        (lambda r: r.update(context="a string"), "context"),
        (lambda r: r["context"].pop("patientId"), "context.patientId"),
        (lambda r: r["context"].update(userId=42), "context.userId"),
        (lambda r: r["context"].pop("draftOrders"), "context.draftOrders"),
        (lambda r: r["context"].update(draftOrders={"resourceType": "Patient"}), "context.draftOrders"),
        (lambda r: r["context"]["draftOrders"].update(entry={}), "context.draftOrders.entry"),
        (
            lambda r: r["context"]["draftOrders"]["entry"].append({"resource": 3}),
            "context.draftOrders.entry[1].resource",
        ),
        (lambda r: r["context"].update(selections="MedicationRequest/mr-1"), "context.selections"),
        (lambda r: r["context"].update(selections=["MedicationRequest/zz"]), "context.selections[0]"),
        (lambda r: r.update(fhirAuthorization=AUTH), "fhirServer"),
        (lambda r: r.update(fhirServer="ftp://x"), "fhirServer"),
        (lambda r: r.update(prefetch=[1]), "prefetch"),
    ],
)
async def test_wrong_shape_is_400_naming_the_field(mutate: Any, field: str, make_client: MakeClient) -> None:
    request = hook_request("order-select")
    mutate(request)
    client = await make_client()
    response = await client.post(SELECT, json=request)
    assert expression(response) == [field]


@pytest.mark.parametrize("missing", ["access_token", "token_type", "expires_in", "scope", "subject"])
async def test_fhir_authorization_without_a_required_field_is_400(
    missing: str, make_client: MakeClient
) -> None:
    request = hook_request("patient-view", fhir_server=True)
    del request["fhirAuthorization"][missing]
    client = await make_client()
    response = await client.post(PV, json=request)
    assert expression(response) == [f"fhirAuthorization.{missing}"]


@pytest.mark.parametrize(
    ("update", "status", "field"),
    [
        ({"token_type": "MAC"}, 400, "fhirAuthorization.token_type"),
        ({"token_type": "bearer"}, 200, None),  # OAuth token types are case-insensitive
        ({"access_token": ""}, 400, "fhirAuthorization.access_token"),
        ({"patient": "someone-else"}, 400, "fhirAuthorization.patient"),
        ({"patient": "p-1001"}, 200, None),
        ({"patient": "Patient/p-1001"}, 200, None),
    ],
)
async def test_fhir_authorization_values(
    update: dict[str, str],
    status: int,
    field: str | None,
    make_client: MakeClient,
    fake_engine: FakeEngine,
) -> None:
    request = hook_request("patient-view", fhir_server=True)  # full prefetch: nothing to fetch
    request["fhirAuthorization"].update(update)
    client = await make_client()
    with respx.mock(assert_all_called=False) as fhir:
        fhir.route().mock(return_value=httpx.Response(404))
        response = await client.post(PV, json=request)
    assert response.status_code == status, response.text
    if field is not None:
        assert expression(response) == [field]


async def test_selection_may_name_a_draft_by_its_full_url(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    request = hook_request("order-select", selections=["urn:uuid:5b3a"])
    request["context"]["draftOrders"]["entry"][0]["fullUrl"] = "urn:uuid:5b3a"
    client = await make_client()
    response = await client.post(SELECT, json=request)
    assert response.status_code == 200, response.text
    assert fake_engine.requests[0].selections == ("MedicationRequest/mr-1",)


@pytest.mark.parametrize("raw", [b"{", b"", b"[1, 2]", b"null", b'"text"', b"\xff\xfe"])
async def test_not_a_json_object_is_400(raw: bytes, make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post(PV, content=raw, headers={"content-type": "application/json"})
    assert expression(response) == ["body"]


async def test_unknown_fields_are_tolerated(make_client: MakeClient, fake_engine: FakeEngine) -> None:
    request = hook_request("order-select")
    request["extension"] = {"org.example.flag": True}
    request["context"]["org.example.note"] = "x"
    request["somethingNew"] = [1, 2]
    client = await make_client()
    response = await client.post(SELECT, json=request)
    assert response.status_code == 200
    assert_valid_response(response.json())


async def test_unknown_service_is_404(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/cds-services/nope", json=hook_request("patient-view"))
    assert outcome_of(response, 404)["code"] == "not-found"
    response = await client.post("/cds-services/nope/feedback", json={"feedback": []})
    outcome_of(response, 404)


async def test_unknown_route_and_method_are_outcomes(make_client: MakeClient) -> None:
    client = await make_client()
    outcome_of(await client.get("/no-such-page"), 404)
    outcome_of(await client.get(PV), 405)


async def test_internal_failure_is_500_without_details(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(request: Any, knowledge: Any) -> Any:
        raise RuntimeError("patient p-1001 has creatinine 3.1")

    monkeypatch.setattr("service.hook.evaluate", broken)
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view"))
    issue = outcome_of(response, 500)
    assert issue["diagnostics"] == "internal error"
    assert (
        "p-1001" not in response.text
        and "Traceback" not in response.text
        and "creatinine" not in response.text
    )


async def test_malformed_prefetch_resource_is_reported_and_the_rest_evaluated(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    labs = bundle(ck_observation("ck-1", 100))
    labs["entry"].append({"resource": {"id": "no-type"}})
    labs["entry"].append("not an object")
    client = await make_client()
    response = await client.post(
        PV, json=hook_request("patient-view", prefetch={**full_prefetch(), "labs": labs})
    )
    assert response.status_code == 200
    detail = response.json()["cards"][-1]["detail"]
    assert "prefetch.labs.entry[1]" in detail and "prefetch.labs.entry[2]" in detail
    assert_valid_response(response.json())


async def test_prefetch_value_that_is_not_a_resource(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    client = await make_client()
    prefetch = {**full_prefetch(), "conditions": "oops"}
    response = await client.post(PV, json=hook_request("patient-view", prefetch=prefetch))
    assert response.status_code == 200
    assert fake_engine.requests[0].unavailable == ("conditions",)
    assert "prefetch.conditions" in response.json()["cards"][-1]["detail"]


async def test_draft_order_invalid_in_r4b_is_a_400_naming_the_element(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    broken = draft_order("mr-2")
    del broken["status"]
    client = await make_client()
    response = await client.post(SIGN, json=hook_request("order-sign", drafts=[draft_order("mr-1"), broken]))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["context.draftOrders.entry[1].resource.status"]
    assert not fake_engine.requests


async def test_draft_order_without_id_is_named_and_others_checked(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    broken = draft_order("mr-2")
    del broken["id"]  # valid R4B (id is optional) but nothing could refer to it
    client = await make_client()
    response = await client.post(SIGN, json=hook_request("order-sign", drafts=[draft_order("mr-1"), broken]))
    assert response.status_code == 200
    assert [o.reference for o in fake_engine.requests[0].draft_orders] == ["MedicationRequest/mr-1"]
    assert "entry 1 has no id" in response.json()["cards"][-1]["detail"]


async def test_framework_validation_errors_become_400_outcomes() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items")
    async def items(limit: int) -> dict[str, int]:
        return {"limit": limit}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/items", params={"limit": "many"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["query.limit"]


async def test_resource_that_breaks_terminology_is_left_out_and_named(
    make_client: MakeClient, fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.reading

    original = service.reading.build_facts

    def fragile(resources: Any, **options: Any) -> Any:
        items = list(resources)
        if any(r.get("id") == "ck-2" for r in items):
            raise ValueError("cannot read this value")
        return original(items, **options)

    monkeypatch.setattr("service.reading.build_facts", fragile)
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view"))
    assert response.status_code == 200
    assert "Observation/ck-2 (not readable)" in response.json()["cards"][-1]["detail"]


async def test_draft_that_breaks_terminology_is_named(
    make_client: MakeClient, fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.reading

    original = service.reading.read_order

    def fragile(resource: Any, **options: Any) -> Any:
        if resource.get("id") == "mr-2":
            raise TypeError("unexpected dose shape")
        return original(resource, **options)

    monkeypatch.setattr("service.reading.read_order", fragile)
    broken = draft_order("mr-2")  # valid FHIR, but terminology cannot read it (fragile above)
    client = await make_client()
    response = await client.post(SIGN, json=hook_request("order-sign", drafts=[draft_order("mr-1"), broken]))
    assert response.status_code == 200
    assert [o.reference for o in fake_engine.requests[0].draft_orders] == ["MedicationRequest/mr-1"]
    assert "MedicationRequest/mr-2 could not be read" in response.json()["cards"][-1]["detail"]
