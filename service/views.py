"""The JSON shapes the API answers with, built from live or stored state."""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from starlette.responses import Response

from actors.operation import REGISTRY
from certq.clock import ms_to_rfc3339
from certq.task_record import TaskRecord


class Row(Protocol):
    """A stored row: an asyncpg Record, or any mapping by column name."""

    def __getitem__(self, column: str) -> Any: ...


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """`body` as an application/json response."""
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def task_urls(base: str, task_id: str) -> dict[str, str]:
    """The URLs a client follows for one task."""
    return {
        "status_url": f"{base}/tasks/{task_id}",
        "cancel_url": f"{base}/tasks/{task_id}/cancel",
        "result_url": f"{base}/tasks/{task_id}/result",
        "events_url": f"{base}/tasks/{task_id}/events",
    }


def _messages(record: TaskRecord) -> list[dict[str, Any]]:
    return [
        {"at": ms_to_rfc3339(int(m["at"])), "text": m["text"]} for m in record.messages
    ]


def _error_view(error: dict[str, Any] | None, attempts: int) -> dict[str, Any] | None:
    if not error:
        return None

    return {
        "type": error.get("type"),
        "message": error.get("message"),
        "retryable": bool(error.get("retryable")),
        "attempts": attempts,
    }


def _attempt_error_view(error: dict[str, Any]) -> dict[str, Any]:
    at = error.get("at")
    return {
        "type": error.get("type"),
        "message": error.get("message"),
        "retryable": bool(error.get("retryable")),
        "attempt": error.get("attempt"),
        "at": ms_to_rfc3339(int(at)) if at is not None else None,
    }


def _shown_params(task_type: str, params: Any) -> Any:
    spec = REGISTRY.get(task_type)
    if spec is None or not isinstance(params, dict):
        return params

    return spec.redact(params)


def live_task_view(record: TaskRecord, base: str) -> dict[str, Any]:
    """A task as Redis holds it while it lives."""
    view: dict[str, Any] = {
        "task_id": record.task_id,
        "task_type": record.task_type,
        "priority": record.priority.value,
        "status": record.status.value,
        "user_id": record.user_id,
        "params": _shown_params(record.task_type, record.params),
        "progress": {
            "current_step": record.step,
            "total_steps": record.total_steps,
            "percent_complete": record.percent,
            "messages": _messages(record),
        },
        "attempts": record.attempts,
        "max_attempts": record.max_attempts,
        "next_attempt_at": ms_to_rfc3339(record.next_attempt_at),
        "preemptions": record.preemptions,
        "cancel_requested": record.cancel_requested,
        "estimated_seconds": record.estimated_seconds,
        "created_at": ms_to_rfc3339(record.created_at),
        "started_at": ms_to_rfc3339(record.first_started_at),
        "finished_at": ms_to_rfc3339(record.finished_at),
        "error": None,
        "errors": [_attempt_error_view(e) for e in record.errors],
        "result": None,
        "result_expired": False,
        **task_urls(base, record.task_id),
    }
    if record.status == "failed" or (record.status == "pending" and record.error):
        view["error"] = _error_view(record.error, record.attempts)
    return view


def stored_task_view(row: Row, base: str) -> dict[str, Any]:
    """A task as PostgreSQL remembers it once Redis let it expire.

    It has the live view's fields; what PostgreSQL does not keep (steps,
    messages, preemptions, every attempt's error) is null or empty, and
    the audit trail (`/events`) has the full story.
    """
    task_id = str(row["task_id"])
    error = row["error"]
    return {
        **summary_view(row),
        "params": row["params"],
        "progress": {
            "current_step": None,
            "total_steps": None,
            "percent_complete": 100 if row["status"] == "completed" else None,
            "messages": [],
        },
        "next_attempt_at": None,
        "preemptions": None,
        "cancel_requested": None,
        "estimated_seconds": None,
        "error": _error_view(error, row["attempts"]),
        "errors": [_attempt_error_view(error)] if error else [],
        "result": None,
        "result_expired": row["status"] == "completed",
        **task_urls(base, task_id),
    }


def summary_view(row: Row) -> dict[str, Any]:
    """One line of task history."""
    return {
        "task_id": str(row["task_id"]),
        "task_type": row["task_type"],
        "priority": row["priority"],
        "status": row["status"],
        "user_id": row["user_id"],
        "attempts": row["attempts"],
        "max_attempts": row["max_attempts"],
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
    }


def event_view(row: Row) -> dict[str, Any]:
    """One audit event."""
    return {
        "seq": row["seq"],
        "kind": row["kind"],
        "status": row["status"],
        "attempt": row["attempt"],
        "at": _iso(row["at"]),
        "detail": row["detail"],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None
