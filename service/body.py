"""Reading a JSON request body within limits, with clear 4xx errors."""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from certq.errors import (
    BodyTimedOut,
    BodyTooLarge,
    ClientClosedRequest,
    InvalidRequest,
    RequestError,
    UnsupportedMediaType,
    ValidationFailed,
)


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _read_limited(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"the body of {declared} bytes exceeds {max_bytes} bytes")

    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLarge(f"the body exceeds {max_bytes} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientClosedRequest(
            f"the client hung up after {size} bytes of its body"
        ) from None
    return b"".join(chunks)


#: A client that declares more body than it sends holds a connection no longer.
BODY_TIMEOUT_SECONDS = 30

#: Integers JSON clients and PostgreSQL's JSONB both keep exactly.
_INT_RANGE = range(-(2**63), 2**64)
# Only a run of 19 or more digits can hold an integer past 64 bits.
_LONG_DIGITS = re.compile(rb"\d{19}")
_UTF8_BOM = b"\xef\xbb\xbf"


class _Refused(Exception):
    """Raised by the standard parser's hooks on a value JSON cannot carry."""

    def __init__(self, error: RequestError) -> None:
        self.error = error


def _no_constant(name: str) -> Any:
    raise _Refused(InvalidRequest(f"the body is not valid JSON: {name} is not JSON"))


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused(ValidationFailed(f"the number {text[:40]} is out of range"))

    return value


def _int_in_range(text: str) -> int:
    # Past 20 digits it is out of range; int() of thousands would refuse.
    value = int(text) if len(text.lstrip("-")) <= 20 else None
    if value is None or value not in _INT_RANGE:
        raise _Refused(
            ValidationFailed(
                f"the integer {text[:40]} is outside the 64-bit range; "
                "send it as a string"
            )
        )

    return value


def _strict_loads(text: str) -> Any:
    """Python's parser, refusing what RFC 8259 or certq's stores cannot carry."""
    try:
        return json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_int_in_range,
        )
    except _Refused as refused:
        raise refused.error from None
    except RecursionError:
        raise ValidationFailed("the JSON nests too deeply") from None
    except ValueError as error:
        raise InvalidRequest(f"the body is not valid JSON: {error}") from None


def _decode(raw: bytes) -> str:
    if raw.startswith(_UTF8_BOM):
        raise InvalidRequest("the body starts with a byte order mark; send plain UTF-8")
    try:
        # Encoded surrogates decode here, to be refused by name further on.
        return raw.decode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError as error:
        raise InvalidRequest(
            f"the body is not valid JSON: it is not UTF-8 (byte {error.start})"
        ) from None


def _why_unparseable(raw: bytes, error: Exception) -> RequestError:
    # orjson refuses lone surrogates, deep nesting, NaN and huge numbers with
    # one error type; the standard parser tells them apart.
    value = _strict_loads(_decode(raw))
    problems = find_unstorable(value, max_depth=10_000)
    if problems:
        detail = f"the body holds text that cannot be stored: {problems[0]['msg']}"
        return ValidationFailed(detail, problems)

    return InvalidRequest(f"the body is not valid JSON: {error}")


def parse_json(raw: bytes) -> Any:
    """Parse a body: orjson's speed, the standard parser's care where needed."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise _why_unparseable(raw, error) from None
    # orjson turns integers past 64 bits into floats, silently.
    if _LONG_DIGITS.search(raw):
        return _strict_loads(_decode(raw))

    return value


async def read_json(request: Request, max_bytes: int) -> Any:
    """The parsed body, or a RequestError saying what is wrong with it."""
    if not _is_json_media_type(request.headers.get("content-type", "")):
        raise UnsupportedMediaType(
            "the body must be JSON (Content-Type: application/json)"
        )
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not accepted; send the body as is"
        )

    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            raw = await _read_limited(request, max_bytes)
    except TimeoutError:
        raise BodyTimedOut(
            f"the body did not arrive within {BODY_TIMEOUT_SECONDS} seconds"
        ) from None
    if not raw.strip():
        raise InvalidRequest("the body is empty; a JSON object is required")

    return parse_json(raw)


def find_unstorable(
    value: Any, max_depth: int, path: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    """Problems no store can hold: NUL, lone surrogates, nesting past `max_depth`."""
    if len(path) > max_depth:
        return [{"loc": list(path), "msg": f"nesting deeper than {max_depth} levels"}]
    if isinstance(value, str):
        return _text_problems(value, path)
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            found += _text_problems(key, (*path, key))
            found += find_unstorable(item, max_depth, (*path, key))
        return found
    if isinstance(value, list):
        return [
            p
            for i, item in enumerate(value)
            for p in find_unstorable(item, max_depth, (*path, i))
        ]
    return []


def _text_problems(text: str, path: tuple[Any, ...]) -> list[dict[str, Any]]:
    if "\x00" in text:
        return [
            {
                "loc": list(path),
                "msg": "text holds U+0000 (NUL), which cannot be stored",
            }
        ]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return [{"loc": list(path), "msg": "text holds a lone surrogate"}]
    return []
