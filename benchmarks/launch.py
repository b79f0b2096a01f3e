"""Start the floor app or the toxhooks app under uvicorn with one shared set of server options."""

from __future__ import annotations

import argparse
import cProfile
import importlib
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

__all__ = ["SERVER_OPTIONS", "main"]

# What `toxhooks serve` passes to uvicorn.run (one worker; loop and http "auto" pick uvloop and
# httptools when installed; logging left to the app): the floor runs under the very same options.
SERVER_OPTIONS: dict[str, Any] = {"log_config": None}


def _service_app() -> Any:
    """The toxhooks app from its factory with development settings (no JWT)."""
    # Imported here, by name: the floor process must not load the service at all.
    create_app = importlib.import_module("service.app").create_app
    settings = importlib.import_module("service.settings").Settings(dev=True)
    return create_app(settings)


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
    args = parser.parse_args(argv)
    if args.app == "floor":
        from benchmarks.floor import create_floor_app

        app = create_floor_app()
    else:
        app = _service_app()
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
