"""Idempotency-Key: one task per key and request, whatever the timing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from certq.settings import Settings
from tests.integration.api import Api
from tests.integration.cluster import Cluster

NOOP = {"task_type": "diagnostic.noop", "params": {}}


def test_repeat_with_the_same_key_and_request_replays_the_first_task(
    api: Api,
) -> None:
    """Key order and left-out defaults do not make a request different."""
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = api.client.post("/tasks", json=NOOP, headers=key)

    again = api.client.post(
        "/tasks", json={"params": {}, "priority": "normal", **NOOP}, headers=key
    )

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["task_id"] == first.json()["task_id"]


SLEEP = {"task_type": "diagnostic.sleep", "params": {"seconds": 0}}


@pytest.mark.parametrize(
    "spelled_out",
    [
        {"params": {"seconds": 0, "steps": 10}},
        {"max_retries": 3},
        {"result_ttl": Settings.model_fields["default_result_ttl_seconds"].default},
        {"priority": None, "webhook": None, "result_ttl": None, "max_retries": None},
    ],
    ids=["param-default", "max_retries", "result_ttl", "nulls"],
)
def test_defaults_sent_or_left_out_are_the_same_request(
    api: Api, spelled_out: dict[str, Any]
) -> None:
    """Regression: sending a default value made a replay a 422."""
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = api.client.post("/tasks", json=SLEEP, headers=key)
    assert first.json()["max_attempts"] == 4

    again = api.client.post("/tasks", json={**SLEEP, **spelled_out}, headers=key)

    assert again.status_code == 200, again.text
    assert again.json()["task_id"] == first.json()["task_id"]


def test_same_key_with_a_different_request_is_422_and_creates_nothing(
    api: Api,
) -> None:
    """Elsewhere a reused key silently answered with an unrelated task."""
    key = {"Idempotency-Key": uuid.uuid4().hex}
    api.client.post("/tasks", json=NOOP, headers=key)
    before = len(api.client.get("/tasks", params={"limit": 500}).json()["items"])

    other = api.client.post("/tasks", json={**NOOP, "priority": "high"}, headers=key)

    assert other.status_code == 422
    assert other.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    after = len(api.client.get("/tasks", params={"limit": 500}).json()["items"])
    assert after == before


def test_two_users_with_the_same_key_get_two_tasks(api: Api, cluster: Cluster) -> None:
    """Keys are per user: neither sees nor blocks the other's."""
    bob = Api(cluster.base_url, cluster.create_key("bob"))
    key = {"Idempotency-Key": "b:shared"}

    mine = api.client.post("/tasks", json=NOOP, headers=key)
    theirs = bob.client.post("/tasks", json=NOOP, headers=key)

    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["task_id"] != theirs.json()["task_id"]


def test_concurrent_submissions_with_one_key_make_one_task(api: Api) -> None:
    """Regression: a repeat racing the first answered 404 before it was recorded."""
    key = {"Idempotency-Key": uuid.uuid4().hex}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=str(api.client.base_url),
            headers=dict(api.client.headers),
            timeout=30,
        ) as client:
            return await asyncio.gather(
                *(client.post("/tasks", json=NOOP, headers=key) for _ in range(20))
            )

    answers = asyncio.run(burst())

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 19 + [202]
    assert len({a.json()["task_id"] for a in answers}) == 1
