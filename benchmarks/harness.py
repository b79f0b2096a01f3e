"""Shared plumbing: start floor/service/sink, find service ids, fit the prefetch, run a client phase."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from benchmarks.servers import HOST, ServerProcess, child_env, free_port, start_server

__all__ = [
    "discover",
    "fit_prefetch",
    "post_json",
    "run_phase",
    "start_floor",
    "start_service",
    "start_sink",
    "write_body",
]

# Resource type each generated prefetch value holds (Patient is a bare resource, the rest Bundles).
_TYPE_OF_KEY = {
    "patient": "Patient",
    "labs": "Observation",
    "medications": "MedicationRequest",
    "conditions": "Condition",
    "adverseEvents": "AdverseEvent",
}


def start_floor(log_dir: Path, *, workers: int = 1, name: str = "floor") -> ServerProcess:
    """The floor app under uvicorn (benchmarks.launch options)."""
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.launch", "floor", "--host", HOST, "--port", str(port)]
    argv += ["--workers", str(workers)]
    return start_server(name, argv, port=port, log_dir=log_dir)


def _service_argv(launch: str, port: int, off: Sequence[str]) -> list[str]:
    """`toxhooks serve --dev` (the product's own start-up) or the factory under benchmarks.launch."""
    if launch == "factory" or off:
        argv = [sys.executable, "-m", "benchmarks.launch", "service", "--host", HOST, "--port", str(port)]
        return [*argv, "--off", ",".join(off)] if off else argv
    script = Path(sys.executable).with_name("toxhooks")
    base = [str(script)] if script.exists() else [shutil.which("toxhooks") or "toxhooks"]
    return [*base, "serve", "--dev", "--host", HOST, "--port", str(port)]


def start_service(
    log_dir: Path,
    *,
    launch: str = "cli",
    workers: int = 1,
    off: Sequence[str] = (),
    name: str = "service",
) -> ServerProcess:
    """toxhooks on a free loopback port, development mode, a throwaway SQLite database.

    `workers` worker processes (`toxhooks serve` reads TOXHOOKS_WORKERS; the factory launch gets
    --workers); `off` switches layers off for an A/B run (factory launch, see benchmarks.layers).
    """
    port = free_port()
    env = {
        "TOXHOOKS_DEV": "true",
        "TOXHOOKS_HOST": HOST,
        "TOXHOOKS_PORT": str(port),
        "TOXHOOKS_WORKERS": str(workers),
        "TOXHOOKS_DATABASE_URL": f"sqlite+aiosqlite:///{log_dir / f'{name}.db'}",
    }
    argv = _service_argv(launch, port, off)
    if argv[0] == sys.executable:
        argv += ["--workers", str(workers)]
    return start_server(name, argv, port=port, log_dir=log_dir, env=env)


def start_sink(log_dir: Path) -> ServerProcess:
    """The bare asyncio sink, for the client's ceiling."""
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.sink", "--host", HOST, "--port", str(port)]
    return start_server("sink", argv, port=port, log_dir=log_dir, ready_path="/")


def _get_json(port: int, path: str) -> Any:
    """GET a JSON document from a loopback server."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return json.loads(response.read() or b"null")
    finally:
        conn.close()


def post_json(port: int, path: str, body: bytes) -> tuple[int, Any]:
    """POST one request and return status and parsed JSON (for the correctness check before load)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        try:
            return response.status, orjson.loads(data)
        except orjson.JSONDecodeError:
            return response.status, data.decode(errors="replace")
    finally:
        conn.close()


def discover(port: int) -> dict[str, dict[str, Any]]:
    """Discovery entries by hook (the first service of each hook)."""
    document = _get_json(port, "/cds-services") or {}
    by_hook: dict[str, dict[str, Any]] = {}
    for entry in document.get("services", []):
        by_hook.setdefault(entry["hook"], entry)
    return by_hook


def _query_type(query: str) -> str:
    """Resource type a prefetch query asks for: 'Observation?patient=..' -> 'Observation'."""
    return query.split("?", 1)[0].split("/", 1)[0]


def fit_prefetch(body: dict[str, Any], templates: dict[str, str] | None) -> dict[str, Any]:
    """The request with its prefetch re-keyed to the service's templates, matched by resource type."""
    if not templates:
        return body
    by_type = {_TYPE_OF_KEY.get(k, k): v for k, v in body.get("prefetch", {}).items()}
    prefetch = {key: by_type[_query_type(q)] for key, q in templates.items() if _query_type(q) in by_type}
    return {**body, "prefetch": prefetch}


def write_body(directory: Path, name: str, body: dict[str, Any]) -> Path:
    """Write a request body once; the client replays the bytes."""
    path = directory / f"{name}.json"
    path.write_bytes(orjson.dumps(body))
    return path


def run_phase(spec: dict[str, Any], work_dir: Path) -> dict[str, Any]:
    """Run one load phase in a separate client process (so it does not share the GIL with anything)."""
    spec_path = work_dir / "phase.json"
    spec_path.write_text(json.dumps(spec))
    timeout = spec["duration_s"] + spec.get("warmup_s", 1.0) + 120
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.client", str(spec_path)],
        capture_output=True,
        check=True,
        timeout=timeout,
        env=child_env(),
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result
