"""A stand-in for the worker's OperationContext, for unit tests of operations."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from certq.ca import CertificateAuthority, create_ca
from certq.errors import Preempted


@functools.cache
def shared_ca() -> CertificateAuthority:
    """One test CA per test session; creating a CA costs a key generation."""
    return create_ca("certq unit test CA")


class FakeContext:
    """Records progress and checkpoints; can preempt at the Nth checkpoint."""

    def __init__(
        self,
        ca: CertificateAuthority | None = None,
        *,
        resume_state: Any = None,
        preempt_at_checkpoint: int | None = None,
        attempt: int = 1,
    ) -> None:
        self.task_id = "task-unit-test"
        self.attempt = attempt
        self.resume_state = resume_state
        self.ca = ca or shared_ca()
        self.progress_calls: list[tuple[int, str, int | None]] = []
        self.checkpoints: list[Any] = []
        self.cleanups: list[Callable[[], None]] = []
        self._preempt_at_checkpoint = preempt_at_checkpoint

    def progress(self, step: int, message: str, total_steps: int | None = None) -> None:
        """Record one progress report."""
        self.progress_calls.append((step, message, total_steps))

    def checkpoint(self, state: Any = None) -> None:
        """Store the state as JSON would, then preempt if this is the Nth call."""
        # A JSON round trip, as the real store does, catches unserialisable state.
        self.checkpoints.append(json.loads(json.dumps(state)))
        if len(self.checkpoints) == self._preempt_at_checkpoint:
            raise Preempted("preempted by the test")

    def add_cleanup(self, fn: Callable[[], None]) -> None:
        """Record a cleanup; tests call them if they need to."""
        self.cleanups.append(fn)

    def resumed(self) -> FakeContext:
        """The context of the next attempt, resuming from the last checkpoint."""
        last_state = self.checkpoints[-1] if self.checkpoints else None

        return FakeContext(self.ca, resume_state=last_state, attempt=self.attempt + 1)
