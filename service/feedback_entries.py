"""CDS Hooks feedback bodies (spec: "Feedback"): validation into FeedbackEntry values."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.errors import MalformedRequest, field_path

__all__ = ["FeedbackEntry", "FeedbackRequest", "parse_feedback"]


class _Coding(BaseModel):
    model_config = ConfigDict(extra="allow")

    system: str | None = None
    code: str
    display: str | None = None


class _OverrideReason(BaseModel):
    model_config = ConfigDict(extra="allow")

    reason: _Coding | None = None
    userComment: str | None = Field(default=None, max_length=10_000)


class _AcceptedSuggestion(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str


class FeedbackEntry(BaseModel):
    """One feedback entry: what the user did with one card."""

    model_config = ConfigDict(extra="allow", frozen=True, hide_input_in_errors=True)

    card: str = Field(json_schema_extra={"format": "uuid"})
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: tuple[_AcceptedSuggestion, ...] = ()
    overrideReason: _OverrideReason | None = None
    outcomeTimestamp: datetime

    @field_validator("card")
    @classmethod
    def _uuid(cls, value: str) -> str:
        uuid.UUID(value)
        return value

    @field_validator("outcomeTimestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # a bare time is read as UTC
        try:
            aware.astimezone(UTC)  # the stored key is in UTC: 0001-01-01T00:00+01:00 has no UTC time
        except OverflowError:
            raise ValueError("is outside the range of representable times") from None
        return aware

    def key(self, service_id: str) -> str:
        """A stable hash of the entry, so the same feedback sent twice is stored once."""
        canonical = {
            "service": service_id,
            "card": self.card,
            "outcome": self.outcome,
            "accepted": sorted(s.id for s in self.acceptedSuggestions),
            "reason": self.overrideReason.reason.code
            if self.overrideReason and self.overrideReason.reason
            else None,
            "at": self.outcomeTimestamp.astimezone(UTC).isoformat(),
        }
        return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


class FeedbackRequest(BaseModel):
    """The body of a feedback call (spec: "Feedback")."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    feedback: tuple[FeedbackEntry, ...] = Field(min_length=1)


def parse_feedback(body: Any) -> tuple[FeedbackEntry, ...]:
    """Validate a feedback body; MalformedRequest names the first bad field."""
    if not isinstance(body, dict):
        raise MalformedRequest("the body must be a JSON object", field="body")
    try:
        return FeedbackRequest.model_validate(body).feedback
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        path = field_path(first["loc"])
        raise MalformedRequest(f"{path}: {first['msg']}", field=path) from None
