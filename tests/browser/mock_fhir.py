"""A tiny loopback FHIR server with a SMART authorization server, for the browser tests."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["MockFhir", "mock_fhir"]

TOKEN = "access-token-for-tests"


@dataclass
class MockFhir:
    """What the server serves and what it saw."""

    resources: list[dict[str, Any]]
    base: str = ""
    app_context: str | None = None  # the card link's appContext, returned in the token response
    launch_patient: str | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> authorize parameters
    authorize_params: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    fhir_requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)
    errors: list[str] = field(default_factory=list)

    @property
    def fhir_base(self) -> str:
        """The FHIR base URL (the `iss` of a launch)."""
        return f"{self.base}/fhir"

    def search(self, resource_type: str, query: Mapping[str, list[str]]) -> list[dict[str, Any]]:
        """Resources of one type for the patient named in the query."""
        patient = (query.get("patient") or query.get("subject") or [""])[0].removeprefix("Patient/")
        found = []
        for resource in self.resources:
            if resource.get("resourceType") != resource_type:
                continue
            subject = resource.get("subject", {}).get("reference", "")
            if subject == f"Patient/{patient}":
                found.append(resource)
        return found


def _handler(state: MockFhir) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

        def _send(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept")
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            if body is not None:
                self.send_header("Content-Type", "application/fhir+json")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_OPTIONS(self) -> None:
            self._send(204)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path == "/fhir/.well-known/smart-configuration":
                self._send(
                    200,
                    {
                        "authorization_endpoint": f"{state.base}/auth/authorize",
                        "token_endpoint": f"{state.base}/auth/token",
                        "code_challenge_methods_supported": ["S256"],
                        "capabilities": ["launch-ehr", "launch-standalone", "client-public"],
                    },
                )
                return
            if parts.path == "/auth/authorize":
                self._authorize({k: v[0] for k, v in query.items()})
                return
            if parts.path.startswith("/fhir/"):
                self._fhir(parts.path.removeprefix("/fhir/"), query)
                return
            self._send(404, {"resourceType": "OperationOutcome"})

        def _authorize(self, params: dict[str, str]) -> None:
            state.authorize_params.append(params)
            code = secrets.token_urlsafe(12)
            state.codes[code] = params
            target = f"{params['redirect_uri']}?{urlencode({'code': code, 'state': params['state']})}"
            self._send(302, None, {"Location": target})

        def _fhir(self, path: str, query: Mapping[str, list[str]]) -> None:
            auth = self.headers.get("Authorization")
            state.fhir_requests.append((path, auth))
            if state.app_context is not None and auth != f"Bearer {TOKEN}":
                self._send(401, {"resourceType": "OperationOutcome"})
                return
            if path.startswith("Patient/"):
                wanted = path.removeprefix("Patient/")
                for resource in state.resources:
                    if resource.get("resourceType") == "Patient" and resource.get("id") == wanted:
                        self._send(200, resource)
                        return
                self._send(404, {"resourceType": "OperationOutcome"})
                return
            entries = [{"resource": r} for r in state.search(path, query)]
            self._send(
                200, {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
            )

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/auth/token":
                self._send(404, {"resourceType": "OperationOutcome"})
                return
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            state.token_requests.append(form)
            params = state.codes.pop(form.get("code", ""), None)
            if params is None:
                state.errors.append("unknown or reused code")
                self._send(400, {"error": "invalid_grant"})
                return
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge != params.get("code_challenge") or form.get("redirect_uri") != params.get(
                "redirect_uri"
            ):
                state.errors.append("PKCE or redirect_uri mismatch")
                self._send(400, {"error": "invalid_grant"})
                return
            self._send(
                200,
                {
                    "access_token": TOKEN,
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "scope": params.get("scope", ""),
                    "patient": state.launch_patient,
                    "appContext": state.app_context,
                },
            )

    return Handler


@contextmanager
def mock_fhir(resources: list[dict[str, Any]]) -> Iterator[MockFhir]:
    """Serve `resources` on a free loopback port until the block ends."""
    state = MockFhir(resources=resources)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
