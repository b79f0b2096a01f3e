"""Load and validate knowledge files into a KnowledgeBase (STUB: empty knowledge)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from terminology.model import DrugIdentity

__all__ = ["KnowledgeBase", "load_knowledge"]


@dataclass(frozen=True)
class KnowledgeBase:
    """All drug knowledge, validated. The service relies on the members defined here."""

    version: str = "0"

    def drug_identities(self) -> tuple[DrugIdentity, ...]:
        """How terminology recognises every drug the knowledge names (incl. co-medications)."""
        return ()

    def analytes(self) -> frozenset[str]:
        """Lab analytes any rule reads (to build prefetch queries)."""
        return frozenset()


def load_knowledge(extra_dir: Path | None = None) -> KnowledgeBase:
    """Built-in knowledge plus a site directory that adds or overrides files."""
    return KnowledgeBase()
