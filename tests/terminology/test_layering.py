"""No terminology module reads the shared reference material at run time."""

from __future__ import annotations

from pathlib import Path

import terminology


def test_product_code_never_points_at_shared_material() -> None:
    root = Path(terminology.__file__).parent
    for path in root.rglob("*.py"):
        if path.name == "convert_ctcae.py":  # the build-time converter reads it by design
            continue
        assert "/shared" not in path.read_text(), path
