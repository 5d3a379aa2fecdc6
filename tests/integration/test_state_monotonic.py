"""Case state-never-goes-back: state and progress only move forward, and late
or duplicated deliveries change nothing (elsewhere a late duplicate run
overwrote a stored success)."""

from __future__ import annotations

import asyncio
from typing import Any

import dramatiq
import httpx
import redis
from dramatiq.brokers.redis import RedisBroker

from certq.messages import runner_actor_name
from certq.redis_keys import RedisKeys
from certq.states import Priority
from certq.worker_store import WorkerStore
from tests.integration.api import Api
from tests.integration.cluster import Cluster

ORDER = {"pending": 0, "running": 1, "completed": 2}


async def _watch(base_url: str, key: str, task_id: str) -> list[tuple[str, int]]:
    seen = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        while True:
            body = (await client.get(f"/tasks/{task_id}")).json()
            seen.append((body["status"], body["progress"]["percent_complete"]))
            if body["status"] == "completed":
                return seen
            await asyncio.sleep(0.05)


def test_five_pollers_never_see_state_or_progress_go_back(
    api: Api, cluster: Cluster
) -> None:
    """Every poller sees pending -> running -> completed, percent never falls."""
    key = cluster.create_key("watcher")
    task_id = Api(cluster.base_url, key).submit(
        "diagnostic.sleep", {"seconds": 5, "steps": 10}
    )

    async def watch_all() -> list[list[tuple[str, int]]]:
        return await asyncio.gather(
            *(_watch(cluster.base_url, key, task_id) for _ in range(5))
        )

    sequences = asyncio.run(watch_all())

    for seen in sequences:
        ranks = [ORDER[status] for status, _ in seen]
        percents = [percent for _, percent in seen]
        assert ranks == sorted(ranks)
        assert percents == sorted(percents)
        assert seen[-1] == ("completed", 100)
        assert "running" in {status for status, _ in seen}


def test_late_progress_start_and_duplicate_message_change_nothing(
    api: Api, cluster: Cluster, redis_url: str
) -> None:
    """Late updates for a finished task are ignored, in Redis and PostgreSQL."""
    task_id = api.submit("diagnostic.sleep", {"seconds": 0.5, "steps": 2})
    api.wait_done(task_id)
    before = api.events_until(task_id, "completed")
    client = redis.Redis.from_url(redis_url)
    keys = RedisKeys(cluster.namespace)
    raw = client.hget(keys.task(task_id), "dispatch")
    assert isinstance(raw, bytes)
    dispatch = raw.decode()
    store = WorkerStore(client, keys, caps={})

    store.progress(task_id, dispatch, 1, 10, "late progress", 20)
    late_start = store.start(
        task_id,
        dispatch,
        "ghost-worker",
        "ghost-run",
        task_type="diagnostic.sleep",
        priority=Priority.NORMAL,
        cap=0,
        slot_expiry_ms=1000,
        lost_error={},
    )
    _send_duplicate(cluster, redis_url, task_id, dispatch)
    Cluster.wait_for(lambda: _queue_empty(client, keys), 10, "duplicate consumed")
    after_task = api.task(task_id)
    after_events = api.events(task_id)
    client.close()

    assert late_start.verdict == "skip"
    assert after_task["status"] == "completed"
    assert after_task["progress"]["percent_complete"] == 100
    assert after_task["attempts"] == 1
    assert after_events == before


def _send_duplicate(
    cluster: Cluster, redis_url: str, task_id: str, dispatch: str
) -> None:
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=redis_url, namespace=cluster.namespace
    )
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=Priority.NORMAL.queue_name,
        actor_name=runner_actor_name(Priority.NORMAL),
        args=(task_id, dispatch, "diagnostic.sleep"),
        kwargs={},
        options={"time_limit": 60_000},
    )
    broker.enqueue(message)
    broker.close()


def _queue_empty(client: redis.Redis, keys: RedisKeys) -> bool:
    return not client.hlen(keys.queue_messages(Priority.NORMAL))
