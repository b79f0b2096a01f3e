"""The OpenAPI document: CDS Hooks request bodies and OperationOutcome errors, never FastAPI's 422."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["install_openapi"]

# Bodies are read and validated by the service itself (service/protocol.py, service/feedback.py) so
# that errors are 400 OperationOutcomes naming the field; these schemas only describe them. Unknown
# fields are tolerated (spec: extensions), hence no additionalProperties: false.
_CODING = {
    "type": "object",
    "required": ["code"],
    "properties": {"system": {"type": "string"}, "code": {"type": "string"}, "display": {"type": "string"}},
}
_HOOK_REQUEST = {
    "type": "object",
    "required": ["hook", "hookInstance", "context"],
    "properties": {
        "hook": {
            "type": "string",
            "enum": ["order-select", "order-sign", "patient-view", "medication-prescribe"],
        },
        "hookInstance": {"type": "string", "format": "uuid"},
        # No "format": "uri": generated test bodies would then name reachable hosts; the scheme is checked.
        "fhirServer": {
            "type": "string",
            "description": "Absolute base URL; required with fhirAuthorization.",
        },
        "fhirAuthorization": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "enum": ["Bearer"]},
                "expires_in": {"type": "integer"},
                "scope": {"type": "string"},
                "subject": {"type": "string"},
                "patient": {"type": "string", "description": "Must be context.patientId when present."},
            },
        },
        "context": {
            "type": "object",
            "required": ["userId", "patientId"],
            "description": "Per hook: order-select adds draftOrders, selections; order-sign draftOrders.",
            "properties": {
                "userId": {"type": "string"},
                "patientId": {"type": "string"},
                "encounterId": {"type": "string"},
                "draftOrders": {"type": "object", "description": "A FHIR R4 Bundle of the unsigned orders."},
                "selections": {"type": "array", "items": {"type": "string"}},
            },
        },
        "prefetch": {
            "type": "object",
            "description": "Prefetch key -> FHIR resource or searchset Bundle; null means no data.",
            "additionalProperties": {"type": ["object", "null"]},
        },
    },
}
_FEEDBACK_REQUEST = {
    "type": "object",
    "required": ["feedback"],
    "properties": {
        "feedback": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["card", "outcome", "outcomeTimestamp"],
                "properties": {
                    "card": {"type": "string", "format": "uuid"},
                    "outcome": {"type": "string", "enum": ["accepted", "overridden"]},
                    "acceptedSuggestions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id"],
                            "properties": {"id": {"type": "string"}},
                        },
                    },
                    "overrideReason": {
                        "type": "object",
                        "properties": {"reason": _CODING, "userComment": {"type": "string"}},
                    },
                    "outcomeTimestamp": {"type": "string", "format": "date-time"},
                },
            },
        }
    },
}
_HOOK_RESPONSE = {
    "type": "object",
    "required": ["cards"],
    "properties": {
        "cards": {"type": "array", "items": {"type": "object"}},
        "systemActions": {"type": "array", "items": {"type": "object"}},
    },
}
_OUTCOME = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {"resourceType": {"const": "OperationOutcome"}, "issue": {"type": "array"}},
}
_ERRORS = {
    "400": "Malformed request; the OperationOutcome's issue.expression names the field.",
    "401": "Missing or invalid JWT.",
    "404": "No CDS service with that id.",
    "413": "Body too large.",
    "415": "Body is not application/json.",
    "500": "Internal error (no details).",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/fhir+json": {"schema": _OUTCOME}}}


def _describe(operation: dict[str, Any], body: dict[str, Any], errors: dict[str, str]) -> None:
    operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # validation errors are 400 OperationOutcomes
    for status, description in errors.items():
        responses[status] = _error(description)


def _customise(document: dict[str, Any]) -> dict[str, Any]:
    paths = document.get("paths", {})
    hook = paths.get("/cds-services/{service_id}", {}).get("post")
    if hook is not None:
        errors = {
            **_ERRORS,
            "412": "Required data neither sent nor fetchable; expression names the keys.",
        }
        _describe(hook, _HOOK_REQUEST, errors)
        hook["responses"]["200"]["content"] = {"application/json": {"schema": _HOOK_RESPONSE}}
    feedback = paths.get("/cds-services/{service_id}/feedback", {}).get("post")
    if feedback is not None:
        _describe(feedback, _FEEDBACK_REQUEST, _ERRORS)
    for operations in paths.values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    if "components" in document and not schemas:
        del document["components"]
    return document


def install_openapi(app: FastAPI) -> None:
    """Replace app.openapi with a generator that describes the CDS Hooks bodies and errors."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            app.openapi_schema = _customise(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override hook
