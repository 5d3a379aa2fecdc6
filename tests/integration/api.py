"""A thin test client of certq's HTTP API."""

from __future__ import annotations

import time
from typing import Any

import httpx

TERMINAL = {"completed", "failed", "cancelled"}


class Api:
    """Calls the API as one user (one key)."""

    def __init__(self, base_url: str, key: str) -> None:
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def submit(
        self, task_type: str, params: dict[str, Any] | None = None, **fields: Any
    ) -> str:
        """Submit and return the task id (asserting 202)."""
        response = self.client.post(
            "/tasks", json={"task_type": task_type, "params": params or {}, **fields}
        )
        assert response.status_code == 202, response.text
        task_id: str = response.json()["task_id"]
        return task_id

    def task(self, task_id: str) -> dict[str, Any]:
        """GET /tasks/{id}, asserting 200."""
        response = self.client.get(f"/tasks/{task_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_until(
        self, task_id: str, statuses: set[str], timeout: float = 60
    ) -> dict[str, Any]:
        """Poll until the task's status is one of `statuses`."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.task(task_id)
            if body["status"] in statuses:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"task {task_id} still {body['status']} after {timeout} s"
                )
            time.sleep(0.05)

    def wait_done(self, task_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll until the task is terminal."""
        return self.wait_until(task_id, TERMINAL, timeout)

    def events(self, task_id: str) -> list[dict[str, Any]]:
        """The audit trail of a task."""
        response = self.client.get(f"/tasks/{task_id}/events")
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    def events_until(
        self, task_id: str, kind: str, timeout: float = 15
    ) -> list[dict[str, Any]]:
        """The audit trail once it holds an event of `kind` (it lands in batches)."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events(task_id)
            if any(e["kind"] == kind for e in events) or time.monotonic() > deadline:
                return events
            time.sleep(0.1)
