"""Prometheus metrics: the web's queue gauges and a worker's own counters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.api import Api
from tests.integration.cluster import Cluster, free_port, running_cluster


@pytest.fixture(scope="module")
def observed(redis_url: str, database_url: str, log_dir: Path) -> Iterator[Cluster]:
    """A cluster without workers; the test starts one that serves metrics."""
    with running_cluster(redis_url, database_url, log_dir, workers=0) as cluster:
        yield cluster


def _sample(exposition: str, name: str, **labels: str) -> float:
    """The value of the sample `name` with exactly these labels."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"no sample {name} {labels} in:\n{exposition}")


def test_web_gauges_waiting_work_and_worker_counts_its_tasks(
    observed: Cluster,
) -> None:
    """Waiting work shows in the web's gauges; once a worker with a metrics
    port runs it, that worker's counters show it started and completed."""
    api = Api(observed.base_url, observed.create_key("metrics"))
    for _ in range(3):
        api.submit("diagnostic.noop", priority="high")

    before = httpx.get(observed.base_url + "/metrics").text
    port = free_port()
    observed.start_worker(1, CERTQ_WORKER_METRICS_PORT=str(port))
    last = api.submit("diagnostic.noop", priority="high")
    api.wait_done(last, timeout=30)
    worker = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    after = httpx.get(observed.base_url + "/metrics").text

    assert _sample(before, "certq_tasks_waiting", priority="high") == 3
    assert _sample(before, "certq_worker_slots") == 0
    assert _sample(after, "certq_worker_slots") == 1
    noop = "diagnostic.noop"
    started = _sample(
        worker, "certq_tasks_started_total", task_type=noop, priority="high"
    )
    finished = _sample(
        worker, "certq_tasks_finished_total", task_type=noop, outcome="completed"
    )
    assert started == finished == 4
