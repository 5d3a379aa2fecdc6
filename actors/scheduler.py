"""The scheduler process: the sweeps that keep every task moving.

Each tick it writes the audit outbox to PostgreSQL in batches, returns tasks
of dead workers to pending (or fails them), has dramatiq redeliver a dead
worker's messages, ages waiting low work into the normal queue, sends a
fresh message for work a busy worker holds while slots stand free, and
re-enqueues work whose message or whole Redis state was lost. It does all of
this even when no worker is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid

import asyncpg
import orjson
import structlog

import actors.operations  # noqa: F401  (registers every task type)
from actors.broker import ALWAYS, build_broker
from actors.operation import REGISTRY
from certq.clock import datetime_to_ms, ms_to_datetime, now_ms
from certq.database import create_pool
from certq.redis_client import async_client
from certq.redis_keys import RedisKeys
from certq.script_calls import NewTask, Requeue, worker_lost_error
from certq.settings import Settings
from certq.states import Priority
from certq.task_record import TaskRecord
from certq.task_repository import TaskRepository
from certq.task_store import TaskStore

log = structlog.get_logger(__name__)

#: The reconciling sweeps (orphans, PostgreSQL vs Redis) run every N ticks.
RECONCILE_EVERY_TICKS = 10


class Scheduler:
    """One scheduler process's sweeps."""

    def __init__(
        self, settings: Settings, store: TaskStore, repository: TaskRepository
    ) -> None:
        self._settings = settings
        self._store = store
        self._repository = repository
        self._broker = build_broker(settings, maintenance_chance=ALWAYS)
        self._lost_after_ms = int(settings.worker_lost_after_seconds * 1000)

    async def tick(self, number: int) -> None:
        """Run one round of sweeps."""
        await self.flush_audit()
        await self.recover_lost_tasks()
        await asyncio.to_thread(self._redeliver_dead_workers_messages)
        await self.age_low_priority()
        await self.redispatch_held()
        if number % RECONCILE_EVERY_TICKS == 0:
            await self.reenqueue_orphans()
            await self.restore_from_database()
        await self._store.prune_workers(self._lost_after_ms)

    async def flush_audit(self) -> int:
        """Write waiting audit events to PostgreSQL, oldest first, in batches."""
        # One drainer at a time: two would each trim the other's batch.
        async with self._store.lock("audit-flush", ttl_ms=60_000) as held:
            return await self._flush_audit() if held else 0

    async def _flush_audit(self) -> int:
        written = 0
        size = self._settings.audit_batch_size
        while True:
            batch = await self._store.audit_batch(size)
            if not batch:
                return written

            await self._repository.write_events(batch)
            await self._store.audit_drop(len(batch))
            written += len(batch)
            if len(batch) < size:
                return written

    async def recover_lost_tasks(self) -> None:
        """Tasks running on a worker that stopped beating leave `running`."""
        running = await self._store.running_tasks()
        if not running:
            return

        alive = await self._store.live_workers(sorted(set(running.values())))
        for task_id, worker_id in running.items():
            if worker_id in alive:
                continue
            priority = await self._store.priority_of(task_id) or Priority.NORMAL
            verdict = await self._store.mark_lost(
                task_id, worker_id, priority, worker_lost_error()
            )
            log.warning(
                "task.worker_lost",
                task_id=task_id,
                worker_id=worker_id,
                verdict=verdict,
            )

    def _redeliver_dead_workers_messages(self) -> None:
        # Every dispatch call with maintenance on moves a dead worker's
        # unacknowledged messages of that queue back to it.
        for priority in Priority:
            for name in (priority.queue_name, priority.queue_name + ".DQ"):
                self._broker.do_qsize(name)

    async def age_low_priority(self) -> None:
        """Low work that waited past the ageing limit moves to the normal queue."""
        older_than_ms = int(self._settings.low_aging_seconds * 1000)
        for task_id in await self._store.aged_low(older_than_ms):
            record = await self._store.read(task_id)
            if record is None or record.status != "pending":
                continue
            moved = await self._store.requeue(
                self._requeue(
                    record, Priority.NORMAL, event="aged", leaves=Priority.LOW
                )
            )
            if moved:
                log.info("task.aged", task_id=task_id)

    async def redispatch_held(self) -> None:
        """Work that could start on a free slot but waits gets a new message.

        A worker fetches up to its thread count from each queue, so one whose
        threads are all busy can hold a fetched high message it cannot start
        until a long lower task ends, while slots elsewhere stand idle. The
        fresh message goes to the front of its queue and the held one goes
        stale (the start script drops it).
        """
        snapshot = await self._store.snapshot(self._lost_after_ms)
        free = snapshot.worker_slots - snapshot.running
        if free <= 0:
            return

        waited_ms = int(self._settings.redispatch_after_seconds * 1000)
        caps = self._settings.type_concurrency
        for task_id in await self._store.held_pending(waited_ms, caps, free):
            record = await self._store.read(task_id)
            if record is None or record.status != "pending":
                continue
            sent = await self._store.requeue(
                self._requeue(
                    record,
                    record.priority,
                    event="redispatched",
                    front=True,
                    keep_waited=True,
                    mark={"redispatched_at": str(now_ms())},
                )
            )
            if sent:
                log.info("task.redispatched", task_id=task_id)

    async def reenqueue_orphans(self) -> None:
        """Pending tasks whose message vanished get a new one."""
        older_than_ms = int(self._settings.reconcile_after_seconds * 1000)
        for record in await self._store.orphaned_pending(older_than_ms):
            await self._store.requeue(
                self._requeue(record, record.priority, event="reenqueued")
            )
            log.warning("task.reenqueued", task_id=record.task_id)

    def _requeue(
        self,
        record: TaskRecord,
        priority: Priority,
        *,
        event: str,
        leaves: Priority | None = None,
        front: bool = False,
        keep_waited: bool = False,
        mark: dict[str, str] | None = None,
    ) -> Requeue:
        spec = REGISTRY[record.task_type]
        return Requeue(
            task_id=record.task_id,
            task_type=record.task_type,
            priority=priority,
            token=record.dispatch,
            time_limit_ms=int(spec.time_limit_seconds * 1000),
            expected_status="pending",
            event=event,
            leaves=leaves,
            front=front,
            keep_waited=keep_waited,
            extra_fields={"priority": priority.value, **(mark or {})},
        )

    async def restore_from_database(self) -> None:
        """Tasks PostgreSQL holds as unfinished but Redis lost are enqueued again."""
        cutoff = ms_to_datetime(
            now_ms() - int(self._settings.reconcile_after_seconds * 1000)
        )
        rows = {
            str(r["task_id"]): r
            for r in await self._repository.unfinished(
                self._settings.redis_namespace, cutoff
            )
        }
        if not rows:
            return

        for task_id in await self._store.missing_tasks(list(rows)):
            await self._restore(rows[task_id])

    async def _restore(self, row: asyncpg.Record) -> None:
        spec = REGISTRY.get(row["task_type"])
        if spec is None:
            return

        task = NewTask(
            task_id=str(row["task_id"]),
            user_id=row["user_id"],
            task_type=row["task_type"],
            priority=Priority(row["priority"]),
            params_json=orjson.dumps(row["params"]),
            max_attempts=row["max_attempts"],
            result_ttl_seconds=row["result_ttl_seconds"],
            time_limit_ms=int(spec.time_limit_seconds * 1000),
            estimated_seconds=spec.typical_seconds,
            created_at_ms=datetime_to_ms(row["created_at"]),
            request_id=row["request_id"] or "",
            seq=row["last_seq"] + 1,
            attempts=row["attempts"],
        )
        await self._store.restore(task)
        await self._store.push_audit(
            [
                {
                    "task_id": task.task_id,
                    "seq": task.seq,
                    "kind": "restored",
                    "status": "pending",
                    "at": now_ms(),
                    "attempt": task.attempts,
                    "detail": {"reason": "task state was missing from Redis"},
                }
            ]
        )
        log.warning("task.restored", task_id=task.task_id)


async def _serve(settings: Settings) -> None:
    pool = await create_pool(settings.database_url, max_size=4)
    client = async_client(settings.redis_url)
    scheduler = Scheduler(
        settings,
        TaskStore(client, RedisKeys(settings.redis_namespace)),
        TaskRepository(pool),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("scheduler.started", scheduler_id=uuid.uuid4().hex[:8])

    number = 0
    while not stop.is_set():
        try:
            await scheduler.tick(number)
        except Exception:
            log.error("scheduler.tick_failed", exc_info=True)
        number += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.scheduler_interval_seconds)

    await scheduler.flush_audit()
    await pool.close()
    await client.aclose()
    log.info("scheduler.stopped")


def run_scheduler(settings: Settings) -> None:
    """Run the sweeps until SIGTERM or SIGINT."""
    asyncio.run(_serve(settings))
