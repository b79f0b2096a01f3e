"""Cost of each layer around the hook route: the same request with one layer switched off at a time.

Layers (names used by `python -m benchmarks layers` and `python -m benchmarks.launch --off`):

- `observability`: the whole request middleware (request id, log context, metrics, access line, span)
- `access_log`: the JSON access line only (setting `access_log`)
- `metrics`: the Prometheus observations (request counter and histogram, card counter)
- `cors`: the CORS middleware (installed in development mode and when origins are configured)
- `body_limits`: the JSON depth and resource-count check of `service/body.py`
- `issued_cards`: the issued-card record (the batched background write of attribution rows)
- `gc`: the cyclic garbage collector (disabled while measuring: what collections cost per request)

In process the app is driven by a bare ASGI caller (no sockets, no client library), so the figures
are the app's own cost. Two measures: CPU time per request (minimum over many batches, all
threads, so the background write counts) and, with `--instructions`, instructions per request
counted by valgrind's callgrind, which do not move with other load on the machine. Switches other
than settings are applied here only (monkeypatching for the measurement), never in the product.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks.callgrind import counted, run_counted

__all__ = [
    "LAYERS",
    "LayerResult",
    "apply_off",
    "build_app",
    "measure_in_process",
    "measure_instructions",
    "switched_off",
]

LAYERS = ("observability", "access_log", "metrics", "cors", "body_limits", "issued_cards", "gc")
BASELINE = "all on"
FLOOR = "floor"

Receive = Callable[[], Awaitable[dict[str, Any]]]
ASGIApp = Callable[[dict[str, Any], Receive, Callable[..., Any]], Awaitable[None]]


def _settings_overrides(off: frozenset[str]) -> dict[str, Any]:
    """Settings that switch a layer off (the product's own switches)."""
    return {"access_log": False} if "access_log" in off else {}


def build_app(off: Sequence[str] = (), *, database_url: str | None = None, **settings: Any) -> Any:
    """The toxhooks app in development mode with the given layers switched off."""
    from service.app import create_app
    from service.settings import Settings

    layers = frozenset(off)
    unknown = layers - set(LAYERS)
    if unknown:
        raise ValueError(f"unknown layer(s) {sorted(unknown)}; known: {', '.join(LAYERS)}")
    overrides: dict[str, Any] = {"dev": True, **_settings_overrides(layers), **settings}
    if database_url is not None:
        overrides["database_url"] = database_url
    app = create_app(Settings(**overrides))
    apply_off(app, layers)
    return app


class _NoRecorder:
    """Stands in for the issued-card recorder: records nothing."""

    def add(self, cards: object) -> None:
        """Drop the cards."""

    async def flush(self) -> None:
        """Nothing to write."""

    async def close(self) -> None:
        """Nothing to finish."""


def apply_off(app: Any, off: frozenset[str] | Sequence[str]) -> None:
    """Remove middleware / collaborators of layers switched off (before the app's first call)."""
    from starlette.middleware.cors import CORSMiddleware

    from service.observability.middleware import ObservabilityMiddleware

    layers = frozenset(off)
    dropped = set()
    if "observability" in layers:
        dropped.add(ObservabilityMiddleware)
    if "cors" in layers:
        dropped.add(CORSMiddleware)
    app.user_middleware[:] = [m for m in app.user_middleware if m.cls not in dropped]
    if "issued_cards" in layers:
        app.state.toxhooks.recorder = _NoRecorder()


@contextlib.contextmanager
def switched_off(off: frozenset[str] | Sequence[str]) -> Iterator[None]:
    """Process-wide switches (metrics, body limits, gc) for the duration of the block."""
    import service.body as body
    import service.hook as hook
    import service.routes.hooks as hooks

    layers = frozenset(off)
    saved: list[tuple[Any, str, Any]] = []

    def patch(module: Any, name: str, value: Any) -> None:
        saved.append((module, name, getattr(module, name)))
        setattr(module, name, value)

    if "metrics" in layers:
        import service.observability.middleware as middleware

        patch(middleware, "observe_request", lambda *a, **k: None)
        patch(hook, "record_cards", lambda *a, **k: None)
        patch(hooks, "label_request", lambda *a, **k: None)
    if "body_limits" in layers:
        patch(body, "check_limits", lambda *a, **k: None)
    gc_was_on = gc.isenabled()
    if "gc" in layers:
        gc.disable()
    try:
        yield
    finally:
        for module, name, value in reversed(saved):
            setattr(module, name, value)
        if gc_was_on:
            gc.enable()


# --- a bare ASGI caller ------------------------------------------------------------------------

_CHUNK = 65_536  # uvicorn hands the body over as it arrives; 64 KiB reads are typical on loopback


async def call(app: ASGIApp, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP request through the ASGI app: (status, body)."""
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    chunks = [body[i : i + _CHUNK] for i in range(0, len(body), _CHUNK)] or [b""]
    position = 0

    async def receive() -> dict[str, Any]:
        nonlocal position
        if position < len(chunks):
            position += 1
            return {"type": "http.request", "body": chunks[position - 1], "more_body": position < len(chunks)}
        return {"type": "http.disconnect"}

    status = 0
    out: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            out.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(out)


# --- the variants ------------------------------------------------------------------------------


@dataclass
class _Variant:
    """One app with some layers off, and the process-wide switches to apply around its calls."""

    name: str
    off: frozenset[str]
    app: Any
    path: str
    body: bytes
    lifespan: AbstractContextManager[Any] | Any = None
    samples_cpu_us: list[float] = field(default_factory=list)
    samples_wall_us: list[float] = field(default_factory=list)

    async def batch(self, n: int) -> tuple[float, float]:
        """n requests, then the background work they left (issued-card write): CPU and wall seconds."""
        with switched_off(self.off):
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(n):
                status, data = await call(self.app, "POST", self.path, self.body)
                if status != 200:
                    raise RuntimeError(f"{self.name}: HTTP {status}: {data[:300]!r}")
                await asyncio.sleep(0)  # as a server loop would: let scheduled work run
            await _drain(self.app)
            return time.process_time() - cpu, time.perf_counter() - wall


async def _drain(app: Any) -> None:
    """Wait for the background work of the app (the issued-card recorder's pending writes)."""
    state = getattr(getattr(app, "state", None), "toxhooks", None)
    if state is not None:
        await state.recorder.flush()


async def _reference_body(app: Any, hook: str = "order-sign", observations: int = 200) -> tuple[str, bytes]:
    """The benchmark's order-sign request (200 Observations), fitted to the app's discovery."""
    from benchmarks.harness import fit_prefetch
    from benchmarks.payloads import reference_set

    status, data = await call(app, "GET", "/cds-services")
    entries = {e["hook"]: e for e in orjson.loads(data)["services"]} if status == 200 else {}
    name = f"{hook}-{observations}"
    today = datetime.now(UTC).date()  # as `run` does: the labs end today, inside the date window
    request = next(r for r in reference_set(anchor=today) if r.name == name)
    entry = entries.get(hook, {})
    return f"/cds-services/{entry.get('id', 'toxhooks-' + hook)}", orjson.dumps(
        fit_prefetch(request.body, entry.get("prefetch"))
    )


async def _variants(work: Path, layers: Sequence[str], *, floor: bool) -> list[_Variant]:
    """The all-on app, one app per layer switched off, and the floor."""
    names = [BASELINE, *layers]
    variants = []
    path = body = None
    for i, name in enumerate(names):
        off = frozenset() if name == BASELINE else frozenset({name})
        app = build_app(sorted(off), database_url=f"sqlite+aiosqlite:///{work / f'layers-{i}.db'}")
        if path is None or body is None:
            path, body = await _reference_body(app)
        variants.append(_Variant(name if name == BASELINE else f"{name} off", off, app, path, body))
    if floor:
        from benchmarks.floor import create_floor_app

        assert path is not None and body is not None
        variants.append(_Variant(FLOOR, frozenset(), create_floor_app(), path, body))
    return variants


@dataclass
class LayerResult:
    """Per variant: µs per request (minimum over batches) and, when counted, instructions per request."""

    variant: str
    cpu_us: float | None = None
    wall_us: float | None = None
    instructions: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain dict for the results file."""
        return {
            "variant": self.variant,
            "cpu_us": self.cpu_us,
            "wall_us": self.wall_us,
            "instructions": self.instructions,
        }


async def _open(variants: Sequence[_Variant], stack: contextlib.AsyncExitStack, warmup: int) -> None:
    """Start each app's lifespan and warm it up."""
    for v in variants:
        router = getattr(v.app, "router", None)
        if router is not None and hasattr(router, "lifespan_context"):
            await stack.enter_async_context(router.lifespan_context(v.app))
        await v.batch(warmup)
    # As the server does once started (service.runtime.settle_heap): the apps built here are out
    # of the collector's sight, so one variant does not pay for walking another's heap.
    gc.collect()
    gc.freeze()


def measure_in_process(
    layers: Sequence[str] = LAYERS, *, batches: int = 30, batch_size: int = 10, warmup: int = 20
) -> list[LayerResult]:
    """CPU and wall µs per request of every variant, round robin, minimum over `batches`."""

    async def main(work: Path) -> list[LayerResult]:
        variants = await _variants(work, layers, floor=True)
        async with contextlib.AsyncExitStack() as stack:
            await _open(variants, stack, warmup)
            for _ in range(batches):
                for v in variants:
                    gc.collect()  # every batch starts from the same collector state
                    cpu, wall = await v.batch(batch_size)
                    v.samples_cpu_us.append(cpu / batch_size * 1e6)
                    v.samples_wall_us.append(wall / batch_size * 1e6)
        return [LayerResult(v.name, min(v.samples_cpu_us), min(v.samples_wall_us)) for v in variants]

    with tempfile.TemporaryDirectory(prefix="toxhooks-layers-") as tmp:
        return asyncio.run(main(Path(tmp)))


# --- instructions under callgrind --------------------------------------------------------------


def _counted_child(layers: Sequence[str], requests: int, warmup: int) -> None:
    """Inside callgrind: for each variant, `requests` calls (and their background work) counted."""

    async def main(work: Path) -> None:
        variants = await _variants(work, layers, floor=True)
        async with contextlib.AsyncExitStack() as stack:
            await _open(variants, stack, warmup)
            for v in variants:
                with counted(v.name):
                    await v.batch(requests)

    with tempfile.TemporaryDirectory(prefix="toxhooks-layers-") as tmp:
        asyncio.run(main(Path(tmp)))


def measure_instructions(
    layers: Sequence[str] = LAYERS, *, requests: int = 10, warmup: int = 5
) -> list[LayerResult]:
    """Instructions per request of every variant, counted by callgrind (slow: about a minute)."""
    args = ["benchmarks.layers", "--counted-child", f"--requests={requests}", f"--warmup={warmup}"]
    totals = run_counted([*args, f"--layers={','.join(layers)}"])
    return [LayerResult(name, instructions=total / requests) for name, total in totals]


def merge(*runs: Sequence[LayerResult]) -> list[LayerResult]:
    """One row per variant with every measure taken."""
    rows: dict[str, LayerResult] = {}
    for run in runs:
        for r in run:
            row = rows.setdefault(r.variant, LayerResult(r.variant))
            row.cpu_us = r.cpu_us if r.cpu_us is not None else row.cpu_us
            row.wall_us = r.wall_us if r.wall_us is not None else row.wall_us
            row.instructions = r.instructions if r.instructions is not None else row.instructions
    return list(rows.values())


def format_table(rows: Sequence[LayerResult], http: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """Markdown: per variant the cost, and the saving of switching the layer off (baseline - variant)."""
    base = next((r for r in rows if r.variant == BASELINE), None)

    def cell(value: float | None, scale: float = 1.0, digits: int = 0) -> str:
        return "" if value is None else f"{value / scale:,.{digits}f}"

    def saving(value: float | None, ref: float | None, scale: float = 1.0, digits: int = 0) -> str:
        if value is None or ref is None:
            return ""
        return f"{(ref - value) / scale:,.{digits}f}"

    head = "| variant | Minstr/req | layer Minstr | CPU µs/req | layer CPU µs | wall µs/req |"
    sep = "|---|---|---|---|---|---|"
    if http:
        head += " HTTP req/s | server CPU ms/req |"
        sep += "---|---|"
    lines = [head, sep]
    for r in rows:
        ref_i = base.instructions if base and r.variant not in (BASELINE,) else None
        ref_c = base.cpu_us if base and r.variant not in (BASELINE,) else None
        line = (
            f"| {r.variant} | {cell(r.instructions, 1e6, 2)} | {saving(r.instructions, ref_i, 1e6, 2)} "
            f"| {cell(r.cpu_us)} | {saving(r.cpu_us, ref_c)} | {cell(r.wall_us)} |"
        )
        if http:
            h = http.get(r.variant, {})
            rps = h.get("throughput_rps")
            cpu = h.get("server_cpu_ms_per_request")
            line += f" {cell(rps, 1, 1)} | {cell(cpu, 1, 2)} |"
        lines.append(line)
    return "\n".join(lines)


def measure_http(
    layers: Sequence[str] = LAYERS, *, duration_s: float = 10.0, concurrency: int = 8, workers: int = 1
) -> dict[str, dict[str, Any]]:
    """Saturation req/s of the floor, the service, and the service with each layer off (quiet machine)."""
    from benchmarks import harness
    from benchmarks.run import RunOptions, _phase

    opts = RunOptions(duration_s=duration_s, concurrency=concurrency)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="toxhooks-layers-http-") as tmp:
        work = Path(tmp)
        app = build_app(database_url=f"sqlite+aiosqlite:///{work / 'discovery.db'}")
        path, body = asyncio.run(_reference_body(app))
        body_file = work / "order-sign-200.json"
        body_file.write_bytes(body)
        plan: list[tuple[str, list[str]]] = [(FLOOR, []), (BASELINE, [])]
        plan += [(f"{layer} off", [layer]) for layer in layers]
        plan.append((f"{FLOOR} (again)", []))
        for name, off in plan:
            if name.startswith(FLOOR):
                server = harness.start_floor(work, workers=workers)
            else:
                server = harness.start_service(work, launch="factory", off=off, workers=workers)
            try:
                result = _phase(server, path, body_file, work, opts)
            finally:
                server.stop()
            rps = result.get("throughput_rps") or 0.0
            cpu = result.get("server_cpu_fraction") or 0.0
            result["server_cpu_ms_per_request"] = cpu / rps * 1000 if rps else None
            results[name] = result
            print(f"{name}: {rps:.1f} req/s", flush=True)
    return results


def _main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the callgrind child (`python -m benchmarks.layers --counted-child`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.layers")
    parser.add_argument("--counted-child", action="store_true", required=True)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--layers", default=",".join(LAYERS))
    args = parser.parse_args(argv)
    _counted_child([x for x in args.layers.split(",") if x], args.requests, args.warmup)


if __name__ == "__main__":
    _main()
