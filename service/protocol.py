"""The CDS Hooks request envelope (spec: "HTTP Request"), 2.0 and the 1.0 shapes, into a HookCall."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cards.model import ORDER_HOOKS
from service.catalog import ServiceDefinition
from service.errors import MalformedRequest, field_path
from service.fhir_models import invalid_field

__all__ = ["HookCall", "HookRequest", "parse_call"]


class _FhirAuthorization(BaseModel):
    """fhirAuthorization: an OAuth 2.0 bearer token for fhirServer (never logged, never stored)."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    # Spec: all REQUIRED but `patient` (CONDITIONAL: present when the scopes are patient-level).
    access_token: str = Field(min_length=1)
    token_type: str
    expires_in: int
    scope: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    patient: str | None = None

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        # The token is sent as "Authorization: Bearer ..."; any other type would be misused.
        if value.lower() != "bearer":
            raise ValueError("must be 'Bearer'")
        return value


class HookRequest(BaseModel):
    """The top level of a hook request; unknown fields are tolerated (spec: extensions)."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    hook: str = Field(description="order-select, order-sign, patient-view (or pre-1.0 medication-prescribe).")
    hookInstance: str = Field(json_schema_extra={"format": "uuid"})
    # No "format": "uri": generated test bodies would then name reachable hosts; the scheme is checked.
    fhirServer: str | None = Field(
        default=None, description="Absolute base URL; required with fhirAuthorization."
    )
    fhirAuthorization: _FhirAuthorization | None = None
    context: dict[str, Any] = Field(
        description="userId, patientId, encounterId; order-select adds draftOrders (a FHIR R4 Bundle) and "
        "selections, order-sign draftOrders."
    )
    prefetch: dict[str, Any] | None = Field(
        default=None, description="Prefetch key -> FHIR resource or searchset Bundle; null means no data."
    )
    user: str | None = None  # 1.0 and earlier: the user at the top level
    patient: str | None = None  # pre-1.0: the patient at the top level

    @field_validator("hookInstance")
    @classmethod
    def _uuid(cls, value: str) -> str:
        uuid.UUID(value)
        return value

    @field_validator("fhirServer")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/") if value else value


@dataclass(frozen=True)
class HookCall:
    """A validated hook call: who, which patient, the orders and the prefetch as received."""

    service: ServiceDefinition
    hook_instance: str
    patient_id: str
    user_id: str | None
    encounter_id: str | None
    fhir_server: str | None
    access_token: str | None = field(repr=False)
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any]  # keys the client sent, values as received (None kept)
    draft_resources: tuple[Mapping[str, Any], ...] = ()  # every resource in draftOrders
    draft_full_urls: Mapping[str, Mapping[str, Any]] = field(
        default_factory=dict
    )  # entry.fullUrl -> resource
    selections: tuple[str, ...] = ()

    @property
    def hook(self) -> str:
        """The service's hook (a legacy alias such as medication-prescribe is normalised)."""
        return self.service.hook


def _field_of(error: ValidationError) -> tuple[str, str]:
    """The dotted path and message of the first validation error."""
    first = error.errors(include_input=False)[0]
    return field_path(first["loc"]), str(first["msg"])


def _str_field(context: Mapping[str, Any], name: str, *, required: bool, fallback: Any = None) -> str | None:
    value = context.get(name, fallback)
    if value is None:
        if required:
            raise MalformedRequest(f"context.{name} is required for this hook", field=f"context.{name}")
        return None
    if not isinstance(value, str) or not value:
        raise MalformedRequest(f"context.{name} must be a non-empty string", field=f"context.{name}")
    return value


def _draft_resources(
    value: Any, key: str
) -> tuple[tuple[Mapping[str, Any], ...], dict[str, Mapping[str, Any]]]:
    """draftOrders as a Bundle (2.0) or a bare array of resources (1.0 `medications`, `orders`).

    Each resource is validated strictly as FHIR R4B: a 400 names the first invalid element.
    """
    where = f"context.{key}[{{index}}]"
    if isinstance(value, list):
        entries: list[Any] = [{"resource": item} for item in value]
    elif isinstance(value, dict) and value.get("resourceType") == "Bundle":
        raw_entries = value.get("entry", [])
        if not isinstance(raw_entries, list):
            raise MalformedRequest(
                "context.draftOrders.entry must be an array", field="context.draftOrders.entry"
            )
        entries = raw_entries
        where = f"context.{key}.entry[{{index}}].resource"
    else:
        raise MalformedRequest("context.draftOrders must be a FHIR Bundle", field="context.draftOrders")
    out: list[Mapping[str, Any]] = []
    full_urls: dict[str, Mapping[str, Any]] = {}
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise MalformedRequest(
                "each draft order entry needs a resource with a resourceType",
                field=f"context.draftOrders.entry[{index}].resource",
            )
        problem = invalid_field(resource)
        if problem is not None:
            path = where.format(index=index) + "." + problem[0]
            raise MalformedRequest(f"{path}: {problem[1]} (draft orders must be valid FHIR R4B)", field=path)
        out.append(resource)
        if isinstance(entry.get("fullUrl"), str):
            full_urls[entry["fullUrl"]] = resource  # urn:uuid: references in transaction-style bundles
    return tuple(out), full_urls


def _selections(
    value: Any, drafts: tuple[Mapping[str, Any], ...], full_urls: Mapping[str, Mapping[str, Any]]
) -> tuple[str, ...]:
    """context.selections as "Type/id" references into draftOrders (a fullUrl is read as its entry)."""
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise MalformedRequest(
            "context.selections must be an array of references", field="context.selections"
        )
    known = {f"{r.get('resourceType')}/{r.get('id')}" for r in drafts}
    out: list[str] = []
    for index, reference in enumerate(value):
        if reference not in known and reference in full_urls:
            target = full_urls[reference]  # e.g. urn:uuid:... of a transaction-style draft bundle
            reference = f"{target.get('resourceType')}/{target.get('id')}"
        if reference not in known:
            raise MalformedRequest(
                f"selection {reference!r} is not in context.draftOrders", field=f"context.selections[{index}]"
            )
        out.append(reference)
    return tuple(out)


def parse_call(body: Any, service: ServiceDefinition) -> HookCall:
    """Validate a hook request against the service (hook, hookInstance, context per hook)."""
    if not isinstance(body, dict):
        raise MalformedRequest("the body must be a JSON object", field="body")
    try:
        envelope = HookRequest.model_validate(body)
    except ValidationError as exc:
        path, message = _field_of(exc)
        raise MalformedRequest(f"{path}: {message}", field=path) from None
    if envelope.hook not in service.accepts_hooks:
        raise MalformedRequest(
            f"hook {envelope.hook!r} does not match service {service.id!r} ({service.hook})", field="hook"
        )
    if envelope.fhirAuthorization is not None and envelope.fhirServer is None:
        raise MalformedRequest("fhirServer is required with fhirAuthorization", field="fhirServer")
    context = envelope.context
    patient_id = _str_field(context, "patientId", required=True, fallback=envelope.patient)
    token_patient = envelope.fhirAuthorization.patient if envelope.fhirAuthorization else None
    if token_patient is not None and token_patient.removeprefix("Patient/") != patient_id:
        # A token restricted to another patient would fetch (or be denied) someone else's data.
        raise MalformedRequest(
            "fhirAuthorization.patient is not the patient in context.patientId",
            field="fhirAuthorization.patient",
        )
    user_id = _str_field(context, "userId", required=True, fallback=envelope.user)
    encounter_id = _str_field(context, "encounterId", required=False)
    drafts: tuple[Mapping[str, Any], ...] = ()
    full_urls: dict[str, Mapping[str, Any]] = {}
    selections: tuple[str, ...] = ()
    if service.hook in ORDER_HOOKS:
        key = next((k for k in ("draftOrders", "medications", "orders") if k in context), "draftOrders")
        raw = context.get(key)
        if raw is None:
            raise MalformedRequest(
                "context.draftOrders is required for this hook", field="context.draftOrders"
            )
        drafts, full_urls = _draft_resources(raw, key)
    if service.hook == "order-select":
        selections = _selections(context.get("selections"), drafts, full_urls)
    auth = envelope.fhirAuthorization
    return HookCall(
        service=service,
        hook_instance=envelope.hookInstance,
        patient_id=patient_id or "",
        user_id=user_id,
        encounter_id=encounter_id,
        fhir_server=envelope.fhirServer,
        access_token=auth.access_token if auth else None,
        context=context,
        prefetch=dict(envelope.prefetch or {}),
        draft_resources=drafts,
        draft_full_urls=full_urls,
        selections=selections,
    )
