"""The context an operation receives: progress, checkpoint, add_cleanup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from actors.runtime import WorkerRuntime
from certq.ca import CertificateAuthority
from certq.errors import CancelRequested, Preempted, ShutdownRequested, Superseded
from certq.states import Priority

log = structlog.get_logger(__name__)


class TaskContext:
    """One run of one task, as the operation sees it."""

    def __init__(
        self,
        runtime: WorkerRuntime,
        *,
        task_id: str,
        run: str,
        priority: Priority,
        attempt: int,
        resume_state: Any,
    ) -> None:
        self.task_id = task_id
        self.attempt = attempt
        self.resume_state = resume_state
        self._runtime = runtime
        self._run = run
        self._priority = priority
        self._cleanups: list[Callable[[], None]] = []

    @property
    def ca(self) -> CertificateAuthority:
        """The service CA, shared by every worker."""
        return self._runtime.ca()

    def progress(self, step: int, message: str, total_steps: int | None = None) -> None:
        """Record that `step` of `total_steps` is done."""
        self._runtime.store.progress(
            self.task_id,
            self._run,
            step,
            total_steps or 0,
            message,
            self._runtime.settings.progress_messages_kept,
        )

    def checkpoint(self, state: Any = None) -> None:
        """Store resumable state; raise if the task must stop here."""
        settings = self._runtime.settings
        # A stopping worker yields anyway: it asks only about cancel.
        stopping = self._runtime.shutting_down.is_set()
        waiter = None
        if not stopping:
            waiter = self._runtime.claim_local_preemption(self._priority)
        verdict = self._runtime.store.checkpoint(
            self.task_id,
            self._run,
            self._priority,
            state,
            waiter=waiter,
            preempt_after_ms=int(settings.preempt_after_seconds * 1000),
            max_preemptions=0 if stopping else settings.max_preemptions,
        )
        if verdict == "cancel":
            raise CancelRequested(f"task {self.task_id} was cancelled")
        if verdict == "lost":
            raise Superseded(f"task {self.task_id} is no longer this run's")
        if stopping:
            raise ShutdownRequested(f"worker {self._runtime.worker_id} is stopping")
        if verdict == "preempt":
            raise Preempted(f"task {self.task_id} yields to higher-priority work")

    def add_cleanup(self, fn: Callable[[], None]) -> None:
        """Run `fn` if the task is cancelled or fails for good."""
        self._cleanups.append(fn)

    def run_cleanups(self) -> None:
        """Undo partial effects, newest first; a failing cleanup is logged."""
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception:
                log.warning("task.cleanup_failed", exc_info=True)
        self._cleanups.clear()
