"""Errors of the cards package."""

from terminology.errors import ToxhooksError

__all__ = ["KnowledgeError"]


class KnowledgeError(ToxhooksError):
    """A knowledge file is invalid; the message names the file and the field."""
