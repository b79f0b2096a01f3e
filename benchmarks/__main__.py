"""`python -m benchmarks {run,loadtest,generate,stages}`: the benchmark's one command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

from benchmarks.payloads import DEFAULT_ANCHOR

__all__ = ["main"]

_DEFAULT_OUT = Path(__file__).parent / "results" / "latest.json"


def _write(path: Path | None, document: object) -> None:
    """Write a JSON document (pretty, stable key order) when a path is given."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    print(f"results written to {path}")


def _cmd_run(args: argparse.Namespace) -> int:
    from benchmarks.report import format_text, markdown_table, summarise
    from benchmarks.run import RunOptions, run

    opts = RunOptions(
        duration_s=args.duration,
        warmup_s=args.warmup,
        concurrency=args.concurrency,
        launch=args.launch,
        profile=not args.no_profile,
        workers=args.workers,
    )
    doc = run(opts)
    doc["summary"] = summarise(doc)
    print(format_text(doc))
    _write(args.out, doc)
    if args.markdown:
        args.markdown.write_text(markdown_table(doc) + "\n")
        print(f"markdown table written to {args.markdown}")
    return 0


def _cmd_loadtest(args: argparse.Namespace) -> int:
    from benchmarks.loadtest import format_result, loadtest

    result = loadtest(
        duration_s=args.duration,
        concurrency=args.concurrency,
        max_requests=args.max_requests,
        url=args.url,
        launch=args.launch,
    )
    print(format_result(result))
    _write(args.out, result)
    return 1 if result["errors"] else 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from benchmarks.payloads import reference_set

    args.dir.mkdir(parents=True, exist_ok=True)
    for request in reference_set(anchor=args.anchor):
        path = args.dir / f"{request.name}.json"
        path.write_bytes(orjson.dumps(request.body, option=orjson.OPT_INDENT_2))
        print(path)
    return 0


def _cmd_stages(args: argparse.Namespace) -> int:
    from benchmarks import stages
    from benchmarks.payloads import reference_set

    requests = reference_set(anchor=datetime.now(UTC).date())  # as `run` does: recent labs
    doc = {
        r.name: stages.time_stages(r.name, r.body, budget_s=args.budget, as_sent=args.as_sent).to_json()
        for r in requests
    }
    print(json.dumps(doc, indent=2))
    if args.profile:
        print("\n".join(stages.profile_request(requests[0].body)))
    if args.instructions:
        names = [r.name for r in requests]
        counts = stages.count_instructions(names, repetitions=args.repetitions, as_sent=args.as_sent)
        print("M instructions per call (callgrind):")
        print(json.dumps(counts, indent=2))
    return 0


_LAYERS = (
    "observability",
    "access_log",
    "metrics",
    "cors",
    "body_limits",
    "issued_cards",
    "gc",
)  # fmt: skip  (benchmarks.layers.LAYERS, not imported here: the CLI starts fast)


def _cmd_layers(args: argparse.Namespace) -> int:
    from benchmarks import layers

    names = [n for n in args.layers.split(",") if n]
    runs = [layers.measure_in_process(names, batches=args.batches, batch_size=args.batch_size)]
    if args.instructions:
        runs.append(layers.measure_instructions(names, requests=args.requests))
    rows = layers.merge(*runs)
    http = layers.measure_http(names, duration_s=args.duration, workers=args.workers) if args.http else None
    print(layers.format_table(rows, http))
    _write(
        args.out,
        {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": [r.to_json() for r in rows],
            "http": http,
        },
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one sub-command."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="floor vs service: throughput, latency, memory, startup, stages")
    run.add_argument("--duration", type=float, default=10.0, help="seconds per load phase (default 10)")
    run.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per phase")
    run.add_argument("--concurrency", type=int, default=8, help="connections of the load client")
    run.add_argument(
        "--launch",
        choices=["cli", "factory"],
        default="cli",
        help="cli: toxhooks serve --dev; factory: service.app.create_app under uvicorn",
    )
    run.add_argument(
        "--workers", type=int, default=1, help="worker processes per server; > 1 also measures 1 worker"
    )
    run.add_argument("--out", type=Path, default=_DEFAULT_OUT, help="results JSON")
    run.add_argument("--markdown", type=Path, default=None, help="also write the result tables as Markdown")
    run.add_argument("--no-profile", action="store_true", help="skip the cProfile of the offline path")
    run.set_defaults(func=_cmd_run)

    load = sub.add_parser("loadtest", help="saturation with a realistic mix; exit 1 on any error")
    load.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    load.add_argument("--max-requests", type=int, default=100_000, help="upper bound on requests sent")
    load.add_argument("--concurrency", type=int, default=8)
    load.add_argument("--url", default=None, help="a running service on loopback (default: start one)")
    load.add_argument("--launch", choices=["cli", "factory"], default="cli")
    load.add_argument("--out", type=Path, default=None, help="results JSON")
    load.set_defaults(func=_cmd_loadtest)

    gen = sub.add_parser("generate", help="write the reference requests as JSON files")
    gen.add_argument("dir", type=Path)
    gen.add_argument(
        "--anchor",
        type=date.fromisoformat,
        default=DEFAULT_ANCHOR,
        help=f"last day of the lab history, YYYY-MM-DD (default {DEFAULT_ANCHOR})",
    )
    gen.set_defaults(func=_cmd_generate)

    st = sub.add_parser("stages", help="in-process stage timings only (no servers)")
    st.add_argument("--budget", type=float, default=2.0, help="seconds per request")
    st.add_argument("--profile", action="store_true")
    st.add_argument("--instructions", action="store_true", help="also count instructions under callgrind")
    st.add_argument("--repetitions", type=int, default=3, help="callgrind: calls counted per stage")
    st.add_argument("--as-sent", action="store_true", help="prefetch fitted to discovery, as `run` sends it")
    st.set_defaults(func=_cmd_stages)

    lay = sub.add_parser("layers", help="cost per request of each layer, switched off one at a time")
    lay.add_argument("--layers", default=",".join(_LAYERS), help="comma-separated layers (default: all)")
    lay.add_argument("--batches", type=int, default=30, help="in process: batches per variant (minimum kept)")
    lay.add_argument("--batch-size", type=int, default=10, help="in process: requests per batch")
    lay.add_argument("--instructions", action="store_true", help="also count instructions under callgrind")
    lay.add_argument("--requests", type=int, default=10, help="callgrind: requests counted per variant")
    lay.add_argument("--http", action="store_true", help="also HTTP saturation A/B (quiet machine only)")
    lay.add_argument("--duration", type=float, default=10.0, help="HTTP: seconds per phase")
    lay.add_argument("--workers", type=int, default=1, help="HTTP: worker processes per server")
    lay.add_argument("--out", type=Path, default=None, help="results JSON")
    lay.set_defaults(func=_cmd_layers)

    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
