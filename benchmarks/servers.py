"""Server subprocesses on loopback: free ports, readiness (startup time), RSS and CPU of the workers."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["HOST", "ServerProcess", "child_env", "free_port", "start_server"]

HOST = "127.0.0.1"
_ROOT = Path(__file__).resolve().parents[1]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a child process: ours, the repository on PYTHONPATH (for -m benchmarks.*), extras."""
    path = os.pathsep.join(p for p in (str(_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def free_port() -> int:
    """A free loopback TCP port (bound, read and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _ready(port: int, path: str) -> bool:
    """True when GET `path` answers 200."""
    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _peak_rss_bytes(pid: int) -> int | None:
    """VmHWM (peak resident set) from /proc; None off Linux."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@dataclass
class ServerProcess:
    """A started server, its port, how long it took to become ready and where it logs."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    startup_s: float
    log_path: Path

    def _processes(self) -> list[psutil.Process]:
        """The server and any worker children (uvicorn serves in-process with one worker)."""
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def worker_memory_mb(self) -> dict[str, float]:
        """Current and peak RSS of the largest process (the worker), in MiB."""
        current, peak = 0, 0
        for p in self._processes():
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            current = max(current, rss)
            peak = max(peak, _peak_rss_bytes(p.pid) or rss)
        return {"rss_mb": current / 2**20, "peak_rss_mb": peak / 2**20}

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its workers."""
        total = 0.0
        for p in self._processes():
            try:
                times = p.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def stop(self) -> None:
        """SIGTERM this server's process group, SIGKILL if it lingers."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_server(
    name: str,
    argv: list[str],
    *,
    port: int,
    log_dir: Path,
    env: dict[str, str] | None = None,
    ready_path: str = "/readyz",
    timeout_s: float = 60.0,
) -> ServerProcess:
    """Start `argv` in its own process group and wait for `ready_path`; startup_s is start -> first 200."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env(env),
            start_new_session=True,  # own group: stop() ends the server and only it
        )
    while True:
        if _ready(port, ready_path):
            return ServerProcess(name, proc, port, time.perf_counter() - started, log_path)
        if proc.poll() is not None or time.perf_counter() - started > timeout_s:
            server = ServerProcess(name, proc, port, float("nan"), log_path)
            server.stop()
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} did not become ready on port {port}:\n{tail}")
        time.sleep(0.02)
