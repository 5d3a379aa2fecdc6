"""The runner actors (one per priority queue) and the body they share."""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import TimeLimitExceeded
from pydantic import ValidationError

from actors.context import TaskContext
from actors.operation import REGISTRY
from actors.outcome import Outcome
from certq.errors import (
    CancelRequested,
    OperationError,
    Preempted,
    ShutdownRequested,
    Superseded,
)
from certq.messages import runner_actor_name
from certq.states import Priority

log = structlog.get_logger(__name__)

#: The context of the run on this thread, set by the lifecycle middleware.
current = threading.local()


def _error(exc: BaseException, *, retryable: bool) -> Outcome:
    return Outcome(
        "error",
        error_type=type(exc).__name__,
        error_message=str(exc) or type(exc).__name__,
        retryable=retryable,
    )


def run_operation(task_type: str, params: Any) -> Outcome:
    """Run the operation of this thread's claimed task and report how it ended."""
    context: TaskContext = current.context
    spec = REGISTRY[task_type]
    try:
        model = spec.parse(params)
        return Outcome("completed", value=spec.run(context, model))
    except CancelRequested:
        return Outcome("cancelled")
    except Preempted:
        return Outcome("preempted")
    except ShutdownRequested:
        return Outcome("shutdown")
    except Superseded:
        return Outcome("superseded")
    except ValidationError as exc:
        return _error(exc, retryable=False)
    except OperationError as exc:
        return _error(exc, retryable=exc.retryable)
    except TimeLimitExceeded:
        # Another attempt would most likely run out of time again.
        return Outcome(
            "error",
            error_type="TimeLimitExceeded",
            error_message=f"task ran past its limit of {spec.time_limit_seconds} s",
            retryable=False,
        )
    except Exception as exc:
        log.warning("task.operation_raised", exc_info=True)
        return _error(exc, retryable=True)


def declare_runners(
    broker: dramatiq.Broker,
) -> dict[Priority, dramatiq.Actor[Any, Any]]:
    """Bind one runner actor to each priority's queue."""
    from actors.runtime import ACTOR_PRIORITY

    actors = {}
    for priority in Priority:

        def body(task_id: str, dispatch: str, task_type: str) -> None:
            # The outcome goes to the lifecycle middleware through the thread,
            # not as a return value (dramatiq would want a result backend).
            current.outcome = run_operation(task_type, current.params)

        actors[priority] = dramatiq.actor(
            broker=broker,
            actor_name=runner_actor_name(priority),
            queue_name=priority.queue_name,
            priority=ACTOR_PRIORITY[priority],
        )(body)
    return actors
