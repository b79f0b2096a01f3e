"""The OpenAPI document describes the CDS Hooks bodies and errors without FastAPI's own validation."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs; test-only
import pytest

from tests.service.conftest import MakeClient
from tests.service.examples import hook_request

HOOK = "/cds-services/{service_id}"
FEEDBACK = "/cds-services/{service_id}/feedback"


async def document(make_client: MakeClient) -> dict[str, Any]:
    client = await make_client()
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def body_schema(doc: dict[str, Any], path: str) -> dict[str, Any]:
    schema: dict[str, Any] = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    return schema


async def test_hook_and_feedback_operations_declare_request_bodies(make_client: MakeClient) -> None:
    doc = await document(make_client)
    for path in (HOOK, FEEDBACK):
        operation = doc["paths"][path]["post"]
        assert operation["requestBody"]["required"] is True
        assert "422" not in operation["responses"]  # validation errors are 400 OperationOutcomes
        assert {"400", "401", "404"} <= set(operation["responses"])
        error = operation["responses"]["400"]["content"]["application/fhir+json"]["schema"]
        assert error["properties"]["resourceType"] == {"const": "OperationOutcome"}
    assert "412" in doc["paths"][HOOK]["post"]["responses"]
    assert "HTTPValidationError" not in doc.get("components", {}).get("schemas", {})


@pytest.mark.parametrize("hook", ["order-select", "order-sign", "patient-view"])
async def test_the_hook_schema_accepts_real_requests(hook: str, make_client: MakeClient) -> None:
    schema = body_schema(await document(make_client), HOOK)
    jsonschema.validate(hook_request(hook, fhir_server=True), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"hook": hook, "context": {}}, schema)  # no hookInstance


async def test_the_feedback_schema_matches_the_spec_shape(make_client: MakeClient) -> None:
    schema = body_schema(await document(make_client), FEEDBACK)
    entry = {
        "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"code": "d7ecf885", "system": "https://example.com/r"},
            "userComment": "c",
        },
        "outcomeTimestamp": "2020-12-11T00:00:00Z",
    }
    jsonschema.validate({"feedback": [entry]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"feedback": [{**entry, "outcome": "ignored"}]}, schema)


async def test_declaring_bodies_does_not_make_the_framework_validate(make_client: MakeClient) -> None:
    client = await make_client()
    request = hook_request("patient-view")
    del request["hookInstance"]
    response = await client.post("/cds-services/toxhooks-patient-view", json=request)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["hookInstance"]
