"""What one worker process shares between its threads.

The store, its identity and heartbeat, the CA (loaded once), the tasks it is
running, and what it knows of the messages it has prefetched but not started.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import structlog

from certq.ca import CertificateAuthority
from certq.ca_repository import CaRepository
from certq.clock import now_ms
from certq.database import create_pool
from certq.settings import Settings
from certq.states import Priority
from certq.worker_store import Waiter, WorkerStore

log = structlog.get_logger(__name__)

#: dramatiq actor priorities: a lower number is taken first from the
#: in-process work queue, so prefetched high work never waits behind low.
ACTOR_PRIORITY = {Priority.HIGH: 0, Priority.NORMAL: 10, Priority.LOW: 20}


@dataclass
class RunningTask:
    """One task a thread of this process is running."""

    task_id: str
    task_type: str
    priority: Priority


class WorkerRuntime:
    """Process-wide state of a worker: identity, heartbeat, CA, running set."""

    def __init__(self, settings: Settings, store: WorkerStore) -> None:
        self.settings = settings
        self.store = store
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.threads = settings.worker_threads
        self.shutting_down = threading.Event()
        self._running: dict[str, RunningTask] = {}
        self._claimed_buffered: set[str] = set()
        self._lock = threading.Lock()
        self._ca: CertificateAuthority | None = None
        self._ca_lock = threading.Lock()
        self._stop_beating = threading.Event()
        self._beater: threading.Thread | None = None
        self._work_queue: Any = None
        self._started_at = now_ms()

    # Running set and local preemption.

    def attach_work_queue(self, work_queue: Any) -> None:
        """Remember dramatiq's in-process work queue to see prefetched work."""
        self._work_queue = work_queue

    def began(self, task: RunningTask, message_id: str) -> None:
        """Note that a thread started `task` (from `message_id`)."""
        with self._lock:
            self._running[task.task_id] = task
            self._claimed_buffered.discard(message_id)

    def ended(self, task_id: str) -> None:
        """Note that a thread is done with `task_id`."""
        with self._lock:
            self._running.pop(task_id, None)

    def claim_local_preemption(self, priority: Priority) -> Waiter | None:
        """Higher-priority work this process holds and no thread can take.

        Each such prefetched message is offered to one running task only, so
        one waiting message never makes several tasks of this process yield;
        the checkpoint script then checks that it can really start.
        """
        if self._work_queue is None:
            return None

        rank = ACTOR_PRIORITY[priority]
        with self._lock:
            # dramatiq's PriorityQueue keeps its items in `.queue`; reading it
            # is the only way to see prefetched work (there is no public hook).
            for item in list(self._work_queue.queue):
                message_id = item.message.message_id
                if item.priority < rank and message_id not in self._claimed_buffered:
                    self._claimed_buffered.add(message_id)
                    task_id, dispatch, _ = item.message.args
                    return Waiter(task_id, dispatch)
        return None

    # Heartbeat.

    def start_heartbeat(self) -> None:
        """Beat now, then every `worker_heartbeat_seconds` in a daemon thread."""
        self._beat()
        self._beater = threading.Thread(
            target=self._beat_forever, name="certq-heartbeat", daemon=True
        )
        self._beater.start()

    def stop_heartbeat(self) -> None:
        """Stop beating and remove this worker from the listing."""
        self._stop_beating.set()
        if self._beater is not None:
            self._beater.join(timeout=5)
        self.store.forget_worker(self.worker_id)

    def _beat_forever(self) -> None:
        while not self._stop_beating.wait(self.settings.worker_heartbeat_seconds):
            try:
                self._beat()
            except Exception:
                log.warning("worker.heartbeat_failed", exc_info=True)

    def _beat(self) -> None:
        with self._lock:
            holding = {t.task_id: t.task_type for t in self._running.values()}
            running = [
                {"task_id": t.task_id, "task_type": t.task_type}
                for t in self._running.values()
            ]
        info = {
            "worker_id": self.worker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "threads": self.threads,
            "busy": len(running),
            "running": running,
            "started_at": self._started_at,
            "seen_at": now_ms(),
        }
        lost_after_ms = int(self.settings.worker_lost_after_seconds * 1000)
        self.store.heartbeat(self.worker_id, info, holding, lost_after_ms)

    # The service CA.

    def preload_ca(self) -> None:
        """Load or create the CA at boot, so `/ca.pem` answers from the start."""
        try:
            self.ca()
        except Exception:
            # PostgreSQL may be down at boot: the first task that needs the
            # CA tries again, and fails as a retryable error if it must.
            log.warning("worker.ca_unavailable", exc_info=True)

    def ca(self) -> CertificateAuthority:
        """The service CA, loaded (or created) once per process."""
        with self._ca_lock:
            if self._ca is None:
                self._ca = asyncio.run(self._load_ca())
            return self._ca

    async def _load_ca(self) -> CertificateAuthority:
        pool = await create_pool(self.settings.database_url, max_size=1)
        try:
            repository = CaRepository(pool)
            return await repository.load_or_create(
                self.settings.ca_key_passphrase.encode(), self.settings.ca_common_name
            )
        finally:
            await pool.close()
