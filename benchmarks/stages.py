"""In-process cost of each pipeline stage (parse, terminology, engine, cards, serialisation) and a profile."""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from benchmarks.callgrind import counted, run_counted

if TYPE_CHECKING:
    from cards.loader import KnowledgeBase

__all__ = ["StageTimings", "count_instructions", "profile_request", "time_stages"]

STAGES = ("parse", "protocol", "terminology", "engine", "cards", "serialisation")


@dataclass
class StageTimings:
    """Milliseconds per stage (minimum of the repetitions) and of the whole in-process path."""

    request: str
    repetitions: int
    stages_ms: dict[str, float]
    whole_ms: float | None  # median of parse + service.hook.answer_hook + dump
    cards: int
    errors: dict[str, str]
    whole_min_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain dict for the results file; `other_ms` is whole-path time the stages do not account for."""
        staged = sum(self.stages_ms.values())
        other = None if self.whole_min_ms is None else self.whole_min_ms - staged
        return {
            "request": self.request,
            "repetitions": self.repetitions,
            "stages_ms": self.stages_ms,
            "whole_ms": self.whole_ms,
            "whole_min_ms": self.whole_min_ms,
            "other_ms": other,
            "cards": self.cards,
            "errors": self.errors,
        }


def _samples_ms(fn: Callable[[], object], repetitions: int) -> list[float]:
    """Wall time of `fn` in ms, `repetitions` times."""
    samples = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _median_ms(fn: Callable[[], object], repetitions: int) -> float:
    """Median wall time of `fn` in ms over `repetitions` runs."""
    return statistics.median(_samples_ms(fn, repetitions))


def _drafts(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Draft orders of the context."""
    bundle = (body.get("context") or {}).get("draftOrders") or {}
    return [e["resource"] for e in bundle.get("entry", []) if isinstance(e, dict) and "resource" in e]


class _Pipeline:
    """The hook route's steps, called directly with the state the app holds (settings, catalog, knowledge)."""

    def __init__(self, body: Mapping[str, Any], *, as_sent: bool = False) -> None:
        from cards.loader import load_knowledge
        from service.catalog import load_catalog
        from service.settings import Settings

        self.settings = Settings()
        self.knowledge: KnowledgeBase = load_knowledge(self.settings.knowledge_dir)
        self.catalog = load_catalog()
        if as_sent:  # the prefetch under the service's own keys, as `run` sends it over HTTP
            from benchmarks.harness import fit_prefetch
            from service.offline import service_for

            body = fit_prefetch(dict(body), dict(service_for(body, self.catalog).prefetch))
        self.body = body
        self.raw = orjson.dumps(body)
        self.now = datetime.now(UTC)
        self.state: dict[str, Any] = {}
        self.loop = asyncio.new_event_loop()  # one loop, as in the server: no loop set-up per call

    def parse(self) -> None:
        """service.body.parse_json with the default limits (orjson plus the shape walk)."""
        from service.body import parse_json

        s = self.settings
        self.state["json"] = parse_json(
            self.raw, max_bytes=s.max_body_bytes, max_depth=s.max_json_depth, max_resources=s.max_resources
        )

    def protocol(self) -> None:
        """Envelope validation, prefetch assessment and collection (no FHIR fetch is needed)."""
        from service.gathering import assess_prefetch, check_required, collect, prefetch_queries
        from service.offline import service_for
        from service.protocol import parse_call

        service = service_for(self.state["json"], self.catalog)
        call = parse_call(self.state["json"], service)
        window = self.settings.observation_window_days
        templates = prefetch_queries(service, self.knowledge, window_days=window, now=self.now)
        gathered = collect(assess_prefetch(templates, call.prefetch, call.context, call.user_id))
        check_required(call, gathered)
        self.state["call"], self.state["gathered"] = call, gathered

    def terminology(self) -> None:
        """build_facts over the prefetch resources and read_order of each draft."""
        from terminology.facts import build_facts
        from terminology.orders import read_order

        drugs = self.knowledge.drug_identities()
        resources = [r for r in self.state["gathered"].resources if r.get("resourceType") != "Medication"]
        self.state["facts"] = build_facts(resources, ctcae_version=self.settings.ctcae_version, drugs=drugs)
        self.state["orders"] = tuple(read_order(d, drugs=drugs, is_draft=True) for d in _drafts(self.body))

    def engine(self) -> None:
        """cards.engine.evaluate."""
        from cards.engine import evaluate
        from cards.model import EvaluationRequest

        request = EvaluationRequest(
            hook=self.body["hook"],
            patient_id=str(self.body["context"]["patientId"]),
            facts=self.state["facts"],
            now=self.now,
            draft_orders=self.state["orders"],
        )
        self.state["result"] = evaluate(request, self.knowledge)

    def cards(self) -> None:
        """uuids assigned and each card dumped to JSON-ready dicts (as service.hook does)."""
        self.state["cards"] = [
            rc.card.model_copy(update={"uuid": f"00000000-0000-4000-8000-{i:012d}"}).model_dump(
                exclude_none=True, mode="json"
            )
            for i, rc in enumerate(self.state["result"].cards)
        ]

    def serialisation(self) -> None:
        """orjson.dumps of the response."""
        orjson.dumps({"cards": self.state["cards"]})

    def whole(self) -> None:
        """The route end to end minus the web stack: parse, envelope, service.hook.answer_hook, dump."""
        from service.hook import HookDependencies, answer_hook
        from service.offline import service_for
        from service.protocol import parse_call

        self.parse()
        call = parse_call(self.state["json"], service_for(self.state["json"], self.catalog))
        deps = HookDependencies(
            knowledge=self.knowledge,
            settings=self.settings,
            clock=lambda: self.now,
            id_factory=lambda: "00000000-0000-4000-8000-000000000000",
        )
        answer = self.loop.run_until_complete(answer_hook(call, deps))
        self.state["response"] = answer.response
        orjson.dumps(answer.response)


def time_stages(
    name: str, body: Mapping[str, Any], *, budget_s: float = 2.0, as_sent: bool = False
) -> StageTimings:
    """Time each stage on `body`, repeating to fill `budget_s`; a failing stage is reported, not fatal."""
    pipeline = _Pipeline(body, as_sent=as_sent)
    steps: dict[str, Callable[[], object]] = {stage: getattr(pipeline, stage) for stage in STAGES}
    errors: dict[str, str] = {}
    # One untimed pass finds failing stages and warms caches.
    for stage, fn in [*steps.items(), ("whole", pipeline.whole)]:
        try:
            fn()
        except Exception as exc:  # a stage not written yet must not stop the benchmark
            errors[stage] = f"{type(exc).__name__}: {exc}"
            if stage != "whole":
                break
    working = {k: v for k, v in steps.items() if k not in errors and not _after_error(k, errors)}
    if "whole" not in errors:
        working["whole"] = pipeline.whole
    start = time.perf_counter()  # the first pass was cold (lazy caches): time a warm one
    for fn in working.values():
        fn()
    once = max(time.perf_counter() - start, 1e-4)
    repetitions = max(3, min(500, int(budget_s / once)))
    # Round robin (each repetition runs every stage, then the whole path) so that load from other
    # processes hits stages and whole path alike; the minimum is the least disturbed sample.
    samples: dict[str, list[float]] = {k: [] for k in working}
    for _ in range(repetitions):
        for stage, fn in working.items():
            samples[stage] += _samples_ms(fn, 1)
    timings = {k: min(v) for k, v in samples.items() if k != "whole"}
    whole = statistics.median(samples["whole"]) if "whole" in samples else None
    whole_min = min(samples["whole"]) if "whole" in samples else None
    cards = len(pipeline.state.get("response", {}).get("cards", pipeline.state.get("cards", ())))
    return StageTimings(name, repetitions, timings, whole, cards, errors, whole_min)


def _after_error(stage: str, errors: dict[str, str]) -> bool:
    """True when an earlier stage failed (later stages need its output)."""
    failed = [STAGES.index(k) for k in errors if k in STAGES]
    return bool(failed) and STAGES.index(stage) > min(failed)


def profile_request(body: Mapping[str, Any], *, repetitions: int = 20, top: int = 25) -> list[str]:
    """cProfile of the whole in-process path: the top functions by own time, then by cumulative time."""
    pipeline = _Pipeline(body)
    pipeline.whole()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repetitions):
        pipeline.whole()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    out.write("\n")
    stats.sort_stats("cumulative").print_stats(top)
    return [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]


# Instructions per stage: the same pipeline under valgrind's callgrind (benchmarks.callgrind).
# Instruction counts do not move with other load on the machine (unlike the times above); an
# empty step measured the same way is subtracted (the counter calls themselves).
_EMPTY = "(counter calls)"


def _counted_child(names: list[str], repetitions: int, as_sent: bool) -> None:
    """Inside callgrind: each request, each stage and the whole path, `repetitions` calls per dump."""
    from benchmarks.payloads import reference_set

    for request in reference_set(anchor=datetime.now(UTC).date()):
        if request.name not in names:
            continue
        pipeline = _Pipeline(request.body, as_sent=as_sent)
        steps: dict[str, Callable[[], object]] = {stage: getattr(pipeline, stage) for stage in STAGES}
        steps["whole"] = pipeline.whole
        steps[_EMPTY] = lambda: None
        for fn in steps.values():  # warm: lazy caches filled, as in a running server
            fn()
        for name, fn in steps.items():
            with counted(f"{request.name} {name}"):
                for _ in range(repetitions):
                    fn()


def count_instructions(
    names: list[str], *, repetitions: int = 3, as_sent: bool = False
) -> dict[str, dict[str, float]]:
    """Millions of instructions per call of each stage (and the whole path) of each named request.

    `as_sent`: the body with its prefetch fitted to the service's keys, as `run` sends it.
    """
    args = ["benchmarks.stages", "--counted-child", ",".join(names), str(repetitions)]
    raw: dict[str, dict[str, float]] = {}
    for label, total in run_counted([*args, "--as-sent"] if as_sent else args):
        request, stage = label.split(" ", 1)
        raw.setdefault(request, {})[stage] = total / repetitions / 1e6
    result: dict[str, dict[str, float]] = {}
    for request, stages in raw.items():
        empty = stages.pop(_EMPTY, 0.0)
        result[request] = {k: round(max(v - empty, 0.0), 2) for k, v in stages.items()}
        staged = sum(v for k, v in result[request].items() if k != "whole")
        result[request]["other"] = round(result[request].get("whole", 0.0) - staged, 2)
    return result


if __name__ == "__main__":
    if len(sys.argv) in (4, 5) and sys.argv[1] == "--counted-child":
        _counted_child(sys.argv[2].split(","), int(sys.argv[3]), as_sent=sys.argv[4:] == ["--as-sent"])
    else:
        sys.exit("usage: python -m benchmarks.stages --counted-child REQUESTS REPETITIONS [--as-sent]")
