"""Load test: the service at saturation with a realistic request mix; every error is reported (must be 0)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks import harness
from benchmarks.client import ensure_loopback
from benchmarks.payloads import order_select_request, order_sign_request, patient_view_request
from benchmarks.servers import HOST

__all__ = ["MIX", "format_result", "loadtest"]

# (name, hook, weight): mostly order-entry calls, some chart opens, an occasional long history.
MIX: tuple[tuple[str, str, int], ...] = (
    ("order-sign-200", "order-sign", 4),
    ("order-select-200", "order-select", 3),
    ("patient-view-3", "patient-view", 2),
    ("order-sign-2000", "order-sign", 1),
)


def _bodies(anchor: Any) -> dict[str, dict[str, Any]]:
    """The request bodies of the mix."""
    return {
        "order-sign-200": order_sign_request(200, anchor=anchor),
        "order-select-200": order_select_request(200, anchor=anchor),
        "patient-view-3": patient_view_request(anchor=anchor),
        "order-sign-2000": order_sign_request(2000, anchor=anchor),
    }


def loadtest(
    *,
    duration_s: float = 60.0,
    concurrency: int = 8,
    max_requests: int | None = None,
    url: str | None = None,
    launch: str = "cli",
) -> dict[str, Any]:
    """Run the mix for `duration_s` (and at most `max_requests`) against `url` or a service started here."""
    bodies = _bodies(datetime.now(UTC).date())
    with tempfile.TemporaryDirectory(prefix="toxhooks-load-") as tmp:
        work = Path(tmp)
        service = None
        if url:
            parts = urlsplit(url)
            host, port = parts.hostname or HOST, parts.port or 80
            ensure_loopback(host)
        else:
            service = harness.start_service(work, launch=launch)
            host, port = HOST, service.port
        try:
            entries = harness.discover(port)
            targets = []
            for name, hook, weight in MIX:
                entry = entries.get(hook, {})
                body = harness.fit_prefetch(bodies[name], entry.get("prefetch"))
                path = f"/cds-services/{entry.get('id', 'toxhooks-' + hook)}"
                targets.append(
                    {
                        "path": path,
                        "body_file": str(harness.write_body(work, name, body)),
                        "weight": weight,
                        "name": name,
                    }
                )
            spec = {
                "host": host,
                "port": port,
                "targets": targets,
                "mode": "saturation",
                "duration_s": duration_s,
                "warmup_s": 0.0,
                "concurrency": concurrency,
                "max_requests": max_requests,
            }
            result = harness.run_phase(spec, work)
            if service is not None:
                result["service_memory_mb"] = service.worker_memory_mb()
                result["service_startup_s"] = service.startup_s
        finally:
            if service is not None:
                service.stop()
    result["mix"] = [{"name": n, "hook": h, "weight": w} for n, h, w in MIX]
    return result


def format_result(result: dict[str, Any]) -> str:
    """Console summary of a load test."""
    lat = result.get("latency_ms", {})
    lines = [
        f"requests {result['requests']}, errors {result['errors']} (must be 0), "
        f"throughput {result['throughput_rps']:.1f} req/s over {result['elapsed_s']:.1f} s",
        "latency ms: " + ", ".join(f"{k} {v:.1f}" for k, v in lat.items()),
        f"per request: {result.get('per_target')}",
        f"statuses: {result.get('statuses')}",
    ]
    if result.get("error_samples"):
        lines.append(f"error samples: {result['error_samples']}")
    return "\n".join(lines)
