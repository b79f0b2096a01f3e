"""The OpenAPI document: CDS Hooks bodies generated from the models, OperationOutcome errors, no 422."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from service.feedback_entries import FeedbackRequest
from service.hook import HookResponse
from service.protocol import HookRequest

__all__ = ["install_openapi"]

# Bodies are read and validated by the service itself (service/protocol.py,
# service/feedback_entries.py) so that errors are 400 OperationOutcomes naming the field; the
# schemas here are generated from those same models and only describe them.


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with its `$defs` inlined, so it stands alone inside the document."""
    schema = model.model_json_schema(mode="validation")
    definitions = schema.pop("$defs", {})

    def inline(value: Any) -> Any:
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(item) for key, item in value.items()}
        if isinstance(value, list):
            return [inline(item) for item in value]
        return value

    inlined: dict[str, Any] = inline(schema)
    return inlined


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
        _describe(hook, _schema(HookRequest), errors)
        hook["responses"]["200"]["content"] = {"application/json": {"schema": _schema(HookResponse)}}
    feedback = paths.get("/cds-services/{service_id}/feedback", {}).get("post")
    if feedback is not None:
        _describe(feedback, _schema(FeedbackRequest), _ERRORS)
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
