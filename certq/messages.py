"""The dramatiq messages that start runner actors.

A message carries the task id, its type and a dispatch id; the task hash names the
dispatch it expects, so a message that was superseded (retried, preempted,
aged) or duplicated is recognised as stale and dropped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import dramatiq

from certq.states import Priority


def runner_actor_name(priority: Priority) -> str:
    """The actor that runs tasks of a priority."""
    return f"run_{priority.value}"


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready to be written to a dramatiq queue."""

    dispatch: str
    message_id: str
    data: bytes
    delayed: bool


def build_message(
    priority: Priority,
    task_id: str,
    task_type: str,
    time_limit_ms: int,
    *,
    eta_ms: int | None = None,
) -> OutgoingMessage:
    """Encode a runner message for `task_id`, delayed until `eta_ms` if given.

    The time limit is set on every message so that dramatiq's default of ten
    minutes never applies silently.
    """
    dispatch = uuid.uuid4().hex
    message_id = str(uuid.uuid4())
    queue_name = priority.queue_name
    options: dict[str, object] = {
        "redis_message_id": message_id,
        "time_limit": time_limit_ms,
    }
    if eta_ms is not None:
        queue_name += ".DQ"
        options["eta"] = eta_ms

    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue_name,
        actor_name=runner_actor_name(priority),
        args=(task_id, dispatch, task_type),
        kwargs={},
        options=options,
    )
    return OutgoingMessage(dispatch, message_id, message.encode(), eta_ms is not None)
