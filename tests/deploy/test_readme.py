"""deploy/README.md stays true: the metric families it documents are the ones the service exports."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import REGISTRY

import service.observability.metrics  # noqa: F401  (registers the families)

README = Path(__file__).resolve().parents[2] / "deploy" / "README.md"


def exported_families() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("toxhooks_"):
            names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def test_documented_metrics_are_exported_and_complete() -> None:
    text = README.read_text()
    table = set(re.findall(r"^\| `(toxhooks_[a-z_]+)` \|", text, re.MULTILINE))
    exported = exported_families()
    assert table == exported
    mentioned = set(re.findall(r"toxhooks_[a-z_]+", text))
    suffixes = ("_bucket", "_count", "_sum")
    assert {name.removesuffix(s) for name in mentioned for s in suffixes if name.endswith(s)} <= exported
    assert {name for name in mentioned if not name.endswith(suffixes)} <= exported
