"""The bytes proof of the body limits agrees with the walk over the parsed value."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.body import _check_shape, _provably_within, parse_json
from service.errors import MalformedRequest, PayloadTooLarge

# Strings full of what could confuse a scan of the text: brackets, quotes, backslashes, escapes.
_TRICKY = st.text(alphabet=st.sampled_from('ab[]{},:"\\/\n\t é\u2028'), max_size=8)
_KEYS = st.one_of(_TRICKY, st.just("resourceType"))
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), _TRICKY)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=40,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _resources(value: Any) -> int:
    if isinstance(value, dict):
        return ("resourceType" in value) + sum(_resources(v) for v in value.values())
    if isinstance(value, list):
        return sum(_resources(v) for v in value)
    return 0


def _walk_accepts(value: Any, max_depth: int, max_resources: int) -> bool:
    try:
        _check_shape(value, max_depth=max_depth, max_resources=max_resources)
    except (MalformedRequest, PayloadTooLarge):
        return False
    return True


def _texts(value: Any) -> list[bytes]:
    """The same document as compact UTF-8, pretty-printed, and ASCII with \\u escapes."""
    return [
        orjson.dumps(value),
        orjson.dumps(value, option=orjson.OPT_INDENT_2),
        json.dumps(value, ensure_ascii=True).encode(),
    ]


@settings(max_examples=400, deadline=None)
@given(doc=_DOCS, max_depth=st.integers(1, 6), max_resources=st.integers(0, 3))
def test_the_proof_never_accepts_what_the_walk_refuses(doc: Any, max_depth: int, max_resources: int) -> None:
    walk = _walk_accepts(doc, max_depth, max_resources)
    for text in _texts(doc):
        if _provably_within(text, max_depth=max_depth, max_resources=max_resources):
            assert walk, text


@settings(max_examples=300, deadline=None)
@given(doc=_DOCS)
def test_the_proof_measures_depth_exactly(doc: Any) -> None:
    """Without \\u escapes and resource bound, the proof holds exactly at the document's depth."""
    depth = _depth(doc)
    text = orjson.dumps(doc)
    if b"\\u" in text:
        return
    generous = _resources(doc) + text.count(b'"resourceType"')
    assert _provably_within(text, max_depth=max(depth, 1), max_resources=generous)
    if depth > 1:
        assert not _provably_within(text, max_depth=depth - 1, max_resources=generous)


def test_brackets_and_quotes_inside_strings_do_not_count() -> None:
    text = b'{"a": "[[[[{{", "b": ["\\"]]]", "\\\\"], "c": "x:\\"y\\",z"}'
    assert _provably_within(text, max_depth=2, max_resources=0)
    assert not _provably_within(text, max_depth=1, max_resources=0)


def test_resource_count_is_an_upper_bound() -> None:
    spelt_as_value = b'[{"resourceType": "A"}, {"code": "resourceType"}]'
    assert not _provably_within(spelt_as_value, max_depth=5, max_resources=1)  # unsure: the walk decides
    assert parse_json(spelt_as_value, max_bytes=1000, max_depth=5, max_resources=1)
    escaped_key = b'[{"resource\\u0054ype": "A"}, {"resourceType": "B"}]'
    assert not _provably_within(escaped_key, max_depth=5, max_resources=2)
    with pytest.raises(PayloadTooLarge):
        parse_json(escaped_key, max_bytes=1000, max_depth=5, max_resources=1)


def test_parse_json_errors_are_the_walks() -> None:
    deep = b'{"a": [{"b": "[]"}]}'
    assert parse_json(deep, max_bytes=100, max_depth=3, max_resources=0) == {"a": [{"b": "[]"}]}
    with pytest.raises(MalformedRequest, match="nested deeper than 2 levels"):
        parse_json(deep, max_bytes=100, max_depth=2, max_resources=0)
