"""Load and validate knowledge files into a KnowledgeBase, once, at start-up."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from cards.conditions import Condition, ConditionError, analytes_of, compile_condition
from cards.errors import KnowledgeError
from cards.monitoring import lab_analytes
from cards.schema import Identity, KnowledgeFile, RuleSpec
from terminology.model import DrugIdentity

__all__ = ["BUILTIN_DIR", "CompiledRule", "DrugKnowledge", "KnowledgeBase", "load_file", "load_knowledge"]

BUILTIN_DIR = Path(__file__).parent / "knowledge"


@dataclass(frozen=True)
class CompiledRule:
    """A rule with its condition compiled (done once at load, not per call)."""

    spec: RuleSpec
    condition: Condition
    recovery: Condition | None = None  # when an episode the rule opened is over (rule.recovery)


@dataclass(frozen=True)
class DrugKnowledge:
    """One validated knowledge file."""

    spec: KnowledgeFile
    rules: tuple[CompiledRule, ...]
    path: Path
    # Knowledge of the co-medications this file offers as alternatives (drug id -> file), linked at
    # load time so a switch order can carry the alternative's own label starting regimen.
    alternatives: Mapping[str, KnowledgeFile] = field(default_factory=dict, hash=False, compare=False)

    @property
    def drug(self) -> str:
        """Knowledge id of the drug or regimen."""
        return self.spec.drug


def _identity(drug: str, ident: Identity, role: Literal["therapy", "co-medication"]) -> DrugIdentity:
    """What terminology needs to recognise a drug; unverified RxNorm codes are not matched on."""
    return DrugIdentity(
        drug=drug,
        names=ident.names,
        rxnorm=ident.rxnorm if ident.verified else (),
        ndc=ident.ndc,
        local_codes=ident.local_codes,
        classes=ident.classes,
        role=role,
    )


@dataclass(frozen=True)
class KnowledgeBase:
    """All drug knowledge, validated. The service relies on `version`, `drug_identities`, `analytes`."""

    version: str = "0"
    drugs: Mapping[str, DrugKnowledge] = field(default_factory=dict)
    class_map: Mapping[str, frozenset[str]] = field(default_factory=dict)  # drug id -> classes + id

    def drug_identities(self) -> tuple[DrugIdentity, ...]:
        """How terminology recognises every drug the knowledge names (incl. co-medications)."""
        return self._drug_identities

    @cached_property
    def _drug_identities(self) -> tuple[DrugIdentity, ...]:
        # Knowledge is immutable once loaded: built once, not on every hook call (twice per call).
        seen = {
            item.drug: _identity(item.drug, item.spec.identity, "therapy") for item in self.drugs.values()
        }
        for item in self.drugs.values():
            for co in item.spec.co_medications:
                seen.setdefault(co.drug, _identity(co.drug, co, "co-medication"))
        return tuple(seen[k] for k in sorted(seen))

    def analytes(self) -> frozenset[str]:
        """Lab analytes any rule reads (to build prefetch queries)."""
        return self._analytes

    @cached_property
    def _analytes(self) -> frozenset[str]:
        # Knowledge is immutable once loaded: walk the rules once, not on every hook call.
        found: set[str] = set()
        for item in self.drugs.values():
            for rule in item.spec.rules:
                found |= analytes_of(rule.when) | analytes_of(rule.recovery or {})
            found |= lab_analytes(item.spec)  # monitoring reads its labs too
        return frozenset(found)

    def classes(self) -> dict[str, frozenset[str]]:
        """Drug id -> its classes plus the id itself (for co-medication conditions)."""
        return {i.drug: frozenset((i.drug, *i.classes)) for i in self.drug_identities()}


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def load_file(path: Path) -> DrugKnowledge:
    """Read, validate and compile one knowledge file; KnowledgeError names the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"{path}: not valid TOML ({exc})") from None
    try:
        spec = KnowledgeFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise KnowledgeError(f"{path}: {_where(first['loc'])}: {first['msg']}{more}") from None
    rules = []
    for index, rule in enumerate(spec.rules):
        try:
            recovery = compile_condition(rule.recovery, f"rules.{index}.recovery") if rule.recovery else None
            rules.append(CompiledRule(rule, compile_condition(rule.when, f"rules.{index}.when"), recovery))
        except ConditionError as exc:
            raise KnowledgeError(f"{path}: {exc} (rule {rule.id})") from None
    return DrugKnowledge(spec=spec, rules=tuple(rules), path=path)


def _link_alternatives(item: DrugKnowledge, drugs: Mapping[str, DrugKnowledge]) -> DrugKnowledge:
    """Attach the loaded knowledge of each co-medication that has its own file (site files included)."""
    linked = {c.drug: drugs[c.drug].spec for c in item.spec.co_medications if c.drug in drugs}
    return dataclasses.replace(item, alternatives=linked) if linked else item


def load_knowledge(extra_dir: Path | None = None) -> KnowledgeBase:
    """Built-in knowledge plus a site directory whose files add drugs or replace them by drug id."""
    drugs: dict[str, DrugKnowledge] = {}
    for path in sorted(BUILTIN_DIR.glob("*.toml")):
        item = load_file(path)
        drugs[item.drug] = item
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise KnowledgeError(f"{extra_dir}: knowledge directory does not exist")
        for path in sorted(extra_dir.glob("*.toml")):
            item = load_file(path)
            drugs[item.drug] = item
    drugs = {drug: _link_alternatives(item, drugs) for drug, item in drugs.items()}
    version = "; ".join(f"{d} {drugs[d].spec.version}" for d in sorted(drugs)) or "0"
    base = KnowledgeBase(version=version, drugs=drugs)
    return KnowledgeBase(version=version, drugs=drugs, class_map=base.classes())
