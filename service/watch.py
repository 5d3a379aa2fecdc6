"""Long polls: every waiting request of a process shares one Redis poll.

A request that long-polls a task registers the change counter it has seen.
One loop per web process reads the counters of every watched task in a
single pipeline each interval and wakes the requests whose task moved, so
a thousand waiting clients cost one round trip per interval and hold no
connection from the pool while they wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.requests import Request

from certq import metrics
from certq.task_store import TaskStore

#: How often the watched counters are read while anyone waits.
POLL_INTERVAL_SECONDS = 0.1


class ChangeWatch:
    """Wakes long-polling requests when their task's change counter moves."""

    def __init__(
        self, store: TaskStore, interval_seconds: float = POLL_INTERVAL_SECONDS
    ) -> None:
        self._store = store
        self._interval = interval_seconds
        self._waiters: dict[str, dict[asyncio.Future[None], int]] = {}
        self._wanted = asyncio.Event()

    async def changed(self, task_id: str, seen: int, timeout: float) -> bool:
        """Wait up to `timeout` s for the counter to differ from `seen`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(task_id, {})
        waiters[future] = seen
        self._wanted.set()
        metrics.LONG_POLLS.inc()
        try:
            async with asyncio.timeout(timeout):
                await future
            return True
        except TimeoutError:
            return False
        finally:
            metrics.LONG_POLLS.dec()
            del waiters[future]
            if not waiters:
                self._waiters.pop(task_id, None)

    async def run(self) -> None:
        """Poll while anyone waits; sleep on an event while nobody does."""
        while True:
            await self._wanted.wait()
            await asyncio.sleep(self._interval)
            if self._waiters:
                await self._poll()
            if not self._waiters:
                self._wanted.clear()

    async def _poll(self) -> None:
        task_ids = list(self._waiters)
        try:
            versions = await self._store.read_versions(task_ids)
        except Exception as error:
            # The loop must outlive a failed read; the waiters answer for it,
            # an outage as a 503 like any other read of Redis.
            self._fail(task_ids, error)
            return

        for task_id, version in zip(task_ids, versions, strict=True):
            for future, seen in self._waiters.get(task_id, {}).items():
                if version != seen and not future.done():
                    future.set_result(None)

    def _fail(self, task_ids: list[str], error: Exception) -> None:
        for task_id in task_ids:
            for future in self._waiters.get(task_id, {}):
                if not future.done():
                    future.set_exception(error)


@contextlib.asynccontextmanager
async def running(watch: ChangeWatch) -> AsyncIterator[None]:
    """Run the watch's loop for as long as the block lasts."""
    loop = asyncio.create_task(watch.run(), name="certq.change-watch")
    try:
        yield
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop


async def client_left(request: Request) -> None:
    """Return once the client has closed its connection."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
