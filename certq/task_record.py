"""The live record of one task as the Redis hash holds it, decoded once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from certq.states import Priority, TaskStatus


def _int(raw: dict[str, str], name: str) -> int | None:
    value = raw.get(name, "")
    return int(value) if value else None


def _json(raw: dict[str, str], name: str, default: Any) -> Any:
    value = raw.get(name, "")
    return orjson.loads(value) if value else default


def _messages(raw: dict[str, str]) -> list[dict[str, Any]]:
    # Redis' cjson encodes an empty list as {}; it is still no messages.
    value = _json(raw, "messages", [])
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class TaskRecord:
    """A task's live state: what GET /tasks/{id} and the runner read."""

    task_id: str
    user_id: str
    task_type: str
    priority: Priority
    status: TaskStatus
    params: Any
    #: Secret params (e.g. a passphrase), kept apart and only until the end.
    secrets: dict[str, Any]
    attempts: int
    max_attempts: int
    step: int
    total_steps: int
    percent: int
    messages: list[dict[str, Any]]
    error: dict[str, Any] | None
    errors: list[dict[str, Any]]
    checkpoint: Any
    preemptions: int
    cancel_requested: bool
    dispatch: str
    result_ttl_seconds: int
    result_bytes: int | None
    estimated_seconds: float
    created_at: int
    first_started_at: int | None
    started_at: int | None
    finished_at: int | None
    next_attempt_at: int | None
    version: int
    request_id: str

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> TaskRecord:
        """Decode the Redis hash of a task."""
        return cls(
            task_id=raw["id"],
            user_id=raw["user"],
            task_type=raw["type"],
            priority=Priority(raw["priority"]),
            status=TaskStatus(raw["status"]),
            params=_json(raw, "params", {}),
            secrets=_json(raw, "secrets", {}),
            attempts=_int(raw, "attempts") or 0,
            max_attempts=_int(raw, "max_attempts") or 1,
            step=_int(raw, "step") or 0,
            total_steps=_int(raw, "total_steps") or 0,
            percent=_int(raw, "percent") or 0,
            messages=_messages(raw),
            error=_json(raw, "error", None),
            errors=_json(raw, "errors", []),
            checkpoint=_json(raw, "checkpoint", None),
            preemptions=_int(raw, "preemptions") or 0,
            cancel_requested=raw.get("cancel") == "1",
            dispatch=raw.get("dispatch", ""),
            result_ttl_seconds=_int(raw, "result_ttl") or 0,
            result_bytes=_int(raw, "result_bytes"),
            estimated_seconds=float(raw.get("estimated_seconds") or 0),
            created_at=_int(raw, "created_at") or 0,
            first_started_at=_int(raw, "first_started_at"),
            started_at=_int(raw, "started_at"),
            finished_at=_int(raw, "finished_at"),
            next_attempt_at=_int(raw, "next_attempt_at"),
            version=_int(raw, "version") or 0,
            request_id=raw.get("request_id", ""),
        )

    @property
    def run_params(self) -> Any:
        """The params an operation runs with: the shown ones plus the secrets."""
        if not self.secrets or not isinstance(self.params, dict):
            return self.params

        return {**self.params, **self.secrets}
