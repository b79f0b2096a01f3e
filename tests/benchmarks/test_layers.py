"""The layer A/B tooling: switches apply and are undone, the bare ASGI caller, the table, the launch argv."""

from __future__ import annotations

import gc
from pathlib import Path

import orjson
import pytest
from starlette.middleware.cors import CORSMiddleware

import service.body
import service.observability.middleware
from benchmarks import layers
from benchmarks.floor import create_floor_app
from benchmarks.harness import _service_argv
from service.observability.middleware import ObservabilityMiddleware


async def test_bare_asgi_caller_sends_the_body_in_chunks() -> None:
    body = orjson.dumps({"hook": "order-sign", "pad": "x" * 200_000})  # several 64 KiB chunks
    status, data = await layers.call(create_floor_app(), "POST", "/cds-services/any", body)
    assert (status, data) == (200, b'{"cards":[]}')


def test_layers_switched_off_leave_the_app_and_come_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'l.db'}"
    full = layers.build_app(database_url=url)
    assert {ObservabilityMiddleware, CORSMiddleware} <= {m.cls for m in full.user_middleware}
    bare = layers.build_app(["observability", "cors", "issued_cards", "access_log"], database_url=url)
    assert not {ObservabilityMiddleware, CORSMiddleware} & {m.cls for m in bare.user_middleware}
    assert bare.state.settings.access_log is False
    assert type(bare.state.toxhooks.recorder).__name__ == "_NoRecorder"
    check, observe = service.body.check_limits, service.observability.middleware.observe_request
    with layers.switched_off(["metrics", "body_limits", "gc"]):
        assert service.body.check_limits is not check
        assert service.observability.middleware.observe_request is not observe
        assert not gc.isenabled()
    assert service.body.check_limits is check
    assert service.observability.middleware.observe_request is observe
    assert gc.isenabled()
    with pytest.raises(ValueError, match="unknown layer"):
        layers.build_app(["no-such-layer"], database_url=url)


def test_table_shows_the_saving_of_each_layer() -> None:
    rows = [
        layers.LayerResult("all on", cpu_us=1000.0, wall_us=1100.0, instructions=50e6),
        layers.LayerResult("metrics off", cpu_us=900.0, wall_us=1000.0, instructions=48e6),
    ]
    table = layers.format_table(rows)
    assert "| metrics off | 48.00 | 2.00 | 900 | 100 | 1,000 |" in table


def test_layers_off_launch_the_factory_with_the_switches() -> None:
    argv = _service_argv("cli", 8099, ["metrics", "gc"])
    assert argv[1:4] == ["-m", "benchmarks.launch", "service"]
    assert argv[-2:] == ["--off", "metrics,gc"]
    assert "serve" in _service_argv("cli", 8099, [])
