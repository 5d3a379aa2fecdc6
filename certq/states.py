"""Task statuses, priorities and the queue each priority uses."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """Where a task is in its life cycle; terminal ones never change again."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for completed, failed and cancelled."""
        return self in TERMINAL


TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class Priority(StrEnum):
    """The three priorities, each with its own queue and runner actor."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def queue_name(self) -> str:
        """The dramatiq queue of this priority."""
        return f"certq.{self.value}"

    @property
    def rank(self) -> int:
        """0 for high; a lower rank is always served first."""
        return _RANKS[self]

    def higher(self) -> list[Priority]:
        """The priorities served before this one, highest first."""
        return [p for p in Priority if p.rank < self.rank]


_RANKS = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}
