"""Percentiles, rates and ratios of what a phase measured."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Sample:
    """Durations of calls, in seconds, and the wall time they took together."""

    durations_seconds: list[float]
    wall_seconds: float


@dataclass(frozen=True)
class Latency:
    """Client-side latency of one kind of request under one load."""

    what: str
    clients: int
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    requests_per_second: float


@dataclass(frozen=True)
class Throughput:
    """Tasks through a worker, timed by the tasks' own server timestamps."""

    what: str
    worker_threads: int
    tasks: int
    window_seconds: float
    tasks_per_second: float
    #: Submit to finish of each task; None when the tasks were queued first.
    end_to_end_p50_ms: float | None
    end_to_end_p95_ms: float | None


@dataclass(frozen=True)
class Durations:
    """Times of tasks of one kind, run one at a time, in milliseconds.

    `wait` is submit to start (the queue and the worker's pick-up), `run` is
    start to finish on the worker. The server stamps whole milliseconds, so
    use the mean of runs this short, not the median.
    """

    what: str
    runs: int
    wait_p50_ms: float
    run_p50_ms: float
    run_mean_ms: float
    run_min_ms: float
    run_max_ms: float
    end_to_end_p50_ms: float
    #: POST to the client seeing the end, long-poll included (client clock).
    observed_p50_ms: float


@dataclass(frozen=True)
class Ratio:
    """One figure of this run divided by another of the same run."""

    what: str
    value: float | None


def percentiles(values: Sequence[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 of `values` (interpolated between ranks)."""
    if len(values) == 1:
        return values[0], values[0], values[0]

    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def latency(what: str, sample: Sample, clients: int) -> Latency:
    """The latency figures of a sample of calls made by `clients` at once."""
    ms = [d * 1000 for d in sample.durations_seconds]
    p50, p95, p99 = percentiles(ms)

    return Latency(
        what=what,
        clients=clients,
        requests=len(ms),
        p50_ms=round(p50, 2),
        p95_ms=round(p95, 2),
        p99_ms=round(p99, 2),
        mean_ms=round(statistics.fmean(ms), 2),
        max_ms=round(max(ms), 2),
        requests_per_second=round(len(ms) / sample.wall_seconds, 1),
    )


def view_ms(view: dict[str, Any], name: str) -> float:
    """A timestamp of a task view (`created_at`, ...) in epoch milliseconds."""
    value = view.get(name)
    if not isinstance(value, str):
        raise ValueError(f"task {view.get('task_id')} has no {name}: {value!r}")

    return datetime.fromisoformat(value).timestamp() * 1000


def throughput(
    what: str, views: list[dict[str, Any]], threads: int, *, queued_first: bool
) -> Throughput:
    """Tasks per second from the first start (or submit) to the last finish.

    Tasks queued before the worker started are timed from their first start,
    so the worker's own start-up does not count; tasks submitted while it ran
    are timed from their first submit, end to end.
    """
    created = [view_ms(v, "created_at") for v in views]
    started = [view_ms(v, "started_at") for v in views]
    finished = [view_ms(v, "finished_at") for v in views]
    window_ms = max(finished) - min(started if queued_first else created)
    window_seconds = max(window_ms, 1.0) / 1000
    p50 = p95 = None
    if not queued_first:
        p50, p95, _ = percentiles(
            [f - c for f, c in zip(finished, created, strict=True)]
        )

    return Throughput(
        what=what,
        worker_threads=threads,
        tasks=len(views),
        window_seconds=round(window_seconds, 3),
        tasks_per_second=round(len(views) / window_seconds, 1),
        end_to_end_p50_ms=None if p50 is None else round(p50, 1),
        end_to_end_p95_ms=None if p95 is None else round(p95, 1),
    )


def durations(
    what: str, views: list[dict[str, Any]], observed_seconds: list[float]
) -> Durations:
    """The time figures of finished tasks of one kind."""
    created = [view_ms(v, "created_at") for v in views]
    started = [view_ms(v, "started_at") for v in views]
    finished = [view_ms(v, "finished_at") for v in views]
    waits = [s - c for s, c in zip(started, created, strict=True)]
    runs = [f - s for f, s in zip(finished, started, strict=True)]
    totals = [f - c for f, c in zip(finished, created, strict=True)]

    return Durations(
        what=what,
        runs=len(runs),
        wait_p50_ms=round(statistics.median(waits), 1),
        run_p50_ms=round(statistics.median(runs), 1),
        run_mean_ms=round(statistics.fmean(runs), 1),
        run_min_ms=round(min(runs), 1),
        run_max_ms=round(max(runs), 1),
        end_to_end_p50_ms=round(statistics.median(totals), 1),
        observed_p50_ms=round(statistics.median(observed_seconds) * 1000, 1),
    )


def ratio(what: str, numerator: float | None, denominator: float | None) -> Ratio:
    """numerator / denominator, or None when either is missing or zero."""
    if not numerator or not denominator:
        return Ratio(what, None)

    return Ratio(what, round(numerator / denominator, 2))
