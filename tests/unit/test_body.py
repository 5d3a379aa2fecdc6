"""Reading request bodies: media type, size, syntax and text no store can hold.

Case hostile-text: NUL, lone surrogates and broken bodies must get a clear
4xx, never a crash (elsewhere a NUL in a task's data wedged the task).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request
from starlette.types import Message, Receive

import service.body
from certq.errors import (
    BodyTimedOut,
    BodyTooLarge,
    ClientClosedRequest,
    InvalidRequest,
    RequestError,
    UnsupportedMediaType,
    ValidationFailed,
)
from service.body import find_unstorable, read_json

MAX_BYTES = 1024


def _request(
    chunks: list[bytes],
    content_type: str | None = "application/json",
    content_length: str | None = None,
) -> Request:
    headers = []
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("latin-1")))
    if content_length is not None:
        headers.append((b"content-length", content_length.encode("latin-1")))
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> Message:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/tasks", "headers": headers}
    return Request(scope, receive)


def _declaring(content_length: int, receive: Receive) -> Request:
    """A JSON request that declares `content_length` and reads from `receive`."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(content_length).encode()),
    ]
    scope = {"type": "http", "method": "POST", "path": "/tasks", "headers": headers}
    return Request(scope, receive)


def _json_request(raw: bytes, content_type: str = "application/json") -> Request:
    return _request([raw], content_type, str(len(raw)))


async def _refusal(raw: bytes, max_bytes: int = MAX_BYTES) -> RequestError:
    with pytest.raises(RequestError) as raised:
        await read_json(_json_request(raw), max_bytes)
    return raised.value


def _nested_list(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


# Media type


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"],
    ids=["missing", "text", "form", "lookalike"],
)
async def test_body_not_declared_as_json_is_refused_with_415(
    content_type: str | None,
) -> None:
    """Only a JSON media type is read; anything else is 415."""
    request = _request([b'{"task_type": "diagnostic.noop"}'], content_type)

    with pytest.raises(UnsupportedMediaType) as raised:
        await read_json(request, MAX_BYTES)

    assert raised.value.status == 415
    assert "application/json" in raised.value.detail


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ],
)
async def test_json_media_types_with_parameters_or_suffix_are_read(
    content_type: str,
) -> None:
    """Case, a charset parameter and a +json suffix are all accepted."""

    parsed = await read_json(_json_request(b'{"a": 1}', content_type), MAX_BYTES)

    assert parsed == {"a": 1}


# Size


async def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    """A Content-Length over the limit is 413 without reading the body."""

    async def receive() -> Message:
        raise AssertionError("the body must not be read")

    with pytest.raises(BodyTooLarge) as raised:
        await read_json(_declaring(MAX_BYTES + 1, receive), MAX_BYTES)

    assert raised.value.status == 413
    assert str(MAX_BYTES) in raised.value.detail


async def test_streamed_body_over_the_limit_is_refused_without_a_length() -> None:
    """A chunked body that grows past the limit is 413 as well."""
    chunks = [b'{"data": "' + b"a" * 600, b"a" * 600 + b'"}']

    with pytest.raises(BodyTooLarge) as raised:
        await read_json(_request(chunks), MAX_BYTES)

    assert raised.value.status == 413


async def test_body_of_exactly_the_limit_is_read() -> None:
    """The limit is inclusive."""
    raw = b'{"data": "' + b"a" * (MAX_BYTES - 12) + b'"}'
    assert len(raw) == MAX_BYTES

    parsed = await read_json(_json_request(raw), MAX_BYTES)

    assert parsed == {"data": "a" * (MAX_BYTES - 12)}


# Syntax


@pytest.mark.parametrize(
    "raw",
    [
        b'{"task_type": "diagnostic.noop",}',
        b'{"task_type": ',
        b"{'task_type': 'diagnostic.noop'}",
        b'{"a": 1} {"b": 2}',
        b'{"a": "raw \x00 byte"}',
        b'{"a": "\xff\xfe not utf-8"}',
    ],
    ids=[
        "trailing-comma",
        "truncated",
        "single-quotes",
        "two-documents",
        "raw-nul-byte",
        "invalid-utf8",
    ],
)
async def test_malformed_json_is_refused_with_400(raw: bytes) -> None:
    """Broken syntax or bytes that are not UTF-8 are 400, saying so."""

    error = await _refusal(raw)

    assert isinstance(error, InvalidRequest)
    assert error.status == 400
    assert "not valid JSON" in error.detail


@pytest.mark.parametrize("raw", [b"", b"  \r\n\t "], ids=["empty", "whitespace"])
async def test_empty_body_is_refused_with_400(raw: bytes) -> None:
    """No body at all is malformed, with a message asking for an object."""

    error = await _refusal(raw)

    assert isinstance(error, InvalidRequest)
    assert "empty" in error.detail


@pytest.mark.parametrize(
    ("raw", "expected"), [(b"null", None), (b"[1, 2]", [1, 2]), (b'"s"', "s")]
)
async def test_valid_json_that_is_not_an_object_is_returned_for_the_route(
    raw: bytes, expected: Any
) -> None:
    """Parsing accepts any JSON value; the route decides what shape it wants."""

    parsed = await read_json(_json_request(raw), MAX_BYTES)

    assert parsed == expected


@pytest.mark.parametrize(
    "literal", [b"NaN", b"Infinity", b"-Infinity"], ids=["nan", "inf", "-inf"]
)
async def test_nan_and_infinity_are_malformed_json_not_lone_surrogates(
    literal: bytes,
) -> None:
    """NaN and Infinity are not JSON (RFC 8259), so they are 400.

    Regression: orjson refuses them but Python's json accepts them, and
    _why_unparseable took any such disagreement for a lone surrogate: 422
    "the body holds a lone surrogate".
    """

    error = await _refusal(b'{"data": ' + literal + b"}")

    assert error.status == 400
    assert "surrogate" not in error.detail


@pytest.mark.parametrize(
    "raw",
    [
        b'{"data": 1e400}',
        b'\xef\xbb\xbf{"data": 1}',
        '{"data": 1}'.encode("utf-16"),
    ],
    ids=["number-out-of-range", "utf8-bom", "utf16"],
)
async def test_refusals_name_the_real_fault_not_a_lone_surrogate(raw: bytes) -> None:
    """A body refused for range, a BOM or its encoding is not blamed on Unicode.

    Regression: the same fallback answered "the body holds a lone surrogate"
    for these bodies, which hold none.
    """

    error = await _refusal(raw)

    assert error.status in (400, 422)
    assert "surrogate" not in error.detail


async def test_integers_beyond_64_bits_are_kept_exactly_or_refused() -> None:
    """A 30-digit integer is not silently rounded to a float.

    Regression: orjson parses integers past 64 bits as floats, so
    diagnostic.echo of 123456789012345678901234567890 was accepted and came
    back as 1.2345678901234568e+29.
    """
    big = 123456789012345678901234567890
    raw = b'{"data": %d}' % big

    try:
        parsed = await read_json(_json_request(raw), MAX_BYTES)
    except ValidationFailed:
        return  # refusing is as good as keeping it exactly

    assert parsed == {"data": big}
    assert isinstance(parsed["data"], int)


async def test_integer_of_thousands_of_digits_is_422_not_a_parser_fault() -> None:
    """Regression: 5000 digits hit Python's int limit and answered 400."""
    raw = b'{"data": ' + b"7" * 5000 + b"}"

    error = await _refusal(raw, max_bytes=10_000)

    assert isinstance(error, ValidationFailed)
    assert "64-bit range" in error.detail


async def test_compressed_body_is_refused_with_415() -> None:
    """A Content-Encoding certq does not decode is refused, not misread."""
    request = _request([b"\x1f\x8b"], "application/json")
    request.scope["headers"].append((b"content-encoding", b"gzip"))

    with pytest.raises(UnsupportedMediaType):
        await read_json(request, MAX_BYTES)


async def test_body_that_stops_arriving_is_refused_with_408(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: a Content-Length longer than the body held the request open."""
    monkeypatch.setattr(service.body, "BODY_TIMEOUT_SECONDS", 0.05)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": b'{"da', "more_body": True}

    with pytest.raises(BodyTimedOut):
        await read_json(_declaring(100, receive), MAX_BYTES)


async def test_client_that_hangs_up_mid_body_is_499_not_a_fault() -> None:
    """Regression: the disconnect escaped as a 500 with an ERROR traceback."""
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"da', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    with pytest.raises(ClientClosedRequest) as refused:
        await read_json(_declaring(100, receive), MAX_BYTES)

    assert refused.value.status == 499


# Text no store can hold, and nesting


@pytest.mark.parametrize(
    "raw",
    [
        b'{"data": "x\\ud800y"}',
        b'{"data": "x\\udfffy"}',
        b'{"data": "x\xed\xa0\x80y"}',
    ],
    ids=["escaped-high", "escaped-low", "utf8-encoded-high"],
)
async def test_lone_surrogate_is_refused_with_422_saying_so(raw: bytes) -> None:
    """A lone surrogate, escaped or encoded, is a 422 naming the fault."""

    error = await _refusal(raw)

    assert isinstance(error, ValidationFailed)
    assert error.status == 422
    assert "surrogate" in error.detail


async def test_deep_nesting_is_refused_with_422_without_a_crash() -> None:
    """5000 levels of nesting are a 422, not a RecursionError."""
    raw = b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    error = await _refusal(raw, max_bytes=len(raw))

    assert isinstance(error, ValidationFailed)
    assert "nests too deeply" in error.detail


async def test_nul_escape_parses_and_is_then_found_unstorable() -> None:
    """An escaped NUL is valid JSON; find_unstorable names where it is."""
    parsed = await read_json(_json_request(b'{"data": "a\\u0000b"}'), MAX_BYTES)

    problems = find_unstorable(parsed, max_depth=64, path=("params",))

    assert parsed == {"data": "a\x00b"}
    assert problems == [
        {
            "loc": ["params", "data"],
            "msg": "text holds U+0000 (NUL), which cannot be stored",
        }
    ]


def test_find_unstorable_names_each_place_of_nul_or_lone_surrogate() -> None:
    """Keys, values and list items are all checked, each with its path."""
    value = {"ok": "🔐", "k\x00": 1, "list": ["fine", "bad \udc80"], "nul": "\x00"}

    problems = find_unstorable(value, max_depth=64)

    assert [(p["loc"], p["msg"]) for p in problems] == [
        (["k\x00"], "text holds U+0000 (NUL), which cannot be stored"),
        (["list", 1], "text holds a lone surrogate"),
        (["nul"], "text holds U+0000 (NUL), which cannot be stored"),
    ]


def test_find_unstorable_accepts_valid_text_and_other_values() -> None:
    """Emoji, right-to-left, combining text, numbers and null are all fine."""
    value = {
        "emoji": "👩🏽‍💻",
        "rtl": "שלום عليكم",
        "combining": "e\u0301",
        "numbers": [1, 2.5, -3, True, None],
    }

    problems = find_unstorable(value, max_depth=64)

    assert problems == []


def test_find_unstorable_allows_max_depth_and_refuses_one_level_more() -> None:
    """Nesting up to max_depth is fine; one level deeper is one problem."""

    at_limit = find_unstorable(_nested_list(3), max_depth=3)
    past_limit = find_unstorable(_nested_list(4), max_depth=3)

    assert at_limit == []
    assert past_limit == [{"loc": [0, 0, 0, 0], "msg": "nesting deeper than 3 levels"}]


def test_find_unstorable_stops_at_the_limit_for_any_depth() -> None:
    """100000 levels give one problem and no RecursionError."""

    problems = find_unstorable(_nested_list(100_000), max_depth=64)

    assert len(problems) == 1
    assert problems[0]["msg"] == "nesting deeper than 64 levels"
