"""The order of the phases, the worker each needs, and the run's ratios."""

from __future__ import annotations

from dataclasses import dataclass, field

from certq.bench import phases
from certq.bench.client import BenchClient, closed_loop
from certq.bench.cluster import BenchCluster
from certq.bench.plan import Plan
from certq.bench.stats import (
    Durations,
    Latency,
    Ratio,
    Throughput,
    durations,
    ratio,
)

ISSUE = "certificate.issue"
AUDIT = "certificate.audit"
_SUBJECT = {"common_name": "bench.certq.test", "dns_names": ["bench.certq.test"]}
#: Calls each client makes before anything is timed: connections, key cache.
_WARM_UP_CALLS = 2


@dataclass
class Figures:
    """Everything one run measured, each figure under a stable key."""

    latency: dict[str, Latency] = field(default_factory=dict)
    throughput: dict[str, Throughput] = field(default_factory=dict)
    operations: dict[str, Durations] = field(default_factory=dict)
    ratios: dict[str, Ratio] = field(default_factory=dict)


async def measure(cluster: BenchCluster, client: BenchClient, plan: Plan) -> Figures:
    """Run every phase in order; the worker is replaced between them."""
    figures = Figures()
    backlog = await _api_alone(client, plan, figures)

    cluster.start_worker(threads=1)
    await _with_worker(client, plan, figures, backlog, threads=1)

    cluster.stop_worker()
    backlog = await phases.queue_backlog(client, plan)
    cluster.start_worker(threads=2)
    await _with_worker(client, plan, figures, backlog, threads=2)

    await _operations(client, plan, figures)
    figures.ratios = _ratios(figures, plan)

    return figures


async def _api_alone(client: BenchClient, plan: Plan, figures: Figures) -> list[str]:
    """No worker runs yet, so the web process and Redis serve requests only.

    Every task submitted here stays queued; the first worker drains them.
    """
    backlog: list[str] = []
    warm_up = phases.submitter(client, backlog)
    await closed_loop(plan.clients, _WARM_UP_CALLS, warm_up)

    figures.latency["submit_sequential"] = await phases.submit_latency(
        client,
        "POST /tasks, no worker",
        1,
        plan.sequential_submits,
        backlog,
    )
    figures.latency["submit_concurrent"] = await phases.submit_latency(
        client, "POST /tasks, no worker", plan.clients, plan.submits_per_client, backlog
    )
    figures.latency["get_concurrent"] = await phases.get_latency(
        client,
        "GET /tasks/{id}, pending task",
        plan.clients,
        plan.gets_per_client,
        backlog,
    )

    return backlog


def _threads_key(threads: int) -> str:
    return "1_thread" if threads == 1 else f"{threads}_threads"


async def _with_worker(
    client: BenchClient,
    plan: Plan,
    figures: Figures,
    backlog: list[str],
    *,
    threads: int,
) -> None:
    """Drain the queued backlog, then submit and run noops at the same time."""
    key = _threads_key(threads)
    figures.throughput[f"noop_drain_{key}"] = await phases.drain(
        client, backlog, threads
    )
    flow, submits = await phases.flow(client, plan, threads)
    figures.throughput[f"noop_flow_{key}"] = flow
    figures.latency[f"submit_concurrent_worker_{key}"] = submits


async def _operations(client: BenchClient, plan: Plan, figures: Figures) -> None:
    """Certificate operations one at a time, each alone on the worker."""
    ops = figures.operations
    first = await phases.runs_of(client, ISSUE, {**_SUBJECT, "key_type": "ec-p256"}, 1)
    ops["issue_first_ec_p256"] = _durations("issue ec-p256, the worker's first", first)

    # Alternated, so that a slow moment of the machine hits both key types.
    rsa, ec = phases.Runs(), phases.Runs()
    for _ in range(plan.issue_repeats):
        rsa += await phases.runs_of(
            client, ISSUE, {**_SUBJECT, "key_type": "rsa2048"}, 1
        )
        ec += await phases.runs_of(
            client, ISSUE, {**_SUBJECT, "key_type": "ec-p256"}, 1
        )
    ops["issue_rsa2048"] = _durations("issue rsa2048", rsa)
    ops["issue_ec_p256"] = _durations("issue ec-p256", ec)

    audits = await phases.runs_of(
        client, AUDIT, {"source": "mozilla"}, plan.audit_repeats
    )
    count = audits.views[0]["progress"]["total_steps"]
    ops["audit_mozilla"] = _durations(f"audit mozilla ({count} certs)", audits)

    lone = await phases.idle_pickups(client, plan.idle_pickups)
    ops["noop_after_idle"] = _durations(
        f"noop after {phases.IDLE_PAUSE_SECONDS:g} s idle", lone
    )


def _durations(what: str, runs: phases.Runs) -> Durations:
    return durations(what, runs.views, runs.observed_seconds)


def _ratios(figures: Figures, plan: Plan) -> dict[str, Ratio]:
    """Figures of this run against each other: they hold across machines."""
    lat, put, ops = figures.latency, figures.throughput, figures.operations

    return {
        "noop_drain_2_vs_1_threads": ratio(
            "noop tasks/s draining a queue: 2 worker threads ÷ 1",
            put["noop_drain_2_threads"].tasks_per_second,
            put["noop_drain_1_thread"].tasks_per_second,
        ),
        "noop_flow_2_vs_1_threads": ratio(
            "noop tasks/s submit to completed: 2 worker threads ÷ 1",
            put["noop_flow_2_threads"].tasks_per_second,
            put["noop_flow_1_thread"].tasks_per_second,
        ),
        "submit_p50_concurrent_vs_sequential": ratio(
            f"POST /tasks p50, no worker: {plan.clients} clients ÷ 1 client",
            lat["submit_concurrent"].p50_ms,
            lat["submit_sequential"].p50_ms,
        ),
        "submit_p50_worker_busy_vs_idle": ratio(
            f"POST /tasks p50, {plan.clients} clients: 2-thread worker busy ÷ none",
            lat["submit_concurrent_worker_2_threads"].p50_ms,
            lat["submit_concurrent"].p50_ms,
        ),
        "issue_rsa2048_vs_ec_p256": ratio(
            "certificate.issue mean run: rsa2048 ÷ ec-p256",
            ops["issue_rsa2048"].run_mean_ms,
            ops["issue_ec_p256"].run_mean_ms,
        ),
        "issue_first_vs_later_ec_p256": ratio(
            "certificate.issue ec-p256 run: the worker's first ÷ mean of later",
            ops["issue_first_ec_p256"].run_mean_ms,
            ops["issue_ec_p256"].run_mean_ms,
        ),
        "issue_seen_vs_done_ec_p256": ratio(
            "ec-p256 issue p50: client sees it ended ÷ it ended (long-poll cost)",
            ops["issue_ec_p256"].observed_p50_ms,
            ops["issue_ec_p256"].end_to_end_p50_ms,
        ),
        "noop_wait_idle_vs_back_to_back": ratio(
            "queue wait p50: noop after an idle pause ÷ issue right after another",
            ops["noop_after_idle"].wait_p50_ms,
            ops["issue_ec_p256"].wait_p50_ms,
        ),
    }
