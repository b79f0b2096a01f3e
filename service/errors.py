"""toxhooks' one error hierarchy; service/error_handlers.py maps it to HTTP in one place.

ToxhooksError                      terminology/errors.py
├── TerminologyError               broken packaged terminology data (start-up)
├── KnowledgeError                 cards/errors.py: invalid knowledge file (start-up)
├── ConfigurationError             unsafe or inconsistent settings (start-up)
└── RequestError                   a hook call that cannot be answered as asked
    ├── MalformedRequest     400   bad JSON, wrong shape; names the field
    ├── AuthenticationFailed 401   bad or missing JWT; bare body, reason only in logs
    ├── UnknownService       404   no CDS service with that id
    ├── PayloadTooLarge      413   body over the configured limit
    ├── UnsupportedMediaType 415   not application/json
    └── PreconditionFailed   412   data needed can be neither found in prefetch nor fetched
"""

from __future__ import annotations

from collections.abc import Sequence

from cards.errors import KnowledgeError
from terminology.errors import TerminologyError, ToxhooksError

__all__ = [
    "AuthenticationFailed",
    "ConfigurationError",
    "KnowledgeError",
    "MalformedRequest",
    "PayloadTooLarge",
    "PreconditionFailed",
    "RequestError",
    "TerminologyError",
    "ToxhooksError",
    "UnknownService",
    "UnsupportedMediaType",
    "field_path",
]


class ConfigurationError(ToxhooksError):
    """Settings are unsafe or inconsistent; start-up stops with this message."""


class RequestError(ToxhooksError):
    """A request that cannot be answered as asked; carries its HTTP status."""

    status_code = 400
    issue_code = "invalid"  # FHIR OperationOutcome issue.code

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # dotted path of the offending field, e.g. "context.draftOrders"


class MalformedRequest(RequestError):
    """The body is not valid JSON or not the shape the hook requires."""


class AuthenticationFailed(RequestError):
    """The JWT is missing or does not verify. `reason` is a category for logs only."""

    status_code = 401
    issue_code = "login"

    def __init__(self, reason: str) -> None:
        super().__init__("authentication failed")
        self.reason = reason


class UnknownService(RequestError):
    """No CDS service with that id."""

    status_code = 404
    issue_code = "not-found"


class PayloadTooLarge(RequestError):
    """The body is larger than the configured limit."""

    status_code = 413
    issue_code = "too-costly"


class UnsupportedMediaType(RequestError):
    """The body is not JSON."""

    status_code = 415
    issue_code = "not-supported"


class PreconditionFailed(RequestError):
    """Required data could be neither found in prefetch nor fetched (spec: 412)."""

    status_code = 412
    issue_code = "not-found"

    def __init__(self, message: str, *, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


def field_path(loc: Sequence[int | str]) -> str:
    """A validation error location as a FHIRPath-style expression, e.g. `feedback[0].card`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"
