"""Where start-up goes, measured in a fresh interpreter: imports, knowledge, CTCAE table, app factory."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from typing import Any

__all__ = ["measure_startup", "startup_breakdown"]


def startup_breakdown() -> dict[str, Any]:
    """Seconds per start-up step in this (fresh) process; a step that fails is named, not fatal."""
    steps: dict[str, Any] = {}
    began = time.perf_counter()

    def step(name: str, fn: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        except Exception as exc:  # a part not written yet must not stop the benchmark
            steps[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
            return None
        finally:
            steps[f"{name}_s"] = time.perf_counter() - start

    app_module = step("import_service_app", lambda: importlib.import_module("service.app"))
    loader = step("import_knowledge_loader", lambda: importlib.import_module("cards.loader"))
    step("load_knowledge", lambda: loader.load_knowledge() if loader else None)
    ctcae = step("import_ctcae", lambda: importlib.import_module("terminology.ctcae"))
    step("load_ctcae_table", lambda: ctcae.get_table("5.0") if ctcae else None)
    settings_module = importlib.import_module("service.settings")
    step(
        "create_app",
        lambda: app_module.create_app(settings_module.Settings(dev=True)) if app_module else None,
    )
    steps["total_s"] = time.perf_counter() - began
    return steps


def measure_startup(env: dict[str, str]) -> dict[str, Any]:
    """startup_breakdown in a child interpreter (imports are only cold in a new process)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.startup"], capture_output=True, check=True, timeout=120, env=env
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(startup_breakdown()))
