"""The measurements of one run, each over the client and a few counts.

Every task the bench submits is followed to its end, and a task that does
not complete fails the run: a figure over failed tasks would mislead.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from certq.bench.client import BenchClient, BenchFailed, closed_loop
from certq.bench.plan import Plan
from certq.bench.stats import Latency, Throughput, latency, throughput
from certq.states import TaskStatus

log = structlog.get_logger(__name__)

NOOP = "diagnostic.noop"
#: Tasks followed at once once the last of a batch has finished.
_FOLLOWERS = 8
#: The same GET sequence every run, so runs compare.
_GET_SEED = 7
#: One certificate operation may take this long before the run gives up.
OPERATION_TIMEOUT_SECONDS = 120.0
#: Idle time before each lone noop: long enough for dramatiq's consumer to
#: back off to its longest poll interval (the worker's `worker_timeout`).
IDLE_PAUSE_SECONDS = 1.5


def _timeout_seconds(tasks: int) -> float:
    # Generous on purpose: a deadline only stops a run that is stuck.
    return 60.0 + tasks * 0.05


def submitter(
    client: BenchClient, task_ids: list[str]
) -> Callable[[], Awaitable[float]]:
    """A call that submits one noop, keeps its id and returns its duration."""

    async def call() -> float:
        task_id, seconds = await client.submit(NOOP, {})
        task_ids.append(task_id)
        return seconds

    return call


async def submit_latency(
    client: BenchClient,
    what: str,
    clients: int,
    calls_per_client: int,
    task_ids: list[str],
) -> Latency:
    """POST /tasks of diagnostic.noop by `clients` at once; ids to `task_ids`."""
    call = submitter(client, task_ids)
    figures = latency(what, await closed_loop(clients, calls_per_client, call), clients)
    log.info(
        "bench.measured",
        figure=what,
        clients=clients,
        p50_ms=figures.p50_ms,
        p99_ms=figures.p99_ms,
    )

    return figures


async def get_latency(
    client: BenchClient,
    what: str,
    clients: int,
    calls_per_client: int,
    task_ids: list[str],
) -> Latency:
    """GET /tasks/{id} of tasks picked at random from `task_ids`."""
    chooser = random.Random(_GET_SEED)

    async def call() -> float:
        _, seconds = await client.task(chooser.choice(task_ids))
        return seconds

    figures = latency(what, await closed_loop(clients, calls_per_client, call), clients)
    log.info(
        "bench.measured",
        figure=what,
        clients=clients,
        p50_ms=figures.p50_ms,
        p99_ms=figures.p99_ms,
    )

    return figures


async def queue_backlog(client: BenchClient, plan: Plan) -> list[str]:
    """Queue as many noops as the API phase did, for the next worker to drain."""
    task_ids: list[str] = []
    per_client = plan.backlog_tasks // plan.clients
    await closed_loop(plan.clients, per_client, submitter(client, task_ids))

    return task_ids


async def finished_views(
    client: BenchClient, task_ids: list[str]
) -> list[dict[str, Any]]:
    """Follow tasks until every one has ended; BenchFailed unless all completed."""
    deadline = time.monotonic() + _timeout_seconds(len(task_ids))
    # The last one submitted is about the last to finish. Waiting on it alone
    # keeps the following from loading the web process while the worker runs.
    await client.until_finished(task_ids[-1], deadline)
    limit = asyncio.Semaphore(_FOLLOWERS)

    async def follow(task_id: str) -> dict[str, Any]:
        async with limit:
            return await client.until_finished(task_id, deadline)

    views = list(await asyncio.gather(*(follow(t) for t in task_ids)))
    _require_completed(views)

    return views


def _require_completed(views: list[dict[str, Any]]) -> None:
    failed = [v for v in views if v["status"] != TaskStatus.COMPLETED]
    if not failed:
        return

    first = failed[0]
    raise BenchFailed(
        f"{len(failed)} of {len(views)} {first['task_type']} tasks did not "
        f"complete; task {first['task_id']} ended {first['status']}: "
        f"{first.get('error')}"
    )


async def drain(client: BenchClient, task_ids: list[str], threads: int) -> Throughput:
    """Throughput of a worker taking noops that were queued before it started."""
    views = await finished_views(client, task_ids)
    figures = throughput(
        "noop, queued, then drained",
        views,
        threads,
        queued_first=True,
    )
    log.info(
        "bench.measured",
        figure=figures.what,
        threads=threads,
        tasks_per_second=figures.tasks_per_second,
    )

    return figures


async def flow(
    client: BenchClient, plan: Plan, threads: int
) -> tuple[Throughput, Latency]:
    """Noops submitted by every client while the worker runs, to their end."""
    task_ids: list[str] = []
    submits = await submit_latency(
        client,
        f"POST /tasks, {threads}-thread worker busy",
        plan.clients,
        plan.flow_tasks // plan.clients,
        task_ids,
    )
    views = await finished_views(client, task_ids)
    figures = throughput(
        "noop, submitted while it runs",
        views,
        threads,
        queued_first=False,
    )
    log.info(
        "bench.measured",
        figure=figures.what,
        threads=threads,
        tasks_per_second=figures.tasks_per_second,
    )

    return figures, submits


@dataclass
class Runs:
    """Tasks run one at a time: their final views, and how long each took
    from the client's POST to the client seeing it ended (long-poll included).
    """

    views: list[dict[str, Any]] = field(default_factory=list)
    observed_seconds: list[float] = field(default_factory=list)

    def __iadd__(self, other: Runs) -> Runs:
        self.views += other.views
        self.observed_seconds += other.observed_seconds
        return self


async def runs_of(
    client: BenchClient, task_type: str, params: dict[str, Any], repeats: int
) -> Runs:
    """Run tasks one at a time, each alone on the worker."""
    runs = Runs()
    for _ in range(repeats):
        started = time.perf_counter()
        task_id, _ = await client.submit(task_type, params)
        deadline = time.monotonic() + OPERATION_TIMEOUT_SECONDS
        runs.views.append(await client.until_finished(task_id, deadline))
        runs.observed_seconds.append(time.perf_counter() - started)
    _require_completed(runs.views)

    return runs


async def idle_pickups(client: BenchClient, repeats: int) -> Runs:
    """Lone noops, each submitted after the worker sat idle for a while."""
    runs = Runs()
    for _ in range(repeats):
        await asyncio.sleep(IDLE_PAUSE_SECONDS)
        runs += await runs_of(client, NOOP, {}, 1)

    return runs
