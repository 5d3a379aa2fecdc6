"""Redis access for the web and scheduler processes (asyncio).

Reads of live state, submission, cancel, and the scheduler's sweeps. State
changes go through the Lua scripts of `certq/lua/`, one round trip each.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from certq.clock import now_ms
from certq.redis_keys import RedisKeys, load_script_sources
from certq.script_calls import NewTask, Requeue, enqueue_call, requeue_call
from certq.states import Priority
from certq.task_record import TaskRecord


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class IdempotencyClaim:
    """The task an Idempotency-Key names, and a digest of the request it came with."""

    task_id: str
    fingerprint: str


@dataclass(frozen=True)
class QueueSnapshot:
    """Depth, running count and capacity, for estimates and `/queues`."""

    waiting: dict[Priority, int]
    running: int
    worker_slots: int
    workers: list[dict[str, Any]]


class TaskStore:
    """Live task state in Redis, seen from the web and the scheduler."""

    def __init__(self, client: aioredis.Redis, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys
        self._scripts = {
            name: client.register_script(source)
            for name, source in load_script_sources().items()
        }

    @property
    def keys(self) -> RedisKeys:
        """The key names this store uses."""
        return self._keys

    async def ping(self) -> None:
        """Raise if Redis does not answer."""
        await self._client.ping()

    async def submit(self, task: NewTask) -> None:
        """Write the pending task and hand its message to the queue."""
        name, keys, args = enqueue_call(self._keys, task)
        await self._scripts[name](keys=keys, args=args)

    async def read(self, task_id: str) -> TaskRecord | None:
        """The live record of a task, or None when Redis no longer has it."""
        raw = await self._client.hgetall(self._keys.task(task_id))
        if not raw or b"id" not in raw:
            return None

        return TaskRecord.from_hash({_text(k): _text(v) for k, v in raw.items()})

    async def read_versions(self, task_ids: list[str]) -> list[int]:
        """The change counters of tasks (0 when unknown), in one round trip."""
        pipe = self._client.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hget(self._keys.task(task_id), "version")
        return [int(raw) if raw else 0 for raw in await pipe.execute()]

    async def read_result(self, task_id: str) -> bytes | None:
        """The stored (maybe compressed) result, or None once purged."""
        value = await self._client.get(self._keys.result(task_id))
        if value is None:
            return None

        return value if isinstance(value, bytes) else value.encode()

    async def cancel(self, task_id: str) -> str:
        """Cancel pending work at once or flag running work; say which.

        The verdict is `cancelled_now`, `requested`, `missing`, or the
        terminal status the task already has.
        """
        k = self._keys
        reply = await self._scripts["cancel"](
            keys=[k.task(task_id), k.audit, *(k.waiting(p) for p in Priority)],
            args=[now_ms()],
        )
        return _text(reply)

    async def claim_idempotency_key(
        self, user_id: str, key: str, claim: IdempotencyClaim, ttl_seconds: int
    ) -> IdempotencyClaim | None:
        """Bind `key` to `claim`; return the claim it was already bound to."""
        name = self._keys.idempotency(user_id, key)
        value = f"{claim.task_id} {claim.fingerprint}"
        if await self._client.set(name, value, nx=True, ex=ttl_seconds):
            return None

        existing = await self._client.get(name)
        if existing is None:
            # Expired between the two calls: the key is free again.
            return await self.claim_idempotency_key(user_id, key, claim, ttl_seconds)

        task_id, _, fingerprint = _text(existing).partition(" ")
        return IdempotencyClaim(task_id, fingerprint)

    async def release_idempotency_key(self, user_id: str, key: str) -> None:
        """Forget a key whose task could not be recorded."""
        await self._client.delete(self._keys.idempotency(user_id, key))

    async def snapshot(self, lost_after_ms: int) -> QueueSnapshot:
        """Waiting work per priority, running count and live worker slots."""
        k = self._keys
        now = now_ms()
        pipe = self._client.pipeline(transaction=False)
        for priority in Priority:
            pipe.zcount(k.waiting(priority), "-inf", now)
        pipe.hlen(k.running)
        pipe.zrangebyscore(k.workers, now - lost_after_ms, "+inf")
        *waiting, running, worker_ids = await pipe.execute()
        workers = await self._worker_infos([_text(w) for w in worker_ids])

        return QueueSnapshot(
            waiting=dict(zip(Priority, waiting, strict=True)),
            running=int(running),
            worker_slots=sum(int(w.get("threads", 0)) for w in workers),
            workers=workers,
        )

    async def _worker_infos(self, worker_ids: list[str]) -> list[dict[str, Any]]:
        if not worker_ids:
            return []

        values = await self._client.mget([self._keys.worker(w) for w in worker_ids])
        return [orjson.loads(v) for v in values if v is not None]

    # The scheduler's sweeps.

    async def running_tasks(self) -> dict[str, str]:
        """Running task id -> the worker id that claimed it."""
        raw = await self._client.hgetall(self._keys.running)
        return {_text(k): _text(v) for k, v in raw.items()}

    async def live_workers(self, worker_ids: list[str]) -> set[str]:
        """The subset of `worker_ids` whose liveness key still exists."""
        pipe = self._client.pipeline(transaction=False)
        for worker_id in worker_ids:
            pipe.exists(self._keys.worker(worker_id))
        found = await pipe.execute()

        return {w for w, alive in zip(worker_ids, found, strict=True) if alive}

    async def mark_lost(
        self, task_id: str, worker_id: str, priority: Priority, error: dict[str, Any]
    ) -> str:
        """Return a dead worker's task to pending, or fail it; say which."""
        k = self._keys
        task_type = await self._client.hget(k.task(task_id), "type")
        reply = await self._scripts["lost"](
            keys=[
                k.task(task_id),
                k.audit,
                k.running,
                k.waiting(priority),
                k.semaphore(_text(task_type or b"")),
            ],
            args=[worker_id, now_ms(), orjson.dumps(error)],
        )
        return _text(reply)

    async def priority_of(self, task_id: str) -> Priority | None:
        """The priority a task's hash names, or None if it is gone."""
        raw = await self._client.hget(self._keys.task(task_id), "priority")
        return Priority(_text(raw)) if raw else None

    async def audit_batch(self, size: int) -> list[dict[str, Any]]:
        """The oldest `size` audit events waiting for PostgreSQL."""
        raw = await self._client.lrange(self._keys.audit, 0, size - 1)
        return [orjson.loads(item) for item in raw]

    async def audit_drop(self, count: int) -> None:
        """Remove the `count` oldest audit events once they are stored."""
        await self._client.ltrim(self._keys.audit, count, -1)

    async def push_audit(self, events: list[dict[str, Any]]) -> None:
        """Append events written by the scheduler itself."""
        if events:
            await self._client.rpush(
                self._keys.audit, *(orjson.dumps(e) for e in events)
            )

    async def queue_depths(self) -> dict[str, int]:
        """Messages in each dramatiq queue and delay queue."""
        pipe = self._client.pipeline(transaction=False)
        names = []
        for priority in Priority:
            for delayed in (False, True):
                names.append(priority.queue_name + (".DQ" if delayed else ""))
                pipe.llen(self._keys.queue(priority, delayed=delayed))
        depths = await pipe.execute()

        return dict(zip(names, (int(d) for d in depths), strict=True))

    async def missing_tasks(self, task_ids: list[str]) -> list[str]:
        """Those of `task_ids` that have no hash in Redis."""
        pipe = self._client.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.exists(self._keys.task(task_id))
        found = await pipe.execute()

        return [t for t, exists in zip(task_ids, found, strict=True) if not exists]

    async def restore(self, task: NewTask) -> None:
        """Re-create a task lost from Redis and enqueue it again."""
        await self.submit(task)

    async def orphaned_pending(self, older_than_ms: int) -> list[TaskRecord]:
        """Pending tasks, waiting longer than `older_than_ms`, whose message is
        in no queue (checked in three pipelined round trips)."""
        k = self._keys
        pipe = self._client.pipeline(transaction=False)
        for priority in Priority:
            pipe.zrangebyscore(
                k.waiting(priority), "-inf", now_ms() - older_than_ms, start=0, num=1000
            )
        task_ids = [_text(i) for found in await pipe.execute() for i in found]
        if not task_ids:
            return []

        for task_id in task_ids:
            pipe.hmget(k.task(task_id), ["status", "message_queue", "message_id"])
        pointers = await pipe.execute()
        for _, queue, message_id in pointers:
            pipe.hexists(_text(queue or b"") + ".msgs", _text(message_id or b""))
        alive = await pipe.execute()

        orphans = [
            task_id
            for task_id, (status, _, _), found in zip(
                task_ids, pointers, alive, strict=True
            )
            if status == b"pending" and not found
        ]
        records = [await self.read(task_id) for task_id in orphans]
        return [r for r in records if r is not None]

    async def aged_low(self, older_than_ms: int) -> list[str]:
        """Low-priority task ids that have waited longer than the ageing limit."""
        ids = await self._client.zrangebyscore(
            self._keys.waiting(Priority.LOW), "-inf", now_ms() - older_than_ms
        )
        return [_text(i) for i in ids]

    async def held_pending(
        self, waited_ms: int, caps: dict[str, int], most: int
    ) -> list[str]:
        """Ids of up to `most` tasks that could start but have waited longer
        than `waited_ms` (see `certq/lua/held.lua`)."""
        k = self._keys
        now = now_ms()
        ids = await self._scripts["held"](
            keys=[k.waiting(p) for p in Priority],
            args=[
                now - waited_ms,
                now,
                k.task_prefix(),
                k.semaphore_prefix(),
                orjson.dumps(caps),
                most,
            ],
        )
        return [_text(i) for i in ids]

    async def requeue(self, request: Requeue) -> bool:
        """Send a pending task to another queue with a fresh message."""
        name, keys, args = requeue_call(self._keys, request, now_ms())
        reply = await self._scripts[name](keys=keys, args=args)
        return _text(reply[0]) == "requeued"

    @contextlib.asynccontextmanager
    async def lock(self, name: str, *, ttl_ms: int) -> AsyncIterator[bool]:
        """Hold a named lock for one block; yields False if another holds it."""
        key = f"{self._keys.namespace}:lock:{name}"
        token = uuid.uuid4().hex
        held = bool(await self._client.set(key, token, nx=True, px=ttl_ms))
        try:
            yield held
        finally:
            if held and await self._client.get(key) == token.encode():
                await self._client.delete(key)

    async def prune_workers(self, lost_after_ms: int) -> None:
        """Drop workers that stopped beating from the listing."""
        await self._client.zremrangebyscore(
            self._keys.workers, "-inf", now_ms() - lost_after_ms
        )
