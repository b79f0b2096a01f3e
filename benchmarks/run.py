"""One benchmark run: client ceiling, floor vs service throughput, latency at a fixed rate, memory, stages."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks import harness, stages
from benchmarks.payloads import DEFAULT_SEED, reference_set, with_si_creatinine
from benchmarks.servers import HOST, ServerProcess, child_env
from benchmarks.startup import measure_startup

__all__ = ["RunOptions", "machine", "run"]

PRIMARY = "order-sign-200"


@dataclass(frozen=True)
class RunOptions:
    """Knobs of one run; defaults keep a full run to a few minutes on two cores."""

    duration_s: float = 10.0
    warmup_s: float = 1.0
    concurrency: int = 8
    launch: str = "cli"  # "cli": toxhooks serve --dev; "factory": service.app.create_app under launch.py
    stage_budget_s: float = 2.0
    profile: bool = True
    workers: int = 1  # worker processes of floor and service; > 1 also measures both with 1 worker


def machine() -> dict[str, Any]:
    """nproc, CPU model, memory, Python and OS: the context every figure needs."""
    import psutil

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Other work on the machine skews absolute figures (ratios much less): recorded with the run.
        "load_average_at_start": os.getloadavg(),
    }


def _log(message: str) -> None:
    """Progress on stderr-like stdout, flushed (a run takes minutes)."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def _phase(
    server: ServerProcess,
    path: str,
    body_file: Path,
    work: Path,
    opts: RunOptions,
    *,
    rate: float | None = None,
) -> dict[str, Any]:
    """One client phase against `server`, with the server's CPU use over the phase."""
    spec: dict[str, Any] = {
        "host": HOST,
        "port": server.port,
        "targets": [{"path": path, "body_file": str(body_file), "name": body_file.stem}],
        "mode": "saturation" if rate is None else "fixed-rate",
        "duration_s": opts.duration_s,
        "warmup_s": opts.warmup_s,
        "concurrency": opts.concurrency,
    }
    if rate is not None:
        spec["rate_rps"] = rate
    cpu_before, wall_before = server.cpu_seconds(), time.perf_counter()
    result = harness.run_phase(spec, work)
    result["server_cpu_fraction"] = (server.cpu_seconds() - cpu_before) / (time.perf_counter() - wall_before)
    return result


def _read_json(path: Path) -> dict[str, Any]:
    """A request body written earlier."""
    body: dict[str, Any] = orjson.loads(path.read_bytes())
    return body


def _check_responses(service: ServerProcess, paths: dict[str, str], files: dict[str, Path]) -> dict[str, Any]:
    """Each reference request once: status, number of cards and their summaries (correctness first)."""
    checks: dict[str, Any] = {}
    for name, path in paths.items():
        # The first call of each kind is cold (lazy caches): its latency is reported as such.
        start = time.perf_counter()
        status, data = harness.post_json(service.port, path, files[name].read_bytes())
        cards = data.get("cards", []) if isinstance(data, dict) else []
        checks[name] = {
            "status": status,
            "first_call_ms": (time.perf_counter() - start) * 1000,
            "cards": len(cards),
            "summaries": [c.get("summary") for c in cards][:10],
        }
        if status != 200:
            checks[name]["body"] = str(data)[:500]
    return checks


def _worker_scaling(
    results: dict[str, Any], path: str, body_file: Path, work: Path, opts: RunOptions
) -> dict[str, Any]:
    """Throughput on the primary request with one worker, against the run's `opts.workers` workers."""
    scaling: dict[str, Any] = {"workers": opts.workers, "request": PRIMARY}
    for name in ("floor", "service"):
        _log(f"saturation with 1 worker: {name} / {PRIMARY}")
        server = (
            harness.start_floor(work, name="floor-1w")
            if name == "floor"
            else harness.start_service(work, launch=opts.launch, name="service-1w")
        )
        try:
            one = _phase(server, path, body_file, work, opts)
        finally:
            server.stop()
        rps_n = results["saturation"][name][PRIMARY]["throughput_rps"]
        rps_1 = one["throughput_rps"]
        scaling[name] = {"rps_n": rps_n, "rps_1": rps_1, "ratio": rps_n / rps_1 if rps_1 else None}
    return scaling


def run(opts: RunOptions) -> dict[str, Any]:
    """Run every phase and return the results document (see docs/performance.md)."""
    anchor = datetime.now(UTC).date()
    requests = reference_set(anchor=anchor)
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "options": opts.__dict__,
        "requests": {"seed": DEFAULT_SEED, "anchor": anchor.isoformat(), "names": [r.name for r in requests]},
    }
    with tempfile.TemporaryDirectory(prefix="toxhooks-bench-") as tmp:
        work = Path(tmp)
        raw_files = {r.name: harness.write_body(work, f"raw-{r.name}", r.body) for r in requests}

        _log("client ceiling against the bare asyncio sink")
        sink = harness.start_sink(work)
        try:
            results["client_ceiling"] = _phase(sink, "/cds-services/x", raw_files[PRIMARY], work, opts)
        finally:
            sink.stop()

        _log("starting floor and service")
        floor = harness.start_floor(work, workers=opts.workers)
        service = harness.start_service(work, launch=opts.launch, workers=opts.workers)
        try:
            results["startup_s"] = {"floor": floor.startup_s, "service": service.startup_s}
            results["memory_idle_mb"] = {
                "floor": floor.worker_memory_mb(),
                "service": service.worker_memory_mb(),
            }
            entries = harness.discover(service.port)
            paths, files = {}, {}
            for r in requests:
                entry = entries.get(r.hook, {})
                paths[r.name] = f"/cds-services/{entry.get('id', 'toxhooks-' + r.hook)}"
                body = harness.fit_prefetch(r.body, entry.get("prefetch"))
                files[r.name] = harness.write_body(work, r.name, body)
            results["service_paths"] = paths
            results["responses"] = _check_responses(service, paths, files)
            si_name = f"{PRIMARY}-creatinine-umol"
            si_file = harness.write_body(work, si_name, with_si_creatinine(_read_json(files[PRIMARY])))
            results["responses"].update(
                _check_responses(service, {si_name: paths[PRIMARY]}, {si_name: si_file})
            )

            saturation: dict[str, dict[str, Any]] = {"floor": {}, "service": {}}
            pair = (("floor", floor), ("service", service))
            for i, r in enumerate(requests):
                # Interleaved, A-B then B-A, so drift on a shared machine hits both alike.
                for name, server in pair if i % 2 == 0 else pair[::-1]:
                    _log(f"saturation: {name} / {r.name}")
                    saturation[name][r.name] = _phase(server, paths[r.name], files[r.name], work, opts)
            results["saturation"] = saturation

            rate = max(1.0, saturation["floor"][PRIMARY]["throughput_rps"] / 2)
            fixed: dict[str, Any] = {"rate_rps": rate}
            for name, server in (("floor", floor), ("service", service)):
                _log(f"fixed rate {rate:.0f} req/s: {name} / {PRIMARY}")
                fixed[name] = _phase(server, paths[PRIMARY], files[PRIMARY], work, opts, rate=rate)
            # Context for a missed latency target: the service at half of its own saturation rate.
            own = max(1.0, saturation["service"][PRIMARY]["throughput_rps"] / 2)
            _log(f"fixed rate {own:.0f} req/s (half the service's own saturation): service / {PRIMARY}")
            fixed["service_at_half_own_rate"] = _phase(
                service, paths[PRIMARY], files[PRIMARY], work, opts, rate=own
            )
            results["fixed_rate"] = fixed
            results["memory_after_load_mb"] = {
                "floor": floor.worker_memory_mb(),
                "service": service.worker_memory_mb(),
            }
        finally:
            floor.stop()
            service.stop()
            results["server_logs_tail"] = {
                s.name: s.log_path.read_text(errors="replace")[-1500:] for s in (floor, service)
            }
        if opts.workers > 1:
            results["worker_scaling"] = _worker_scaling(results, paths[PRIMARY], files[PRIMARY], work, opts)

    _log("start-up breakdown in a fresh interpreter")
    try:
        db = f"sqlite+aiosqlite:///{tempfile.gettempdir()}/toxhooks-bench-startup.db"
        results["startup_breakdown"] = measure_startup(child_env({"TOXHOOKS_DATABASE_URL": db}))
    except Exception as exc:  # a breakdown is a bonus: never lose the run for it
        results["startup_breakdown"] = {"error": f"{type(exc).__name__}: {exc}"}
    _log("in-process stage timings")
    results["stages"] = {
        r.name: stages.time_stages(r.name, r.body, budget_s=opts.stage_budget_s).to_json() for r in requests
    }
    if opts.profile:
        _log("profile of the offline evaluation")
        try:
            results["profile"] = stages.profile_request(requests[0].body)
        except Exception as exc:  # a profile is a bonus: never lose the run for it
            results["profile"] = [f"unavailable: {type(exc).__name__}: {exc}"]
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["machine"]["load_average_at_end"] = os.getloadavg()
    return results
