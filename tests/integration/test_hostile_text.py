"""Case hostile-text: NUL, lone surrogates and broken bodies neither crash nor
wedge a task (elsewhere a NUL in a task's output could not be stored in
JSONB and the task stayed running forever)."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration.api import Api

VALID_TEXTS = {
    "emoji": "certificates 🔐✅ and 👩🏽‍💻",
    "right_to_left": "שלום عليكم",
    "combining": "e\u0301 a\u0308 Z\u0335\u0321",
    "mixed": "ascii, 中文, ελληνικά, \u200d\u2028",
}


def _post_raw(api: Api, raw: bytes, content_type: str = "application/json") -> int:
    response = api.client.post(
        "/tasks", content=raw, headers={"Content-Type": content_type}
    )
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == response.status_code
    return response.status_code


def test_valid_text_comes_back_unchanged_over_http_and_from_postgresql(
    api: Api, database_url: str
) -> None:
    """Emoji, right-to-left and combining text round-trip exactly."""
    task_id = api.submit("diagnostic.echo", {"data": VALID_TEXTS})

    task = api.wait_done(task_id)
    raw_result = api.client.get(f"/tasks/{task_id}/result").json()

    assert task["status"] == "completed"
    assert task["result"] == VALID_TEXTS
    assert raw_result == VALID_TEXTS
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT params FROM tasks WHERE task_id = %s", (task_id,)
        ).fetchone()
    assert row is not None
    assert row[0] == {"data": VALID_TEXTS}


@pytest.mark.parametrize(
    "escaped",
    [rb'"a\u0000b"', rb'"\ud800"', rb'"x\udfff"', rb'{"k\u0000": 1}'],
    ids=["nul", "lone-high-surrogate", "lone-low-surrogate", "nul-in-key"],
)
def test_nul_and_lone_surrogates_are_refused_with_422(api: Api, escaped: bytes) -> None:
    """Text no store can hold is refused up front, naming where it is."""
    body = b'{"task_type": "diagnostic.echo", "params": {"data": ' + escaped + b"}}"

    response = api.client.post(
        "/tasks", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["detail"]


def test_deep_nesting_is_refused_with_422(api: Api) -> None:
    """5000 levels of nesting are refused (the documented limit is 64)."""
    deep = b"[" * 5000 + b"]" * 5000
    body = b'{"task_type": "diagnostic.echo", "params": {"data": ' + deep + b"}}"

    status = _post_raw(api, body)

    assert status == 422


def test_broken_bodies_get_400_415_or_422_never_5xx(api: Api) -> None:
    """Trailing comma, null, top-level array, empty, wrong Content-Type."""
    cases = {
        b'{"task_type": "diagnostic.noop",}': 400,
        b"null": 422,
        b'[{"task_type": "diagnostic.noop"}]': 422,
        b"": 400,
        b"\xff\xfe not utf-8": 400,
    }

    for raw, expected in cases.items():
        assert _post_raw(api, raw) == expected, raw
    assert _post_raw(api, b'{"task_type": "diagnostic.noop"}', "text/plain") == 415


def test_error_message_with_emoji_is_kept_on_a_failed_task(api: Api) -> None:
    """A failing operation's message comes back exactly, and the task ends."""
    message = "boom 💥 — שגיאה"
    task_id = api.submit(
        "diagnostic.sleep",
        {"seconds": 0, "fail_permanently": True, "error_message": message},
    )

    task = api.wait_done(task_id)

    assert task["status"] == "failed"
    assert task["error"]["message"] == message
    events = api.events_until(task_id, "failed")
    assert events[-1]["detail"]["message"] == message


@pytest.mark.parametrize(
    "body",
    [
        rb'{"task_type": "diagnostic.noop", "params": {}, "\ud800": 1}',
        rb'{"task_type": "diagnostic.sleep", "params": {"\ud800": 1}}',
        rb'{"task_type": "diagnostic.echo", "params": {"data": {"\udfff": 1}}}',
    ],
    ids=["top-level-key", "params-key", "data-key"],
)
def test_lone_surrogate_in_a_key_is_refused_with_a_readable_422(
    api: Api, body: bytes
) -> None:
    """Regression: the 422 quoted the key in `loc` and failed to encode (500)."""
    status = _post_raw(api, body)

    assert status == 422


def test_number_past_every_limit_is_422_with_an_errors_list(api: Api) -> None:
    """A 5000-digit integer and 1e400 are valid JSON: 422, never a parser 400."""
    for number in (b"9" * 5000, b"1e400", b"-" + b"9" * 30):
        body = b'{"task_type": "diagnostic.echo", "params": {"data": ' + number + b"}}"

        response = api.client.post(
            "/tasks", content=body, headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 422, number[:20]
        assert response.json()["errors"][0]["loc"] == []


def test_compressed_body_is_415(api: Api) -> None:
    """A Content-Encoding certq does not decode is refused, not misread as text."""
    response = api.client.post(
        "/tasks",
        content=b"\x1f\x8b\x08\x00",
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )

    assert response.status_code == 415
