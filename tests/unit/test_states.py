"""Task statuses and priorities: terminal set, ranks, queues, stored values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from certq.states import TERMINAL, Priority, TaskStatus

TASKS_SCHEMA = Path(__file__).resolve().parents[2] / "schema" / "0001_tasks.sql"


def _schema_check_values(column: str) -> set[str]:
    sql = TASKS_SCHEMA.read_text()
    match = re.search(rf"{column} IN \(([^)]*)\)", sql)
    assert match, f"no CHECK on {column} in {TASKS_SCHEMA.name}"
    return set(re.findall(r"'([^']*)'", match.group(1)))


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        (TaskStatus.PENDING, False),
        (TaskStatus.RUNNING, False),
        (TaskStatus.COMPLETED, True),
        (TaskStatus.FAILED, True),
        (TaskStatus.CANCELLED, True),
    ],
)
def test_only_completed_failed_and_cancelled_are_terminal(
    status: TaskStatus, terminal: bool
) -> None:
    """is_terminal is true exactly for the three ending statuses."""

    result = status.is_terminal

    assert result is terminal
    assert (status in TERMINAL) is terminal


def test_statuses_compare_equal_to_their_stored_strings() -> None:
    """A status read back as text from Redis or PostgreSQL is the same status."""

    stored: str = "running"

    parsed = TaskStatus(stored)

    assert parsed is TaskStatus.RUNNING
    assert stored == TaskStatus.RUNNING
    assert {status.value for status in TaskStatus} == {
        "pending",
        "running",
        "completed",
        "failed",
        "cancelled",
    }


def test_unknown_status_text_is_refused() -> None:
    """A status outside the five is a ValueError, not a new member."""

    with pytest.raises(ValueError, match="'done'"):
        TaskStatus("done")


def test_schema_accepts_exactly_the_statuses_and_priorities_of_the_code() -> None:
    """The CHECK constraints of the tasks table and the enums agree."""

    statuses = _schema_check_values("status")
    priorities = _schema_check_values("priority")

    assert statuses == {status.value for status in TaskStatus}
    assert priorities == {priority.value for priority in Priority}


def test_priorities_rank_high_before_normal_before_low() -> None:
    """A lower rank is served first: high 0, normal 1, low 2."""

    ranks = [
        priority.rank for priority in (Priority.HIGH, Priority.NORMAL, Priority.LOW)
    ]

    assert ranks == [0, 1, 2]
    assert sorted(Priority, key=lambda p: p.rank) == [
        Priority.HIGH,
        Priority.NORMAL,
        Priority.LOW,
    ]


def test_higher_lists_the_priorities_served_first_highest_first() -> None:
    """low is preceded by high and normal; high by nothing."""

    higher = {priority: priority.higher() for priority in Priority}

    assert higher[Priority.HIGH] == []
    assert higher[Priority.NORMAL] == [Priority.HIGH]
    assert higher[Priority.LOW] == [Priority.HIGH, Priority.NORMAL]


def test_each_priority_has_its_own_queue() -> None:
    """Queue names are distinct and carry the certq prefix."""

    queues = [priority.queue_name for priority in Priority]

    assert queues == ["certq.high", "certq.normal", "certq.low"]
    assert len(set(queues)) == len(queues)
