"""Crash recovery: killed workers, no workers, graceful stop, lost Redis state."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.integration.api import Api
from tests.integration.cluster import Cluster, running_cluster

#: Test configuration: a worker is lost 3 s after its last heartbeat; the
#: scheduler sweeps every 0.25 s. Detection therefore takes at most ~4 s.
DETECTION_SECONDS = 8


@pytest.fixture
def bare(redis_url: str, database_url: str, log_dir: Path) -> Iterator[Cluster]:
    """Web and scheduler; the test starts and kills workers itself."""
    with running_cluster(redis_url, database_url, log_dir, workers=0) as cluster:
        yield cluster


def _history_rows(database_url: str, task_ids: list[str]) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM tasks WHERE task_id = ANY(%s::uuid[])", (task_ids,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def _wait_for_progress(api: Api, task_id: str) -> None:
    Cluster.wait_for(
        lambda: api.task(task_id)["progress"]["current_step"] >= 2, 30, "progress"
    )


def _kinds(api: Api, task_id: str, until: str) -> list[str]:
    return [e["kind"] for e in api.events_until(task_id, until)]


@pytest.mark.slow
def test_worker_killed_mid_task_loses_no_work(bare: Cluster, database_url: str) -> None:
    """Case worker-killed-mid-task: A runs again, B, C and D are redelivered.

    Elsewhere the killed worker's running and prefetched messages vanished.
    """
    api = Api(bare.base_url, bare.create_key("kill"))
    worker = bare.start_worker(threads=2)
    a = api.submit("diagnostic.sleep", {"seconds": 30, "steps": 30})
    others = [api.submit("diagnostic.sleep", {"seconds": 5, "steps": 5}) for _ in "BCD"]
    _wait_for_progress(api, a)

    bare.kill(worker)
    bare.start_worker(threads=2)
    finished = [api.wait_done(t, timeout=90) for t in [a, *others]]

    assert [t["status"] for t in finished] == ["completed"] * 4
    assert finished[0]["attempts"] == 2
    assert finished[0]["result"]["resumed_at"] > 0
    events = api.events_until(a, "completed")
    assert "worker_lost" in [e["kind"] for e in events]
    starts = [e["detail"]["resumed"] for e in events if e["kind"] == "started"]
    assert starts == [False, True], "the second run resumed from its checkpoint"
    assert _history_rows(database_url, [a, *others]) == 4


@pytest.mark.slow
def test_task_leaves_running_when_every_worker_is_dead(bare: Cluster) -> None:
    """Case running-forever: the scheduler alone takes the task out of running.

    Elsewhere a job stayed "started" forever after a cold worker shutdown.
    """
    api = Api(bare.base_url, bare.create_key("dead"))
    worker = bare.start_worker(threads=1)
    task_id = api.submit("diagnostic.sleep", {"seconds": 60, "steps": 60})
    api.wait_until(task_id, {"running"})

    bare.kill(worker)
    back = api.wait_until(task_id, {"pending", "failed"}, timeout=DETECTION_SECONDS)
    time.sleep(1.5)
    listed = api.client.get("/tasks", params={"status": "running"}).json()["items"]

    assert back["status"] == "pending"
    assert task_id not in [item["task_id"] for item in listed]
    bare.start_worker(threads=1)
    rerun = api.wait_until(task_id, {"running"}, timeout=DETECTION_SECONDS + 5)
    assert rerun["attempts"] == 2
    api.client.post(f"/tasks/{task_id}/cancel")
    api.wait_done(task_id, timeout=10)
    assert _kinds(api, task_id, "cancelled").count("started") == 2


@pytest.mark.slow
def test_task_that_kills_its_worker_every_time_ends_failed(bare: Cluster) -> None:
    """Each lost run counts as an attempt; when they are spent the task fails."""
    api = Api(bare.base_url, bare.create_key("crash"))
    task_id = api.submit(
        "diagnostic.sleep", {"seconds": 60, "steps": 60}, max_retries=1
    )

    for attempt in (1, 2):
        worker = bare.start_worker(threads=1)
        Cluster.wait_for(
            lambda n=attempt: api.task(task_id)["attempts"] == n,
            DETECTION_SECONDS + 5,
            f"attempt {attempt}",
        )
        bare.kill(worker)
    failed = api.wait_until(task_id, {"failed"}, timeout=DETECTION_SECONDS)

    assert failed["attempts"] == 2
    assert failed["error"]["type"] == "WorkerLost"
    assert _kinds(api, task_id, "failed").count("worker_lost") == 2


def test_sigterm_returns_running_work_to_pending_without_losing_it(
    bare: Cluster,
) -> None:
    """A stopping worker checkpoints its task, which resumes elsewhere."""
    api = Api(bare.base_url, bare.create_key("term"))
    worker = bare.start_worker(threads=1)
    task_id = api.submit("diagnostic.sleep", {"seconds": 6, "steps": 12})
    _wait_for_progress(api, task_id)

    bare.kill(worker, signal.SIGTERM)
    worker.wait(timeout=10)
    back = api.task(task_id)
    bare.start_worker(threads=1)
    done = api.wait_done(task_id, timeout=30)

    assert back["status"] == "pending"
    assert done["status"] == "completed"
    assert done["attempts"] == 1
    assert done["result"]["resumed_at"] > 0
    assert "shutdown" in _kinds(api, task_id, "completed")


def test_task_lost_from_redis_is_restored_from_postgresql(
    bare: Cluster, redis_url: str
) -> None:
    """Redis restarted without persistence: the scheduler re-enqueues the task."""
    api = Api(bare.base_url, bare.create_key("restore"))
    task_id = api.submit("diagnostic.echo", {"data": "survives"})
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{bare.namespace}:*"))
    client.delete(*[k for k in keys if b":lock:" not in k])
    client.close()

    bare.start_worker(threads=1)
    done = api.wait_done(task_id, timeout=20)

    assert done["status"] == "completed"
    assert done["result"] == "survives"
    assert "restored" in _kinds(api, task_id, "completed")
