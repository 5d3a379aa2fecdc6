"""A web process whose Redis or PostgreSQL goes away answers 503, never 500.

The web reaches both servers through relays the tests cut; the worker and
the scheduler keep their own connections, so work goes on meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.api import Api
from tests.integration.cluster import Cluster
from tests.integration.relay import Relay


class Outage:
    """A cluster whose web process talks to Redis and PostgreSQL via relays."""

    def __init__(self, cluster: Cluster, redis: Relay, postgresql: Relay) -> None:
        self.cluster = cluster
        self.redis = redis
        self.postgresql = postgresql
        self.api = Api(cluster.base_url, cluster.create_key("outage"))
        self.admin = Api(cluster.base_url, cluster.create_key("ops", admin=True))


@pytest.fixture
def outage(redis_url: str, database_url: str, log_dir: Path) -> Iterator[Outage]:
    """Web behind relays; worker and scheduler connected directly."""
    redis_relay = Relay.for_url(redis_url)
    postgresql_relay = Relay.for_url(database_url)
    redis_relay.start()
    postgresql_relay.start()
    cluster = Cluster(redis_url, database_url, log_dir)
    try:
        cluster.start_web(
            REDIS_URL=redis_relay.url(redis_url),
            DATABASE_URL=postgresql_relay.url(database_url),
        )
        cluster.start_scheduler()
        cluster.start_worker(threads=1)
        yield Outage(cluster, redis_relay, postgresql_relay)
    finally:
        cluster.stop()
        redis_relay.cut()
        postgresql_relay.cut()


def _is_503_problem(response: httpx.Response, service: str) -> bool:
    return (
        response.status_code == 503
        and response.headers["content-type"] == "application/problem+json"
        and service in response.json()["detail"]
    )


def test_postgresql_outage_answers_503_and_accepts_nothing(outage: Outage) -> None:
    """Submit, history, events, CA and a key not seen before all answer 503."""
    api, client = outage.api, outage.api.client
    done = api.wait_done(api.submit("diagnostic.noop"))
    unseen = outage.cluster.create_key("newcomer")

    outage.postgresql.cut()
    submitted = client.post("/tasks", json={"task_type": "diagnostic.noop"})
    answers = {
        "submit": submitted,
        "history": client.get("/tasks"),
        "events": client.get(f"/tasks/{done['task_id']}/events"),
        "ca": client.get("/ca.pem"),
        "new key": httpx.get(
            outage.cluster.base_url + "/tasks",
            headers={"Authorization": f"Bearer {unseen}"},
        ),
    }
    ready = client.get("/readyz")
    live = client.get(f"/tasks/{done['task_id']}")
    outage.postgresql.start()

    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(
        answers, 503
    )
    assert all(_is_503_problem(r, "PostgreSQL") for r in answers.values())
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"] == "ok"
    assert live.status_code == 200, "live state comes from Redis"
    history = outage.api.client.get("/tasks", params={"limit": 500}).json()["items"]
    assert [t["task_id"] for t in history] == [done["task_id"]], "nothing recorded"


def test_redis_outage_still_accepts_work_that_runs_once_redis_is_back(
    outage: Outage,
) -> None:
    """202 while Redis is away; reads of live state 503; the task runs later."""
    client = outage.api.client

    outage.redis.cut()
    accepted = client.post(
        "/tasks", json={"task_type": "diagnostic.echo", "params": {"data": "later"}}
    )
    keyed = client.post(
        "/tasks",
        json={"task_type": "diagnostic.noop"},
        headers={"Idempotency-Key": "during-outage"},
    )
    task_id = accepted.json()["task_id"]
    reads = {
        "status": client.get(f"/tasks/{task_id}"),
        "cancel": client.post(f"/tasks/{task_id}/cancel"),
        "result": client.get(f"/tasks/{task_id}/result"),
        "queues": outage.admin.client.get("/queues"),
    }
    metrics = client.get("/metrics")
    outage.redis.start()

    assert accepted.status_code == 202, accepted.text
    assert _is_503_problem(keyed, "Redis"), keyed.text
    assert {name: r.status_code for name, r in reads.items()} == dict.fromkeys(
        reads, 503
    )
    assert all(_is_503_problem(r, "Redis") for r in reads.values())
    assert metrics.status_code == 200
    done = outage.api.wait_done(task_id, timeout=30)
    assert done["status"] == "completed"
    assert done["result"] == "later"
