"""Small pieces of the protocol layer: prefetch tokens, service files, body limits, the public exports."""

from __future__ import annotations

import importlib

import pytest

from service.body import check_content_type, parse_json
from service.catalog import _parse, load_catalog
from service.errors import ConfigurationError, MalformedRequest, PayloadTooLarge, UnsupportedMediaType
from service.prefetch import render_query


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


@pytest.mark.parametrize(
    "module",
    ["service.body", "service.catalog", "service.prefetch", "service.protocol", "service.pipeline",
     "service.offline", "service.fhir", "service.feedback", "service.dedupe", "service.error_handlers",
     "service.storage.database", "service.storage.feedback", "service.storage.recorder", "service.app"],
)  # fmt: skip
def test_public_exports_exist(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in loaded.__all__:
        assert hasattr(loaded, name), f"{module}.__all__ names missing {name}"
