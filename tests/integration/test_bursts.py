"""Bursts of concurrent requests are served, never refused as an outage."""

from __future__ import annotations

import asyncio

import httpx

from tests.integration.api import Api


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
