"""Strict priority at slot allocation, and preemption of lower running work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from certq.redis_keys import RedisKeys
from certq.states import Priority
from tests.integration.api import Api
from tests.integration.cluster import Cluster, running_cluster


@pytest.fixture
def one_slot(redis_url: str, database_url: str, log_dir: Path) -> Iterator[Cluster]:
    """One worker process with one thread: a single slot."""
    with running_cluster(redis_url, database_url, log_dir, threads=1) as cluster:
        yield cluster


@pytest.fixture
def one_slot_no_preemption(
    redis_url: str, database_url: str, log_dir: Path
) -> Iterator[Cluster]:
    """A single slot whose running work is never preempted."""
    with running_cluster(
        redis_url, database_url, log_dir, threads=1, CERTQ_MAX_PREEMPTIONS="0"
    ) as cluster:
        yield cluster


def _started_at(api: Api, task_id: str) -> str:
    started: str = api.task(task_id)["started_at"]
    return started


@pytest.mark.slow
def test_high_task_is_not_stuck_behind_prefetched_low_work(one_slot: Cluster) -> None:
    """Case priority-vs-prefetch: one slot, 20 low tasks of 2 s, then one high.

    Elsewhere the high message ran in send order because the worker had
    prefetched the low ones.
    """
    api = Api(one_slot.base_url, one_slot.create_key("prio"))
    low = [
        api.submit("diagnostic.sleep", {"seconds": 2, "steps": 8}, priority="low")
        for _ in range(20)
    ]
    api.wait_until(low[0], {"running"})

    high = api.submit("diagnostic.sleep", {"seconds": 1, "steps": 4}, priority="high")
    not_started = [t for t in low if api.task(t)["started_at"] is None]
    high_done = api.wait_done(high, timeout=30)

    assert high_done["status"] == "completed"
    high_started = high_done["started_at"]
    later = [api.task(t)["started_at"] for t in not_started]
    assert all(s is None or s > high_started for s in later)
    finished = [api.wait_done(t, timeout=120) for t in low]
    assert all(t["status"] == "completed" for t in finished)
    preempted = [t for t in finished if t["preemptions"] > 0]
    for task in preempted:
        kinds = [e["kind"] for e in api.events_until(task["task_id"], "completed")]
        assert "preempted" in kinds
        assert task["result"]["resumed_at"] > 0
        assert task["attempts"] == 1


def test_free_slot_takes_high_then_normal_then_low(
    one_slot_no_preemption: Cluster,
) -> None:
    """Waiting work starts strictly by priority, whatever order it came in."""
    cluster = one_slot_no_preemption
    api = Api(cluster.base_url, cluster.create_key("order"))
    blocker = api.submit("diagnostic.sleep", {"seconds": 2, "steps": 2})
    api.wait_until(blocker, {"running"})

    submitted = []
    for priority in ("low", "normal", "high", "low", "normal", "high"):
        task_id = api.submit(
            "diagnostic.sleep", {"seconds": 0.2, "steps": 1}, priority=priority
        )
        submitted.append((priority, task_id))
    done = {t: api.wait_done(t, timeout=60) for _, t in submitted}

    order = sorted(submitted, key=lambda pt: done[pt[1]]["started_at"])
    assert [p for p, _ in order] == ["high", "high", "normal", "normal", "low", "low"]


@pytest.mark.slow
def test_high_task_preempts_bulk_issuance_which_resumes_without_reissuing(
    one_slot: Cluster,
) -> None:
    """A high task takes the only slot from a long normal bulk issuance; the
    issuance resumes from its checkpoint and issues every subject once."""
    api = Api(one_slot.base_url, one_slot.create_key("bulk"))
    subjects = [{"common_name": f"p{i}.preempt.test"} for i in range(60)]
    bulk = api.submit(
        "certificate.bulk_issue", {"subjects": subjects, "key_type": "rsa2048"}
    )
    api.wait_until(bulk, {"running"})
    time.sleep(1.5)

    submitted_at = time.monotonic()
    high = api.submit("diagnostic.noop", priority="high")
    api.wait_until(high, {"running", "completed"}, timeout=30)
    high_wait = time.monotonic() - submitted_at
    result = api.wait_done(bulk, timeout=180)

    # The issuance checkpoints at least every second: two intervals plus the
    # queue poll and this test's own polling.
    assert high_wait < 4, high_wait
    assert result["status"] == "completed"
    assert result["preemptions"] >= 1
    certificates = api.client.get(f"/tasks/{bulk}/result").json()["certificates"]
    assert len(certificates) == 60
    assert len({c["serial"] for c in certificates}) == 60
    kinds = [e["kind"] for e in api.events_until(bulk, "completed")]
    assert kinds.count("preempted") == result["preemptions"]
    assert kinds.count("started") == result["preemptions"] + 1


def _waiting_sets(cluster: Cluster) -> tuple[redis.Redis, dict[Priority, str]]:
    keys = RedisKeys(cluster.namespace)
    client = redis.Redis.from_url(cluster.redis_url)
    return client, {p: keys.waiting(p) for p in Priority}


def test_a_finished_task_left_in_a_waiting_set_blocks_no_lower_work(
    one_slot: Cluster,
) -> None:
    """Regression: a cancelled task left in `waiting:normal` by a race with
    ageing kept every low task from starting until its hash expired."""
    api = Api(one_slot.base_url, one_slot.create_key("stale"))
    finished = api.wait_done(api.submit("diagnostic.noop", priority="high"))
    client, waiting = _waiting_sets(one_slot)
    client.zadd(waiting[Priority.HIGH], {finished["task_id"]: 0})

    low = api.wait_done(api.submit("diagnostic.noop", priority="low"), timeout=15)

    assert low["status"] == "completed"
    client.close()


def test_cancel_takes_a_task_out_of_whichever_waiting_set_holds_it(
    one_slot: Cluster,
) -> None:
    """Ageing may move a task to another set between the route's read and
    the cancel; the cancel must still leave it in none."""
    api = Api(one_slot.base_url, one_slot.create_key("ager"))
    busy = api.submit("diagnostic.sleep", {"seconds": 20, "steps": 40})
    api.wait_until(busy, {"running"})
    task_id = api.submit("diagnostic.noop", priority="low")
    client, waiting = _waiting_sets(one_slot)
    score = client.zscore(waiting[Priority.LOW], task_id)
    assert score is not None
    client.zrem(waiting[Priority.LOW], task_id)
    client.zadd(waiting[Priority.NORMAL], {task_id: score})

    answer = api.client.post(f"/tasks/{task_id}/cancel")

    assert answer.status_code == 200
    assert [client.zscore(key, task_id) for key in waiting.values()] == [None] * 3
    api.client.post(f"/tasks/{busy}/cancel")
    client.close()


def test_a_preempted_task_that_gives_way_on_its_return_keeps_its_attempt(
    one_slot: Cluster,
) -> None:
    """Regression: giving way cleared the mark the preemption had set, so the
    next start was charged as a second attempt (2 of at most 1)."""
    api = Api(one_slot.base_url, one_slot.create_key("twice"))
    normal = api.submit("diagnostic.sleep", {"seconds": 6, "steps": 30}, max_retries=0)
    api.wait_until(normal, {"running"})
    for _ in range(2):
        api.submit("diagnostic.sleep", {"seconds": 1, "steps": 2}, priority="high")

    done = api.wait_done(normal, timeout=60)

    assert done["status"] == "completed"
    assert done["preemptions"] >= 1
    assert done["attempts"] == 1


def test_high_work_held_by_a_busy_worker_runs_on_a_free_slot_elsewhere(
    bare: Cluster,
) -> None:
    """Regression: a worker busy with a long step had fetched the high task
    and held it, unstarted, while another worker's slot stood idle."""
    cluster = bare
    api = Api(cluster.base_url, cluster.create_key("held"))
    busy = cluster.start_worker(threads=1)
    # One long step: the busy worker can neither start nor yield to the high
    # task until it ends.
    long = api.submit("diagnostic.sleep", {"seconds": 40, "steps": 1})
    api.wait_until(long, {"running"})
    high = api.submit("diagnostic.noop", priority="high")
    time.sleep(1)  # its message is now in the busy worker's prefetch
    cluster.start_worker(threads=1)

    done = api.wait_done(high, timeout=20)

    assert done["status"] == "completed"
    assert api.task(long)["status"] == "running"
    cluster.kill(busy)
