"""Term families and removed terms: the CTCAE terms a rule's `event` names stand for in a version."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources

from terminology.ctcae import get_table, map_v5_to_v6
from terminology.errors import TerminologyError

__all__ = ["FAMILY_PREFIX", "expand_terms", "families", "unknown_families"]

FAMILY_PREFIX = "family:"
_BUCKET = "Other, specify"


@cache
def families() -> Mapping[str, tuple[str, ...]]:
    """Family id -> member CTCAE v5.0 terms, from the packaged term_families.toml."""
    try:
        raw = resources.files("terminology.data").joinpath("term_families.toml").read_text("utf-8")
        data = tomllib.loads(raw)
        return {name: tuple(str(t) for t in row["terms"]) for name, row in data["families"].items()}
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise TerminologyError("packaged term families are missing or malformed") from exc


def unknown_families(names: Iterable[str]) -> list[str]:
    """The `family:<id>` names that no family defines."""
    return [n for n in names if n.startswith(FAMILY_PREFIX) and n[len(FAMILY_PREFIX) :] not in families()]


@cache
def _expand_one(name: str, version: str) -> frozenset[str]:
    members = families().get(name[len(FAMILY_PREFIX) :], ()) if name.startswith(FAMILY_PREFIX) else (name,)
    found: set[str] = set()
    table = get_table(version)
    for member in members:
        found.add(member)
        if version == "5.0" or table.lookup(member) is not None:
            continue
        # Removed in this version: its NCI mapping, unless that is a catch-all "Other, specify"
        # term (recorded events then keep the v5.0 name, see terminology.recorded).
        found.update(t for t in map_v5_to_v6(member) if not t.endswith(_BUCKET))
    return frozenset(found)


def expand_terms(names: Iterable[str], version: str) -> frozenset[str]:
    """CTCAE term names of `version` for rule terms and families (removed v5.0 terms via the mapping)."""
    found: set[str] = set()
    for name in names:
        found |= _expand_one(name, version)
    return frozenset(found)
