"""The root of toxhooks' error hierarchy (drawn in full in service/errors.py)."""

__all__ = ["TerminologyError", "ToxhooksError"]


class ToxhooksError(Exception):
    """Base of every error toxhooks raises on purpose."""


class TerminologyError(ToxhooksError):
    """Packaged terminology data (CTCAE tables, code maps) is missing or inconsistent."""
