"""Errors answered as RFC 9457 problem details, mapped in one place."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from certq import errors
from certq.errors import RequestError, Unauthorized, ValidationFailed
from certq.settings import Settings
from service.app import create_app
from service.problems import (
    PROBLEM_TYPE_BASE,
    http_error,
    problem,
    request_error,
    unexpected_error,
)

PROBLEM_JSON = "application/problem+json"

REQUEST_ERRORS = sorted(
    (
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, RequestError)
        and cls is not RequestError
    ),
    key=lambda cls: cls.__name__,
)


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": []})


def _body(response: Response) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(bytes(response.body))
    return body


def _app_client() -> httpx.AsyncClient:
    # No lifespan runs, so no Redis or PostgreSQL is opened: routing errors
    # are answered before any route needs them.
    transport = httpx.ASGITransport(app=create_app(Settings()))
    return httpx.AsyncClient(transport=transport, base_url="http://certq.test")


def test_problem_body_has_type_title_status_and_detail() -> None:
    """The four RFC 9457 members, the media type and the status agree."""

    response = problem(409, "task 1234 has already finished")

    assert response.status_code == 409
    assert response.media_type == PROBLEM_JSON
    assert _body(response) == {
        "type": PROBLEM_TYPE_BASE + "409",
        "title": "Conflict",
        "status": 409,
        "detail": "task 1234 has already finished",
    }


def test_problem_with_an_unlisted_status_gets_a_generic_title() -> None:
    """A status without a known title still answers a valid problem."""

    response = problem(418, "short and stout")

    assert _body(response)["title"] == "Error"
    assert _body(response)["status"] == 418


def test_problem_detail_keeps_non_ascii_text() -> None:
    """The detail is UTF-8 JSON; emoji and right-to-left text survive."""

    response = problem(422, "name 'שלום 🔐' is not a DNS name")

    assert _body(response)["detail"] == "name 'שלום 🔐' is not a DNS name"


@pytest.mark.parametrize("error_class", REQUEST_ERRORS, ids=lambda c: c.__name__)
async def test_every_request_error_maps_to_its_status_and_title(
    error_class: type[RequestError],
) -> None:
    """Each leaf of the error tree answers its own status, title and detail."""
    error = error_class("the offending value was 'x'")

    response = await request_error(_request(), error)

    expected = {
        "type": PROBLEM_TYPE_BASE + str(error_class.status),
        "title": error_class.title,
        "status": error_class.status,
        "detail": "the offending value was 'x'",
    }
    if error_class.status == 422:
        # A 422 always lists its errors, even one about the whole body.
        expected["errors"] = [{"loc": [], "msg": "the offending value was 'x'"}]
    assert 400 <= error_class.status < 600
    assert response.status_code == error_class.status
    assert response.media_type == PROBLEM_JSON
    assert _body(response) == expected


async def test_problem_quoting_a_lone_surrogate_is_still_valid_json() -> None:
    """Regression: a 422 whose `loc` held the client's bad key answered 500."""
    error = ValidationFailed("bad key", [{"loc": ["params", "\ud800"], "msg": "x"}])

    response = await request_error(_request(), error)

    assert response.status_code == 422
    assert _body(response)["errors"][0]["loc"] == ["params", "\ufffd"]


async def test_validation_errors_list_each_offending_field() -> None:
    """A 422 carries the `errors` extension member with each location."""
    field_errors = [{"loc": ["params", "validity_days"], "msg": "must be <= 825"}]
    error = ValidationFailed("the params are not valid", field_errors)

    response = await request_error(_request(), error)

    assert response.status_code == 422
    assert _body(response)["errors"] == field_errors


async def test_unauthorized_asks_for_a_bearer_token() -> None:
    """A 401 names the scheme in WWW-Authenticate, as RFC 9110 requires."""

    response = await request_error(_request(), Unauthorized("no API key was given"))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_starlette_http_errors_become_problems_with_their_headers() -> None:
    """A 405 from routing keeps its Allow header and gets a problem body."""
    error = HTTPException(405, headers={"Allow": "GET, POST"})

    response = await http_error(_request(), error)

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert _body(response)["title"] == "Method not allowed"
    assert _body(response)["status"] == 405


async def test_unexpected_error_answers_500_without_internals() -> None:
    """The client learns it was logged, never the exception's text."""
    error = RuntimeError("password=hunter2 at /srv/certq/secret.py:12")

    response = await unexpected_error(_request(), error)

    assert response.status_code == 500
    assert response.media_type == PROBLEM_JSON
    assert "hunter2" not in bytes(response.body).decode()
    assert _body(response)["title"] == "Internal server error"


async def test_unknown_route_is_a_404_problem_from_the_app() -> None:
    """The app's handlers turn routing's 404 into problem details."""
    async with _app_client() as client:
        response = await client.get("/no-such-route")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == PROBLEM_TYPE_BASE + "404"


async def test_method_not_allowed_lists_every_method_of_the_path() -> None:
    """A 405 on /tasks allows both GET and POST, as RFC 9110 requires.

    Regression: /tasks is two Routes (POST, then GET); Starlette answers the
    405 from the first partial match, so Allow said only "POST".
    """
    async with _app_client() as client:
        response = await client.delete("/tasks")

    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_JSON
    assert {"GET", "POST"} <= allowed
