"""Request models of the HTTP API (responses are built in service.views)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from certq.states import Priority


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
