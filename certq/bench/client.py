"""An aiohttp client of certq's HTTP API that times every call, and load.

Load is closed-loop: each simulated client makes its next call as soon as its
last one answered, so latency is measured at a known concurrency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from certq.bench.stats import Sample
from certq.errors import CertqError
from certq.states import TERMINAL

#: How long one GET /tasks/{id}?wait= may hold while following a task.
LONG_POLL_SECONDS = 2
#: Calls that may wait on one connection pool beyond the load's own clients.
_SPARE_CONNECTIONS = 8


class BenchFailed(CertqError):
    """The bench could not measure what it should; says what and where."""


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def open_session(base_url: str, api_key: str, clients: int) -> aiohttp.ClientSession:
    """A session with keep-alive connections enough for `clients` at once."""
    return aiohttp.ClientSession(
        base_url=base_url,
        headers={"Authorization": f"Bearer {api_key}"},
        connector=aiohttp.TCPConnector(limit=clients + _SPARE_CONNECTIONS),
        timeout=aiohttp.ClientTimeout(total=LONG_POLL_SECONDS + 30),
        json_serialize=_json_text,
    )


class BenchClient:
    """Calls the API with one key; each call also returns how long it took."""

    def __init__(
        self, session: aiohttp.ClientSession, check_alive: Callable[[], None]
    ) -> None:
        self._session = session
        self._check_alive = check_alive

    async def submit(self, task_type: str, params: dict[str, Any]) -> tuple[str, float]:
        """POST /tasks; the new task's id and the call's duration in seconds."""
        body = {"task_type": task_type, "params": params}
        started = time.perf_counter()
        async with self._session.post("/tasks", json=body) as response:
            data = await response.read()
        seconds = time.perf_counter() - started
        _expect(response, 202, data, "POST /tasks")

        return str(orjson.loads(data)["task_id"]), seconds

    async def task(
        self, task_id: str, *, wait_seconds: int = 0
    ) -> tuple[dict[str, Any], float]:
        """GET /tasks/{id} (long-polling when asked); the view and the duration."""
        path = f"/tasks/{task_id}"
        query = {"wait": str(wait_seconds)} if wait_seconds else None
        started = time.perf_counter()
        async with self._session.get(path, params=query) as response:
            data = await response.read()
        seconds = time.perf_counter() - started
        _expect(response, 200, data, f"GET {path}")
        view: dict[str, Any] = orjson.loads(data)

        return view, seconds

    async def until_finished(self, task_id: str, deadline: float) -> dict[str, Any]:
        """Long-poll a task until it ends; BenchFailed past `deadline`."""
        while True:
            self._check_alive()
            view, _ = await self.task(task_id, wait_seconds=LONG_POLL_SECONDS)
            if view["status"] in TERMINAL:
                return view
            if time.monotonic() > deadline:
                raise BenchFailed(
                    f"task {task_id} ({view['task_type']}) is still "
                    f"{view['status']} at the phase's deadline"
                )


def _expect(
    response: aiohttp.ClientResponse, status: int, data: bytes, call: str
) -> None:
    if response.status == status:
        return

    raise BenchFailed(
        f"{call} answered {response.status}, not {status}: {data[:300]!r}"
    )


async def closed_loop(
    clients: int, calls_per_client: int, call: Callable[[], Awaitable[float]]
) -> Sample:
    """`clients` callers at once, each making its calls one after another."""
    durations: list[float] = []

    async def caller() -> None:
        for _ in range(calls_per_client):
            durations.append(await call())

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(clients):
            group.create_task(caller())

    return Sample(durations, time.perf_counter() - started)
