"""Two `toxhooks serve` processes sharing one PostgreSQL and one Redis behave as one service:
feedback written through either is counted together, and a JWT used on one is refused by the other."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]  # server processes, SIGTERM

SERVICE = "toxhooks-order-sign"
ISSUER = "https://ehr.scale-out.test"
PUBLIC_BASE_URL = "https://cds.scale-out.test"  # both processes sit behind one ingress name
FEEDBACK_PATH = f"/cds-services/{SERVICE}/feedback"
STARTUP_TIMEOUT_S = 90.0
CLI = [sys.executable, "-c", "from service.cli import main; main()"]


@dataclass
class Process:
    """One running toxhooks server."""

    popen: subprocess.Popen[bytes]
    url: str
    log: Path
    metrics_url: str  # the private metrics listener (TOXHOOKS_METRICS_PORT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def reachable_postgres(url: str) -> bool:
    import asyncpg
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    try:
        conn = await asyncpg.connect(
            user=parts.username,
            password=parts.password,
            host=parts.host or "127.0.0.1",
            port=parts.port or 5432,
            database=parts.database,
            timeout=3,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def reachable_redis(url: str) -> bool:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@pytest.fixture
async def stores() -> AsyncIterator[tuple[str, str]]:
    """(database URL of a fresh, dropped-afterwards PostgreSQL database, Redis URL)."""
    postgres_url = os.environ.get("TOXHOOKS_TEST_POSTGRES_URL")
    redis_url = os.environ.get("TOXHOOKS_TEST_REDIS_URL")
    if not postgres_url or not redis_url:
        pytest.skip("TOXHOOKS_TEST_POSTGRES_URL and TOXHOOKS_TEST_REDIS_URL are not both set")
    if not await reachable_postgres(postgres_url):
        pytest.skip("PostgreSQL at TOXHOOKS_TEST_POSTGRES_URL is unreachable")
    if not await reachable_redis(redis_url):
        pytest.skip("Redis at TOXHOOKS_TEST_REDIS_URL is unreachable")
    import asyncpg
    from sqlalchemy.engine import make_url

    parts = make_url(postgres_url)
    name = f"toxhooks_scale_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        user=parts.username,
        password=parts.password,
        host=parts.host or "127.0.0.1",
        port=parts.port or 5432,
        database=parts.database,
    )
    try:
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.InsufficientPrivilegeError:
            pytest.skip("the test PostgreSQL role cannot create a scratch database")
        yield parts.set(database=name).render_as_string(hide_password=False), redis_url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def signing_key(tmp_path: Path) -> tuple[object, Path]:
    """An EC P-384 key of the test EHR and the JWKS file holding its public half."""
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-384", parameters={"kid": "scale-out-key", "use": "sig"}, private=True)
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    return key, jwks_file


def mint(key: object, path: str) -> str:
    """A fresh CDS client JWT for `path` (new jti each time)."""
    from joserfc import jwt

    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "scale-out-client",
        "aud": PUBLIC_BASE_URL + path,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    header = {"alg": "ES384", "typ": "JWT", "kid": "scale-out-key"}
    return jwt.encode(header, claims, key, algorithms=["ES384"])  # type: ignore[arg-type]


def server_env(database_url: str, redis_url: str, jwks_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOXHOOKS_")}
    env.update(
        TOXHOOKS_DATABASE_URL=database_url,
        TOXHOOKS_REDIS_URL=redis_url,
        TOXHOOKS_TRUSTED_ISSUERS=json.dumps(
            [{"iss": ISSUER, "jwks_file": str(jwks_file), "algorithms": ["ES384"]}]
        ),
        TOXHOOKS_PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        TOXHOOKS_LOG_JSON="true",
        TOXHOOKS_LOG_LEVEL="INFO",
        TOXHOOKS_GRACEFUL_SHUTDOWN_S="5",
    )
    return env


def run_cli(args: list[str], env: dict[str, str]) -> str:
    completed = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.fixture
def servers(
    stores: tuple[str, str], signing_key: tuple[object, Path], tmp_path: Path
) -> Iterator[tuple[Process, Process, dict[str, str]]]:
    database_url, redis_url = stores
    env = server_env(database_url, redis_url, signing_key[1])
    run_cli(["db", "upgrade"], env)
    processes = []
    for index in range(2):
        port, metrics_port = free_port(), free_port()
        log = tmp_path / f"server-{index}.log"
        with log.open("wb") as sink:
            popen = subprocess.Popen(
                [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env={**env, "TOXHOOKS_METRICS_PORT": str(metrics_port)},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        processes.append(Process(popen, f"http://127.0.0.1:{port}", log, f"http://127.0.0.1:{metrics_port}"))
    try:
        for process in processes:
            wait_ready(process)
        yield processes[0], processes[1], env
    finally:
        for process in processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()


def wait_ready(process: Process) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            pytest.fail(f"server exited with {process.popen.returncode}:\n{process.log.read_text()}")
        try:
            if httpx.get(process.url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail(f"server not ready after {STARTUP_TIMEOUT_S} s:\n{process.log.read_text()}")


def feedback_body(outcome: str) -> dict[str, object]:
    entry: dict[str, object] = {
        "card": str(uuid.uuid4()),
        "outcome": outcome,
        "outcomeTimestamp": "2026-03-01T09:30:00+01:00",
    }
    if outcome == "overridden":
        entry["overrideReason"] = {"reason": {"code": "not-relevant", "display": "Not relevant"}}
    return {"feedback": [entry]}


def stats_row(output: str, scope: str, name: str) -> tuple[int, int]:
    """(accepted, overridden) of one row of `toxhooks feedback stats`."""
    for line in output.splitlines():
        fields = line.split()
        if fields[:2] == [scope, name]:
            return int(fields[2]), int(fields[3])
    raise AssertionError(f"no {scope} {name} row in:\n{output}")


async def test_two_processes_share_feedback_and_replay_cache(
    servers: tuple[Process, Process, dict[str, str]], signing_key: tuple[object, Path]
) -> None:
    first, second, env = servers
    key = signing_key[0]
    token = mint(key, FEEDBACK_PATH)
    async with httpx.AsyncClient(timeout=10) as client:
        accepted = await client.post(
            first.url + FEEDBACK_PATH,
            json=feedback_body("accepted"),
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "scale-out-1"},
        )
        assert accepted.status_code == 200, accepted.text
        overridden = await client.post(
            second.url + FEEDBACK_PATH,
            json=feedback_body("overridden"),
            headers={"Authorization": f"Bearer {mint(key, FEEDBACK_PATH)}"},
        )
        assert overridden.status_code == 200, overridden.text

        # The token the first process accepted, replayed on the second one.
        replayed = await client.post(
            second.url + FEEDBACK_PATH,
            json=feedback_body("accepted"),
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "scale-out-replay"},
        )
        assert replayed.status_code == 401
        # Metrics are off the service port; the private listener has the reasons.
        assert (await client.get(second.url + "/metrics")).status_code == 404
        metrics = (await client.get(second.metrics_url + "/metrics")).text
    assert re.search(r'toxhooks_auth_failures_total\{reason="replay"\} 1\.0', metrics), metrics
    assert 'toxhooks_feedback_total{outcome="overridden",service="toxhooks-order-sign"} 1.0' in metrics

    output = run_cli(["feedback", "stats"], env)
    assert stats_row(output, "service", SERVICE) == (1, 1)

    # The refusal is logged as JSON with the request id and never with the token.
    for process in (first, second):
        assert token not in process.log.read_text()
    refusals = [
        json.loads(line)
        for line in second.log.read_text().splitlines()
        if line.startswith("{") and "refused" in line
    ]
    assert any(entry.get("request_id") == "scale-out-replay" for entry in refusals), refusals


def test_sigterm_drains_the_request_in_flight(
    servers: tuple[Process, Process, dict[str, str]], signing_key: tuple[object, Path]
) -> None:
    first, _, _ = servers
    body = json.dumps(feedback_body("accepted")).encode()
    head = (
        f"POST {FEEDBACK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {mint(signing_key[0], FEEDBACK_PATH)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    host, port = first.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head + body[:10])  # the request is now in flight, its body half sent
        time.sleep(0.3)
        first.popen.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # the server is shutting down while the client is still sending
        conn.sendall(body[10:])
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    # uvicorn re-raises the signal once shut down, so "killed by SIGTERM" is the clean exit.
    assert first.popen.wait(timeout=15) in (0, -signal.SIGTERM)
    messages = [json.loads(line)["message"] for line in first.log.read_text().splitlines()]
    assert "Application shutdown complete." in messages
