"""The load client speaks HTTP/1.1 correctly, counts errors and keeps to its schedule's request count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from benchmarks.client import Target, ensure_loopback, percentile, run_fixed_rate, run_saturation
from benchmarks.sink import handle

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.fixture
async def sink() -> AsyncIterator[int]:
    server, port = await _serve(handle)
    async with server:
        yield port


async def _chunked_500(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers 500 with a chunked body; the second answer of a connection says `connection: close`."""
    try:
        for served in range(2):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            close = b"connection: close\r\n" if served == 1 else b""
            writer.write(
                b"HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n" + close + b"\r\n3\r\nabc\r\n0\r\n\r\n"
            )
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass  # the client hung up first
    finally:
        writer.close()


async def test_saturation_against_the_sink_succeeds(sink: int) -> None:
    targets = [Target("/cds-services/a", b'{"x":1}', 2, "a"), Target("/cds-services/b", b"{}", 1, "b")]
    result = await run_saturation("127.0.0.1", sink, targets, duration_s=0.3, concurrency=3, warmup_s=0.0)
    assert result.requests > 0
    assert result.errors == 0
    assert result.statuses == {"200": result.requests}
    assert set(result.per_target) == {"a", "b"}
    assert result.latency_ms["p50"] <= result.latency_ms["p99"] <= result.latency_ms["max"]


async def test_saturation_honours_max_requests(sink: int) -> None:
    result = await run_saturation(
        "127.0.0.1", sink, [Target("/x", b"{}")], duration_s=5.0, concurrency=1, warmup_s=0.0, max_requests=7
    )
    assert result.requests == 7


async def test_fixed_rate_sends_rate_times_duration_requests(sink: int) -> None:
    result = await run_fixed_rate(
        "127.0.0.1", sink, [Target("/x", b"{}")], rate_rps=50, duration_s=0.2, connections=2, warmup_s=0.0
    )
    assert result.requests == 10
    assert result.target_rate_rps == 50
    assert result.errors == 0


async def test_http_errors_and_chunked_bodies_are_counted() -> None:
    server, port = await _serve(_chunked_500)
    async with server:
        result = await run_saturation(
            "127.0.0.1",
            port,
            [Target("/x", b"{}")],
            duration_s=5.0,
            concurrency=1,
            warmup_s=0.0,
            max_requests=4,
        )
    assert result.requests == 4
    assert result.errors == 4  # every 500 is an error; the client reconnected after `connection: close`
    assert result.statuses == {"500": 4}
    assert result.error_samples[0].startswith("HTTP 500")


def test_only_loopback_is_accepted() -> None:
    ensure_loopback("127.0.0.1")
    ensure_loopback("::1")
    ensure_loopback("localhost")
    with pytest.raises(ValueError, match="non-loopback"):
        ensure_loopback("10.0.0.8")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
