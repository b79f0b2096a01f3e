"""Small pieces of the protocol layer: prefetch tokens, service files, body limits, the public exports."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest

from service.body import check_content_type, parse_json
from service.catalog import _parse, load_catalog
from service.errors import ConfigurationError, MalformedRequest, PayloadTooLarge, UnsupportedMediaType
from service.gathering import render_query


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Patient/{{context.patientId}}", "Patient/p1"),
        (
            "Observation?patient={{ context.patientId }}&x={{context.encounterId}}",
            "Observation?patient=p1&x=e1",
        ),
        ("Practitioner/{{userPractitionerId}}", "Practitioner/pr-7"),
        ("PractitionerRole/{{userPractitionerRoleId}}", None),  # the user is a Practitioner
        ("Condition?patient={{context.missing}}", None),
        ("Condition?patient={{context.selections}}", None),  # not a primitive
    ],
)
def test_prefetch_tokens(template: str, expected: str | None) -> None:
    context = {"patientId": "p1", "encounterId": "e1", "selections": ["a"]}
    assert render_query(template, context, "Practitioner/pr-7") == expected


def test_broken_service_file_names_the_file() -> None:
    with pytest.raises(ConfigurationError, match=r"broken\.toml"):
        _parse("broken.toml", "[service]\nid = 'x'\n")
    with pytest.raises(ConfigurationError, match="medication-administer"):
        _parse("odd.toml", "[service]\nid='x'\nhook='medication-administer'\ntitle='t'\ndescription='d'\n")
    text = "[service]\nid='x'\nhook='patient-view'\ntitle='t'\ndescription='d'\n[config]\nrequired=['labs']\n"
    with pytest.raises(ConfigurationError, match="unknown keys"):
        _parse("keys.toml", text)


_ALLOWED_TOKENS = {
    "context.patientId", "context.userId", "context.encounterId",
    "userPractitionerId", "userPractitionerRoleId", "userPatientId", "userRelatedPersonId",
}  # fmt: skip
# Spec "Prefetch query restrictions": references, token equality, dates with eq/lt/gt/ge/le, _count,
# _sort. `_include` is outside that subset: clients may ignore it, the service then reads the
# Medications itself (tests/service/test_prefetch_completion.py).
_SEARCH_PARAMS = {"patient", "subject", "category", "code", "date", "_count", "_sort", "_include"}


def test_discovery_entries_and_prefetch_templates_conform() -> None:
    discovery = load_catalog().discovery(
        lab_codes=["http://loinc.org|2157-6"],
        now=datetime(2026, 3, 14, tzinfo=UTC),
        window_days=365,
        knowledge_version="1",
    )
    for entry in discovery["services"]:
        assert {"hook", "id", "description"} <= set(entry)
        assert all(value not in (None, "", [], {}) for value in entry.values()), entry
        for query in entry["prefetch"].values():
            tokens = set(re.findall(r"\{\{\s*([^}]+?)\s*\}\}", query))
            assert tokens <= _ALLOWED_TOKENS, query
            path, _, search = query.partition("?")
            assert re.fullmatch(r"[A-Z][A-Za-z]+(/\{\{context\.patientId\}\})?", path), query
            for name, value in parse_qsl(search, keep_blank_values=True):
                assert name in _SEARCH_PARAMS and value, (query, name)  # no modifiers, no empty values
                if name == "date":
                    assert re.fullmatch(r"(eq|lt|gt|ge|le)\d{4}-\d{2}-\d{2}", value), query


def test_packaged_services_cover_each_hook_once() -> None:
    hooks = [s.hook for s in load_catalog().services]
    assert sorted(hooks) == ["order-select", "order-sign", "patient-view"]


@pytest.mark.parametrize(
    "media", ["application/json", "application/json; charset=utf-8", "application/fhir+json"]
)
def test_json_media_types_are_accepted(media: str) -> None:
    check_content_type(media)


@pytest.mark.parametrize(
    "media", [None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_other_media_types_are_415(media: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        check_content_type(media)


def test_limits_at_the_boundary() -> None:
    nested = b"[" * 5 + b"]" * 5
    assert parse_json(nested, max_bytes=100, max_depth=5, max_resources=1) == [[[[[]]]]]
    with pytest.raises(MalformedRequest):
        parse_json(nested, max_bytes=100, max_depth=4, max_resources=1)
    two = b'[{"resourceType": "A"}, {"resourceType": "B"}]'
    assert len(parse_json(two, max_bytes=100, max_depth=5, max_resources=2)) == 2
    with pytest.raises(PayloadTooLarge):
        parse_json(two, max_bytes=100, max_depth=5, max_resources=1)
    with pytest.raises(PayloadTooLarge):
        parse_json(two, max_bytes=len(two) - 1, max_depth=5, max_resources=5)
