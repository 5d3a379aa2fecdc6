"""Long polls: they wake on every change and end when their client leaves."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from certq.redis_keys import RedisKeys
from certq.worker_store import WorkerStore
from tests.integration.api import Api
from tests.integration.cluster import Cluster


def _long_polls_waiting(api: Api) -> float:
    metrics = api.client.get("/metrics").text
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("certq_http_long_polls_waiting ")
    )
    return float(line.split()[1])


@pytest.fixture(scope="module")
def running_task(api: Api) -> str:
    """A task running one step that outlasts the module's tests: only they
    change it."""
    task_id = api.submit("diagnostic.sleep", {"seconds": 60, "steps": 1})
    api.wait_until(task_id, {"running"})
    return task_id


@pytest.fixture(scope="module")
def redis_client(cluster: Cluster) -> Iterator[redis.Redis]:
    """A client of the cluster's Redis."""
    client = redis.Redis.from_url(cluster.redis_url)
    yield client
    client.close()


def _progress(
    client: redis.Redis, cluster: Cluster, task_id: str, step: int, text: str
) -> None:
    """Report progress as the task's current run would."""
    keys = RedisKeys(cluster.namespace)
    run = client.hget(keys.task(task_id), "run")
    assert isinstance(run, bytes)
    WorkerStore(client, keys, caps={}).progress(
        task_id, run.decode(), step, 4, text, 20
    )


def test_each_change_raises_the_change_counter_by_one(
    cluster: Cluster, running_task: str, redis_client: redis.Redis
) -> None:
    """Regression: the counter was a timestamp, so a change in the same
    millisecond as the one a poll had seen (or from a worker whose clock is
    behind) did not wake the poll."""
    key = RedisKeys(cluster.namespace).task(running_task)
    before = int(redis_client.hget(key, "version") or 0)

    _progress(redis_client, cluster, running_task, 1, "first")
    _progress(redis_client, cluster, running_task, 2, "second")

    assert int(redis_client.hget(key, "version") or 0) == before + 2


def test_a_long_poll_answers_with_the_change_that_woke_it(
    api: Api, cluster: Cluster, running_task: str, redis_client: redis.Redis
) -> None:
    seen: list[dict[str, Any]] = []
    poll = threading.Thread(
        target=lambda: seen.append(
            api.client.get(f"/tasks/{running_task}?wait=20").json()
        )
    )
    poll.start()
    cluster.wait_for(lambda: _long_polls_waiting(api) == 1, 10, "the poll")

    _progress(redis_client, cluster, running_task, 1, "one step done")
    poll.join(timeout=10)

    assert seen, "the long poll did not wake on the change"
    assert seen[0]["progress"]["messages"][-1]["text"] == "one step done"


def test_a_long_poll_stops_waiting_when_its_client_hangs_up(
    api: Api, cluster: Cluster, running_task: str
) -> None:
    url = httpx.URL(str(api.client.base_url))
    request = (
        f"GET /tasks/{running_task}?wait=30 HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Authorization: {api.client.headers['Authorization']}\r\n\r\n"
    ).encode()
    sockets = [socket.create_connection((url.host, url.port)) for _ in range(20)]
    for sock in sockets:
        sock.sendall(request)
    cluster.wait_for(lambda: _long_polls_waiting(api) == 20, 10, "20 long polls")

    for sock in sockets:
        sock.close()

    cluster.wait_for(lambda: _long_polls_waiting(api) == 0, 5, "the polls to end")
