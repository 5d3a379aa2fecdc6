"""Operations for operators and tests: sleep (with failures), echo, noop."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from actors.operation import OperationContext, operation
from certq.errors import OperationError, PermanentError


class SleepParams(BaseModel):
    """Sleep (or burn CPU) for `seconds`, in `steps`, optionally failing."""

    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(1.0, ge=0, le=3600)
    steps: int = Field(10, ge=1, le=10_000)
    fail_first: int = Field(0, ge=0, le=1000, description="fail the first k attempts")
    fail_always: bool = Field(False, description="fail every attempt (retryable)")
    fail_permanently: bool = Field(False, description="fail at once, no retry")
    error_message: str = Field("diagnostic failure", min_length=1, max_length=2000)
    busy: bool = Field(False, description="burn CPU instead of sleeping")


class EchoParams(BaseModel):
    """Any JSON value, returned unchanged."""

    model_config = ConfigDict(extra="forbid")

    data: Any = None


class NoopParams(BaseModel):
    """No parameters."""

    model_config = ConfigDict(extra="forbid")


def _wait(seconds: float, busy: bool) -> None:
    if not busy:
        time.sleep(seconds)
        return

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sum(i * i for i in range(1000))


def _maybe_fail(ctx: OperationContext, params: SleepParams) -> None:
    if params.fail_permanently:
        raise PermanentError(params.error_message)
    if params.fail_always or ctx.attempt <= params.fail_first:
        raise OperationError(params.error_message)


@operation(
    "diagnostic.sleep",
    params=SleepParams,
    description="Sleep in steps with progress; can fail, retry or burn CPU.",
    time_limit_seconds=3900,
    typical_seconds=1.0,
    size=lambda p: max(p.seconds, 0.01),
)
def sleep(ctx: OperationContext, params: SleepParams) -> dict[str, Any]:
    """Sleep `seconds` in `steps`, checkpointing after each; resumes its steps."""
    _maybe_fail(ctx, params)
    first = int((ctx.resume_state or {}).get("step", 0))
    for step in range(first, params.steps):
        _wait(params.seconds / params.steps, params.busy)
        ctx.progress(step + 1, f"step {step + 1} of {params.steps}", params.steps)
        ctx.checkpoint({"step": step + 1})

    return {"slept_seconds": params.seconds, "steps": params.steps, "resumed_at": first}


@operation(
    "diagnostic.echo",
    params=EchoParams,
    description="Return `data` unchanged.",
    time_limit_seconds=60,
    typical_seconds=0.01,
)
def echo(ctx: OperationContext, params: EchoParams) -> Any:
    """Return the data as given."""
    return params.data


@operation(
    "diagnostic.noop",
    params=NoopParams,
    description="Do nothing; for throughput measurement.",
    time_limit_seconds=60,
    typical_seconds=0.001,
)
def noop(ctx: OperationContext, params: NoopParams) -> None:
    """Nothing."""
