"""Request models of the HTTP API (responses are built in service.views)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from certq.states import Priority, TaskStatus
from certq.text import is_storable


def in_utc(value: datetime) -> datetime:
    """`value` in UTC; it must carry an offset and stay within the calendar."""
    if value.tzinfo is None:
        raise ValueError("needs an offset (RFC 3339), e.g. 2026-12-01T00:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 once in UTC") from None


def _storable(value: str) -> str:
    if not is_storable(value):
        raise ValueError("holds NUL or a lone surrogate")

    return value


UtcTime = Annotated[datetime, AfterValidator(in_utc)]
QueryText = Annotated[str, AfterValidator(_storable)]


class WebhookSpec(BaseModel):
    """Where to POST task events (delivery is not available yet)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048)
    events: list[str] | None = None


class SubmitRequest(BaseModel):
    """The body of `POST /tasks`."""

    model_config = ConfigDict(extra="forbid")

    task_type: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    webhook: WebhookSpec | None = None
    result_ttl: StrictInt | None = Field(None, description="seconds to keep the result")
    max_retries: StrictInt | None = Field(
        None, description="retries after the first attempt"
    )


class ListQuery(BaseModel):
    """The query of `GET /tasks`."""

    model_config = ConfigDict(extra="forbid")

    user_id: QueryText | None = Field(None, max_length=200)
    status: TaskStatus | None = None
    task_type: QueryText | None = Field(None, max_length=100)
    created_after: UtcTime | None = None
    created_before: UtcTime | None = None
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=200)
