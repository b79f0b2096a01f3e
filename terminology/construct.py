"""Positional constructors for frozen slotted dataclasses, for objects built once per lab value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

__all__ = ["positional_constructor"]

T = TypeVar("T")


def positional_constructor(cls: type[T]) -> Callable[..., T]:
    """A function taking every field of `cls` positionally (declaration order) and returning an instance.

    The instance is the same as `cls(*values)`: same class, fields, equality, hash and immutability.
    A frozen dataclass `__init__` sets each field through `object.__setattr__`, the slowest way to
    set an attribute; this fills the slots of a plain twin class (same slots, so the same memory
    layout) with ordinary assignments, then gives the object its real class. That is about a third
    of the cost, which matters for the LabResult, GradedEvent and Evidence built for every lab value.
    """
    slots = getattr(cls, "__slots__", None)
    if not is_dataclass(cls) or hasattr(cls, "__post_init__") or slots is None:
        raise TypeError(f"{cls.__name__} is not a slotted dataclass without __post_init__")
    names = [f.name for f in fields(cls)]
    if tuple(slots) != tuple(names) or cls.__bases__ != (object,):
        raise TypeError(f"{cls.__name__}: slots {slots!r} are not exactly its fields")
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": tuple(names)})
    probe: Any = object.__new__(twin)
    probe.__class__ = cls  # raises TypeError here, at import, if the layouts were not the same
    namespace: dict[str, Any] = {"_new": object.__new__, "_twin": twin, "_cls": cls}
    lines = [f"def make({', '.join(names)}):", "    obj = _new(_twin)"]
    lines += [f"    obj.{name} = {name}" for name in names]
    lines += ["    obj.__class__ = _cls", "    return obj"]
    exec("\n".join(lines), namespace)  # generated once per class, from its field names only
    make: Callable[..., T] = namespace["make"]
    make.__doc__ = f"A {cls.__name__} from all its fields, in declaration order."
    return make
