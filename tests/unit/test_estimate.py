"""The estimate answered on submit: own work plus the queue ahead, per slot."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

import actors.operations  # noqa: F401  (registers every task type)
from actors.operation import REGISTRY, OperationContext, OperationSpec
from certq.states import Priority
from certq.task_store import QueueSnapshot
from service.estimate import estimate_seconds


class _NoParams(BaseModel):
    """Params of the test operation."""


def _run(ctx: OperationContext, params: Any) -> None:
    return None


SPEC = OperationSpec(
    task_type="test.unit",
    params_model=_NoParams,
    run=_run,
    description="A unit of work taking 2 s.",
    time_limit_seconds=60,
    typical_seconds=2.0,
    max_retries=0,
    size=lambda _params: 1.0,
)


def _snapshot(
    high: int = 0, normal: int = 0, low: int = 0, running: int = 0, slots: int = 4
) -> QueueSnapshot:
    waiting = {Priority.HIGH: high, Priority.NORMAL: normal, Priority.LOW: low}
    return QueueSnapshot(
        waiting=waiting, running=running, worker_slots=slots, workers=[]
    )


def test_idle_service_estimates_the_tasks_own_time() -> None:
    """With nothing queued or running the estimate is typical time * size."""

    estimate = estimate_seconds(SPEC, 3.0, Priority.NORMAL, _snapshot())

    assert estimate == 6.0


def test_estimate_grows_in_proportion_to_the_params_size() -> None:
    """Ten times the work is ten times the own time, not a constant."""

    small = estimate_seconds(SPEC, 1.0, Priority.NORMAL, _snapshot())
    large = estimate_seconds(SPEC, 10.0, Priority.NORMAL, _snapshot())

    assert small == 2.0
    assert large == 20.0


def test_estimate_grows_with_the_queue_ahead_spread_over_the_slots() -> None:
    """Eight tasks waiting on four slots add two task-times."""

    empty = estimate_seconds(SPEC, 1.0, Priority.NORMAL, _snapshot(slots=4))
    queued = estimate_seconds(SPEC, 1.0, Priority.NORMAL, _snapshot(normal=8))

    assert empty == 2.0
    assert queued == 2.0 + 8 * 2.0 / 4


def test_more_worker_slots_shorten_the_wait() -> None:
    """The same queue drains faster over more slots."""

    few = estimate_seconds(SPEC, 1.0, Priority.NORMAL, _snapshot(normal=8, slots=2))
    many = estimate_seconds(SPEC, 1.0, Priority.NORMAL, _snapshot(normal=8, slots=8))

    assert few == 2.0 + 8.0
    assert many == 2.0 + 2.0


def test_only_work_at_the_same_or_a_higher_priority_is_ahead() -> None:
    """A high task ignores normal and low waiters; a low one counts them all."""
    snapshot = _snapshot(high=4, normal=4, low=4, slots=4)

    high = estimate_seconds(SPEC, 1.0, Priority.HIGH, snapshot)
    normal = estimate_seconds(SPEC, 1.0, Priority.NORMAL, snapshot)
    low = estimate_seconds(SPEC, 1.0, Priority.LOW, snapshot)

    assert high == 2.0 + 4 * 2.0 / 4
    assert normal == 2.0 + 8 * 2.0 / 4
    assert low == 2.0 + 12 * 2.0 / 4


def test_busy_slots_add_one_task_time_only_when_every_slot_is_taken() -> None:
    """A free slot means no wait for running work; a full house means one."""

    one_free = estimate_seconds(SPEC, 1.0, Priority.NORMAL, _snapshot(running=3))
    all_busy = estimate_seconds(SPEC, 1.0, Priority.NORMAL, _snapshot(running=4))

    assert one_free == 2.0
    assert all_busy == 2.0 + 1 * 2.0 / 4


def test_no_live_worker_counts_as_one_slot() -> None:
    """With no worker alive the queue is spread over one slot, not divided by 0."""

    estimate = estimate_seconds(SPEC, 1.0, Priority.LOW, _snapshot(low=3, slots=0))

    assert estimate == 2.0 + 3 * 2.0


def test_negative_size_counts_as_no_work() -> None:
    """A size function returning less than zero never makes the estimate shrink."""

    estimate = estimate_seconds(SPEC, -5.0, Priority.NORMAL, _snapshot(normal=4))

    assert estimate == 4 * 2.0 / 4


@pytest.mark.parametrize(
    ("task_type", "small", "large"),
    [
        (
            "certificate.bulk_issue",
            {"subjects": [{"common_name": "a.example"}]},
            {"subjects": [{"common_name": f"h{i}.example"} for i in range(500)]},
        ),
        ("diagnostic.sleep", {"seconds": 1}, {"seconds": 30}),
    ],
)
def test_real_operations_estimate_more_for_bigger_params(
    task_type: str, small: dict[str, Any], large: dict[str, Any]
) -> None:
    """Through each spec's size function, bigger params give longer estimates."""
    spec = REGISTRY[task_type]
    sizes = [spec.size(spec.params_model.model_validate(p)) for p in (small, large)]

    estimates = [
        estimate_seconds(spec, size, Priority.NORMAL, _snapshot()) for size in sizes
    ]

    assert sizes[1] > sizes[0]
    assert estimates[1] > estimates[0] > 0
