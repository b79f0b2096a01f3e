"""Ratios and targets from a results document, printed ratios first, as text or a Markdown table."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["TARGETS", "format_text", "markdown_table", "summarise", "warnings"]

PRIMARY = "order-sign-200"
LARGE = "order-sign-2000"

# name -> (limit, direction, meaning): "min" targets must be at least the limit, "max" at most.
TARGETS: dict[str, tuple[float, str, str]] = {
    "throughput_ratio_200": (0.5, "min", "service/floor throughput, order-sign 200 obs"),
    "p99_ms_half_floor_rate": (50.0, "max", "service p99 at half the floor's saturation rate (ms)"),
    "cost_growth_2000_vs_200_http": (12.0, "max", "cost of 2,000 obs / 200 obs, HTTP throughput"),
    "cost_growth_2000_vs_200_in_process": (12.0, "max", "cost of 2,000 obs / 200 obs, in-process"),
    "startup_s": (2.0, "max", "service start to /readyz 200 (s)"),
    "peak_rss_mb": (200.0, "max", "peak RSS of the service worker (MiB)"),
}


def _get(doc: dict[str, Any], *keys: str) -> Any:
    """Nested lookup that yields None on any missing key."""
    node: Any = doc
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is zero."""
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def summarise(doc: dict[str, Any]) -> dict[str, Any]:
    """Headline figures: ratios of service to floor per request, growth, and each target's verdict."""
    sat = doc.get("saturation", {})
    ratios = {
        name: _ratio(_get(sat, "service", name, "throughput_rps"), _get(sat, "floor", name, "throughput_rps"))
        for name in sat.get("service", {})
    }
    whole_200 = _get(doc, "stages", PRIMARY, "whole_min_ms")
    whole_2000 = _get(doc, "stages", LARGE, "whole_min_ms")
    figures: dict[str, float | None] = {
        "throughput_ratio_200": ratios.get(PRIMARY),
        "p99_ms_half_floor_rate": _get(doc, "fixed_rate", "service", "latency_ms", "p99"),
        "cost_growth_2000_vs_200_http": _ratio(
            _get(sat, "service", PRIMARY, "throughput_rps"), _get(sat, "service", LARGE, "throughput_rps")
        ),
        "cost_growth_2000_vs_200_in_process": _ratio(whole_2000, whole_200),
        "startup_s": _get(doc, "startup_s", "service"),
        "peak_rss_mb": _get(doc, "memory_after_load_mb", "service", "peak_rss_mb"),
    }
    verdicts: dict[str, str] = {}
    for name, (limit, direction, _meaning) in TARGETS.items():
        value = figures.get(name)
        if value is None:
            verdicts[name] = "not measured"
        else:
            ok = value >= limit if direction == "min" else value <= limit
            verdicts[name] = "met" if ok else "MISSED"
    floor_growth = _ratio(
        _get(sat, "floor", PRIMARY, "throughput_rps"), _get(sat, "floor", LARGE, "throughput_rps")
    )
    added_200 = _added_ms(sat, PRIMARY)
    added_2000 = _added_ms(sat, LARGE)
    ceiling = _get(doc, "client_ceiling", "throughput_rps")
    floor_rps = _get(sat, "floor", PRIMARY, "throughput_rps")
    return {
        "throughput_ratios": ratios,
        "figures": figures,
        "verdicts": verdicts,
        "client_ceiling_over_floor": _ratio(ceiling, floor_rps),
        "floor_cost_growth_2000_vs_200_http": floor_growth,
        "service_added_ms": {PRIMARY: added_200, LARGE: added_2000},
        "service_added_cost_growth": _ratio(added_2000, added_200),
    }


def _added_ms(sat: dict[str, Any], name: str) -> float | None:
    """What the service adds to the floor per request at saturation: 1/service - 1/floor, in ms."""
    service, floor = _get(sat, "service", name, "throughput_rps"), _get(sat, "floor", name, "throughput_rps")
    if not service or not floor:
        return None
    return float(1000 / service - 1000 / floor)


def _fmt(value: Any, digits: int = 2) -> str:
    """A number for a table cell."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _rows(doc: dict[str, Any], summary: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, verdict) rows, ratios first, then absolute numbers."""
    rows: list[tuple[str, str, str, str]] = []
    for name, (limit, direction, meaning) in TARGETS.items():
        bound = (">= " if direction == "min" else "<= ") + _fmt(limit, 1)
        rows.append((meaning, _fmt(summary["figures"][name]), bound, summary["verdicts"][name]))
    for name, ratio in summary["throughput_ratios"].items():
        if name != PRIMARY:
            rows.append((f"service/floor throughput, {name}", _fmt(ratio), "", ""))
    rows.append(("client ceiling / floor throughput", _fmt(summary["client_ceiling_over_floor"]), "", ""))
    rows.append(
        (
            "floor's own cost growth 2,000/200 obs, HTTP",
            _fmt(summary["floor_cost_growth_2000_vs_200_http"]),
            "",
            "",
        )
    )
    rows.append(
        ("growth of the service-added cost 2,000/200 obs", _fmt(summary["service_added_cost_growth"]), "", "")
    )
    for name, added in summary["service_added_ms"].items():
        rows.append((f"service-added ms per request (1/svc - 1/floor), {name}", _fmt(added), "", ""))
    sat = doc.get("saturation", {})
    for server in ("floor", "service"):
        for name, phase in sat.get(server, {}).items():
            lat = phase.get("latency_ms", {})
            rows.append(
                (
                    f"{server} {name}: req/s at saturation (p50/p99 ms, errors)",
                    f"{phase['throughput_rps']:.1f} ({_fmt(lat.get('p50'), 1)}/{_fmt(lat.get('p99'), 1)}, "
                    f"{phase['errors']})",
                    "",
                    "",
                )
            )
    fixed = doc.get("fixed_rate", {})
    for server in ("floor", "service"):
        lat = _get(fixed, server, "latency_ms") or {}
        rows.append(
            (
                f"{server} {PRIMARY} at {_fmt(fixed.get('rate_rps'), 0)} req/s: p50/p95/p99 ms",
                f"{_fmt(lat.get('p50'), 1)}/{_fmt(lat.get('p95'), 1)}/{_fmt(lat.get('p99'), 1)}"
                + (f" ({dropped} not sent)" if (dropped := _get(fixed, server, "dropped")) else ""),
                "",
                "",
            )
        )
    own = _get(fixed, "service_at_half_own_rate") or {}
    if own:
        lat = own.get("latency_ms", {})
        rows.append(
            (
                f"service {PRIMARY} at {_fmt(own.get('target_rate_rps'), 0)} req/s (half its own capacity): "
                "p50/p95/p99 ms",
                f"{_fmt(lat.get('p50'), 1)}/{_fmt(lat.get('p95'), 1)}/{_fmt(lat.get('p99'), 1)}",
                "",
                "",
            )
        )
    for server in ("floor", "service"):
        mem = _get(doc, "memory_after_load_mb", server) or {}
        rows.append(
            (
                f"{server} worker RSS now/peak (MiB)",
                f"{_fmt(mem.get('rss_mb'), 0)}/{_fmt(mem.get('peak_rss_mb'), 0)}",
                "",
                "",
            )
        )
    rows.append(("floor start to /readyz (s)", _fmt(_get(doc, "startup_s", "floor")), "", ""))
    for name, check in (doc.get("responses") or {}).items():
        rows.append(
            (f"service first call after start, {name} (ms)", _fmt(check.get("first_call_ms"), 0), "", "")
        )
    boot = doc.get("startup_breakdown") or {}
    steps = ("import_service_app_s", "load_knowledge_s", "load_ctcae_table_s", "create_app_s")
    rows.append(
        (
            "start-up: import service.app / knowledge / CTCAE table / create_app (s)",
            "/".join(_fmt(boot.get(k), 3) for k in steps),
            "",
            "",
        )
    )
    scaling = doc.get("worker_scaling")
    if scaling:
        n = scaling.get("workers")
        for name in ("service", "floor"):
            rows.append(
                (
                    f"{name} {PRIMARY}: req/s with {n} workers / 1 worker (ratio)",
                    f"{_fmt(_get(scaling, name, 'rps_n'), 1)} / {_fmt(_get(scaling, name, 'rps_1'), 1)} "
                    f"({_fmt(_get(scaling, name, 'ratio'))})",
                    "",
                    "",
                )
            )
    return rows


def _stage_rows(doc: dict[str, Any]) -> list[list[str]]:
    """Per-request median ms per stage, the whole path and what the stages leave unexplained."""
    out = []
    for name, st in doc.get("stages", {}).items():
        cells = [name] + [_fmt(st["stages_ms"].get(s), 3) for s in STAGES]
        cells += [_fmt(st.get("whole_min_ms"), 3), _fmt(st.get("other_ms"), 3), str(st.get("cards"))]
        out.append(cells)
    return out


STAGES = ("parse", "protocol", "terminology", "engine", "cards", "serialisation")
_STAGE_HEAD = ["request", *STAGES, "whole path", "other", "cards"]


def warnings(doc: dict[str, Any]) -> list[str]:
    """What makes a run's figures doubtful: non-200 answers, errors under load, a slow client."""
    out = [
        f"{name} answered HTTP {check['status']} before the load: its figures measure an error path"
        for name, check in (doc.get("responses") or {}).items()
        if check.get("status") != 200
    ]
    for server, phases in (doc.get("saturation") or {}).items():
        out += [
            f"{server} {n}: {p['errors']} errors under load" for n, p in phases.items() if p.get("errors")
        ]
    ratio = summarise(doc)["client_ceiling_over_floor"]
    if ratio is not None and ratio < 3:
        out.append(
            f"the load client's ceiling is only {ratio:.1f} x the floor: the client may limit the floor"
        )
    return out


def format_text(doc: dict[str, Any]) -> str:
    """The console summary."""
    summary = summarise(doc)
    lines = ["", "== toxhooks benchmark (ratios first) =="]
    lines += [f"  WARNING: {w}" for w in warnings(doc)]
    for figure, value, bound, verdict in _rows(doc, summary):
        lines.append(f"  {figure:<62} {value:>22} {bound:>9} {verdict}")
    lines.append("")
    lines.append("== in-process ms per stage (minimum of the repetitions) ==")
    lines.append("  " + " | ".join(_STAGE_HEAD))
    for cells in _stage_rows(doc):
        lines.append("  " + " | ".join(cells))
    for name, st in doc.get("stages", {}).items():
        if st.get("errors"):
            lines.append(f"  {name} errors: {st['errors']}")
    m = doc.get("machine", {})
    lines.append(
        f"load average at start/end: {m.get('load_average_at_start')} / {m.get('load_average_at_end')}\n"
        f"machine: {m.get('nproc')} CPU, {m.get('cpu_model')}, {m.get('memory_gib')} GiB, "
        f"Python {m.get('python')}"
    )
    return "\n".join(lines)


def markdown_table(doc: dict[str, Any]) -> str:
    """The result tables for docs/performance.md and the README."""
    summary = summarise(doc)
    lines = [f"> Warning: {w}" for w in warnings(doc)]
    lines += ["| Figure | Value | Target | Verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(doc, summary)]
    lines += ["", "In-process ms per stage (minimum of the repetitions):", ""]
    lines.append("| " + " | ".join(_STAGE_HEAD) + " |")
    lines.append("|" + "---|" * len(_STAGE_HEAD))
    lines += ["| " + " | ".join(cells) + " |" for cells in _stage_rows(doc)]
    return "\n".join(lines)
