"""Schemathesis against the service's OpenAPI document, every endpoint in-process: never a 5xx."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from service.app import create_app
from service.settings import Settings

EXAMPLES_PER_OPERATION = 120  # operations without inputs need only one

# Where the service's document leaves a JSON body undescribed, describe the CDS Hooks shapes
# loosely so the fuzzer still sends bodies (and plenty of wrong ones) to those operations.
_HOOK_BODY = {
    "type": "object",
    "properties": {
        "hook": {"anyOf": [{"enum": ["order-select", "order-sign", "patient-view"]}, {"type": "string"}]},
        "hookInstance": {"type": "string"},
        "fhirServer": {"type": "string"},
        "context": {"type": "object"},
        "prefetch": {"type": "object"},
    },
}
_FEEDBACK_BODY = {
    "type": "object",
    "properties": {
        "feedback": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "card": {"type": "string", "format": "uuid"},
                    "outcome": {"type": "string", "enum": ["accepted", "overridden"]},
                    "acceptedSuggestions": {"type": "array", "items": {"type": "object"}},
                    "overrideReason": {"type": "object"},
                    "outcomeTimestamp": {"type": "string", "format": "date-time"},
                },
            },
        }
    },
}


def with_bodies(document: dict[str, Any], service_ids: list[str]) -> dict[str, Any]:
    """The document, with a JSON body on POST operations that declare none and real service ids."""
    document = copy.deepcopy(document)
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "service_id":
                    # Real ids, so calls get past routing to the body checks, and one unknown id.
                    parameter["schema"] = {"type": "string", "enum": [*service_ids, "no-such-service"]}
        post = operations.get("post")
        if post is not None and "requestBody" not in post:
            body = _FEEDBACK_BODY if path.endswith("/feedback") else _HOOK_BODY
            post["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return document


@pytest.fixture
def api(tmp_path: Path) -> Any:
    app = create_app(
        Settings(dev=True, database_url=f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}", log_level="ERROR")
    )
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    service_ids = [service.id for service in app.state.toxhooks.catalog.services]
    schema = schemathesis.openapi.from_dict(with_bodies(loaded.raw_schema, service_ids))
    schema.app = app
    schema.location = "/openapi.json"
    return schema


CORE_OPERATIONS = {
    ("GET", "/cds-services"),
    ("POST", "/cds-services/{service_id}"),
    ("POST", "/cds-services/{service_id}/feedback"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}


def test_the_document_lists_every_cds_hooks_endpoint(api: Any) -> None:
    documented = {(op.ok().method.upper(), op.ok().path) for op in api.get_all_operations()}
    assert documented >= CORE_OPERATIONS


@pytest.mark.slow
def test_no_call_makes_the_service_fail(api: Any) -> None:
    """Every operation the document lists (new ones included), each with its own generated calls."""
    fuzzed = set()
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: Any) -> None:
            response = case.call()
            assert response.status_code < 500, (case.formatted_path, response.status_code, response.text)

        call()
        fuzzed.add((operation.method.upper(), operation.path))
    assert fuzzed >= CORE_OPERATIONS
