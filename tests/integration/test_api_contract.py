"""The HTTP contract of DESIGN.md against real web, worker and scheduler."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api import Api
from tests.integration.cluster import Cluster


def test_submit_answers_202_with_urls_headers_and_estimate(api: Api) -> None:
    """POST /tasks answers 202 with the task's URLs, Location and Retry-After."""
    body = {"task_type": "diagnostic.sleep", "params": {"seconds": 0.2, "steps": 2}}

    response = api.client.post("/tasks", json=body)

    assert response.status_code == 202
    accepted = response.json()
    task_id = accepted["task_id"]
    assert accepted["status"] == "pending"
    assert accepted["status_url"].endswith(f"/tasks/{task_id}")
    assert accepted["cancel_url"].endswith(f"/tasks/{task_id}/cancel")
    assert accepted["estimated_time"] > 0
    assert response.headers["location"] == accepted["status_url"]
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-request-id"]


def test_task_moves_through_pending_running_completed_with_progress(api: Api) -> None:
    """A task is seen running with progress, then completed at 100 percent."""
    task_id = api.submit("diagnostic.sleep", {"seconds": 1.5, "steps": 5})

    running = api.wait_until(task_id, {"running"}, timeout=30)
    done = api.wait_done(task_id)

    assert running["started_at"] is not None
    assert set(running["progress"]) == {
        "current_step",
        "total_steps",
        "percent_complete",
        "messages",
    }
    assert done["status"] == "completed"
    assert done["attempts"] == 1
    assert done["progress"]["percent_complete"] == 100
    assert done["progress"]["current_step"] == 5
    assert done["progress"]["messages"][-1]["text"] == "step 5 of 5"
    assert done["result"] == {"slept_seconds": 1.5, "steps": 5, "resumed_at": 0}
    assert done["finished_at"] >= done["started_at"] >= done["created_at"]


def test_audit_trail_records_every_transition(api: Api) -> None:
    """Submitted, started and completed each leave one audit row, in order."""
    task_id = api.submit("diagnostic.noop")
    api.wait_done(task_id)

    events = api.events_until(task_id, "completed")

    assert [e["kind"] for e in events] == ["submitted", "started", "completed"]
    assert [e["seq"] for e in events] == [1, 2, 3]


def test_missing_or_bad_key_gets_401(cluster: Cluster) -> None:
    """No key, a malformed header or an unknown key is 401 with problem details."""
    url = cluster.base_url + "/tasks"
    body = {"task_type": "diagnostic.noop"}

    answers = [
        httpx.post(url, json=body),
        httpx.post(url, json=body, headers={"Authorization": "Basic abc"}),
        httpx.post(url, json=body, headers={"Authorization": "Bearer cq_nope"}),
    ]

    for response in answers:
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 401


def test_another_users_task_is_404_but_admin_sees_it(
    api: Api, cluster: Cluster
) -> None:
    """Users see only their own tasks; an admin key sees every task."""
    task_id = api.submit("diagnostic.noop")
    bob = Api(cluster.base_url, cluster.create_key("bob"))
    admin = Api(cluster.base_url, cluster.create_key("root", admin=True))

    as_bob = bob.client.get(f"/tasks/{task_id}")
    bob_cancel = bob.client.post(f"/tasks/{task_id}/cancel")
    as_admin = admin.client.get(f"/tasks/{task_id}")

    assert as_bob.status_code == 404
    assert bob_cancel.status_code == 404
    assert as_admin.status_code == 200


def test_unknown_and_malformed_task_ids_are_404(api: Api) -> None:
    """An id that is no task, or no uuid at all, is 404 (never 500)."""
    unknown = api.client.get("/tasks/00000000-0000-4000-8000-000000000000")
    malformed = api.client.get("/tasks/not-a-uuid")

    assert unknown.status_code == 404
    assert malformed.status_code == 404


def _post_raw(
    api: Api, body: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return api.client.post(
        "/tasks", content=body, headers={"Content-Type": content_type}
    )


def test_malformed_json_is_400_and_wrong_content_type_is_415(api: Api) -> None:
    """Broken JSON and non-JSON bodies get clear 4xx problem details."""
    trailing_comma = _post_raw(api, b'{"task_type": "diagnostic.noop",}')
    empty = _post_raw(api, b"")
    form = _post_raw(api, b"task_type=x", "application/x-www-form-urlencoded")

    assert trailing_comma.status_code == 400
    assert empty.status_code == 400
    assert form.status_code == 415
    for response in (trailing_comma, empty, form):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]


def test_body_that_is_not_an_object_is_422(api: Api) -> None:
    """`null` and a top-level array parse but are not task requests."""
    for raw in (b"null", b"[1, 2]", b'"text"'):
        response = _post_raw(api, raw)

        assert response.status_code == 422, raw


def test_unknown_type_and_wrong_params_are_422_naming_the_field(api: Api) -> None:
    """Validation errors list each offending field under `errors`."""
    unknown = api.client.post("/tasks", json={"task_type": "nope.nothing"})
    wrong = api.client.post(
        "/tasks", json={"task_type": "diagnostic.sleep", "params": {"seconds": "long"}}
    )
    extra = api.client.post(
        "/tasks", json={"task_type": "diagnostic.noop", "params": {"surprise": 1}}
    )
    bad_priority = api.client.post(
        "/tasks", json={"task_type": "diagnostic.noop", "priority": "urgent"}
    )

    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == ["task_type"]
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["loc"] == ["params", "seconds"]
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["loc"] == ["params", "surprise"]
    assert bad_priority.status_code == 422
    assert bad_priority.json()["errors"][0]["loc"] == ["priority"]


def test_oversized_body_is_413_and_records_nothing(api: Api) -> None:
    """A body past the limit is refused before it is parsed."""
    before = api.client.get("/tasks", params={"limit": 500}).json()["items"]
    huge = (
        b'{"task_type": "diagnostic.echo", "params": {"data": "'
        + b"x" * (9 * 2**20)
        + b'"}}'
    )

    response = _post_raw(api, huge)
    after = api.client.get("/tasks", params={"limit": 500}).json()["items"]

    assert response.status_code == 413
    assert len(after) == len(before)


def test_cancel_pending_is_200_running_is_202_finished_is_409(
    api: Api, cluster: Cluster
) -> None:
    """Cancel answers by state; a cancelled running task stops at a checkpoint."""
    running_id = api.submit("diagnostic.sleep", {"seconds": 20, "steps": 40})
    api.wait_until(running_id, {"running"})
    blocker = api.submit("diagnostic.sleep", {"seconds": 3, "steps": 3})
    pending_id = api.submit("diagnostic.sleep", {"seconds": 1}, priority="low")

    pending = api.client.post(f"/tasks/{pending_id}/cancel")
    running = api.client.post(f"/tasks/{running_id}/cancel")
    stopped = api.wait_done(running_id, timeout=10)
    again = api.client.post(f"/tasks/{running_id}/cancel")

    assert pending.status_code == 200
    assert pending.json()["status"] == "cancelled"
    assert running.status_code == 202
    assert running.json()["cancel_requested"] is True
    assert stopped["status"] == "cancelled"
    assert again.status_code == 409
    api.wait_done(blocker)
    assert api.task(pending_id)["status"] == "cancelled"
    kinds = [e["kind"] for e in api.events_until(running_id, "cancelled")]
    assert kinds[-2:] == ["cancel_requested", "cancelled"]


def test_result_is_409_before_completion_then_streams_the_json(api: Api) -> None:
    """GET /tasks/{id}/result waits for completion and returns the full result."""
    task_id = api.submit("diagnostic.sleep", {"seconds": 1, "steps": 2})

    early = api.client.get(f"/tasks/{task_id}/result")
    api.wait_done(task_id)
    late = api.client.get(f"/tasks/{task_id}/result")

    assert early.status_code == 409
    assert late.status_code == 200
    assert late.json() == {"slept_seconds": 1, "steps": 2, "resumed_at": 0}


def test_task_types_lists_every_type_with_a_params_schema(api: Api) -> None:
    """GET /task-types names all seven types, each with its JSON schema."""
    response = api.client.get("/task-types")

    types = {t["task_type"]: t for t in response.json()["items"]}
    assert set(types) == {
        "certificate.issue",
        "certificate.bulk_issue",
        "certificate.audit",
        "certificate.verify_chain",
        "diagnostic.sleep",
        "diagnostic.echo",
        "diagnostic.noop",
    }
    assert types["diagnostic.sleep"]["params_schema"]["properties"]["seconds"]
    assert all(t["time_limit_seconds"] > 0 for t in types.values())


def test_health_and_readiness(cluster: Cluster) -> None:
    """/healthz answers alone; /readyz checks Redis and PostgreSQL."""
    health = httpx.get(cluster.base_url + "/healthz")
    ready = httpx.get(cluster.base_url + "/readyz")

    assert health.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"redis": "ok", "postgresql": "ok"}


def test_history_filters_and_pages_with_a_cursor(api: Api) -> None:
    """GET /tasks filters by type and status and pages in keyset order."""
    ids = [api.submit("diagnostic.echo", {"data": n}) for n in range(5)]
    for task_id in ids:
        api.wait_done(task_id)

    first = api.client.get(
        "/tasks", params={"task_type": "diagnostic.echo", "limit": 3}
    ).json()
    second = api.client.get(
        "/tasks",
        params={
            "task_type": "diagnostic.echo",
            "limit": 3,
            "cursor": first["next_cursor"],
        },
    ).json()

    listed = [i["task_id"] for i in first["items"] + second["items"]]
    assert set(ids) <= set(listed)
    assert len(listed) == len(set(listed))
    assert all(i["task_type"] == "diagnostic.echo" for i in first["items"])
    bad = api.client.get("/tasks", params={"status": "sleeping"})
    assert bad.status_code == 422


def test_history_refuses_nul_and_times_outside_the_calendar_with_422(
    api: Api,
) -> None:
    """Regression: these reached PostgreSQL and came back as 500."""
    bad_queries = [
        {"task_type": "\x00"},
        {"created_after": "9999-12-31T23:59:59-14:00"},
        {"created_before": "0001-01-01T00:00:00+14:00"},
        {"created_after": "2026-01-01T00:00:00"},
    ]

    answers = [api.client.get("/tasks", params=q) for q in bad_queries]

    assert [a.status_code for a in answers] == [422] * len(bad_queries)
    assert all(a.json()["errors"][0]["loc"][0] == "query" for a in answers)


@pytest.mark.parametrize(
    "query",
    [
        {"created_after": "1700000000"},
        {"created_before": "-1"},
        {"limit": "1.0"},
        {"limit": " 5"},
        {"limit": "\u0663"},
    ],
    ids=["unix-seconds", "negative-seconds", "float", "space", "arabic-digit"],
)
def test_history_takes_only_rfc3339_times_and_ascii_whole_numbers(
    api: Api, query: dict[str, str]
) -> None:
    """Regression: Unix seconds passed as times, and 1.0 or " 5" as limits."""
    answer = api.client.get("/tasks", params=query)

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["query", next(iter(query))]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"wait": "1_0"}, "wait"),
        ({"wait": "\u0663"}, "wait"),
        ({"wait": "nan"}, "wait"),
        ({"wiat": "10"}, "wiat"),
    ],
    ids=["underscore", "arabic-digit", "nan", "misspelt"],
)
def test_task_read_refuses_odd_waits_and_unknown_parameters(
    api: Api, query: dict[str, str], name: str
) -> None:
    """Regression: float() took "1_0" as 10, and a misspelt wait was ignored."""
    task_id = api.submit("diagnostic.noop")

    answer = api.client.get(f"/tasks/{task_id}", params=query)

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["query", name]


def test_null_priority_means_the_default_like_every_optional_field(
    api: Api,
) -> None:
    body = {"task_type": "diagnostic.noop", "priority": None, "result_ttl": None}

    answer = api.client.post("/tasks", json=body)

    assert answer.status_code == 202
    assert answer.json()["priority"] == "normal"


def test_user_key_naming_another_user_is_403_and_its_own_is_fine(
    api: Api,
) -> None:
    """A user key never silently drops a user_id filter it may not use."""
    other = api.client.get("/tasks", params={"user_id": "bob"})
    own = api.client.get("/tasks", params={"user_id": "alice"})

    assert other.status_code == 403
    assert own.status_code == 200
