"""Crash recovery: killed workers, no workers, graceful stop, lost Redis state."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from certq.redis_keys import RedisKeys
from tests.integration.api import Api
from tests.integration.cluster import Cluster, running_cluster

#: Test configuration: a worker is lost 3 s after its last heartbeat; the
#: scheduler sweeps every 0.25 s. Detection therefore takes at most ~4 s.
DETECTION_SECONDS = 8


@pytest.fixture
def bare_quick_ageing(
    redis_url: str, database_url: str, log_dir: Path
) -> Iterator[Cluster]:
    """Like `bare`, with low tasks ageing to normal after 1 s."""
    with running_cluster(
        redis_url, database_url, log_dir, workers=0, CERTQ_LOW_AGING_SECONDS="1"
    ) as cluster:
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


def _sleeping(
    cluster: Cluster, user: str, seconds: int, steps: int
) -> tuple[Api, subprocess.Popen[bytes], str]:
    """A one-thread worker running a diagnostic.sleep that has made progress."""
    api = Api(cluster.base_url, cluster.create_key(user))
    worker = cluster.start_worker(threads=1)
    task_id = api.submit("diagnostic.sleep", {"seconds": seconds, "steps": steps})
    _wait_for_progress(api, task_id)
    return api, worker, task_id


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
    assert [(e["type"], e["attempt"]) for e in failed["errors"]] == [
        ("WorkerLost", 1),
        ("WorkerLost", 2),
    ], "every lost attempt is kept, numbered"
    kinds = _kinds(api, task_id, "failed")
    assert kinds.count("worker_lost") == 2
    assert kinds[-2:] == ["worker_lost", "failed"]


def test_sigterm_returns_running_work_to_pending_without_losing_it(
    bare: Cluster,
) -> None:
    """A stopping worker checkpoints its task, which resumes elsewhere."""
    api, worker, task_id = _sleeping(bare, "term", seconds=6, steps=12)

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


def test_a_stopping_worker_fetches_nothing_and_its_yielded_task_runs_elsewhere(
    bare: Cluster,
) -> None:
    """Regression: during its grace period a stopping worker fetched again the
    task it had just sent back, and held it until the grace ran out."""
    api = Api(bare.base_url, bare.create_key("handover"))
    stopping = bare.start_worker(threads=2, CERTQ_SHUTDOWN_GRACE_SECONDS="20")
    # One long step: it never reaches a checkpoint, and keeps the worker in
    # its grace period until the grace runs out.
    stuck = api.submit("diagnostic.sleep", {"seconds": 60, "steps": 1})
    moving = api.submit("diagnostic.sleep", {"seconds": 20, "steps": 40})
    api.wait_until(stuck, {"running"})
    _wait_for_progress(api, moving)

    bare.kill(stopping, signal.SIGTERM)
    api.wait_until(moving, {"pending"})
    # Only now is there another worker: the stopping one had every chance to
    # fetch the task again.
    bare.start_worker(threads=2)
    running = api.wait_until(moving, {"running"}, timeout=15)

    assert stopping.poll() is None, "it must start elsewhere within the grace"
    assert running["attempts"] == 1
    bare.kill(stopping)


def _forget_live_state(redis_url: str, namespace: str) -> None:
    """What a Redis restart without persistence does to one namespace."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{namespace}:*"))
    client.delete(*[k for k in keys if b":lock:" not in k])
    client.close()


def test_task_lost_from_redis_is_restored_from_postgresql(
    bare: Cluster, redis_url: str
) -> None:
    """Redis restarted without persistence: the scheduler re-enqueues the task."""
    api = Api(bare.base_url, bare.create_key("restore"))
    task_id = api.submit("diagnostic.echo", {"data": "survives"})
    _forget_live_state(redis_url, bare.namespace)

    bare.start_worker(threads=1)
    done = api.wait_done(task_id, timeout=20)

    assert done["status"] == "completed"
    assert done["result"] == "survives"
    assert "restored" in _kinds(api, task_id, "completed")


def test_a_scheduler_restores_only_the_tasks_of_its_own_namespace(
    bare: Cluster, redis_url: str, database_url: str, log_dir: Path
) -> None:
    """Regression: it restored every unfinished task of the database, so two
    deployments (or test clusters) sharing one ran each other's tasks."""
    keys = RedisKeys(bare.namespace)
    api = Api(bare.base_url, bare.create_key("mine"))
    with running_cluster(redis_url, database_url, log_dir, workers=0) as other:
        theirs = Api(other.base_url, other.create_key("theirs")).submit(
            "diagnostic.noop"
        )
        mine = api.submit("diagnostic.noop")
        _forget_live_state(redis_url, bare.namespace)
        client = redis.Redis.from_url(redis_url)

        bare.wait_for(lambda: client.exists(keys.task(mine)), 30, "its own restored")

        assert not client.exists(keys.task(theirs))
        client.close()


def _events_of(api: Api, task_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in api.events_until(task_id, kind) if e["kind"] == kind]


@pytest.mark.slow
def test_run_of_a_worker_taken_for_dead_cannot_finish_the_task(bare: Cluster) -> None:
    """A frozen worker's run, once its task runs elsewhere, changes nothing.

    Regression: both runs shared one token, so the first to end won: the
    frozen run's late finish completed the task while its second attempt
    still ran, and that attempt was then cut off.
    """
    api = Api(bare.base_url, bare.create_key("frozen"))
    frozen = bare.start_worker(threads=1)
    task_id = api.submit("diagnostic.sleep", {"seconds": 8, "steps": 1})
    api.wait_until(task_id, {"running"}, timeout=30)
    bare.kill(frozen, signal.SIGSTOP)
    bare.start_worker(threads=1)
    Cluster.wait_for(
        lambda: api.task(task_id)["attempts"] == 2, DETECTION_SECONDS + 5, "attempt 2"
    )

    bare.kill(frozen, signal.SIGCONT)
    done = api.wait_done(task_id, timeout=30)

    assert done["status"] == "completed"
    second_start = _events_of(api, task_id, "started")[1]["at"]
    completed = _events_of(api, task_id, "completed")
    assert len(completed) == 1
    ran_ms = _ms(completed[0]["at"]) - _ms(second_start)
    assert ran_ms >= 7_500, "the task ended with its second run, not the first"


def _ms(at: str) -> float:
    return datetime.fromisoformat(at).timestamp() * 1000


@pytest.mark.slow
def test_cancel_requested_before_the_worker_died_ends_cancelled(
    bare: Cluster,
) -> None:
    """A task whose cancel was waiting is not run again after its worker dies."""
    api, worker, task_id = _sleeping(bare, "cancel-kill", seconds=30, steps=30)
    bare.kill(worker, signal.SIGSTOP)

    requested = api.client.post(f"/tasks/{task_id}/cancel")
    bare.kill(worker)
    bare.start_worker(threads=1)
    done = api.wait_done(task_id, timeout=DETECTION_SECONDS + 10)

    assert requested.status_code == 202
    assert done["status"] == "cancelled"
    assert done["attempts"] == 1
    assert _kinds(api, task_id, "cancelled").count("started") == 1


def test_cancel_requested_before_a_shutdown_ends_cancelled(bare: Cluster) -> None:
    """Regression: the shutdown won and the cancelled task started again."""
    api, worker, task_id = _sleeping(bare, "cancel-term", seconds=20, steps=10)
    bare.kill(worker, signal.SIGSTOP)

    requested = api.client.post(f"/tasks/{task_id}/cancel")
    bare.kill(worker, signal.SIGTERM)
    bare.kill(worker, signal.SIGCONT)
    worker.wait(timeout=15)
    bare.start_worker(threads=1)
    done = api.wait_done(task_id, timeout=15)

    assert requested.status_code == 202
    assert done["status"] == "cancelled"
    kinds = _kinds(api, task_id, "cancelled")
    assert "shutdown" not in kinds
    assert kinds.count("started") == 1


def test_a_lost_run_counts_as_an_attempt_even_when_the_task_ages_meanwhile(
    bare_quick_ageing: Cluster,
) -> None:
    """Regression: ageing marked the next start of any task with a checkpoint
    as no new attempt, so a crash followed by ageing was not charged."""
    cluster = bare_quick_ageing
    api = Api(cluster.base_url, cluster.create_key("ager"))
    worker = cluster.start_worker(threads=1)
    task_id = api.submit(
        "diagnostic.sleep", {"seconds": 20, "steps": 40}, priority="low"
    )
    _wait_for_progress(api, task_id)

    cluster.kill(worker)
    cluster.wait_for(
        lambda: api.task(task_id)["priority"] == "normal",
        DETECTION_SECONDS + 5,
        "the lost task to age",
    )
    cluster.start_worker(threads=1)
    running = api.wait_until(task_id, {"running"}, timeout=30)

    assert running["attempts"] == 2
    assert "aged" in _kinds(api, task_id, "aged")
