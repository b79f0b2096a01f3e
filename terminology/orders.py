"""Read a MedicationRequest into a MedicationOrder (STUB: recognises nothing yet)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from terminology.model import Dose, DrugIdentity, MedicationOrder

__all__ = ["read_order"]


def read_order(
    resource: Mapping[str, Any],
    *,
    drugs: Sequence[DrugIdentity] = (),
    medications: Mapping[str, Mapping[str, Any]] | None = None,
    is_draft: bool = False,
) -> MedicationOrder:
    """Recognise the drug (codes, then names) and read the structured dose of one MedicationRequest."""
    rid = resource.get("id")
    return MedicationOrder(
        reference=f"MedicationRequest/{rid}",
        resource=resource,
        status=resource.get("status"),
        intent=resource.get("intent"),
        drug=None,
        medication_text=None,
        dose=Dose(understood=False, problem="not read yet"),
        is_draft=is_draft,
    )
