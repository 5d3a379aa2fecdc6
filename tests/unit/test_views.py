"""The task view keeps one shape, live in Redis or remembered by PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from certq.task_record import TaskRecord
from service.views import live_task_view, stored_task_view

BASE = "http://certq.test"
TASK_ID = "de6ed19e-690d-4318-8e50-f52823aae3a1"
ERROR = {
    "type": "OperationError",
    "message": "boom",
    "retryable": True,
    "attempt": 1,
    "at": 1796349152691,
}


def _record(**fields: str) -> TaskRecord:
    raw = {
        "id": TASK_ID,
        "user": "alice",
        "type": "diagnostic.sleep",
        "priority": "normal",
        "status": "failed",
        "params": '{"seconds": 1}',
        "attempts": "1",
        "max_attempts": "1",
        "created_at": "1796349150000",
        "error": orjson.dumps(ERROR).decode(),
        "errors": orjson.dumps([ERROR]).decode(),
        **fields,
    }
    return TaskRecord.from_hash(raw)


def _row() -> dict[str, Any]:
    at = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)
    return {
        "task_id": TASK_ID,
        "task_type": "diagnostic.sleep",
        "priority": "normal",
        "status": "failed",
        "user_id": "alice",
        "attempts": 1,
        "max_attempts": 1,
        "created_at": at,
        "started_at": at,
        "finished_at": at,
        "params": {"seconds": 1},
        "error": ERROR,
    }


def test_stored_view_has_every_field_of_the_live_view() -> None:
    """Regression: after the TTL, fields vanished and others appeared."""
    live = live_task_view(_record(), BASE)

    stored = stored_task_view(_row(), BASE)

    assert set(stored) == set(live)
    assert set(stored["progress"]) == set(live["progress"])


def test_attempt_errors_carry_rfc3339_times_in_both_views() -> None:
    """Regression: `errors[].at` came out as epoch milliseconds."""
    views = [live_task_view(_record(), BASE), stored_task_view(_row(), BASE)]

    times = [view["errors"][0]["at"] for view in views]

    assert times == ["2026-12-04T01:52:32.691+00:00"] * 2
    assert all(view["errors"][0]["attempt"] == 1 for view in views)
