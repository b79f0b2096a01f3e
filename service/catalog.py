"""CDS services as data: one TOML file per service, public discovery entry plus private config."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cards.model import ALL_HOOKS
from service.errors import ConfigurationError, UnknownService

__all__ = ["KNOWLEDGE_VERSION_EXTENSION", "Catalog", "ServiceDefinition", "load_catalog"]

_HOOKS = frozenset(ALL_HOOKS)
# Discovery extension carrying the knowledge version. CDS Hooks extensions are keyed by namespaced
# (reverse-domain) names; the service's `version` field belongs to the specification (3.0: the
# service's own version), not to the clinical content, so the knowledge version lives here.
KNOWLEDGE_VERSION_EXTENSION = "org.toxhooks.knowledge-version"


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """One CDS service: what discovery shows and the private configuration behind it."""

    id: str
    hook: str
    title: str
    description: str
    usage_requirements: str | None
    prefetch: Mapping[str, str]  # key -> query template with ${lab_codes} and ${since}
    required: tuple[str, ...]  # prefetch keys without which the service answers 412
    accepts_hooks: tuple[str, ...]  # `hook` values accepted on calls (the hook plus legacy names)

    def prefetch_queries(self, *, lab_codes: Iterable[str], since: datetime) -> dict[str, str]:
        """The prefetch templates with the lab codes and the start of the date window filled in."""
        values = {"lab_codes": ",".join(lab_codes), "since": since.date().isoformat()}
        return {key: _fill(template, values) for key, template in self.prefetch.items()}

    def discovery_entry(
        self, *, lab_codes: Iterable[str], since: datetime, knowledge_version: str
    ) -> dict[str, Any]:
        """The public entry for GET /cds-services (spec: Discovery), knowledge version as an extension."""
        entry: dict[str, Any] = {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": self.prefetch_queries(lab_codes=lab_codes, since=since),
            "extension": {KNOWLEDGE_VERSION_EXTENSION: knowledge_version},
        }
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        return entry


def _fill(template: str, values: Mapping[str, str]) -> str:
    """Fill ${...} placeholders and drop query parameters left empty (e.g. no lab codes known)."""
    filled = Template(template).safe_substitute(values)
    path, sep, query = filled.partition("?")
    if not sep:
        return filled
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if v]
    # Prefetch tokens ({{...}}), "|" and "," must stay literal for the EHR to substitute them.
    return f"{path}?{urlencode(params, safe='{}|,:/.')}"


@dataclass(frozen=True)
class Catalog:
    """All CDS services of this deployment, by id."""

    services: tuple[ServiceDefinition, ...]

    def get(self, service_id: str) -> ServiceDefinition:
        """The service with this id, or UnknownService (404)."""
        for service in self.services:
            if service.id == service_id:
                return service
        raise UnknownService(f"no CDS service with id {service_id!r}", field="id")

    def discovery(
        self, *, lab_codes: Iterable[str], now: datetime, window_days: int, knowledge_version: str
    ) -> dict[str, Any]:
        """The discovery document: `{"services": [...]}`."""
        codes = list(lab_codes)
        since = now - timedelta(days=window_days)
        return {
            "services": [
                s.discovery_entry(lab_codes=codes, since=since, knowledge_version=knowledge_version)
                for s in self.services
            ]
        }


def _parse(name: str, text: str) -> ServiceDefinition:
    """One service file into a definition; a broken file stops start-up naming the file and field."""
    try:
        data = tomllib.loads(text)
        public, config = data["service"], data.get("config", {})
        definition = ServiceDefinition(
            id=str(public["id"]),
            hook=str(public["hook"]),
            title=str(public["title"]),
            description=str(public["description"]),
            usage_requirements=public.get("usageRequirements"),
            prefetch={str(k): str(v) for k, v in public.get("prefetch", {}).items()},
            required=tuple(config.get("required", ())),
            accepts_hooks=tuple(config.get("accepts_hooks", (public["hook"],))),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"service file {name}: invalid ({exc!r})") from exc
    if definition.hook not in _HOOKS:
        raise ConfigurationError(f"service file {name}: hook {definition.hook!r} is not supported")
    unknown = set(definition.required) - set(definition.prefetch)
    if unknown:
        raise ConfigurationError(f"service file {name}: config.required names unknown keys {sorted(unknown)}")
    return definition


def load_catalog() -> Catalog:
    """The services packaged in service/services/*.toml, sorted by id."""
    folder = resources.files("service.services")
    found = [
        _parse(item.name, item.read_text(encoding="utf-8"))
        for item in folder.iterdir()
        if item.name.endswith(".toml")
    ]
    ids = [s.id for s in found]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"duplicate CDS service ids in service files: {sorted(ids)}")
    return Catalog(services=tuple(sorted(found, key=lambda s: s.id)))
