"""Redis access for worker processes: claim, progress, checkpoint, finish.

Synchronous (dramatiq runs operations in threads). Each method is one Lua
script, so each state change is one round trip and is applied whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
import redis

from certq.clock import now_ms
from certq.redis_keys import RedisKeys, load_script_sources
from certq.script_calls import Requeue, requeue_call
from certq.states import Priority
from certq.task_record import TaskRecord

CheckpointVerdict = Literal["ok", "cancel", "preempt", "lost"]
#: What `requeue` did: sent the task back, ended it (a cancel was waiting),
#: or nothing (the task was no longer in the state the caller expected).
RequeueVerdict = Literal["requeued", "cancelled", "ignored"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class StartOutcome:
    """What `start` decided: run the task, or drop the message and why."""

    verdict: str
    status: str = ""
    record: TaskRecord | None = None


@dataclass(frozen=True)
class Waiter:
    """Higher-priority work this process has fetched but no thread has taken."""

    task_id: str
    dispatch: str


class WorkerStore:
    """The worker's side of the task hash, queues and semaphores."""

    def __init__(
        self, client: redis.Redis, keys: RedisKeys, caps: dict[str, int]
    ) -> None:
        self._client = client
        self._keys = keys
        # Scripts skip waiting work whose type is at its cap: it cannot start.
        self._caps_json = orjson.dumps(caps)
        self._scripts = {
            name: client.register_script(source)
            for name, source in load_script_sources().items()
        }

    def start(
        self,
        task_id: str,
        dispatch: str,
        worker_id: str,
        run: str,
        *,
        task_type: str,
        priority: Priority,
        cap: int,
        slot_expiry_ms: int,
        lost_error: dict[str, Any],
    ) -> StartOutcome:
        """Claim the task for one run (pending -> running), named `run`."""
        k = self._keys
        reply = self._scripts["start"](
            keys=[
                k.task(task_id),
                k.audit,
                k.running,
                k.semaphore(task_type),
                k.waiting(priority),
                *(k.waiting(p) for p in priority.higher()),
            ],
            args=[
                dispatch,
                worker_id,
                now_ms(),
                k.worker_prefix(),
                cap,
                slot_expiry_ms,
                orjson.dumps(lost_error),
                run,
                k.task_prefix(),
                k.semaphore_prefix(),
                self._caps_json,
            ],
        )
        verdict = _text(reply[0])
        if verdict != "run":
            return StartOutcome(verdict, _text(reply[1]) if len(reply) > 1 else "")

        flat = [_text(item) for item in reply[1:]]
        raw = dict(zip(flat[::2], flat[1::2], strict=True))
        return StartOutcome(verdict, "running", TaskRecord.from_hash(raw))

    def progress(
        self,
        task_id: str,
        run: str,
        step: int,
        total_steps: int,
        text: str,
        messages_kept: int,
    ) -> bool:
        """Record progress; return True when a cancel has been requested."""
        now = now_ms()
        message = orjson.dumps({"at": now, "text": text}) if text else b""
        reply = self._scripts["progress"](
            keys=[self._keys.task(task_id)],
            args=[run, step, total_steps, message, messages_kept],
        )
        return _text(reply) == "1"

    def checkpoint(
        self,
        task_id: str,
        run: str,
        priority: Priority,
        state: Any,
        *,
        waiter: Waiter | None,
        preempt_after_ms: int,
        max_preemptions: int,
    ) -> CheckpointVerdict:
        """Store state and say whether the task may go on.

        `waiter` is higher work this process holds: the run yields to it at
        once if it can start. Higher work elsewhere must have waited
        `preempt_after_ms` first. `max_preemptions` 0 never yields.
        """
        k = self._keys
        stored = b"" if state is None else orjson.dumps(state)
        now = now_ms()
        reply = self._scripts["checkpoint"](
            keys=[k.task(task_id), *(k.waiting(p) for p in priority.higher())],
            args=[
                run,
                stored,
                now - preempt_after_ms,
                max_preemptions,
                waiter.task_id if waiter else "",
                waiter.dispatch if waiter else "",
                max(preempt_after_ms * 2, 1000),
                k.claim_prefix(),
                k.task_prefix(),
                k.semaphore_prefix(),
                self._caps_json,
                now,
            ],
        )
        verdict = _text(reply)
        assert verdict in ("ok", "cancel", "preempt", "lost")
        return verdict  # type: ignore[return-value]

    def finish(
        self,
        task_id: str,
        run: str,
        *,
        task_type: str,
        outcome: Literal["completed", "failed", "cancelled"],
        result: bytes = b"",
        result_size_bytes: int = 0,
        ttl_seconds: int,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Move a running task to a terminal state; False if it was not ours."""
        k = self._keys
        reply = self._scripts["finish"](
            keys=[
                k.task(task_id),
                k.audit,
                k.running,
                k.result(task_id),
                k.semaphore(task_type),
            ],
            args=[
                run,
                outcome,
                now_ms(),
                result,
                ttl_seconds,
                orjson.dumps(error) if error else b"",
                result_size_bytes,
            ],
        )
        return _text(reply[0]) == "done"

    def requeue(self, request: Requeue) -> RequeueVerdict:
        """Return the task to pending with a fresh message, if still expected."""
        name, keys, args = requeue_call(self._keys, request, now_ms())
        reply = self._scripts[name](keys=keys, args=args)
        verdict = _text(reply[0])
        assert verdict in ("requeued", "cancelled", "ignored")
        return verdict  # type: ignore[return-value]

    def moved(
        self, task_id: str, dispatch: str, message_id: str, priority: Priority
    ) -> None:
        """Record the new id of a delayed message that became due."""
        self._scripts["moved"](
            keys=[self._keys.task(task_id)],
            args=[dispatch, message_id, self._keys.queue(priority)],
        )

    def heartbeat(
        self,
        worker_id: str,
        info: dict[str, Any],
        holding: dict[str, str],
        lost_after_ms: int,
    ) -> None:
        """Say this worker lives, and keep its concurrency slots held."""
        k = self._keys
        now = now_ms()
        pipe = self._client.pipeline(transaction=False)
        pipe.set(k.worker(worker_id), orjson.dumps(info), px=lost_after_ms)
        pipe.zadd(k.workers, {worker_id: now})
        for task_id, task_type in holding.items():
            pipe.zadd(k.semaphore(task_type), {task_id: now + lost_after_ms}, xx=True)
        pipe.execute()

    def forget_worker(self, worker_id: str) -> None:
        """Remove a worker that stopped cleanly."""
        pipe = self._client.pipeline(transaction=False)
        pipe.delete(self._keys.worker(worker_id))
        pipe.zrem(self._keys.workers, worker_id)
        pipe.execute()
