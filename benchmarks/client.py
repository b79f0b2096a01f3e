"""A lean HTTP/1.1 keep-alive load client (asyncio streams, pre-encoded requests) for loopback servers."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import itertools
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LoadResult",
    "Target",
    "encode_request",
    "ensure_loopback",
    "percentile",
    "run_fixed_rate",
    "run_saturation",
]

_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Target:
    """One request of the mix: path, JSON body and its relative weight."""

    path: str
    body: bytes
    weight: int = 1
    name: str = ""


@dataclass(slots=True)
class LoadResult:
    """What one load phase measured; latencies in milliseconds."""

    mode: str
    requests: int = 0
    errors: int = 0
    dropped: int = 0  # fixed rate only: requests never sent because the server fell too far behind
    statuses: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    throughput_rps: float = 0.0
    target_rate_rps: float | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    per_target: dict[str, int] = field(default_factory=dict)
    client_cpu_fraction: float = 0.0  # of one core; near 1.0 means the client may be the bottleneck

    def to_json(self) -> dict[str, Any]:
        """Plain dict for the results file."""
        return asdict(self)


def ensure_loopback(host: str) -> None:
    """Refuse anything but a loopback address: load is never sent off this machine."""
    if host == "localhost":
        return
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"refusing non-loopback host {host!r}")


def encode_request(host: str, port: int, path: str, body: bytes) -> bytes:
    """A complete HTTP/1.1 POST, encoded once and replayed (the client does no per-request work)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _summary(latencies: list[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in ms."""
    values = sorted(latencies)
    if not values:
        return {}
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": values[-1],
        "mean": sum(values) / len(values),
    }


class _Connection:
    """One keep-alive connection; reopens after the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> int:
        """Send one pre-encoded request and read the whole response; returns the status code."""
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._reader, self._writer
        writer.write(raw)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if chunked:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        """Drop the connection (the next send reconnects)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _schedule(targets: Sequence[Target]) -> Iterator[Target]:
    """Deterministic weighted round robin over the mix."""
    return itertools.cycle([t for t in targets for _ in range(t.weight)])


class _Recorder:
    """Counts outcomes of requests completed inside the measurement window."""

    def __init__(self, mode: str) -> None:
        self.result = LoadResult(mode=mode)
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.per_target: Counter[str] = Counter()

    def record(
        self, target: Target, status: int | None, latency_s: float, error: str | None, *, timed: bool = True
    ) -> None:
        """Record one completed (or failed) request; `timed` False counts it without a latency sample."""
        self.result.requests += 1
        self.per_target[target.name or target.path] += 1
        if timed:
            self.latencies.append(latency_s * 1000)
        self.statuses[str(status) if status is not None else "transport-error"] += 1
        if error is not None or status is None or status >= 400:
            self.result.errors += 1
            if len(self.result.error_samples) < 5:
                self.result.error_samples.append(error or f"HTTP {status} on {target.name or target.path}")

    def finish(self, elapsed_s: float, cpu_s: float) -> LoadResult:
        """Fill in the totals."""
        result = self.result
        result.elapsed_s = elapsed_s
        result.throughput_rps = result.requests / elapsed_s if elapsed_s > 0 else 0.0
        result.latency_ms = _summary(self.latencies)
        result.statuses = dict(self.statuses)
        result.per_target = dict(self.per_target)
        result.client_cpu_fraction = cpu_s / elapsed_s if elapsed_s > 0 else 0.0
        return result


async def _one(conn: _Connection, raw: bytes) -> tuple[int | None, str | None]:
    """Send one request with a timeout; transport failures become an error string."""
    try:
        return await asyncio.wait_for(conn.send(raw), _TIMEOUT_S), None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
        conn.close()
        return None, f"{type(exc).__name__}: {exc}"


async def run_saturation(
    host: str,
    port: int,
    targets: Sequence[Target],
    *,
    duration_s: float,
    concurrency: int = 8,
    warmup_s: float = 1.0,
    max_requests: int | None = None,
) -> LoadResult:
    """Closed loop: `concurrency` connections send back to back; counts what completes after warm-up."""
    ensure_loopback(host)
    encoded = {id(t): encode_request(host, port, t.path, t.body) for t in targets}
    schedule = _schedule(targets)
    recorder = _Recorder("saturation")
    clock = time.perf_counter  # not loop.time(): uvloop's clock has only millisecond resolution
    start = clock()
    measure_from, deadline = start + warmup_s, start + warmup_s + duration_s
    cpu_start: list[float] = []
    sent = 0

    async def worker() -> None:
        nonlocal sent
        conn = _Connection(host, port)
        try:
            while clock() < deadline and (max_requests is None or sent < max_requests):
                target = next(schedule)
                began = clock()
                if began >= measure_from:
                    sent += 1
                status, error = await _one(conn, encoded[id(target)])
                finished = clock()
                # Throughput counts every completion inside the window (steady state even for slow
                # requests); latency only those sent inside it.
                if measure_from <= finished <= deadline:
                    recorder.record(target, status, finished - began, error, timed=began >= measure_from)
        finally:
            conn.close()

    async def cpu_mark() -> None:
        await asyncio.sleep(max(0.0, measure_from - clock()))
        cpu_start.append(time.process_time())

    marker = asyncio.create_task(cpu_mark())
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await marker
    end = min(clock(), deadline)
    return recorder.finish(max(1e-9, end - measure_from), time.process_time() - cpu_start[0])


async def run_fixed_rate(
    host: str,
    port: int,
    targets: Sequence[Target],
    *,
    rate_rps: float,
    duration_s: float,
    connections: int = 8,
    warmup_s: float = 1.0,
) -> LoadResult:
    """Open loop at `rate_rps`; latency counts from the intended send time (no coordinated omission)."""
    ensure_loopback(host)
    encoded = {id(t): encode_request(host, port, t.path, t.body) for t in targets}
    target_list = [t for t in targets for _ in range(t.weight)]
    recorder = _Recorder("fixed-rate")
    recorder.result.target_rate_rps = rate_rps
    # perf_counter, not loop.time(): uvloop's clock has only millisecond resolution.
    start = time.perf_counter() + 0.05
    measure_from = start + warmup_s
    total = int((warmup_s + duration_s) * rate_rps)
    interval = 1.0 / rate_rps
    # An overloaded server would otherwise stretch the phase without bound: stop sending at twice
    # the planned length and count what was not sent.
    give_up = start + 2 * (warmup_s + duration_s) + 1.0
    cpu_start: list[float] = []

    async def worker(k: int) -> None:
        # Connection k sends requests k, k+connections, ... (the wrk2 scheme).
        conn = _Connection(host, port)
        try:
            for i in range(k, total, connections):
                if time.perf_counter() > give_up:
                    recorder.result.dropped += len(range(i, total, connections))
                    break
                intended = start + i * interval
                delay = intended - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                target = target_list[i % len(target_list)]
                status, error = await _one(conn, encoded[id(target)])
                if intended >= measure_from:
                    if not cpu_start:
                        cpu_start.append(time.process_time())
                    recorder.record(target, status, time.perf_counter() - intended, error)
        finally:
            conn.close()

    await asyncio.gather(*(worker(k) for k in range(connections)))
    elapsed = time.perf_counter() - measure_from
    return recorder.finish(max(1e-9, elapsed), time.process_time() - (cpu_start[0] if cpu_start else 0.0))


def _load_targets(spec: dict[str, Any]) -> list[Target]:
    """Targets of a spec file: bodies are read from files so the spec stays small."""
    return [
        Target(t["path"], Path(t["body_file"]).read_bytes(), int(t.get("weight", 1)), t.get("name", ""))
        for t in spec["targets"]
    ]


async def _run_spec(spec: dict[str, Any]) -> LoadResult:
    """Run the phase a spec file describes."""
    targets = _load_targets(spec)
    if spec["mode"] == "saturation":
        return await run_saturation(
            spec["host"],
            spec["port"],
            targets,
            duration_s=spec["duration_s"],
            concurrency=spec.get("concurrency", 8),
            warmup_s=spec.get("warmup_s", 1.0),
            max_requests=spec.get("max_requests"),
        )
    return await run_fixed_rate(
        spec["host"],
        spec["port"],
        targets,
        rate_rps=spec["rate_rps"],
        duration_s=spec["duration_s"],
        connections=spec.get("concurrency", 8),
        warmup_s=spec.get("warmup_s", 1.0),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run one phase from a JSON spec file and print its LoadResult as JSON (runs in its own process)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.client")
    parser.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    try:
        import uvloop  # the faster loop keeps the client's own cost low

        result = uvloop.run(_run_spec(spec))
    except ImportError:
        result = asyncio.run(_run_spec(spec))
    json.dump(result.to_json(), sys.stdout)


if __name__ == "__main__":
    main()
