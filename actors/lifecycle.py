"""The middleware that owns every task's state: claim, finish, retry, requeue.

Before a runner actor runs, `before_process_message` claims the task (pending
-> running) or drops a stale, duplicate or late message. After it ran,
`after_process_message` turns the run's Outcome into the next state. Each
step is one Lua script: one Redis round trip, audit event included.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import SkipMessage

from actors.context import TaskContext
from actors.operation import REGISTRY, OperationSpec
from actors.outcome import Outcome
from actors.runners import current
from actors.runtime import RunningTask, WorkerRuntime
from certq import metrics
from certq.backoff import retry_delay_ms
from certq.clock import now_ms
from certq.messages import runner_actor_name
from certq.result_codec import encode_result
from certq.script_calls import Requeue, worker_lost_error
from certq.states import Priority
from certq.task_record import TaskRecord
from certq.text import clean_text

log = structlog.get_logger(__name__)

_PRIORITY_OF_ACTOR = {runner_actor_name(p): p for p in Priority}

#: How long a task waits before another try when its type is at its cap.
CAPPED_RETRY_MS = 500
#: How long a slot offered lower work waits for runnable higher work to arrive.
GIVE_WAY_PAUSE_SECONDS = 0.1


class TaskLifecycle(dramatiq.Middleware):
    """Moves tasks through their life cycle around each runner message."""

    def __init__(self, runtime: WorkerRuntime) -> None:
        self._runtime = runtime

    # Worker boot and shutdown.

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Beat before any thread can start a task.

        Regression: the first beat came after boot (and after loading the
        CA), so a task started in between ran on a worker the scheduler did
        not know yet, which declared it lost and ran it again.
        """
        self._runtime.attach_work_queue(worker.work_queue)
        self._runtime.start_heartbeat()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Load the CA once the threads are up, and say the worker is ready."""
        self._runtime.preload_ca()
        log.info(
            "worker.started",
            worker_id=self._runtime.worker_id,
            threads=self._runtime.threads,
        )

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Leave the listing of live workers."""
        self._runtime.stop_heartbeat()
        log.info("worker.stopped", worker_id=self._runtime.worker_id)

    def before_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message[Any], delay: Any
    ) -> None:
        """Follow a delayed runner message that dramatiq moves to its queue."""
        priority = _PRIORITY_OF_ACTOR.get(message.actor_name)
        if priority is None or delay is not None:
            return

        task_id, dispatch, _ = message.args
        self._runtime.store.moved(
            task_id, dispatch, message.options["redis_message_id"], priority
        )

    # One message.

    def before_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.MessageProxy
    ) -> None:
        """Claim the task, or skip a message that must not run."""
        priority = _PRIORITY_OF_ACTOR.get(message.actor_name)
        if priority is None:
            return

        task_id, dispatch, task_type = message.args
        structlog.contextvars.bind_contextvars(
            task_id=task_id, task_type=task_type, priority=priority.value
        )
        spec = REGISTRY.get(task_type)
        if spec is None:
            log.error("task.unknown_type")
            raise SkipMessage()

        run = uuid.uuid4().hex
        outcome = self._runtime.store.start(
            task_id,
            dispatch,
            self._runtime.worker_id,
            run,
            task_type=task_type,
            priority=priority,
            cap=self._runtime.settings.type_concurrency.get(task_type, 0),
            slot_expiry_ms=int(self._runtime.settings.worker_lost_after_seconds * 1000),
            lost_error=worker_lost_error(),
        )
        if outcome.verdict == "capped":
            self._defer_capped(task_id, dispatch, spec, priority)
            raise SkipMessage()
        if outcome.verdict == "yield":
            self._give_way(task_id, dispatch, spec, priority)
            raise SkipMessage()
        if outcome.record is None:
            log.info(
                "task.message_dropped", verdict=outcome.verdict, status=outcome.status
            )
            raise SkipMessage()

        self._begin(outcome.record, run, spec, message.message_id)

    def _begin(
        self, record: TaskRecord, run: str, spec: OperationSpec, message_id: str
    ) -> None:
        structlog.contextvars.bind_contextvars(
            attempt=record.attempts, request_id=record.request_id
        )
        current.record = record
        current.run = run
        current.spec = spec
        current.params = record.run_params
        current.started = time.monotonic()
        current.context = TaskContext(
            self._runtime,
            task_id=record.task_id,
            run=run,
            priority=record.priority,
            attempt=record.attempts,
            resume_state=record.checkpoint,
        )
        self._runtime.began(
            RunningTask(record.task_id, record.task_type, record.priority), message_id
        )
        metrics.TASKS_STARTED.labels(record.task_type, record.priority.value).inc()
        log.info("task.started", resumed=record.checkpoint is not None)

    def _defer_capped(
        self, task_id: str, dispatch: str, spec: OperationSpec, priority: Priority
    ) -> None:
        # Its message comes back later, but it keeps its place in the
        # waiting set: the start gate sees it, so no lower work takes the
        # slot its type frees.
        self._put_back(
            task_id, dispatch, spec, priority, eta_ms=now_ms() + CAPPED_RETRY_MS
        )
        log.debug("task.deferred_at_cap")

    def _give_way(
        self, task_id: str, dispatch: str, spec: OperationSpec, priority: Priority
    ) -> None:
        # Higher work is runnable but its message sits elsewhere (another
        # process's prefetch, or not fetched yet). Pause briefly so the
        # consumer of the higher queue can fetch it, then put this message
        # back at the front of its queue, keeping its place.
        time.sleep(GIVE_WAY_PAUSE_SECONDS)
        self._put_back(task_id, dispatch, spec, priority, front=True)
        log.debug("task.gave_way")

    def _put_back(
        self,
        task_id: str,
        dispatch: str,
        spec: OperationSpec,
        priority: Priority,
        *,
        eta_ms: int | None = None,
        front: bool = False,
    ) -> None:
        """Return a pending task's message to its queue, unstarted.

        It keeps its place among the waiting (and its time toward ageing):
        it was never started, so it has waited all along.
        """
        self._runtime.store.requeue(
            Requeue(
                task_id=task_id,
                task_type=spec.task_type,
                priority=priority,
                token=dispatch,
                time_limit_ms=int(spec.time_limit_seconds * 1000),
                expected_status="pending",
                eta_ms=eta_ms,
                front=front,
                keep_waited=True,
            )
        )

    def after_skip_message(
        self, broker: dramatiq.Broker, message: dramatiq.MessageProxy
    ) -> None:
        """Unbind the log context of a dropped message."""
        structlog.contextvars.clear_contextvars()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        """Turn the run's outcome into the task's next state."""
        record: TaskRecord | None = getattr(current, "record", None)
        if record is None or message.actor_name not in _PRIORITY_OF_ACTOR:
            return

        try:
            outcome = getattr(current, "outcome", None) or _crash(exception)
            self._settle(record, outcome)
        finally:
            self._runtime.ended(record.task_id)
            current.record = None
            current.outcome = None
            structlog.contextvars.clear_contextvars()

    def _settle(self, record: TaskRecord, outcome: Outcome) -> None:
        duration_ms = int((time.monotonic() - current.started) * 1000)
        metrics.TASK_SECONDS.labels(record.task_type, outcome.ending).observe(
            duration_ms / 1000
        )
        if outcome.ending == "completed":
            self._complete(record, outcome.value, duration_ms)
        elif outcome.ending == "error":
            self._fail_or_retry(record, outcome, duration_ms)
        elif outcome.ending == "cancelled":
            current.context.run_cleanups()
            self._finish(record, "cancelled", duration_ms)
        elif outcome.ending in ("preempted", "shutdown"):
            self._yield(record, outcome.ending, duration_ms)
        else:
            log.warning("task.superseded", duration_ms=duration_ms)

    def _complete(self, record: TaskRecord, value: Any, duration_ms: int) -> None:
        settings = self._runtime.settings
        try:
            stored, size = encode_result(value, settings.result_compress_above_bytes)
        except TypeError as exc:
            outcome = Outcome(
                "error",
                error_type="ResultNotSerializable",
                error_message=f"the result could not be encoded as JSON: {exc}",
            )
            self._fail_or_retry(record, outcome, duration_ms)
            return

        self._finish(record, "completed", duration_ms, result=stored, size=size)

    def _finish(
        self,
        record: TaskRecord,
        outcome: str,
        duration_ms: int,
        *,
        result: bytes = b"",
        size: int = 0,
        error: dict[str, Any] | None = None,
    ) -> None:
        applied = self._runtime.store.finish(
            record.task_id,
            current.run,
            task_type=record.task_type,
            outcome=outcome,  # type: ignore[arg-type]
            result=result,
            result_size_bytes=size,
            ttl_seconds=record.result_ttl_seconds,
            error=error,
        )
        metrics.TASKS_FINISHED.labels(record.task_type, outcome).inc()
        log.info(
            f"task.{outcome}" if applied else "task.finish_ignored",
            duration_ms=duration_ms,
            result_bytes=size or None,
        )

    def _fail_or_retry(
        self, record: TaskRecord, outcome: Outcome, duration_ms: int
    ) -> None:
        error = {
            "type": outcome.error_type,
            "message": clean_text(outcome.error_message),
            "retryable": outcome.retryable,
            "attempt": record.attempts,
            "at": now_ms(),
        }
        if not outcome.retryable or record.attempts >= record.max_attempts:
            current.context.run_cleanups()
            self._finish(record, "failed", duration_ms, error=error)
            return

        self._retry(record, error, duration_ms)

    def _retry(
        self, record: TaskRecord, error: dict[str, Any], duration_ms: int
    ) -> None:
        settings = self._runtime.settings
        delay_ms = retry_delay_ms(
            record.attempts,
            base_ms=settings.retry_backoff_base_ms,
            max_ms=settings.retry_backoff_max_ms,
            jitter_ratio=settings.retry_jitter_ratio,
        )
        due_ms = now_ms() + delay_ms
        sent = self._send_back(
            Requeue(
                task_id=record.task_id,
                task_type=record.task_type,
                priority=record.priority,
                token=current.run,
                time_limit_ms=int(current.spec.time_limit_seconds * 1000),
                event="retry_scheduled",
                detail={"delay_ms": delay_ms, "error": error},
                error=error,
                eta_ms=due_ms,
                next_attempt_at_ms=due_ms,
            )
        )
        if not sent:
            return

        metrics.TASK_RETRIES.labels(record.task_type).inc()
        log.info(
            "task.retry_scheduled",
            delay_ms=delay_ms,
            error_type=error["type"],
            duration_ms=duration_ms,
        )

    def _yield(self, record: TaskRecord, why: str, duration_ms: int) -> None:
        sent = self._send_back(
            Requeue(
                task_id=record.task_id,
                task_type=record.task_type,
                priority=record.priority,
                token=current.run,
                time_limit_ms=int(current.spec.time_limit_seconds * 1000),
                event=why,
                detail={"worker": self._runtime.worker_id},
                free_next_start=True,
                count_preemption=why == "preempted",
                # It already waited its turn once: it resumes before
                # work of its priority that has not started yet.
                front=True,
            )
        )
        if sent:
            log.info(f"task.{why}", duration_ms=duration_ms)

    def _send_back(self, request: Requeue) -> bool:
        """Requeue this thread's run; False if it ended otherwise.

        A cancel that waited ends the task instead (the script decides, so a
        cancel arriving at any moment wins); its cleanups run here.
        """
        verdict = self._runtime.store.requeue(request)
        if verdict == "cancelled":
            current.context.run_cleanups()
            metrics.TASKS_FINISHED.labels(request.task_type, "cancelled").inc()
            log.info("task.cancelled", instead_of=request.event)
        elif verdict == "ignored":
            log.info("task.requeue_ignored", instead_of=request.event)

        return verdict == "requeued"


def _crash(exception: BaseException | None) -> Outcome:
    # The runner body returns an Outcome for every error it can see; this is
    # reached only when something outside it (a middleware) raised.
    return Outcome(
        "error",
        error_type=type(exception).__name__ if exception else "RunnerError",
        error_message=str(exception) if exception else "the runner returned no outcome",
        retryable=True,
    )
