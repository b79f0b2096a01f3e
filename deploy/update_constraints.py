"""Write deploy/constraints.txt: the installed versions of toxhooks' runtime dependency closure.

Run from the repository root with the project's virtual environment:
    .venv/bin/python deploy/update_constraints.py
"""

from __future__ import annotations

import importlib.metadata as metadata
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["main", "runtime_closure"]

HEADER = (
    "# Versions the image installs (pip --constraint): toxhooks' runtime dependencies as tested.\n"
    "# Regenerate with: .venv/bin/python deploy/update_constraints.py\n"
)


PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def runtime_closure() -> dict[str, str]:
    """Installed name -> version of every distribution pyproject's dependencies need (no extras)."""
    found: dict[str, tuple[str, str]] = {}
    pending: list[tuple[str, frozenset[str]]] = []
    for text in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]:
        requirement = Requirement(text)
        pending.append((requirement.name, frozenset(requirement.extras)))
    expanded: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        key = canonicalize_name(name)
        if (key, extras) in expanded:
            continue
        expanded.add((key, extras))
        distribution = metadata.distribution(name)
        found[key] = (distribution.metadata["Name"], distribution.version)
        for text in distribution.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not any(marker.evaluate({"extra": extra}) for extra in (*extras, "")):
                continue
            pending.append((requirement.name, frozenset(requirement.extras)))
    return {name: version for name, version in sorted(found.values(), key=lambda nv: nv[0].lower())}


def main() -> None:
    """Rewrite constraints.txt next to this script."""
    lines = [f"{name}=={version}\n" for name, version in runtime_closure().items()]
    Path(__file__).with_name("constraints.txt").write_text(HEADER + "".join(lines))


if __name__ == "__main__":
    main()
