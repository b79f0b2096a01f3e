"""Durability of a real server process: SIGKILL loses no acknowledged feedback; SIGTERM lets calls finish."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from service.storage.database import create_engine
from service.storage.tables import feedback

FEEDBACK_PATH = "/cds-services/toxhooks-patient-view/feedback"
POSTERS = 8
ACKNOWLEDGED_BEFORE_KILL = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def toxhooks_command() -> list[str]:
    script = Path(sys.executable).with_name("toxhooks")
    if script.exists():
        return [str(script)]
    found = shutil.which("toxhooks")
    return [found] if found else [sys.executable, "-c", "from service.cli import main; main()"]


class Server:
    """`toxhooks serve` as a child process on a free loopback port."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "TOXHOOKS_DATABASE_URL": database_url, "TOXHOOKS_LOG_LEVEL": "WARNING"}
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [*toxhooks_command(), "serve", "--dev", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def feedback_body(card: str) -> dict[str, object]:
    return {"feedback": [{"card": card, "outcome": "accepted", "outcomeTimestamp": "2026-11-22T04:00:00Z"}]}


def stored_cards(database_url: str, cards: set[str]) -> set[str]:
    async def query() -> set[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(select(feedback.c.card_uuid))
                return {row[0] for row in rows} & cards
        finally:
            await engine.dispose()

    return asyncio.run(query())


def kill_while_posting(database_url: str, log: Path) -> None:
    """Post feedback from several clients, SIGKILL the server mid-stream, restart, check every 200."""
    server = Server(database_url, log)
    acknowledged: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def post_until_stopped() -> None:
        with httpx.Client(base_url=server.base, timeout=5) as client:
            while not stop.is_set():
                card = str(uuid.uuid4())
                try:
                    response = client.post(FEEDBACK_PATH, json=feedback_body(card))
                except httpx.HTTPError:
                    continue  # the server is gone: this entry was never acknowledged
                if response.status_code == 200:
                    with lock:
                        acknowledged.add(card)

    try:
        with ThreadPoolExecutor(POSTERS) as pool:
            for _ in range(POSTERS):
                pool.submit(post_until_stopped)
            deadline = time.monotonic() + 60
            while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
                time.sleep(0.01)
            server.process.send_signal(signal.SIGKILL)  # mid-stream: requests are in flight
            server.process.wait(timeout=10)
            time.sleep(0.3)
            stop.set()
    finally:
        stop.set()
        server.stop()

    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    restarted = Server(database_url, log)  # the database opens cleanly after the kill
    try:
        missing = acknowledged - stored_cards(database_url, acknowledged)
        assert not missing, f"{len(missing)} acknowledged entries lost"
        # The restarted server still takes feedback on the same database.
        card = str(uuid.uuid4())
        assert httpx.post(f"{restarted.base}{FEEDBACK_PATH}", json=feedback_body(card)).status_code == 200
    finally:
        restarted.stop()
    assert card in stored_cards(database_url, {card})


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_feedback_sqlite(tmp_path: Path) -> None:
    kill_while_posting(f"sqlite+aiosqlite:///{tmp_path / 'toxhooks.db'}", tmp_path / "server.log")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = os.environ.get("TOXHOOKS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TOXHOOKS_TEST_POSTGRES_URL is not set")

    async def reachable() -> bool:
        engine = create_engine(url)
        try:
            async with engine.connect():
                return True
        except Exception:
            return False
        finally:
            await engine.dispose()

    if not asyncio.run(reachable()):
        pytest.skip("the PostgreSQL server named by TOXHOOKS_TEST_POSTGRES_URL is unreachable")
    upgrade = subprocess.run(
        [*toxhooks_command(), "db", "upgrade"],
        env={**os.environ, "TOXHOOKS_DATABASE_URL": url},
        capture_output=True,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stderr.decode()
    yield url


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_loses_no_acknowledged_feedback_postgres(postgres_url: str, tmp_path: Path) -> None:
    kill_while_posting(postgres_url, tmp_path / "server.log")


def read_json_reply(connection: socket.socket) -> bytes:
    """One HTTP response with a JSON object body, read to its end."""
    reply = b""
    while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply


@pytest.mark.slow
def test_sigterm_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'toxhooks.db'}"
    server = Server(database_url, tmp_path / "server.log")
    card = str(uuid.uuid4())
    body = httpx.Request("POST", "http://x", json=feedback_body(card)).content
    head = (
        f"POST {FEEDBACK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            # One complete call first, so the server has surely taken the connection on.
            connection.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
            assert read_json_reply(connection).startswith(b"HTTP/1.1 200")
            # Then half a request and SIGTERM: the call is in flight when shutdown starts.
            connection.sendall(head + body[:10])
            time.sleep(0.3)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.process.poll() is None, "the server quit with a request in flight"
            connection.sendall(body[10:])
            reply = read_json_reply(connection)
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        # Then it exits on its own; uvicorn re-raises the handled SIGTERM once shutdown is complete.
        assert server.process.wait(timeout=15) in (0, -signal.SIGTERM)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.base}/healthz", timeout=1)
    finally:
        server.stop()
    assert card in stored_cards(database_url, {card})
