"""Per-type concurrency caps hold across worker processes, and a dead worker's
slot comes back within the heartbeat time."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis

from tests.integration.api import Api
from tests.integration.cluster import Cluster, running_cluster


@pytest.fixture(scope="module")
def capped(redis_url: str, database_url: str, log_dir: Path) -> Iterator[Cluster]:
    """Two worker processes of two threads; diagnostic.sleep capped at 1."""
    with running_cluster(
        redis_url,
        database_url,
        log_dir,
        workers=2,
        threads=2,
        CERTQ_TYPE_CONCURRENCY='{"diagnostic.sleep": 1}',
    ) as cluster:
        yield cluster


def _interval(task: dict[str, str]) -> tuple[float, float]:
    return (
        datetime.fromisoformat(task["started_at"]).timestamp(),
        datetime.fromisoformat(task["finished_at"]).timestamp(),
    )


def test_capped_type_never_runs_twice_at_once_across_processes(capped: Cluster) -> None:
    """Four sleeps over four slots still run one at a time; echo is not held up."""
    api = Api(capped.base_url, capped.create_key("cap"))
    sleeps = [
        api.submit("diagnostic.sleep", {"seconds": 0.6, "steps": 2}) for _ in range(4)
    ]
    echo = api.submit("diagnostic.echo", {"data": 1})

    echoed = api.wait_done(echo, timeout=10)
    done = sorted(_interval(api.wait_done(t, timeout=60)) for t in sleeps)

    assert echoed["status"] == "completed"
    for (_, end), (start, _) in itertools.pairwise(done):
        assert start >= end - 0.05
    assert echoed["finished_at"] < api.task(sleeps[-1])["finished_at"]


@pytest.mark.slow
def test_slot_of_a_killed_worker_is_released(capped: Cluster) -> None:
    """Killing the process holding the only slot frees it after the heartbeat time."""
    api = Api(capped.base_url, capped.create_key("capkill"))
    first = api.submit("diagnostic.sleep", {"seconds": 30, "steps": 30})
    api.wait_until(first, {"running"})
    holder = _process_running(capped, first)
    second = api.submit("diagnostic.sleep", {"seconds": 0.2, "steps": 1})

    capped.kill(holder)
    api.client.post(f"/tasks/{first}/cancel")
    done = api.wait_done(second, timeout=30)

    assert done["status"] == "completed"
    assert api.wait_done(first, timeout=30)["status"] == "cancelled"


def _process_running(cluster: Cluster, task_id: str) -> subprocess.Popen[bytes]:
    client = redis.Redis.from_url(cluster.redis_url)
    worker_id = client.hget(f"{cluster.namespace}:running", task_id)
    client.close()
    assert isinstance(worker_id, bytes)
    pid = int(worker_id.decode().split(":")[1])
    return next(p for p in cluster.processes if p.pid == pid)


@pytest.mark.slow
def test_higher_work_held_only_by_its_cap_neither_blocks_nor_preempts_lower(
    capped: Cluster,
) -> None:
    """Regression: a capped normal task kept free slots from low work, and made
    running low work yield for it again and again, though it could not start."""
    api = Api(capped.base_url, capped.create_key("cap-lower"))
    holder = api.submit("diagnostic.sleep", {"seconds": 15, "steps": 15})
    api.wait_until(holder, {"running"})
    capped_out = api.submit("diagnostic.sleep", {"seconds": 0.2, "steps": 1})
    subjects = [{"common_name": f"h{n}.cap.test"} for n in range(40)]

    low = api.submit(
        "certificate.bulk_issue",
        {"subjects": subjects, "key_type": "rsa2048"},
        priority="low",
    )
    done = api.wait_done(low, timeout=60)

    assert done["status"] == "completed"
    assert done["preemptions"] == 0
    assert done["finished_at"] < api.wait_done(holder, timeout=30)["finished_at"]
    assert api.wait_done(capped_out, timeout=30)["status"] == "completed"


RANK = {"high": 0, "normal": 1, "low": 2}


@pytest.mark.slow
@pytest.mark.parametrize("round_", [1, 2])
def test_when_a_capped_type_has_room_its_highest_waiting_task_starts_first(
    capped: Cluster, round_: int
) -> None:
    """Regression: a task waiting at its cap was hidden from the start gate
    for 500 ms after each try, so normal or low work took the freed slot
    while high work of the same type waited."""
    api = Api(capped.base_url, capped.create_key(f"cap-order-{round_}"))
    holder = api.submit(
        "diagnostic.sleep", {"seconds": 1.5, "steps": 3}, priority="low"
    )
    api.wait_until(holder, {"running"})
    short = {"seconds": 0.3, "steps": 1}
    waiting = [
        api.submit("diagnostic.sleep", short, priority=priority)
        for priority in ["low", "low", "normal", "low", "normal", "high"]
    ]
    time.sleep(0.6)  # each has been turned away by the cap at least once
    shown = api.task(waiting[0])

    done = [api.wait_done(t, timeout=60) for t in waiting]

    started = sorted(done, key=lambda task: task["started_at"])
    assert [t["priority"] for t in started] == sorted(
        (t["priority"] for t in started), key=RANK.__getitem__
    )
    assert shown["status"] == "pending"
    assert shown["next_attempt_at"] is None, "waiting at a cap is no retry"
