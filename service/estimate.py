"""How long until a newly submitted task is likely done."""

from __future__ import annotations

from actors.operation import OperationSpec
from certq.states import Priority
from certq.task_store import QueueSnapshot


def estimate_seconds(
    spec: OperationSpec, size: float, priority: Priority, snapshot: QueueSnapshot
) -> float:
    """The task's own typical run time plus the queue ahead of it.

    Work ahead is what waits at this priority or a higher one plus what
    runs now, spread over the live worker slots (one slot assumed when none
    is alive). Each task ahead counts as this type's typical run time: the
    queue holds ids, not sizes, so this is a first-order estimate.
    """
    own = spec.typical_seconds * max(size, 0.0)
    ahead = sum(
        count for p, count in snapshot.waiting.items() if p.rank <= priority.rank
    )
    slots = max(snapshot.worker_slots, 1)
    queued = (ahead + max(snapshot.running - slots + 1, 0)) * spec.typical_seconds

    return round(own + queued / slots, 3)
