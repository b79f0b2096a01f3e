"""FHIR R4B models at the service's edges: draftOrders checked on the way in, action resources on the way out.

Only these few resources go through `fhir.resources`: full model validation costs far more per
resource than the dict reading terminology does, and a patient's labs are hundreds of resources
(docs/architecture.md, "Labs stay dicts").
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from service.errors import field_path

__all__ = ["invalid_field"]


@cache
def _model(resource_type: str) -> type[BaseModel] | None:
    """The R4B model class of a resource type; None for a name R4B does not define."""
    if not resource_type.isascii() or not resource_type.isalpha():
        return None
    try:
        module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    except ImportError:
        return None
    model = getattr(module, resource_type, None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def invalid_field(resource: Mapping[str, Any]) -> tuple[str, str] | None:
    """The path and message of the first element R4B finds invalid in `resource`; None when it is valid."""
    kind = resource.get("resourceType")
    model = _model(kind) if isinstance(kind, str) else None
    if model is None:
        return "resourceType", "is not an R4B resource type"
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        return field_path(first["loc"]), str(first["msg"])
    return None
