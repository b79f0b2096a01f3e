"""Per-request context (request id, hookInstance, metric labels) carried in contextvars."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass

__all__ = [
    "RequestLabels",
    "bind_hook_instance",
    "current_hook_instance",
    "current_labels",
    "current_request_id",
    "new_request_id",
    "reset_request",
    "start_request",
]

# A caller-supplied X-Request-ID is kept only when it is short and plain, so that a header
# cannot smuggle log-breaking text or a token into every log line of the request.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(slots=True)
class RequestLabels:
    """Metric labels a handler learns during the request (service id, hook).

    The middleware creates one holder per request and reads it after the response; handlers
    mutate it. A shared mutable holder survives the context copies of thread-pool endpoints,
    where a contextvar set inside the handler would not be seen by the middleware.
    """

    service: str = ""
    hook: str = ""
    hook_instance: str | None = None


_request_id: ContextVar[str | None] = ContextVar("toxhooks_request_id", default=None)
_hook_instance: ContextVar[str | None] = ContextVar("toxhooks_hook_instance", default=None)
_labels: ContextVar[RequestLabels | None] = ContextVar("toxhooks_request_labels", default=None)


@dataclass(frozen=True, slots=True)
class _Tokens:
    """What `reset_request` needs to restore the previous context."""

    request_id: Token[str | None]
    hook_instance: Token[str | None]
    labels: Token[RequestLabels | None]


def new_request_id(supplied: str | None = None) -> str:
    """The caller's request id when it is safe to log, else a fresh random one."""
    if supplied and _SAFE_ID.match(supplied):
        return supplied
    return uuid.uuid4().hex


def start_request(request_id: str) -> tuple[RequestLabels, _Tokens]:
    """Open the context of one request; returns its label holder and the reset tokens."""
    labels = RequestLabels()
    tokens = _Tokens(
        request_id=_request_id.set(request_id),
        hook_instance=_hook_instance.set(None),
        labels=_labels.set(labels),
    )
    return labels, tokens


def reset_request(tokens: _Tokens) -> None:
    """Close the context opened by `start_request`."""
    _labels.reset(tokens.labels)
    _hook_instance.reset(tokens.hook_instance)
    _request_id.reset(tokens.request_id)


def bind_hook_instance(hook_instance: str | None) -> None:
    """Attach the CDS Hooks `hookInstance` to the current request's log lines.

    Call it once the request body is parsed; the value is a UUID by the spec, and anything
    that does not look like a plain identifier is dropped rather than logged.
    """
    value = hook_instance if hook_instance is not None and _SAFE_ID.match(hook_instance) else None
    _hook_instance.set(value)
    labels = _labels.get()
    if labels is not None:  # also seen by the access log, whatever context the handler ran in
        labels.hook_instance = value


def current_request_id() -> str | None:
    """The id of the request being handled, if any."""
    return _request_id.get()


def current_hook_instance() -> str | None:
    """The hookInstance of the request being handled, if bound."""
    value = _hook_instance.get()
    if value is None:
        labels = _labels.get()
        value = labels.hook_instance if labels is not None else None
    return value


def current_labels() -> RequestLabels | None:
    """The metric label holder of the request being handled, if any."""
    return _labels.get()
