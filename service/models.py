"""Request models of the HTTP API (responses are built in service.views)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
)

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


#: RFC 3339's date-time; pydantic alone would also take Unix seconds.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)


def _rfc3339(value: Any) -> Any:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z")

    return value


def _whole_number(value: Any) -> Any:
    # int() and pydantic's lax mode also take "1.0", " 5", "1_0" and
    # non-ASCII digits; a query parameter is plain ASCII digits.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number in ASCII digits")

    return value


UtcTime = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(in_utc)]
QueryText = Annotated[str, AfterValidator(_storable)]
QueryInt = Annotated[int, BeforeValidator(_whole_number)]


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

    @field_validator("priority", mode="before")
    @classmethod
    def _null_priority_is_normal(cls, value: Any) -> Any:
        # null means "not given", as it does for every other optional field.
        return Priority.NORMAL if value is None else value


class ListQuery(BaseModel):
    """The query of `GET /tasks`."""

    model_config = ConfigDict(extra="forbid")

    user_id: QueryText | None = Field(None, max_length=200)
    status: TaskStatus | None = None
    task_type: QueryText | None = Field(None, max_length=100)
    created_after: UtcTime | None = None
    created_before: UtcTime | None = None
    limit: QueryInt = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=200)
