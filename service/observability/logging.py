"""Logging set-up: one stderr handler, JSON lines with request id and hookInstance, credentials scrubbed."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from service.errors import ConfigurationError
from service.observability.context import current_hook_instance, current_request_id
from service.observability.redaction import REDACTED, is_secret_key, redact
from service.observability.tracing import configure_tracing, current_trace_ids
from service.settings import Settings

__all__ = ["JsonFormatter", "RedactingFilter", "TextFormatter", "configure_logging"]

# Attributes every LogRecord has; anything else on a record came from `extra=` and is emitted.
# uvicorn's color_message duplicates the message with terminal colour codes.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
# Server loggers that install their own handlers; they are re-pointed at ours so that every
# line, including the server's, is one JSON object.
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn.error", "gunicorn.access")
_HANDLER_NAME = "toxhooks"
# HTTP client libraries log every request URL at INFO, and FHIR search URLs name the patient.
_CLIENT_LOGGERS = ("httpx", "httpcore", "hpack")


class RedactingFilter(logging.Filter):
    """Replace credentials in the message, its arguments and `extra` fields before formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the record in place; never drops it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken %-format must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        fields = vars(record)
        for key in fields.keys() - _RECORD_FIELDS:
            value = fields[key]
            if is_secret_key(key):
                fields[key] = REDACTED
            elif isinstance(value, str):
                fields[key] = redact(value)
        return True


def _context_fields() -> dict[str, Any]:
    """Request id, hookInstance and trace ids of the current request, when there is one."""
    fields: dict[str, Any] = {}
    request_id = current_request_id()
    if request_id is not None:
        fields["request_id"] = request_id
    hook_instance = current_hook_instance()
    if hook_instance is not None:
        fields["hookInstance"] = hook_instance
    fields.update(current_trace_ids())
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request context and extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context_fields())
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """Human-readable lines for development, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as text, suffixed with its request context."""
        line = super().format(record)
        context = " ".join(f"{key}={value}" for key, value in _context_fields().items())
        text = f"{line} [{context}]" if context else line
        # Tracebacks are rendered here, after the filter ran, so they are scrubbed here too.
        return redact(text) if record.exc_info or record.stack_info else text


def configure_logging(settings: Settings) -> None:
    """Configure the root logger from the settings (idempotent), and tracing when configured."""
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        raise ConfigurationError(
            f"log_level {settings.log_level!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
        )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    # stderr, so that CLI commands printing results on stdout stay machine-readable.
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
    for name in _CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # The request middleware writes its own access line (route template, duration, request id);
    # the server's access line would repeat it with the raw path.
    logging.getLogger("uvicorn.access").disabled = True
    configure_tracing(settings)
