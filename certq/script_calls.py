"""The keys and arguments of each Lua script call, built in one place.

Both the synchronous worker store and the asynchronous web/scheduler store run
these calls; neither builds script arguments itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from certq.clock import now_ms
from certq.messages import build_message
from certq.redis_keys import RedisKeys
from certq.states import Priority

ScriptCall = tuple[str, list[str], list[Any]]


def worker_lost_error() -> dict[str, Any]:
    """The error recorded for an attempt whose worker died under it."""
    return {
        "type": "WorkerLost",
        "message": "the worker running this task stopped without finishing it",
        "retryable": True,
        "at": now_ms(),
    }


@dataclass(frozen=True)
class NewTask:
    """Everything the task hash holds when a task is submitted."""

    task_id: str
    user_id: str
    task_type: str
    priority: Priority
    #: The params with every secret redacted; the secrets go in `secrets_json`.
    params_json: bytes
    max_attempts: int
    result_ttl_seconds: int
    time_limit_ms: int
    estimated_seconds: float
    created_at_ms: int
    request_id: str
    seq: int = 1
    attempts: int = 0
    checkpoint_json: bytes = b""
    secrets_json: bytes = b""


@dataclass(frozen=True)
class Requeue:
    """A task sent back to pending with a new message; the old one goes stale."""

    task_id: str
    task_type: str
    priority: Priority
    #: What must still name the task: the run token while it is expected
    #: running, the dispatch of its message while it is expected pending.
    token: str
    time_limit_ms: int
    expected_status: str = "running"
    event: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    eta_ms: int | None = None
    #: Shown as `next_attempt_at`: set for a retry only.
    next_attempt_at_ms: int | None = None
    #: True: its next start continues the attempt (a preemption, a stop).
    #: False leaves the flag as it is, set or not.
    free_next_start: bool = False
    count_preemption: bool = False
    leaves: Priority | None = None
    front: bool = False
    keep_waited: bool = False
    extra_fields: dict[str, str] = field(default_factory=dict)


def enqueue_call(keys: RedisKeys, task: NewTask) -> ScriptCall:
    """Write a pending task's hash and its first message together."""
    message = build_message(
        task.priority, task.task_id, task.task_type, task.time_limit_ms
    )
    fields = {
        "id": task.task_id,
        "user": task.user_id,
        "type": task.task_type,
        "priority": task.priority.value,
        "status": "pending",
        "params": task.params_json.decode(),
        "attempts": str(task.attempts),
        "max_attempts": str(task.max_attempts),
        "result_ttl": str(task.result_ttl_seconds),
        "time_limit_ms": str(task.time_limit_ms),
        "estimated_seconds": f"{task.estimated_seconds:.3f}",
        "created_at": str(task.created_at_ms),
        "version": "1",
        "request_id": task.request_id,
        "seq": str(task.seq),
        "dispatch": message.dispatch,
        "message_id": message.message_id,
        "message_queue": keys.queue(task.priority),
        "checkpoint": task.checkpoint_json.decode(),
        "secrets": task.secrets_json.decode(),
    }
    return (
        "enqueue",
        [
            keys.task(task.task_id),
            keys.waiting(task.priority),
            keys.queue(task.priority),
            keys.queue_messages(task.priority),
        ],
        [
            orjson.dumps(fields),
            task.task_id,
            task.created_at_ms,
            message.message_id,
            message.data,
        ],
    )


def requeue_call(keys: RedisKeys, request: Requeue, now: int) -> ScriptCall:
    """Return a task to pending with a fresh (maybe delayed) message."""
    target = request.priority
    delayed = request.eta_ms is not None
    message = build_message(
        target,
        request.task_id,
        request.task_type,
        request.time_limit_ms,
        eta_ms=request.eta_ms,
    )
    return (
        "requeue",
        [
            keys.task(request.task_id),
            keys.audit,
            keys.running,
            keys.waiting(target),
            keys.queue(target, delayed=delayed),
            keys.queue_messages(target, delayed=delayed),
            keys.semaphore(request.task_type),
            keys.waiting(request.leaves or target),
        ],
        [
            request.token,
            request.expected_status,
            message.dispatch,
            message.message_id,
            message.data,
            request.eta_ms or now,
            request.event,
            now,
            orjson.dumps(request.error) if request.error else b"",
            "1" if request.free_next_start else "",
            "1" if request.count_preemption else "0",
            orjson.dumps(request.detail),
            request.next_attempt_at_ms or "",
            orjson.dumps(request.extra_fields),
            "1" if request.front else "0",
            "1" if request.keep_waited else "0",
        ],
    )
