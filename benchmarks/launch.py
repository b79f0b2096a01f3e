"""Start the floor app or the toxhooks app under uvicorn with one shared set of server options."""

from __future__ import annotations

import argparse
import cProfile
import importlib
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

__all__ = ["SERVER_OPTIONS", "main"]

# What `toxhooks serve` passes to uvicorn.run (one worker; loop and http "auto" pick uvloop and
# httptools when installed; logging left to the app): the floor runs under the very same options.
SERVER_OPTIONS: dict[str, Any] = {"log_config": None}
_OFF_ENV = "BENCHMARK_LAYERS_OFF"


def _service_app() -> Any:
    """The toxhooks app from its factory with development settings (no JWT), layers switched off per
    BENCHMARK_LAYERS_OFF (comma-separated names of benchmarks.layers.LAYERS; measurement only)."""
    # Imported here, by name: the floor process must not load the service at all.
    layers = importlib.import_module("benchmarks.layers")
    off = [name for name in os.environ.get(_OFF_ENV, "").split(",") if name]
    app = layers.build_app(off)
    _process_switches(off)
    return app


def _process_switches(off: list[str]) -> None:
    """Process-wide switches (metrics, body limits, gc) stay applied for the server's life."""
    if off:
        layers = importlib.import_module("benchmarks.layers")
        layers.switched_off(off).__enter__()


def _floor_app() -> Any:
    """The floor app (a factory for uvicorn's workers)."""
    from benchmarks.floor import create_floor_app

    return create_floor_app()


def _exit_on_signal(signum: int, _frame: object) -> None:
    """Raise SystemExit for a signal (lets `finally` blocks run)."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m benchmarks.launch {floor,service} --port P`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.launch")
    parser.add_argument("app", choices=["floor", "service"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the server here")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument(
        "--off", default="", help="service layers switched off, comma-separated (see benchmarks.layers)"
    )
    args = parser.parse_args(argv)
    if args.off:
        os.environ[_OFF_ENV] = args.off  # read by every worker's factory too
    if args.workers > 1:
        # Workers import the factory by name; each builds its own app (as `toxhooks serve` does).
        factory = "benchmarks.launch:_floor_app" if args.app == "floor" else "benchmarks.launch:_service_app"
        uvicorn.run(
            factory, factory=True, host=args.host, port=args.port, workers=args.workers, **SERVER_OPTIONS
        )
        return
    app = _floor_app() if args.app == "floor" else _service_app()
    if args.profile is None:
        uvicorn.run(app, host=args.host, port=args.port, **SERVER_OPTIONS)
        return
    # The server's own CPU profile under load (the in-process profile misses the web stack).
    # uvicorn re-raises the SIGTERM it caught once it has shut down: turn it into SystemExit so
    # the profile is written instead of the process dying.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        uvicorn.run(app, host=args.host, port=args.port, **SERVER_OPTIONS)
    finally:
        profiler.disable()
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
