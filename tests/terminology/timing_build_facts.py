"""Timing check (not a test): `python -m tests.terminology.timing_build_facts` grades 2,000 lab values."""

from __future__ import annotations

import random
import time
from typing import Any

from terminology.facts import build_facts
from terminology.units import warm_up

from .builders import observation

PANEL = [
    ("ck", "U/L", 200, 1500),
    ("alt", "U/L", 40, 300),
    ("creatinine", "mg/dL", 1.2, 4),
    ("creatinine", "umol/L", 110, 400),
    ("hemoglobin", "g/dL", 17, 17),
    ("potassium", "mmol/L", 5.0, 7),
    ("platelets", "10*9/L", 400, 400),
    ("bilirubin", "mg/dL", 1.2, 5),
]


def main(count: int = 2000, rounds: int = 25) -> None:
    """Print the best of `rounds` CPU times of build_facts on `count` Observations."""
    rng = random.Random(7)
    resources: list[dict[str, Any]] = []
    for i in range(count):
        analyte, unit, uln, top = PANEL[i % len(PANEL)]
        when = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z"
        value = round(rng.uniform(0, top), 2)
        resources.append(observation(analyte, value, unit, id=str(i), when=when, high=uln))
    warm_up()
    build_facts(resources)
    best = min(_once(resources) for _ in range(rounds))
    print(f"build_facts on {count} Observations: {best * 1000:.1f} ms CPU (best of {rounds})")


def _once(resources: list[dict[str, Any]]) -> float:
    start = time.process_time()
    build_facts(resources)
    return time.process_time() - start


if __name__ == "__main__":
    main()
