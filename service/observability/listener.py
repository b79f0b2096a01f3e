"""The private metrics listener: /metrics with full detail on its own (loopback by default) port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from service.observability.metrics import CONTENT_TYPE_LATEST, METRICS_PATH, render_metrics

__all__ = ["MetricsListener", "start_metrics_listener"]

StartResponse = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    """No access line per scrape on stderr (scrapes come every few seconds)."""

    def log_message(self, format: str, *args: Any) -> None:
        """Drop the line."""


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


def _app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """GET /metrics: every family with every label, auth-failure reasons included."""
    if environ.get("PATH_INFO") != METRICS_PATH:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "GET")])
        return [b"method not allowed\n"]
    body = render_metrics(public=False)
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
    return [body]


@dataclass
class MetricsListener:
    """A running listener; `port` is the bound port (useful when asked for port 0)."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_listener(host: str, port: int) -> MetricsListener:
    """Serve /metrics on host:port in a daemon thread; raises OSError if the port is taken.

    Started by `toxhooks serve` in the server's main process: with several workers that is the
    supervisor, which sums every worker's metrics through PROMETHEUS_MULTIPROC_DIR.
    """
    server_class = _ThreadingServer6 if ":" in host else _ThreadingServer
    server = make_server(host, port, _app, server_class=server_class, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="toxhooks-metrics", daemon=True)
    thread.start()
    return MetricsListener(host=host, port=server.server_port, _server=server, _thread=thread)
