"""Public exports are what they claim, and no module reads the shared material at run time."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import terminology

MODULES = sorted(m.name for m in pkgutil.walk_packages(terminology.__path__, "terminology."))


def test_every_module_declares_existing_exports() -> None:
    for name in MODULES:
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, name
        for symbol in exported:
            assert hasattr(module, symbol), f"{name}.{symbol}"


def test_product_code_never_points_at_shared_material() -> None:
    root = Path(terminology.__file__).parent
    for path in root.rglob("*.py"):
        if path.name == "convert_ctcae.py":  # the build-time converter reads it by design
            continue
        assert "/shared" not in path.read_text(), path
