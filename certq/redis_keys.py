"""Names of every Redis key certq uses, and the Lua scripts that change them.

Every state change of a task is one of the scripts in `certq/lua/`, so it costs
one round trip and cannot be half applied. The queue keys follow dramatiq's
Redis layout (`<ns>:<queue>` list of ids, `<ns>:<queue>.msgs` hash of bodies)
so that a transition and the message it sends are written together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from certq.states import Priority

SCRIPT_NAMES = (
    "enqueue",
    "start",
    "progress",
    "checkpoint",
    "finish",
    "requeue",
    "cancel",
    "lost",
    "moved",
    "held",
)


def load_script_sources() -> dict[str, str]:
    """Read the Lua scripts once, each prefixed with the shared helpers."""
    folder = resources.files("certq") / "lua"
    prelude = (folder / "prelude.lua").read_text()

    return {
        name: prelude + "\n" + (folder / f"{name}.lua").read_text()
        for name in SCRIPT_NAMES
    }


@dataclass(frozen=True)
class RedisKeys:
    """Key names under one namespace (tests use a namespace of their own)."""

    namespace: str

    def task_prefix(self) -> str:
        """Prefix of the task hashes (scripts look up other tasks by it)."""
        return f"{self.namespace}:task:"

    def task(self, task_id: str) -> str:
        """The hash of live state of one task."""
        return self.task_prefix() + task_id

    def result(self, task_id: str) -> str:
        """The stored result of one task, expiring with its TTL."""
        return f"{self.namespace}:result:{task_id}"

    @property
    def audit(self) -> str:
        """The outbox list of audit events not yet written to PostgreSQL."""
        return f"{self.namespace}:audit"

    @property
    def running(self) -> str:
        """Hash of running task id -> worker id."""
        return f"{self.namespace}:running"

    def waiting(self, priority: Priority) -> str:
        """Sorted set of pending task ids by the time they became runnable."""
        return f"{self.namespace}:waiting:{priority.value}"

    def semaphore_prefix(self) -> str:
        """Prefix of the per-type semaphores."""
        return f"{self.namespace}:sem:"

    def semaphore(self, task_type: str) -> str:
        """Sorted set of task ids holding a concurrency slot, by slot expiry."""
        return self.semaphore_prefix() + task_type

    def worker_prefix(self) -> str:
        """Prefix of the per-worker liveness keys."""
        return f"{self.namespace}:worker:"

    def worker(self, worker_id: str) -> str:
        """Liveness key of one worker process, expiring when it stops beating."""
        return self.worker_prefix() + worker_id

    @property
    def workers(self) -> str:
        """Sorted set of worker ids by last heartbeat."""
        return f"{self.namespace}:workers"

    def claim_prefix(self) -> str:
        """Prefix of the keys that stop two tasks yielding for one waiter."""
        return f"{self.namespace}:claim:"

    def idempotency(self, user_id: str, key: str) -> str:
        """Maps a client's Idempotency-Key to the task it created."""
        # Length-prefixed, then hashed: no user id and key pair can spell
        # another's, whatever characters either holds.
        pair = f"{len(user_id)}:{user_id}:{key}".encode()
        return f"{self.namespace}:idem:{hashlib.sha256(pair).hexdigest()}"

    def queue(self, priority: Priority, *, delayed: bool = False) -> str:
        """The dramatiq list of message ids for a priority (or its delay queue)."""
        suffix = ".DQ" if delayed else ""
        return f"{self.namespace}:{priority.queue_name}{suffix}"

    def queue_messages(self, priority: Priority, *, delayed: bool = False) -> str:
        """The dramatiq hash of message bodies for a priority."""
        return self.queue(priority, delayed=delayed) + ".msgs"
