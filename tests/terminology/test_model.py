"""The model classes with a hand-written __init__ behave as the dataclasses they declare."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime

import pytest

from terminology.model import EventSource, Evidence, GradedEvent, LabResult

CLASSES = [Evidence, GradedEvent, LabResult]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_init_takes_the_fields_in_order_with_their_defaults(cls: type) -> None:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    declared = [(f.name, f.default) for f in dataclasses.fields(cls)]
    assert [(p.name, p.default) for p in parameters] == [
        (name, inspect.Parameter.empty if default is dataclasses.MISSING else default)
        for name, default in declared
    ]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_field_is_set_positionally_and_by_name(cls: type) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    values = [object() for _ in names]  # distinct markers: a swapped setter would show
    for built in (cls(*values), cls(**dict(zip(names, values, strict=True)))):
        assert [getattr(built, name) for name in names] == values


def test_frozen_replace_equality_and_hash_are_the_dataclass_ones() -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    lab = LabResult("ck", "Observation/1", when, 250.0, "U/L", "250 U/L", uln=190.0)
    assert lab == LabResult("ck", "Observation/1", when, 250.0, "U/L", "250 U/L", 190.0)
    assert hash(lab) == hash(LabResult("ck", "Observation/1", when, 250.0, "U/L", "250 U/L", 190.0))
    assert dataclasses.replace(lab, baseline=100.0).baseline == 100.0
    assert "uln=190.0" in repr(lab)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lab.value = 1.0  # type: ignore[misc]
    event = GradedEvent("CPK increased", "1", 1, "5.0", when, EventSource.LAB, Evidence("Observation/1"))
    assert dataclasses.replace(event, grade=0).evidence is event.evidence
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.evidence.note = "x"  # type: ignore[misc]
