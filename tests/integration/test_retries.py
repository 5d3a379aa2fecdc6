"""Retries: they wait, the wait grows and is capped, and they end."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.api import Api
from tests.integration.cluster import Cluster, running_cluster


@pytest.fixture(scope="module")
def doubling_from_one_second(
    redis_url: str, database_url: str, log_dir: Path
) -> Iterator[Cluster]:
    """Backoff base 1 s, doubling, capped at 8 s."""
    with running_cluster(
        redis_url,
        database_url,
        log_dir,
        CERTQ_RETRY_BACKOFF_BASE_MS="1000",
        CERTQ_RETRY_BACKOFF_MAX_MS="8000",
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def tiny_backoff(redis_url: str, database_url: str, log_dir: Path) -> Iterator[Cluster]:
    """Backoff base 1 ms, capped at 50 ms."""
    with running_cluster(
        redis_url,
        database_url,
        log_dir,
        CERTQ_RETRY_BACKOFF_BASE_MS="1",
        CERTQ_RETRY_BACKOFF_MAX_MS="50",
    ) as cluster:
        yield cluster


def _attempt_starts(api: Api, task_id: str, final: str) -> list[float]:
    events = api.events_until(task_id, final)
    return [
        datetime.fromisoformat(e["at"]).timestamp()
        for e in events
        if e["kind"] == "started"
    ]


@pytest.mark.slow
def test_retries_wait_and_the_wait_doubles(doubling_from_one_second: Cluster) -> None:
    """Case retry-backoff: gaps of about 1, 2, 4 s, then success on attempt 4.

    Elsewhere retries with a long backoff fired back to back.
    """
    api = Api(
        doubling_from_one_second.base_url, doubling_from_one_second.create_key("r")
    )
    task_id = api.submit(
        "diagnostic.sleep", {"seconds": 0, "steps": 1, "fail_first": 3}, max_retries=5
    )

    waiting = api.wait_until(task_id, {"pending"}, timeout=10)
    while waiting["attempts"] == 0:
        waiting = api.task(task_id)
    done = api.wait_done(task_id, timeout=60)

    assert done["status"] == "completed"
    assert done["attempts"] == 4
    assert done["max_attempts"] == 6
    starts = _attempt_starts(api, task_id, "completed")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3
    for gap, expected in zip(gaps, (1, 2, 4), strict=True):
        assert expected * 0.75 <= gap <= expected * 1.25 + 1.0, gaps
    retries = [e for e in api.events(task_id) if e["kind"] == "retry_scheduled"]
    assert [r["detail"]["error"]["attempt"] for r in retries] == [1, 2, 3]
    assert all(r["detail"]["delay_ms"] >= 750 for r in retries)


def test_waiting_task_shows_attempts_and_when_the_next_is_due(
    doubling_from_one_second: Cluster,
) -> None:
    """Between attempts the status names the attempt count and a future time."""
    api = Api(
        doubling_from_one_second.base_url, doubling_from_one_second.create_key("w")
    )
    task_id = api.submit(
        "diagnostic.sleep", {"seconds": 0, "steps": 1, "fail_first": 1}, max_retries=2
    )

    deadline = time.monotonic() + 10
    seen = api.task(task_id)
    while not (seen["status"] == "pending" and seen["attempts"] == 1):
        assert time.monotonic() < deadline, seen
        seen = api.task(task_id)

    assert seen["max_attempts"] == 3
    assert datetime.fromisoformat(seen["next_attempt_at"]).timestamp() > time.time()
    assert seen["error"]["retryable"] is True
    assert api.wait_done(task_id)["status"] == "completed"


@pytest.mark.slow
def test_always_failing_task_fails_after_exactly_max_retries_plus_one(
    doubling_from_one_second: Cluster,
) -> None:
    """Max retries 3: four attempts, then `failed`, and never tried again."""
    api = Api(
        doubling_from_one_second.base_url, doubling_from_one_second.create_key("f")
    )
    task_id = api.submit(
        "diagnostic.sleep",
        {"seconds": 0, "steps": 1, "fail_always": True, "error_message": "still down"},
        max_retries=3,
    )

    failed = api.wait_done(task_id, timeout=60)
    time.sleep(3)
    later = api.task(task_id)

    assert failed["status"] == "failed"
    assert failed["attempts"] == 4
    assert failed["error"] == {
        "type": "OperationError",
        "message": "still down",
        "retryable": True,
        "attempts": 4,
    }
    assert len(failed["errors"]) == 4
    assert later["attempts"] == 4
    assert len(_attempt_starts(api, task_id, "failed")) == 4


def test_permanent_error_fails_at_once_without_retry(tiny_backoff: Cluster) -> None:
    """An error no retry can help ends the task on its first attempt."""
    api = Api(tiny_backoff.base_url, tiny_backoff.create_key("p"))
    task_id = api.submit(
        "diagnostic.sleep",
        {"seconds": 0, "fail_permanently": True, "error_message": "never works"},
        max_retries=5,
    )

    failed = api.wait_done(task_id)
    kinds = [e["kind"] for e in api.events_until(task_id, "failed")]

    assert failed["status"] == "failed"
    assert failed["attempts"] == 1
    assert failed["error"]["type"] == "PermanentError"
    assert failed["error"]["retryable"] is False
    assert "retry_scheduled" not in kinds
    assert kinds[-1] == "failed"


def test_many_retries_never_overflow_the_backoff(tiny_backoff: Cluster) -> None:
    """Case backoff-overflow: the most retries the API accepts, every delay capped.

    Elsewhere the 16th retry's time overflowed and the job disappeared.
    """
    api = Api(tiny_backoff.base_url, tiny_backoff.create_key("o"))
    limit = 25
    task_id = api.submit(
        "diagnostic.sleep",
        {"seconds": 0, "steps": 1, "fail_always": True, "error_message": "again"},
        max_retries=limit,
    )

    failed = api.wait_done(task_id, timeout=120)

    assert failed["status"] == "failed"
    assert failed["attempts"] == limit + 1
    assert failed["error"]["message"] == "again"
    retries = [
        e for e in api.events_until(task_id, "failed") if e["kind"] == "retry_scheduled"
    ]
    assert len(retries) == limit
    assert all(1 <= r["detail"]["delay_ms"] <= 50 for r in retries)
    logs = "".join(
        p.read_text()
        for p in tiny_backoff.log_dir.glob(f"{tiny_backoff.namespace}-worker-*")
    )
    assert "Traceback" not in logs


@pytest.mark.parametrize("value", ["1000000000", "-1", "1e308", "2.5", "true"])
def test_out_of_range_max_retries_is_422_naming_the_field(
    tiny_backoff: Cluster, value: str
) -> None:
    """10**9, -1 and 1e308 are refused with the field named, and nothing runs."""
    api = Api(tiny_backoff.base_url, tiny_backoff.create_key("v"))
    body = '{"task_type": "diagnostic.noop", "max_retries": ' + value + "}"

    response = api.client.post(
        "/tasks", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["max_retries"]
