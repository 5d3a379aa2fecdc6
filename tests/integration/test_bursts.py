"""Bursts of concurrent requests are served, never refused as an outage."""

from __future__ import annotations

import asyncio

import httpx
import redis

from tests.integration.api import Api
from tests.integration.cluster import Cluster


def _burst(api: Api, method: str, paths: list[str]) -> list[httpx.Response]:
    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=str(api.client.base_url),
            headers=dict(api.client.headers),
            limits=httpx.Limits(max_connections=len(paths)),
            timeout=60,
        ) as client:
            return await asyncio.gather(*(client.request(method, p) for p in paths))

    return asyncio.run(send())


def test_hundreds_of_concurrent_reads_all_answer_200(api: Api) -> None:
    """Regression: past 100 at once, Redis' client pool refused with 503."""
    task_id = api.submit("diagnostic.noop")
    api.wait_done(task_id)

    answers = _burst(api, "GET", [f"/tasks/{task_id}"] * 300)

    assert {a.status_code for a in answers} == {200}


def test_concurrent_long_polls_and_cancels_are_all_answered(api: Api) -> None:
    """Long polls hold no Redis connection while they wait."""
    task_id = api.submit("diagnostic.sleep", {"seconds": 2, "steps": 4})
    pollers = [f"/tasks/{task_id}?wait=5"] * 200
    cancels = [
        f"/tasks/{api.submit('diagnostic.sleep', {'seconds': 30})}/cancel"
        for _ in range(20)
    ]

    polled = _burst(api, "GET", pollers)
    cancelled = _burst(api, "POST", cancels)

    assert {a.status_code for a in polled} == {200}
    assert {a.status_code for a in cancelled} <= {200, 202}


def _hget_calls(cluster: Cluster) -> int:
    client = redis.Redis.from_url(cluster.redis_url)
    try:
        stats = client.info("commandstats").get("cmdstat_hget", {})
        return int(stats.get("calls", 0))
    finally:
        client.close()


def test_a_thousand_long_polls_of_one_task_share_one_read_of_redis(
    api: Api, cluster: Cluster
) -> None:
    """Regression: each poll read Redis itself, 10 times a second, until the
    web process fell behind and its waits for a connection ended in 503s."""
    # One step outlasting the polls: nothing changes while they wait.
    task_id = api.submit("diagnostic.sleep", {"seconds": 20, "steps": 1})
    api.wait_until(task_id, {"running"})
    before = _hget_calls(cluster)

    answers = _burst(api, "GET", [f"/tasks/{task_id}?wait=5"] * 1000)

    assert {a.status_code for a in answers} == {200}
    assert {a.json()["status"] for a in answers} == {"running"}
    # One read per poll and 100 ms would be 50 000; other clients of the
    # server (this suite's other processes, other runs) stay far below 5 000.
    assert _hget_calls(cluster) - before < 5000
